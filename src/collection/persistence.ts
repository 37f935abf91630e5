// On-disk layout of one collection: config.json, manifest.json (segments, their files' sizes and
// CRC32C, the WAL seq they include), segments/<id>/ files, and wal/. Every file is replaced
// atomically (temp + fsync + rename + dir fsync); see docs/storage-format.md.
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { QuiverError } from '../errors.js'
import { Segment, type SegmentFiles } from '../segment/segment.js'
import { crc32c } from '../storage/crc32c.js'
import { fsyncDir, readFileIfExists, writeFileAtomic } from '../storage/files.js'
import { walFileName } from '../storage/wal.js'
import type { CollectionConfig } from '../types.js'
import { resolveOptimizers } from './validate.js'

export const FORMAT_VERSION = 1
const SEGMENT_FILES = ['index.bin', 'points.msgpack', 'payload-index.msgpack', 'quantization.bin'] as const
/** Files a segment may lack: written by an older version, or (quantization.bin) not trained / no quantization. */
const OPTIONAL_FILES: ReadonlySet<string> = new Set(['payload-index.msgpack', 'quantization.bin'])

interface FileEntry {
  bytes: number
  crc32c: number
}

export interface Manifest {
  formatVersion: number
  /** Highest WAL seq whose effects the segments include. */
  seq: number
  segments: ManifestSegment[]
}

/** One segment of a manifest: its directory under segments/ and its files' sizes and checksums. */
export interface ManifestSegment {
  id: string
  files: Record<string, FileEntry>
}

interface StoredConfig {
  formatVersion: number
  name: string
  config: CollectionConfig
}

function encodeChecked(body: object): string {
  const json = JSON.stringify(body)
  return JSON.stringify({ checksum: crc32c(Buffer.from(json, 'utf8')), body: json })
}

/**
 * The data directory a collection directory belongs to: collections live at
 * `<data>/collections/<name>` (a full snapshot's staging copy at `<staging>/collections/<name>`).
 */
export function dataDirOf(collectionDir: string): string {
  return dirname(dirname(collectionDir))
}

/**
 * How messages name a file of the collection at `dir`: relative to its data directory
 * (`collections/docs/segments/<id>/index.bin`), so that an error a server sends names no absolute
 * path of the server; `details.path` keeps the absolute path for the log.
 */
export function shownPath(dir: string, path: string): string {
  return relative(dataDirOf(dir), path)
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`

function decodeChecked(dir: string, path: string, raw: Uint8Array): unknown {
  const shown = shownPath(dir, path)
  let outer: { checksum?: unknown; body?: unknown }
  try {
    outer = JSON.parse(Buffer.from(raw).toString('utf8'))
  } catch (err) {
    throw new QuiverError('CORRUPTED', `${shown} is not valid JSON`, { path }, err)
  }
  if (typeof outer !== 'object' || outer === null || typeof outer.body !== 'string')
    throw new QuiverError('CORRUPTED', `${shown} has no checked body`, { path })
  const actual = crc32c(Buffer.from(outer.body, 'utf8'))
  if (outer.checksum !== actual) {
    const stored = typeof outer.checksum === 'number' ? hex32(outer.checksum) : JSON.stringify(outer.checksum)
    throw new QuiverError(
      'CORRUPTED',
      `${shown} fails its CRC32C check: ${hex32(actual)}, expected ${stored} (stored in the file)`,
      { path },
    )
  }
  return JSON.parse(outer.body)
}

export async function writeConfig(dir: string, name: string, config: CollectionConfig): Promise<void> {
  const stored: StoredConfig = { formatVersion: FORMAT_VERSION, name, config }
  await writeFileAtomic(join(dir, 'config.json'), encodeChecked(stored))
}

export async function readConfig(dir: string): Promise<CollectionConfig> {
  const path = join(dir, 'config.json')
  const raw = await readFileIfExists(path)
  if (raw === undefined) throw new QuiverError('CORRUPTED', `${shownPath(dir, path)} is missing`, { path })
  const stored = decodeChecked(dir, path, raw) as StoredConfig
  if (stored.formatVersion !== FORMAT_VERSION) {
    throw new QuiverError(
      'CORRUPTED',
      `${shownPath(dir, path)}: unsupported format version ${stored.formatVersion}`,
      { path },
    )
  }
  // configs written before optimizers existed get the defaults
  return { ...stored.config, optimizers: resolveOptimizers(stored.config.optimizers) }
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, 'manifest.json')
  const raw = await readFileIfExists(path)
  if (raw === undefined) return undefined
  const m = decodeChecked(dir, path, raw) as Manifest
  if (m.formatVersion !== FORMAT_VERSION) {
    throw new QuiverError(
      'CORRUPTED',
      `${shownPath(dir, path)}: unsupported format version ${m.formatVersion}`,
      {
        path,
      },
    )
  }
  return m
}

/** Loads and verifies (size + CRC32C, then the graph self-check) the segments a manifest lists. */
export async function loadSegments(
  dir: string,
  config: CollectionConfig,
  manifest: Manifest,
): Promise<Segment[]> {
  const segments: Segment[] = []
  for (const entry of manifest.segments) {
    const files: Partial<Record<(typeof SEGMENT_FILES)[number], Uint8Array>> = {}
    for (const name of SEGMENT_FILES) {
      const path = join(dir, 'segments', entry.id, name)
      const expected = entry.files[name]
      if (expected === undefined && OPTIONAL_FILES.has(name)) continue
      const data = await readFileIfExists(path)
      const shown = shownPath(dir, path)
      if (data === undefined || expected === undefined) {
        throw new QuiverError('CORRUPTED', `segment file ${shown} is missing`, { path })
      }
      if (data.byteLength !== expected.bytes) {
        throw new QuiverError(
          'CORRUPTED',
          `segment file ${shown} fails its size check: ${data.byteLength} bytes, expected ${expected.bytes} (manifest.json)`,
          { path, expected: expected.bytes, actual: data.byteLength },
        )
      }
      const actual = crc32c(data)
      if (actual !== expected.crc32c) {
        throw new QuiverError(
          'CORRUPTED',
          `segment file ${shown} fails its CRC32C check: ${hex32(actual)}, expected ${hex32(expected.crc32c)} (manifest.json)`,
          { path, expected: expected.crc32c, actual },
        )
      }
      files[name] = data
    }
    segments.push(Segment.fromFiles(config, files as SegmentFiles))
  }
  return segments
}

/** A new segment directory name: unique per persist, so a retry never touches a directory the live manifest names. */
function segmentDirName(seq: number, i: number): string {
  return `seg-${seq}-${i}-${randomBytes(4).toString('hex')}`
}

/** One file of a collection directory image, `path` relative to the collection directory. */
export interface ImageFile {
  path: string
  data: Uint8Array
}

/**
 * The files of a collection directory holding `snapshots` taken at WAL seq `seq`, as written by
 * `persistSegments`, plus an empty WAL that starts at `seq + 1`: written into an empty directory
 * they open as the collection at that point in time (snapshots and backups).
 */
export function collectionImage(
  name: string,
  config: CollectionConfig,
  seq: number,
  snapshots: readonly SegmentFiles[],
): ImageFile[] {
  const stored: StoredConfig = { formatVersion: FORMAT_VERSION, name, config }
  const out: ImageFile[] = [{ path: 'config.json', data: Buffer.from(encodeChecked(stored), 'utf8') }]
  const manifest: Manifest = { formatVersion: FORMAT_VERSION, seq, segments: [] }
  snapshots.forEach((files, i) => {
    const id = segmentDirName(seq, i)
    manifest.segments.push({ id, files: fileEntries(files) })
    for (const file of SEGMENT_FILES) {
      const data = files[file]
      if (data !== undefined) out.push({ path: `segments/${id}/${file}`, data })
    }
  })
  out.push({ path: 'manifest.json', data: Buffer.from(encodeChecked(manifest), 'utf8') })
  out.push({ path: `wal/${walFileName(seq + 1)}`, data: new Uint8Array(0) })
  return out
}

function fileEntries(files: SegmentFiles): Record<string, FileEntry> {
  const out: Record<string, FileEntry> = {}
  for (const name of SEGMENT_FILES) {
    const data = files[name]
    if (data !== undefined) out[name] = { bytes: data.byteLength, crc32c: crc32c(data) }
  }
  return out
}

/** Bytes of the segment files a manifest lists. */
export function manifestBytes(manifest: Manifest | undefined): number {
  let n = 0
  for (const s of manifest?.segments ?? []) for (const f of Object.values(s.files)) n += f.bytes
  return n
}

/** A segment to persist: its files, or the manifest entry of its unchanged, already written files. */
export type PersistItem = { files: SegmentFiles } | { reuse: ManifestSegment }

/**
 * Persists segments as of WAL seq `seq`: writes the files of each changed segment into a new
 * directory (unchanged ones keep theirs), then atomically switches manifest.json to the new list,
 * then removes directories no manifest names. A crash at any point leaves the old or the new
 * manifest, both complete. Returns the manifest written.
 */
export async function persistSegments(
  dir: string,
  seq: number,
  items: readonly PersistItem[],
): Promise<Manifest> {
  const segmentsDir = join(dir, 'segments')
  await mkdir(segmentsDir, { recursive: true })
  const manifest: Manifest = { formatVersion: FORMAT_VERSION, seq, segments: [] }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if ('reuse' in item) {
      manifest.segments.push(item.reuse)
      continue
    }
    const id = segmentDirName(seq, i)
    const segDir = join(segmentsDir, id)
    await mkdir(segDir)
    for (const name of SEGMENT_FILES) {
      const data = item.files[name]
      if (data !== undefined) await writeFileAtomic(join(segDir, name), data)
    }
    await fsyncDir(segmentsDir)
    manifest.segments.push({ id, files: fileEntries(item.files) })
  }
  await writeFileAtomic(join(dir, 'manifest.json'), encodeChecked(manifest))
  const keep = new Set(manifest.segments.map((s) => s.id))
  for (const name of await readdir(segmentsDir)) {
    if (!keep.has(name)) await rm(join(segmentsDir, name), { recursive: true, force: true })
  }
  return manifest
}

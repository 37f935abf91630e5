// On-disk layout of one collection: config.json, manifest.json (segments, their files' sizes and
// CRC32C, the WAL seq they include), segments/<id>/ files, and wal/. Every file is replaced
// atomically (temp + fsync + rename + dir fsync); see docs/storage-format.md.

import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { QuiverError } from '../errors.js'
import type { IndexFileSource } from '../index/types.js'
import { type DiskFile, Segment, type SegmentFiles } from '../segment/segment.js'
import { crc32c } from '../storage/crc32c.js'
import {
  bodyBytes,
  bodyCopy,
  bodyCrc32c,
  bodyParts,
  fsyncDir,
  isLinked,
  type LinkedFile,
  openForReads,
  openForSyncReads,
  placeLinked,
  readFileIfExists,
  writeFileAtomic,
} from '../storage/files.js'
import { walFileName } from '../storage/wal.js'
import type {
  CollectionConfig,
  CollectionParams,
  HnswConfig,
  OptimizersConfig,
  QuantizationConfig,
  SearchConfig,
  SparseVectorConfig,
  StrictModeConfig,
  VectorConfig,
} from '../types.js'
import { sameConfig } from './reconfigure.js'
import { resolveStrictMode } from './strict-mode-config.js'
import { resolveOptimizers, resolveSearchConfig } from './validate.js'

/**
 * 3: a collection's config can change (`updateConfig`): each manifest segment records the config
 * it was built with (`config`, as config.json's body), config.json may carry `params`. A format-2
 * directory opens unchanged (its segments were built with config.json's config): config.json and
 * manifest.json are rewritten as format 3 on open, the segment files are kept.
 * 2: named dense / sparse / multi vectors (config `vectors` and `sparse_vectors` as entry lists,
 * segment files per vector, an explicit live bitset in points.msgpack). 1: one unnamed vector.
 * A format-1 directory opens unchanged; config.json is rewritten as format 2 on open, and each
 * manifest and segment as format 2 at its next persist (docs/storage-format.md#upgrades).
 */
export const FORMAT_VERSION = 3
const READABLE_VERSIONS: ReadonlySet<unknown> = new Set([1, 2, 3])
/** Segment file names are ours (positions, never user strings): anything else in a manifest is corruption. */
const SEGMENT_FILE_RE = /^[a-z0-9][a-z0-9.-]{0,63}$/

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
  /** Format 3: the config the segment was built with (absent: config.json's). */
  config?: ConfigJson
}

interface StoredConfig {
  formatVersion: number
  name: string
  config: unknown
}

/** config.json's body for formats 2 and 3: the maps as entry lists (names are user strings: no object keys). */
export interface ConfigJson {
  vectors: [string, VectorConfig][]
  sparseVectors: [string, SparseVectorConfig][]
  hnsw: HnswConfig
  optimizers: OptimizersConfig
  /** Format 3: the collection-level quantization, when set. */
  quantization?: QuantizationConfig
  /** Format 3, when set. */
  params?: CollectionParams
  /** Qdrant's strict_mode_config (camelCase), when set; older files have none (no strict mode). */
  strictMode?: StrictModeConfig
  /** Since Quiver's search settings (optional: older config.json files have none). */
  searchConfig?: SearchConfig
}

/** Format 1's config: one unnamed vector, its parameters at the top level. */
interface ConfigV1 {
  dimension: number
  metric: VectorConfig['metric']
  hnsw: HnswConfig
  optimizers?: OptimizersConfig
  quantization?: VectorConfig['quantization']
  index?: VectorConfig['index']
}

/** The runtime config -> config.json's body (also logged by `update_collection` and kept per segment in the manifest). */
export function configToJson(config: CollectionConfig): ConfigJson {
  return {
    vectors: [...config.vectors],
    sparseVectors: [...config.sparseVectors],
    hnsw: config.hnsw,
    optimizers: config.optimizers,
    ...(config.quantization === undefined ? {} : { quantization: config.quantization }),
    ...(config.params === undefined ? {} : { params: config.params }),
    ...(config.strictMode === undefined ? {} : { strictMode: config.strictMode }),
    ...(config.searchConfig === undefined ? {} : { searchConfig: config.searchConfig }),
  }
}

/** A stored config of either format -> the runtime config. */
export function configFromJson(formatVersion: number, body: unknown): CollectionConfig {
  if (formatVersion === 1) {
    const c = body as ConfigV1
    const vector: VectorConfig = {
      dimension: c.dimension,
      metric: c.metric,
      hnsw: c.hnsw,
      ...(c.quantization === undefined ? {} : { quantization: c.quantization }),
      ...(c.index === undefined ? {} : { index: c.index }),
      datatype: 'float32',
    }
    return {
      vectors: new Map([['', vector]]),
      sparseVectors: new Map(),
      hnsw: c.hnsw,
      // configs written before optimizers existed get the defaults
      optimizers: resolveOptimizers(c.optimizers),
      ...(c.quantization === undefined ? {} : { quantization: c.quantization }),
    }
  }
  const c = body as ConfigJson
  if (!Array.isArray(c?.vectors) || !Array.isArray(c.sparseVectors))
    throw new QuiverError('CORRUPTED', 'config.json has no vector list')
  const vectors = new Map(c.vectors)
  // format 2 kept no collection-level quantization (a top-level one was copied into every vector):
  // the quantization all single-row dense vectors share, if they share one, is taken as it
  const quantization = formatVersion === 2 ? sharedQuantization(vectors) : c.quantization
  return {
    vectors,
    sparseVectors: new Map(c.sparseVectors),
    hnsw: c.hnsw,
    optimizers: resolveOptimizers(c.optimizers),
    ...(quantization === undefined || quantization === null ? {} : { quantization }),
    ...(c.params === undefined || c.params === null ? {} : { params: c.params }),
    ...(c.strictMode === undefined || c.strictMode === null
      ? {}
      : { strictMode: resolveStrictMode(c.strictMode, 'config.json strictMode') }),
    ...(c.searchConfig === undefined || c.searchConfig === null
      ? {}
      : { searchConfig: resolveSearchConfig(c.searchConfig, undefined, 'config.json searchConfig')! }),
  }
}

/** The quantization every single-row dense vector has (compared as JSON), if they agree and have one. */
function sharedQuantization(vectors: ReadonlyMap<string, VectorConfig>): QuantizationConfig | undefined {
  const single = [...vectors.values()].filter((v) => v.multivector === undefined)
  const first = single[0]?.quantization
  if (first === undefined) return undefined
  const key = JSON.stringify(first)
  return single.every((v) => JSON.stringify(v.quantization) === key) ? first : undefined
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
  const stored: StoredConfig = { formatVersion: FORMAT_VERSION, name, config: configToJson(config) }
  await writeFileAtomic(join(dir, 'config.json'), encodeChecked(stored))
}

/**
 * Reads config.json (format 1 or 2). A format-1 file is rewritten as format 2 in place
 * (atomically) when `upgrade` names the collection, so the directory is upgraded on open.
 */
export async function readConfig(dir: string, upgrade?: { name: string }): Promise<CollectionConfig> {
  const path = join(dir, 'config.json')
  const raw = await readFileIfExists(path)
  if (raw === undefined) throw new QuiverError('CORRUPTED', `${shownPath(dir, path)} is missing`, { path })
  const stored = decodeChecked(dir, path, raw) as StoredConfig
  if (!READABLE_VERSIONS.has(stored.formatVersion)) {
    throw new QuiverError(
      'CORRUPTED',
      `${shownPath(dir, path)}: unsupported format version ${stored.formatVersion} (this release reads 1 to ${FORMAT_VERSION})`,
      { path },
    )
  }
  const config = configFromJson(stored.formatVersion, stored.config)
  if (stored.formatVersion !== FORMAT_VERSION && upgrade !== undefined)
    await writeConfig(dir, upgrade.name, config)
  return config
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, 'manifest.json')
  const raw = await readFileIfExists(path)
  if (raw === undefined) return undefined
  const m = decodeChecked(dir, path, raw) as Manifest
  if (!READABLE_VERSIONS.has(m.formatVersion)) {
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

/**
 * Loads and verifies (size + CRC32C, then the graph self-check) the segments a manifest lists. HNSW
 * index files are read in pieces straight into their index's memory and checksummed on the way
 * (`Segment.load`); the other files are read whole and checked before they are decoded.
 */
export async function loadSegments(
  dir: string,
  config: CollectionConfig,
  manifest: Manifest,
): Promise<Segment[]> {
  const segments: Segment[] = []
  try {
    await loadEach(dir, config, manifest, segments)
  } catch (err) {
    for (const s of segments) s.close() // their vector files
    throw err
  }
  return segments
}

async function loadEach(dir: string, config: CollectionConfig, manifest: Manifest, segments: Segment[]) {
  for (const entry of manifest.segments) {
    // a segment built before a config change keeps its own config until the optimizers rebuild it
    const built =
      entry.config === undefined ? config : sameOr(config, configFromJson(FORMAT_VERSION, entry.config))
    const streamed = Segment.streamedFiles(built)
    const files: Record<string, Uint8Array> = {}
    const sources = new Map<string, IndexFileSource>()
    const opened: { close(): Promise<void> }[] = []
    // vector files stay open for the segment's life: rows are read from them when searches need them
    const disk = new Map<string, DiskFile>()
    let loaded = false
    try {
      for (const name of Object.keys(entry.files)) {
        const path = join(dir, 'segments', entry.id, name)
        const expected = entry.files[name]!
        if (!SEGMENT_FILE_RE.test(name) || !SEGMENT_DIR_RE.test(entry.id))
          throw new QuiverError(
            'CORRUPTED',
            `manifest.json names an unexpected segment file ${JSON.stringify(`${entry.id}/${name}`)}`,
            { path },
          )
        const shown = shownPath(dir, path)
        const missing = () => new QuiverError('CORRUPTED', `segment file ${shown} is missing`, { path })
        const sizeCheck = (actual: number) =>
          new QuiverError(
            'CORRUPTED',
            `segment file ${shown} fails its size check: ${actual} bytes, expected ${expected.bytes} (manifest.json)`,
            { path, expected: expected.bytes, actual },
          )
        if (Segment.isDiskFile(name)) {
          const file = openForSyncReads(path)
          if (file === undefined) throw missing()
          disk.set(name, {
            file,
            body: { linked: true, path, bytes: expected.bytes, crc32c: expected.crc32c },
            shown,
          })
          if (file.size !== expected.bytes) throw sizeCheck(file.size)
          continue
        }
        if (streamed.has(name)) {
          const file = await openForReads(path)
          if (file === undefined) throw missing()
          opened.push(file)
          if (file.size !== expected.bytes) throw sizeCheck(file.size)
          sources.set(name, { bytes: expected.bytes, crc32c: expected.crc32c, read: file.read })
          continue
        }
        const data = await readFileIfExists(path)
        if (data === undefined) throw missing()
        if (data.byteLength !== expected.bytes) throw sizeCheck(data.byteLength)
        const actual = crc32c(data)
        if (actual !== expected.crc32c) throw crcCheck(shown, path, expected.crc32c, actual)
        files[name] = data
      }
      try {
        segments.push(await Segment.load(built, files, sources, disk))
        loaded = true
      } catch (err) {
        if (!(err instanceof QuiverError) || err.code !== 'CORRUPTED') throw err
        // a streamed file whose checksum failed (restoreFrom gives both sums): the same message as
        // a file checked whole
        const d = err.details as { file?: unknown; expected?: unknown; actual?: unknown } | undefined
        if (typeof d?.file === 'string' && typeof d.expected === 'number' && typeof d.actual === 'number') {
          const path = join(dir, 'segments', entry.id, d.file)
          throw crcCheck(shownPath(dir, path), path, d.expected, d.actual)
        }
        throw new QuiverError('CORRUPTED', `segment ${entry.id}: ${err.message}`, err.details, err)
      }
    } finally {
      for (const f of opened) await f.close().catch(() => undefined)
      if (!loaded) for (const d of disk.values()) d.file.close()
    }
  }
}

/**
 * Opens vector file `file` of manifest segment `entry` for reads (a segment moving its vectors onto
 * the file a persist just wrote). Throws IO_ERROR, or CORRUPTED when it is missing or its size
 * differs from the manifest's.
 */
export function openSegmentFile(dir: string, entry: ManifestSegment, file: string): DiskFile {
  const path = join(dir, 'segments', entry.id, file)
  const expected = entry.files[file]
  if (expected === undefined)
    throw new QuiverError('INTERNAL', `manifest.json lists no ${file} in ${entry.id}`)
  const opened = openForSyncReads(path)
  if (opened === undefined)
    throw new QuiverError('CORRUPTED', `segment file ${shownPath(dir, path)} is missing`, { path })
  if (opened.size !== expected.bytes) {
    opened.close()
    throw new QuiverError('CORRUPTED', `segment file ${shownPath(dir, path)} fails its size check`, { path })
  }
  return {
    file: opened,
    body: { linked: true, path, bytes: expected.bytes, crc32c: expected.crc32c },
    shown: shownPath(dir, path),
  }
}

function crcCheck(shown: string, path: string, expected: number, actual: number): QuiverError {
  return new QuiverError(
    'CORRUPTED',
    `segment file ${shown} fails its CRC32C check: ${hex32(actual)}, expected ${hex32(expected)} (manifest.json)`,
    { path, expected, actual },
  )
}

/** `other`, or `config` itself when they are equal by value (segments share the collection's config object). */
function sameOr(config: CollectionConfig, other: CollectionConfig): CollectionConfig {
  return sameConfig(config, other) ? config : other
}

/** A new segment directory name: unique per persist, so a retry never touches a directory the live manifest names. */
/** Segment directory names: `seg-<seq>-<i>-<8 hex>` (early format-1 releases wrote `seg-<seq>-<i>`). */
const SEGMENT_DIR_RE = /^seg-[0-9]+-[0-9]+(-[0-9a-f]{8})?$/

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
  snapshots: readonly { files: SegmentFiles; config: CollectionConfig }[],
): ImageFile[] {
  const stored: StoredConfig = { formatVersion: FORMAT_VERSION, name, config: configToJson(config) }
  const out: ImageFile[] = [{ path: 'config.json', data: Buffer.from(encodeChecked(stored), 'utf8') }]
  const manifest: Manifest = { formatVersion: FORMAT_VERSION, seq, segments: [] }
  snapshots.forEach(({ files, config: built }, i) => {
    const id = segmentDirName(seq, i)
    manifest.segments.push({ id, files: fileEntries(files), config: configToJson(built) })
    // views of live memory are copied: the image outlives the moment it was taken
    for (const [file, data] of Object.entries(files))
      out.push({ path: `segments/${id}/${file}`, data: data instanceof Uint8Array ? data : bodyCopy(data) })
  })
  out.push({ path: 'manifest.json', data: Buffer.from(encodeChecked(manifest), 'utf8') })
  out.push({ path: `wal/${walFileName(seq + 1)}`, data: new Uint8Array(0) })
  return out
}

function fileEntries(files: SegmentFiles): Record<string, FileEntry> {
  const out: Record<string, FileEntry> = {}
  for (const [name, data] of Object.entries(files))
    out[name] = { bytes: bodyBytes(data), crc32c: bodyCrc32c(data) }
  return out
}

/** Bytes of the segment files a manifest lists. */
export function manifestBytes(manifest: Manifest | undefined): number {
  let n = 0
  for (const s of manifest?.segments ?? []) for (const f of Object.values(s.files)) n += f.bytes
  return n
}

/**
 * A segment to persist: its files, or the manifest entry of its unchanged, already written files;
 * with the config it was built with.
 */
export type PersistItem = ({ files: SegmentFiles } | { reuse: ManifestSegment }) & {
  config: CollectionConfig
}

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
  const placed: [LinkedFile, string][] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if ('reuse' in item) {
      manifest.segments.push({ ...item.reuse, config: configToJson(item.config) })
      continue
    }
    const id = segmentDirName(seq, i)
    const segDir = join(segmentsDir, id)
    await mkdir(segDir)
    for (const [name, data] of Object.entries(item.files)) {
      const dest = join(segDir, name)
      if (isLinked(data)) {
        await placeLinked(data, dest)
        placed.push([data, dest])
      } else await writeFileAtomic(dest, bodyParts(data))
    }
    await fsyncDir(segDir)
    await fsyncDir(segmentsDir)
    manifest.segments.push({ id, files: fileEntries(item.files), config: configToJson(item.config) })
  }
  await writeFileAtomic(join(dir, 'manifest.json'), encodeChecked(manifest))
  // linked files live where the new manifest says from now on (the old directories go next)
  for (const [file, dest] of placed) file.path = dest
  const keep = new Set(manifest.segments.map((s) => s.id))
  for (const name of await readdir(segmentsDir)) {
    if (!keep.has(name)) await rm(join(segmentsDir, name), { recursive: true, force: true })
  }
  return manifest
}

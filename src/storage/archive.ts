// Snapshot archives: a tar of named byte files plus a `snapshot.json` manifest (every file's size and
// SHA-256, caller metadata), written atomically with a `<file>.checksum` sidecar; verified extraction.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import tar from 'tar-stream'
import { QuiverError } from '../errors.js'
import {
  errnoCode,
  fsyncDir,
  ioError,
  readFileIfExists,
  tempPathFor,
  writeFileAtomic,
  writeFully,
} from './files.js'

/** Name of the manifest entry inside every archive (written last). */
export const ARCHIVE_MANIFEST = 'snapshot.json'
export const ARCHIVE_FORMAT = 'quiver-snapshot'
export const ARCHIVE_FORMAT_VERSION = 1
/** Suffix of the sidecar file holding an archive's SHA-256 (lowercase hex), Qdrant's convention. */
export const CHECKSUM_SUFFIX = '.checksum'

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024
const MAX_PATH_CHARS = 1024
const SHA256_RE = /^[0-9a-f]{64}$/

/** One file to put in an archive; `path` is relative and '/'-separated. */
export interface ArchiveFile {
  path: string
  data: Uint8Array
}

export interface ArchiveEntry {
  path: string
  /** bytes */
  size: number
  /** lowercase hex */
  sha256: string
}

/** Content of `snapshot.json`. `metadata` is the caller's (kind, collections, seq, ...). */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT
  formatVersion: number
  /** ISO 8601, UTC */
  createdAt: string
  files: ArchiveEntry[]
  metadata: Record<string, unknown>
}

export interface WrittenArchive {
  path: string
  /** bytes of the archive file */
  size: number
  /** SHA-256 of the whole archive file, lowercase hex (also in the sidecar) */
  checksum: string
  manifest: ArchiveManifest
}

function corrupted(message: string, details: Record<string, unknown>): QuiverError {
  return new QuiverError('CORRUPTED', message, details)
}

/**
 * Checks a path taken from (or put into) an archive: relative, '/'-separated, no empty, `.` or `..`
 * segment, no backslash or NUL. Returns it; throws CORRUPTED naming the entry otherwise.
 */
export function checkArchivePath(path: string, archive: string): string {
  const bad =
    path.length === 0 ||
    path.length > MAX_PATH_CHARS ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..')
  if (bad) {
    throw corrupted(`snapshot ${archive}: entry path ${JSON.stringify(path)} is not a safe relative path`, {
      archive,
      entry: path,
    })
  }
  return path
}

/** Normalises a checksum given by a caller: 64 hex digits, any case. Throws INVALID_ARGUMENT. */
export function parseSha256(value: string, what = 'checksum'): string {
  const hex = value.trim().toLowerCase()
  if (!SHA256_RE.test(hex)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `${what}: expected a SHA-256 as 64 hex digits, got ${JSON.stringify(value)}`,
      {
        path: what,
      },
    )
  }
  return hex
}

/** SHA-256 of a file, lowercase hex, read as a stream. Throws SNAPSHOT_NOT_FOUND (naming `label`) if absent, IO_ERROR. */
export async function sha256File(path: string, label = path): Promise<string> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot file ${label} does not exist`, { path })
    }
    throw ioError('read', path, err)
  }
  return hash.digest('hex')
}

/**
 * The SHA-256 stored in `<archive>.checksum`, or undefined when there is no sidecar.
 * Throws CORRUPTED when the sidecar does not hold 64 hex digits (naming it after `label`).
 */
export async function readChecksumFile(
  archivePath: string,
  label = archivePath,
): Promise<string | undefined> {
  const path = archivePath + CHECKSUM_SUFFIX
  const raw = await readFileIfExists(path)
  if (raw === undefined) return undefined
  const hex = Buffer.from(raw).toString('utf8').trim().toLowerCase()
  if (!SHA256_RE.test(hex))
    throw corrupted(`${label}${CHECKSUM_SUFFIX} does not hold a SHA-256 hex digest`, { path })
  return hex
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/**
 * Writes a tar archive at `path` holding `files` (in order) and then `snapshot.json`, atomically:
 * a temp file in the same directory is written while hashed, fsynced, the sidecar
 * `<path>.checksum` is written (atomically), then the temp file is renamed to `path` and the directory
 * fsynced. After a crash `path` either does not exist or is complete with its sidecar. `metadata`
 * may be a function, called once every file has been consumed (e.g. to record a seq learnt while
 * producing them). Files are streamed with backpressure: at most about one file is buffered.
 * Throws INVALID_ARGUMENT for an unsafe or duplicate path, IO_ERROR when the disk refuses.
 *
 * @example await writeArchive('/data/snapshots/docs/docs-1.snapshot', image.files, { kind: 'collection' })
 */
export async function writeArchive(
  path: string,
  files: Iterable<ArchiveFile> | AsyncIterable<ArchiveFile>,
  metadata: Record<string, unknown> | (() => Record<string, unknown>),
): Promise<WrittenArchive> {
  const dir = dirname(path)
  const tmp = tempPathFor(path)
  const hash = createHash('sha256')
  const pack = tar.pack()
  const mtime = new Date()
  let size = 0
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(tmp, 'wx')
    const h = handle
    const consume = (async () => {
      for await (const c of pack) {
        const chunk = c as Buffer
        hash.update(chunk)
        await writeFully(h, chunk, size)
        size += chunk.byteLength
      }
    })()
    // a consumer failure must stop the producer, and a producer failure the consumer
    consume.catch((err: unknown) => pack.destroy(err as Error))
    const add = (name: string, data: Buffer): Promise<void> =>
      new Promise((resolve, reject) => {
        pack.entry({ name, size: data.byteLength, mtime, mode: 0o644, type: 'file' }, data, (err) =>
          err ? reject(err) : resolve(),
        )
      })
    const entries: ArchiveEntry[] = []
    const seen = new Set<string>([ARCHIVE_MANIFEST])
    try {
      for await (const f of files) {
        const p = f.path
        if (seen.has(p)) throw new QuiverError('INVALID_ARGUMENT', `archive entry ${p} is given twice`)
        try {
          checkArchivePath(p, path)
        } catch (err) {
          throw new QuiverError('INVALID_ARGUMENT', (err as Error).message, { entry: p })
        }
        seen.add(p)
        entries.push({
          path: p,
          size: f.data.byteLength,
          sha256: createHash('sha256').update(f.data).digest('hex'),
        })
        await add(p, asBuffer(f.data))
      }
      const manifest: ArchiveManifest = {
        format: ARCHIVE_FORMAT,
        formatVersion: ARCHIVE_FORMAT_VERSION,
        createdAt: mtime.toISOString(),
        files: entries,
        metadata: typeof metadata === 'function' ? metadata() : metadata,
      }
      await add(ARCHIVE_MANIFEST, Buffer.from(JSON.stringify(manifest), 'utf8'))
      pack.finalize()
      await consume
      await h.sync()
      await h.close()
      handle = undefined
      const checksum = hash.digest('hex')
      await writeFileAtomic(path + CHECKSUM_SUFFIX, checksum)
      await rename(tmp, path)
      await fsyncDir(dir)
      return { path, size, checksum, manifest }
    } catch (err) {
      pack.destroy(err as Error)
      await consume.catch(() => undefined)
      throw err
    }
  } catch (err) {
    await handle?.close().catch(() => undefined)
    await unlink(tmp).catch(() => undefined)
    if (err instanceof QuiverError) throw err
    throw ioError('write snapshot', path, err)
  }
}

function parseManifest(raw: Buffer, archive: string): ArchiveManifest {
  let m: unknown
  try {
    m = JSON.parse(raw.toString('utf8'))
  } catch (err) {
    throw new QuiverError(
      'CORRUPTED',
      `snapshot ${archive}: ${ARCHIVE_MANIFEST} is not valid JSON`,
      { archive },
      err,
    )
  }
  const o = m as Partial<ArchiveManifest> | null
  if (
    typeof o !== 'object' ||
    o === null ||
    o.format !== ARCHIVE_FORMAT ||
    !Array.isArray(o.files) ||
    typeof o.metadata !== 'object' ||
    o.metadata === null ||
    typeof o.createdAt !== 'string'
  ) {
    throw corrupted(`snapshot ${archive}: ${ARCHIVE_MANIFEST} is not a Quiver snapshot manifest`, { archive })
  }
  if (o.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw corrupted(`snapshot ${archive}: unsupported snapshot format version ${String(o.formatVersion)}`, {
      archive,
    })
  }
  for (const f of o.files as unknown[]) {
    const e = f as Partial<ArchiveEntry> | null
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.path !== 'string' ||
      typeof e.size !== 'number' ||
      typeof e.sha256 !== 'string'
    ) {
      throw corrupted(`snapshot ${archive}: ${ARCHIVE_MANIFEST} has a malformed file entry`, { archive })
    }
    checkArchivePath(e.path, archive)
  }
  return o as ArchiveManifest
}

export interface ExtractOptions {
  /** Expected SHA-256 of the whole archive (hex); verified before anything is written. */
  checksum?: string
  /** How messages name the archive (`details.archive` keeps its path). Default: its path. */
  label?: string
}

/**
 * Extracts a snapshot archive into `dest`, which must not exist (it is created; its parent must).
 * Verifies, in this order: the whole archive's SHA-256 when `options.checksum` is given; that every
 * entry is a regular file with a safe relative path (no `..`, absolute paths, links or devices),
 * given once; that `snapshot.json` is present and valid; that every file it lists was extracted
 * with its size and SHA-256, and that no other entry exists. Files and directories are fsynced.
 * On any failure `dest` is removed and the error thrown: CORRUPTED naming the entry or check,
 * SNAPSHOT_NOT_FOUND when `archive` does not exist, INVALID_ARGUMENT for a malformed checksum,
 * IO_ERROR when the disk refuses. Returns the manifest.
 */
export async function extractArchive(
  archive: string,
  dest: string,
  options: ExtractOptions = {},
): Promise<ArchiveManifest> {
  const label = options.label ?? archive
  if (options.checksum !== undefined) {
    const expected = parseSha256(options.checksum)
    const actual = await sha256File(archive, label)
    if (actual !== expected) {
      throw corrupted(`snapshot ${label} fails its SHA-256 check: expected ${expected}, got ${actual}`, {
        archive,
        expected,
        actual,
      })
    }
  } else {
    try {
      await stat(archive)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot file ${label} does not exist`, {
          path: archive,
        })
      }
      throw ioError('stat', archive, err)
    }
  }
  try {
    await mkdir(dest)
  } catch (err) {
    throw ioError('create directory', dest, err)
  }
  try {
    const manifest = await extractInto(archive, dest, label)
    return manifest
  } catch (err) {
    await rm(dest, { recursive: true, force: true }).catch(() => undefined)
    if (err instanceof QuiverError) throw err
    throw new QuiverError(
      'CORRUPTED',
      `snapshot ${label} is not a valid archive: ${(err as Error).message}`,
      { archive },
      err,
    )
  }
}

async function extractInto(archive: string, dest: string, label: string): Promise<ArchiveManifest> {
  const extract = tar.extract()
  const source = createReadStream(archive)
  source.on('error', (err) => extract.destroy(ioError('read', archive, err)))
  source.pipe(extract)
  const got = new Map<string, { size: number; sha256: string }>()
  const dirs = new Set<string>([dest])
  let manifestRaw: Buffer | undefined
  try {
    for await (const entry of extract) {
      const { name, type } = entry.header
      if (type !== 'file' && type !== 'contiguous-file') {
        throw corrupted(
          `snapshot ${label}: entry ${JSON.stringify(name)} is a ${type}; only regular files are allowed`,
          {
            archive,
            entry: name,
          },
        )
      }
      checkArchivePath(name, label)
      if (got.has(name) || (name === ARCHIVE_MANIFEST && manifestRaw !== undefined)) {
        throw corrupted(`snapshot ${label}: entry ${name} appears twice`, { archive, entry: name })
      }
      if (name === ARCHIVE_MANIFEST) {
        const chunks: Buffer[] = []
        let n = 0
        for await (const chunk of entry) {
          n += (chunk as Buffer).byteLength
          if (n > MAX_MANIFEST_BYTES)
            throw corrupted(`snapshot ${label}: ${ARCHIVE_MANIFEST} is too large`, { archive })
          chunks.push(chunk as Buffer)
        }
        manifestRaw = Buffer.concat(chunks)
        continue
      }
      const target = join(dest, ...name.split('/'))
      const parent = dirname(target)
      if (!dirs.has(parent)) {
        await mkdir(parent, { recursive: true }).catch((err) => {
          throw ioError('create directory', parent, err)
        })
        for (let d = parent; d.length > dest.length && !dirs.has(d); d = dirname(d)) dirs.add(d)
      }
      const hash = createHash('sha256')
      let size = 0
      const h = await open(target, 'wx').catch((err) => {
        throw ioError('create', target, err)
      })
      try {
        for await (const chunk of entry) {
          const buf = chunk as Buffer
          hash.update(buf)
          await writeFully(h, buf, size).catch((err) => {
            throw ioError('write', target, err)
          })
          size += buf.byteLength
        }
        await h.sync().catch((err) => {
          throw ioError('fsync', target, err)
        })
      } finally {
        await h.close()
      }
      got.set(name, { size, sha256: hash.digest('hex') })
    }
  } finally {
    source.destroy()
  }
  if (manifestRaw === undefined) throw corrupted(`snapshot ${label} has no ${ARCHIVE_MANIFEST}`, { archive })
  const manifest = parseManifest(manifestRaw, label)
  const listed = new Set<string>()
  for (const f of manifest.files) {
    listed.add(f.path)
    const e = got.get(f.path)
    if (e === undefined) {
      throw corrupted(`snapshot ${label}: file ${f.path} listed in ${ARCHIVE_MANIFEST} is missing`, {
        archive,
        entry: f.path,
      })
    }
    if (e.size !== f.size) {
      throw corrupted(
        `snapshot ${label}: file ${f.path} fails its size check: ${e.size} bytes, expected ${f.size}`,
        { archive, entry: f.path, expected: f.size, actual: e.size },
      )
    }
    if (e.sha256 !== f.sha256) {
      throw corrupted(
        `snapshot ${label}: file ${f.path} fails its SHA-256 check: ${e.sha256}, expected ${f.sha256}`,
        { archive, entry: f.path, expected: f.sha256, actual: e.sha256 },
      )
    }
  }
  for (const name of got.keys()) {
    if (!listed.has(name)) {
      throw corrupted(`snapshot ${label}: entry ${name} is not listed in ${ARCHIVE_MANIFEST}`, {
        archive,
        entry: name,
      })
    }
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await fsyncDir(d)
  return manifest
}

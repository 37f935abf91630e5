// Snapshot files of a data directory: their names and places (snapshots/<collection>/, snapshots/full-*),
// listing with Qdrant's description, and the metadata Quiver puts in an archive's snapshot.json.
import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { checkCollectionName } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import type { ArchiveManifest } from '../storage/archive.js'
import { readChecksumFile } from '../storage/archive.js'
import { errnoCode, ioError } from '../storage/files.js'
import { decodeAliasList } from './aliases.js'

export const SNAPSHOTS_DIR = 'snapshots'
export const SNAPSHOT_SUFFIX = '.snapshot'
const FULL_PREFIX = 'full-'
const SNAPSHOT_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,250}\.snapshot$/

/** A snapshot file as Qdrant describes it (`SnapshotDescription`), in engine terms. */
export interface SnapshotInfo {
  /** file name, e.g. `docs-2024-05-01-10-49-10-3fa2c1.snapshot` */
  name: string
  /** last modification, UTC, ISO 8601 without zone or fraction (`2024-05-01T10:49:10`), as Qdrant */
  creationTime: string
  /** bytes */
  size: number
  /** SHA-256 of the file (lowercase hex) from its `.checksum` sidecar, null when there is none */
  checksum: string | null
}

/** What Quiver records in `snapshot.json`'s `metadata`. */
export interface SnapshotMetadata {
  kind: 'collection' | 'full'
  /** Collections in the archive with the WAL seq of their image; a full archive holds each under `collections/<name>/`. */
  collections: { name: string; seq: number }[]
  /**
   * A full archive's aliases whose collection it holds, as `aliases.json` lists them (absent in
   * archives written before aliases: none).
   */
  aliases?: { alias: string; collection: string }[]
}

/** Options of the recover calls. */
export interface RecoverOptions {
  /** Expected SHA-256 of the archive (hex). Default: the `<file>.checksum` sidecar when there is one. */
  checksum?: string
  /**
   * How error messages name the archive, e.g. the location a client gave (a server must not
   * echo its own paths). Default: its path.
   */
  label?: string
}

/**
 * Checks a snapshot file name given by a caller: `[A-Za-z0-9_][A-Za-z0-9_.-]*.snapshot`, at most 255
 * characters, so it can never name a path outside its directory. Throws INVALID_ARGUMENT.
 */
export function checkSnapshotName(name: string): string {
  if (!SNAPSHOT_NAME_RE.test(name)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `snapshot name ${JSON.stringify(name)} is invalid: expected A-Z a-z 0-9 _ . - ending in .snapshot, not starting with '.'`,
      { name },
    )
  }
  return name
}

function stamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/[T:]/g, '-')
}

/** A new, unique snapshot file name: `<prefix>-YYYY-MM-DD-HH-MM-SS-<6 hex>.snapshot`. */
export function newSnapshotName(prefix: string, now = new Date()): string {
  return `${prefix}-${stamp(now)}-${randomBytes(3).toString('hex')}${SNAPSHOT_SUFFIX}`
}

/** Directory of a collection's snapshots: `<data>/snapshots/<collection>`. Throws INVALID_COLLECTION_NAME. */
export function collectionSnapshotsDir(dataDir: string, collection: string): string {
  return join(dataDir, SNAPSHOTS_DIR, checkCollectionName(collection))
}

export function fullSnapshotsDir(dataDir: string): string {
  return join(dataDir, SNAPSHOTS_DIR)
}

export function isFullSnapshotName(name: string): boolean {
  return name.startsWith(FULL_PREFIX)
}

export function newFullSnapshotName(now = new Date()): string {
  return newSnapshotName('full', now)
}

/** Qdrant's `creation_time` format: `YYYY-MM-DDTHH:MM:SS`, UTC. */
export function creationTime(d: Date): string {
  return d.toISOString().slice(0, 19)
}

/** Describes one snapshot file. Throws SNAPSHOT_NOT_FOUND when it does not exist, IO_ERROR. */
export async function describeSnapshot(path: string, name: string): Promise<SnapshotInfo> {
  let st: Awaited<ReturnType<typeof stat>>
  try {
    st = await stat(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot ${name} does not exist`, { name })
    }
    throw ioError('stat', path, err)
  }
  if (!st.isFile()) throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot ${name} does not exist`, { name })
  return {
    name,
    creationTime: creationTime(st.mtime),
    size: st.size,
    checksum: (await readChecksumFile(path)) ?? null,
  }
}

/**
 * The snapshot files in `dir` (regular files named `*.snapshot`, not starting with '.') accepted by
 * `accept`, oldest first (by creation time, then name). A missing directory lists nothing.
 */
export async function listSnapshotFiles(
  dir: string,
  accept: (name: string) => boolean = () => true,
): Promise<SnapshotInfo[]> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return []
    throw ioError('list', dir, err)
  }
  const out: SnapshotInfo[] = []
  for (const e of entries) {
    if (!e.isFile() || !SNAPSHOT_NAME_RE.test(e.name) || !accept(e.name)) continue
    try {
      out.push(await describeSnapshot(join(dir, e.name), e.name))
    } catch (err) {
      // deleted while listing
      if (!(err instanceof QuiverError) || err.code !== 'SNAPSHOT_NOT_FOUND') throw err
    }
  }
  return out.sort((a, b) =>
    a.creationTime === b.creationTime
      ? a.name.localeCompare(b.name)
      : a.creationTime.localeCompare(b.creationTime),
  )
}

/**
 * Reads Quiver's metadata from an archive manifest and checks it is of `kind`. Throws CORRUPTED for
 * malformed metadata, INVALID_ARGUMENT for a snapshot of the other kind.
 */
export function snapshotMetadata(
  manifest: ArchiveManifest,
  kind: SnapshotMetadata['kind'],
  source: string,
): SnapshotMetadata {
  const m = manifest.metadata as Partial<SnapshotMetadata>
  const valid =
    (m.kind === 'collection' || m.kind === 'full') &&
    Array.isArray(m.collections) &&
    m.collections.every(
      (c: unknown) =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as { name?: unknown }).name === 'string' &&
        typeof (c as { seq?: unknown }).seq === 'number',
    ) &&
    (m.kind === 'full' || m.collections.length === 1)
  if (!valid)
    throw new QuiverError('CORRUPTED', `snapshot ${source}: snapshot.json has malformed metadata`, { source })
  const meta = m as SnapshotMetadata
  if (meta.kind !== kind) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      meta.kind === 'full'
        ? `snapshot ${source} is a full snapshot of the store; recover it as a full snapshot, not into one collection`
        : `snapshot ${source} is a snapshot of collection ${meta.collections[0]?.name}; recover it into a collection`,
      { source, kind: meta.kind },
    )
  }
  for (const c of meta.collections) {
    try {
      checkCollectionName(c.name)
    } catch {
      throw new QuiverError(
        'CORRUPTED',
        `snapshot ${source}: collection name ${JSON.stringify(c.name)} is invalid`,
        {
          source,
        },
      )
    }
  }
  if (meta.aliases !== undefined) {
    const names = new Set(meta.collections.map((c) => c.name))
    for (const [alias, target] of decodeAliasList(meta.aliases, `snapshot ${source}: snapshot.json`)) {
      if (!names.has(target) || names.has(alias) || meta.kind !== 'full') {
        throw new QuiverError(
          'CORRUPTED',
          `snapshot ${source}: alias ${alias} -> ${target} does not match the collections the snapshot holds`,
          { source },
        )
      }
    }
  }
  return meta
}

/** The aliases a full snapshot's metadata lists (`[]` when none): alias name -> collection name. */
export function snapshotAliases(meta: SnapshotMetadata): Map<string, string> {
  return new Map((meta.aliases ?? []).map((a) => [a.alias, a.collection]))
}

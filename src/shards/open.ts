// A collection directory as the database opens it: one collection (today's layout, `shard_number`
// 1), or a sharded one: `sharding.json` ({ version, shardNumber, routing }) beside `shards/0/` ..
// `shards/<S-1>/`, each a collection directory of its own (config, WAL, segments).
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type CollectionOpenOptions, EmbeddedCollection } from '../collection/collection.js'
import { readConfig, writeConfig } from '../collection/persistence.js'
import { MAX_SHARDS } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import { errnoCode, ioError, writeFileAtomic } from '../storage/files.js'
import type { CollectionConfig } from '../types.js'
import { SHARDING_FILE, SHARDS_DIR, ShardedCollection, shardingFile } from './router.js'
import type { HostedCollection } from './shard-set.js'

const SHARDING_VERSION = 1

/**
 * The shard count recorded in `dir/sharding.json`, or undefined for a one-shard collection (no
 * such file). Throws CORRUPTED for a file that is not what this release writes.
 */
export async function readShardCount(dir: string): Promise<number | undefined> {
  const path = join(dir, SHARDING_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError('read', path, err)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new QuiverError('CORRUPTED', `${path} is not JSON`, { path })
  }
  const o = parsed as { version?: unknown; shardNumber?: unknown; routing?: unknown }
  if (typeof o !== 'object' || o === null || o.version !== SHARDING_VERSION || o.routing !== 'crc32c-mod')
    throw new QuiverError(
      'CORRUPTED',
      `${path}: unsupported sharding file (this release reads version ${SHARDING_VERSION}, routing crc32c-mod)`,
      { path },
    )
  const n = o.shardNumber
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2 || n > MAX_SHARDS)
    throw new QuiverError('CORRUPTED', `${path}: shardNumber must be an integer in 2..${MAX_SHARDS}`, {
      path,
    })
  return n
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false
    throw ioError('stat', path, err)
  }
}

/** The directories of a collection's shards: `dir/shards/<i>`. */
function shardDirs(dir: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => join(dir, SHARDS_DIR, String(i)))
}

/**
 * Opens the collection directory `dir` as collection `name`: its shards when it has
 * `sharding.json`, else the one collection. Throws CORRUPTED naming a damaged file (nothing stays
 * open then).
 */
export async function openHostedCollection(
  dir: string,
  name: string,
  options: CollectionOpenOptions,
): Promise<HostedCollection> {
  const shards = await readShardCount(dir)
  if (shards === undefined) return EmbeddedCollection.open(dir, name, options)
  const results = await Promise.allSettled(
    shardDirs(dir, shards).map((d) => EmbeddedCollection.open(d, name, options)),
  )
  const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.find((r) => r.status === 'rejected')
  const mismatch = opened.find((c) => (c.config.params?.shardNumber ?? 1) !== shards)
  const extra = await exists(join(dir, SHARDS_DIR, String(shards)))
  if (failed !== undefined || mismatch !== undefined || extra) {
    for (const c of opened) await c.close().catch(() => undefined)
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    const path = join(dir, SHARDING_FILE)
    throw new QuiverError(
      'CORRUPTED',
      `collection ${name}: ${SHARDING_FILE} says ${shards} shards, but ${extra ? `${SHARDS_DIR}/${shards}/ exists` : `a shard's config says ${mismatch!.config.params?.shardNumber ?? 1}`}`,
      { path },
    )
  }
  return new ShardedCollection(
    name,
    opened,
    options.resolveCollection === undefined ? {} : { resolveCollection: options.resolveCollection },
  )
}

/**
 * Writes a new collection's files into the empty directory `dir`: config and empty WAL, or with
 * `config.params.shardNumber` > 1 the sharding file and one such directory per shard.
 */
export async function createCollectionFiles(
  dir: string,
  name: string,
  config: CollectionConfig,
  options: CollectionOpenOptions,
): Promise<void> {
  const shards = config.params?.shardNumber ?? 1
  if (shards <= 1) {
    await (await EmbeddedCollection.create(dir, name, config, options)).close()
    return
  }
  for (const d of shardDirs(dir, shards)) {
    await mkdir(d, { recursive: true })
    await (await EmbeddedCollection.create(d, name, config, options)).close()
  }
  await writeFileAtomic(join(dir, SHARDING_FILE), shardingFile(shards))
}

/**
 * Writes into the empty directory `dir` the files of a replica of the collection whose shards'
 * shared logs are `logIds` (shard 0 first; one id: an unsharded collection): each shard's config
 * from its log's first record, and the sharding file. Open it afterwards (the open replays every
 * shard's log). Throws INVALID_ARGUMENT (a log of another shard count, not a collection's log, a
 * local WAL), LOG_NOT_FOUND.
 */
export async function attachCollectionFiles(
  dir: string,
  name: string,
  logIds: readonly string[],
  options: CollectionOpenOptions,
): Promise<void> {
  if (logIds.length <= 1) {
    await EmbeddedCollection.attachFiles(dir, name, logIds[0] ?? '', options)
    return
  }
  if (logIds.length > MAX_SHARDS)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `a collection has at most ${MAX_SHARDS} shards, got ${logIds.length} logs`,
    )
  const dirs = shardDirs(dir, logIds.length)
  for (const [i, d] of dirs.entries()) {
    await mkdir(d, { recursive: true })
    await EmbeddedCollection.attachFiles(d, name, logIds[i]!, { ...options, shardNumber: logIds.length })
  }
  await writeFileAtomic(join(dir, SHARDING_FILE), shardingFile(logIds.length))
}

/** Sets the name stored in a collection directory's config (each shard's), e.g. of a recovered snapshot. */
export async function renameCollectionFiles(dir: string, name: string): Promise<void> {
  const shards = await readShardCount(dir)
  for (const d of shards === undefined ? [dir] : shardDirs(dir, shards)) {
    await writeConfig(d, name, await readConfig(d))
  }
}

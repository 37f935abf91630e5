// A collection directory as the database opens it: one collection (today's layout, `shard_number`
// 1), or a sharded one: `sharding.json` ({ version, shardNumber, routing }) beside `shards/0/` ..
// `shards/<S-1>/`, each a collection directory of its own (config, WAL, segments). In cluster mode
// a shard (or an unsharded collection) hosted by other nodes only is a directory holding its config,
// its log's pointer and `remote.json` ({ version, logId, replicas }): it opens as a RemoteShard
// (remote.ts) through `HostedOpenOptions.remoteShard`.
import { mkdir, readdir, readFile, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { type CollectionOpenOptions, EmbeddedCollection } from '../collection/collection.js'
import { readConfig, writeConfig } from '../collection/persistence.js'
import { MAX_SHARDS } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import { errnoCode, ioError, writeFileAtomic } from '../storage/files.js'
import type { CollectionConfig } from '../types.js'
import { RemoteShard } from './remote.js'
import { SHARDING_FILE, SHARDS_DIR, ShardedCollection, shardingFile } from './router.js'
import type { HostedCollection, Shard } from './shard-set.js'

const SHARDING_VERSION = 1
/** The file that marks a shard directory as a shard hosted on other nodes. */
export const REMOTE_FILE = 'remote.json'
const REMOTE_VERSION = 1

/** What a RemoteShardFactory is given: the shard's directory and what `remote.json` and its config say. */
export interface RemoteShardSpec {
  dir: string
  name: string
  shardId: number
  logId: string
  replicas: readonly string[]
  config: CollectionConfig
}

/** Builds the shard object of a shard hosted on other nodes (the database's, over its transport). */
export type RemoteShardFactory = (spec: RemoteShardSpec) => Shard

/** How the database opens collection directories: a collection's options, plus remote shards in cluster mode. */
export interface HostedOpenOptions extends CollectionOpenOptions {
  /** Cluster mode: opens shards hosted elsewhere; without it such a collection is refused with CORRUPTED. */
  remoteShard?: RemoteShardFactory
}

const ABSENT = Symbol('absent')

/** The JSON in file `path`, or ABSENT when there is no such file. Throws CORRUPTED (not JSON), IO_ERROR. */
async function readJsonIfPresent(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return ABSENT
    throw ioError('read', path, err)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new QuiverError('CORRUPTED', `${path} is not JSON`, { path })
  }
}

/** `dir/remote.json`: the log id and replicas of a shard hosted elsewhere; undefined when the shard is here. */
async function readRemote(dir: string): Promise<{ logId: string; replicas: string[] } | undefined> {
  const path = join(dir, REMOTE_FILE)
  const parsed = await readJsonIfPresent(path)
  if (parsed === ABSENT) return undefined
  const o = parsed as { version?: unknown; logId?: unknown; replicas?: unknown }
  if (
    typeof o !== 'object' ||
    o === null ||
    o.version !== REMOTE_VERSION ||
    typeof o.logId !== 'string' ||
    !Array.isArray(o.replicas) ||
    !o.replicas.every((r) => typeof r === 'string')
  )
    throw new QuiverError(
      'CORRUPTED',
      `${path}: not a remote shard file this release reads (version ${REMOTE_VERSION})`,
      {
        path,
      },
    )
  return { logId: o.logId, replicas: o.replicas as string[] }
}

/** Opens the shard (or unsharded collection) at `dir`: here, or through `remoteShard` when `remote.json` says it is elsewhere. */
async function openShard(
  dir: string,
  name: string,
  shardId: number,
  options: HostedOpenOptions,
): Promise<Shard> {
  const remote = await readRemote(dir)
  if (remote === undefined) return EmbeddedCollection.open(dir, name, options)
  if (options.remoteShard === undefined)
    throw new QuiverError(
      'CORRUPTED',
      `collection ${name}: shard ${shardId} is hosted on other nodes of a cluster (${join(dir, REMOTE_FILE)}); open this data directory in cluster mode (quiver serve --cluster)`,
      { path: join(dir, REMOTE_FILE) },
    )
  return options.remoteShard({ dir, name, shardId, ...remote, config: await readConfig(dir) })
}

/** The directory of shard `shardId` of the collection at `dir` (`dir` itself for an unsharded one). */
export function shardDir(dir: string, c: HostedCollection, shardId: number): string {
  return c instanceof ShardedCollection ? join(dir, SHARDS_DIR, String(shardId)) : dir
}

/** Marks the shard directory `dir` as hosted elsewhere: `remote.json` naming its log and `replicas` (atomic). */
export async function markShardRemote(
  dir: string,
  logId: string,
  replicas: readonly string[],
): Promise<void> {
  await writeFileAtomic(join(dir, REMOTE_FILE), JSON.stringify({ version: REMOTE_VERSION, logId, replicas }))
}

/**
 * Opens the shard directory `dir`, until now a remote shard's, as a shard hosted here: drops
 * `remote.json` (from then on, a restart opens it as local too and replays its log), opens it,
 * which replays the shard's log from the start, and resolves once it caught up with the log.
 * Throws as `EmbeddedCollection.open`.
 */
export async function hostShardHere(dir: string, name: string, options: HostedOpenOptions): Promise<Shard> {
  await unlink(join(dir, REMOTE_FILE)).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw ioError('unlink', join(dir, REMOTE_FILE), err)
  })
  const local = await EmbeddedCollection.open(dir, name, options)
  try {
    await local.catchUp()
  } catch (err) {
    await local.close().catch(() => undefined)
    throw err
  }
  return local
}

/**
 * Removes what a shard directory held as a local shard (segments, manifest), keeping its config,
 * log pointer and `remote.json`; only while `remote.json` still names log `logId` (the directory is
 * still that remote shard's, not a shard opened here since, nor another collection's). Resolves
 * whether it cleared.
 */
export async function clearShardData(dir: string, logId: string): Promise<boolean> {
  const remote = await readRemote(dir).catch(() => undefined)
  if (remote === undefined || remote.logId !== logId) return false
  const keep = new Set(['config.json', 'log.json', REMOTE_FILE])
  for (const e of await readdir(dir)) {
    if (!keep.has(e)) await rm(join(dir, e), { recursive: true, force: true })
  }
  return true
}

/**
 * Per shard of `c` (shard 0 first): the nodes hosting it when it is hosted elsewhere (a
 * RemoteShard), undefined when it is here.
 */
export function remoteReplicas(c: HostedCollection): (readonly string[] | undefined)[] {
  const shards: readonly unknown[] = c instanceof ShardedCollection ? c.shards : [c]
  return shards.map((s) => (s instanceof RemoteShard ? s.replicas : undefined))
}

/** The shards of `c` this node hosts, with their shard ids. */
export function localShards(c: HostedCollection): { shardId: number; shard: Shard }[] {
  const shards: readonly Shard[] = c instanceof ShardedCollection ? c.shards : [c as unknown as Shard]
  return shards.flatMap((shard, shardId) => (shard instanceof RemoteShard ? [] : [{ shardId, shard }]))
}

/**
 * The shard count recorded in `dir/sharding.json`, or undefined for a one-shard collection (no
 * such file). Throws CORRUPTED for a file that is not what this release writes.
 */
export async function readShardCount(dir: string): Promise<number | undefined> {
  const path = join(dir, SHARDING_FILE)
  const parsed = await readJsonIfPresent(path)
  if (parsed === ABSENT) return undefined
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
  options: HostedOpenOptions,
): Promise<HostedCollection> {
  const shards = await readShardCount(dir)
  if (shards === undefined) return openShard(dir, name, 0, options)
  const results = await Promise.allSettled(
    shardDirs(dir, shards).map((d, i) => openShard(d, name, i, options)),
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
 * shard's log). With `remote`, shard i is hosted elsewhere when `remote[i]` lists its nodes: its
 * directory gets `remote.json` too, and opens as a remote shard. Throws INVALID_ARGUMENT (a log of
 * another shard count, not a collection's log, a local WAL), LOG_NOT_FOUND.
 */
export async function attachCollectionFiles(
  dir: string,
  name: string,
  logIds: readonly string[],
  options: CollectionOpenOptions,
  remote: readonly (readonly string[] | undefined)[] = [],
): Promise<void> {
  const markRemote = async (d: string, i: number): Promise<void> => {
    const replicas = remote[i]
    if (replicas !== undefined) await markShardRemote(d, logIds[i]!, replicas)
  }
  if (logIds.length <= 1) {
    await EmbeddedCollection.attachFiles(dir, name, logIds[0] ?? '', options)
    await markRemote(dir, 0)
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
    await markRemote(d, i)
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

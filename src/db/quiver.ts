// Quiver, the embedded database: opens a data directory (taking its lock), keeps the catalog of
// collections (one sub-directory each under collections/) and their aliases (aliases.json), creates
// and drops them atomically.
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { CollectionOpenOptions } from '../collection/collection.js'
import { DEFAULT_QUERY_CACHE_BYTES, QueryCache, type QueryCacheStats } from '../collection/query-cache.js'
import { checkSampleRate, RecallBudget } from '../collection/recall-sampler.js'
import { checkCollectionName, resolveConfig } from '../collection/validate.js'
import { CorePool } from '../engine/pool.js'
import { invalid, QuiverError } from '../errors.js'
import {
  attachCollectionFiles,
  clearShardData,
  createCollectionFiles,
  type HostedOpenOptions,
  hostShardHere,
  localShards,
  markShardRemote,
  openHostedCollection,
  type RemoteShardFactory,
  remoteReplicas,
  renameCollectionFiles,
  shardDir,
} from '../shards/open.js'
import { answerShardRequest, RemoteShard, SHARD_PING, shardTopic } from '../shards/remote.js'
import { ShardedCollection } from '../shards/router.js'
import { placeShards } from '../shards/routing.js'
import type { HostedCollection, Shard } from '../shards/shard-set.js'
import {
  type ArchiveFile,
  type ExtractOptions,
  extractArchive,
  readChecksumFile,
  writeArchive,
} from '../storage/archive.js'
import { type CatalogEntry, type CatalogStatus, type ClusterCatalog, peerIdOf } from '../storage/catalog.js'
import { type DirLock, lockDirectory } from '../storage/dir-lock.js'
import { ensureDir, errnoCode, fsyncDir, ioError } from '../storage/files.js'
import type { ShardSnapshotStore } from '../storage/shard-snapshots.js'
import { type Served, type ShardTransport, TransportError } from '../storage/transport.js'
import type {
  ClusterOperation,
  CollectionClusterInfo,
  CollectionParams,
  CollectionUpdate,
  CreateCollectionOptions,
  ShardState,
  ShardTransferInfo,
  UpdateResult,
} from '../types.js'
import {
  type AliasAction,
  AliasCatalog,
  type AliasDescription,
  type CollectionNames,
  describeAliases,
  planAliases,
} from './aliases.js'
import {
  CATCH_UP_TOPIC,
  CONFIRM_TIMEOUT_MS,
  catchUpAnswer,
  catchUpWithin,
  confirmReplicas,
  consistencyOf,
  replicasNeeded,
  touchedShards,
} from './consistency.js'
import {
  APPLIED_TOPIC,
  appliedAnswer,
  checkShardSnapshotPolicy,
  type ShardSnapshotPolicy,
  ShardSnapshotter,
  type ShardSnapshotWritten,
  snapshotBootstrap,
} from './shard-snapshots.js'
import {
  checkSnapshotName,
  collectionSnapshotsDir,
  describeSnapshot,
  fullSnapshotsDir,
  isFullSnapshotName,
  listSnapshotFiles,
  newFullSnapshotName,
  newSnapshotName,
  type RecoverOptions,
  SNAPSHOTS_DIR,
  type SnapshotInfo,
  type SnapshotMetadata,
  snapshotAliases,
  snapshotMetadata,
} from './snapshots.js'

export interface OpenOptions extends CollectionOpenOptions {
  /**
   * Worker threads of the process-wide core pool that builds and searches in parallel
   * (docs/threads.md); 0 = none. Default: one per CPU, or QUIVER_THREADS. Throws INVALID_CONFIG
   * outside 0..256 or when the pool already runs with another count.
   */
  threads?: number
  /**
   * `false`: refuse a directory that does not exist or is not a Quiver data directory (no
   * `collections/` in it) with DATA_DIR_NOT_FOUND, creating nothing, as read-only tools want.
   * Default `true`: create the directory when missing.
   */
  create?: boolean
  /**
   * Called once the number of collections to load is known (`loaded: 0`), then after each one is
   * loaded (or found unavailable), and awaited: loading goes on when it returns. A server uses it to
   * report progress on a large directory.
   */
  onProgress?: (progress: OpenProgress) => void | Promise<void>
  /**
   * Awaited once the directory lock is held, before anything is read: a server listens here, so it
   * answers only once the directory is its own. If it throws, `open` releases the lock and rethrows.
   */
  onLocked?: () => Promise<void>
  /**
   * Byte budget of the query-result cache shared by this database's collections (search, query,
   * batches and groups; src/collection/query-cache.ts): results are estimated in bytes, least
   * recently used dropped first, and any write to a collection makes its entries unreachable.
   * 0 turns it off. Default 32 MiB (DEFAULT_QUERY_CACHE_BYTES). Throws INVALID_CONFIG if not an integer >= 0.
   */
  queryCacheBytes?: number
  /** Milliseconds a cached result may be served. Default 300000 (5 minutes). Throws INVALID_CONFIG if not an integer >= 1. */
  queryCacheTtlMs?: number
  /**
   * Cluster mode (docs/cluster.md "Nodes"): the catalog every node of the cluster shares
   * (src/cluster/catalog.ts `openCatalog`), with `openLog` a shared log (`connectJetStreamLogs({
   * shared: true })`). The database then holds every collection of the catalog (attaching those it
   * lacks, at open and as they are created elsewhere; dropping those dropped elsewhere), records the
   * ones created through it, and answers reads only after applying every write acknowledged
   * anywhere before the read (bounded by `readBarrierMs`). The database does not close the catalog.
   */
  catalog?: ClusterCatalog
  /**
   * Cluster mode: the longest a read waits to catch up with the shared log before it is answered
   * from what this node has applied (NATS slow or away). Default 1000 ms; 0: reads never wait.
   */
  readBarrierMs?: number
  /**
   * Cluster mode: requests between nodes (src/cluster/transport.ts `natsTransport`). With it, a
   * collection created with `replicationFactor` R is hosted by R of the live nodes per shard (the
   * catalog records the placement); every other node reaches those shards through it, and this
   * node serves the shards it hosts to the others. Without it every node hosts every shard.
   */
  transport?: ShardTransport
  /** Cluster mode: milliseconds a read of a shard hosted elsewhere waits for one replica before asking the next (a replica that dies or stops is noticed sooner). Default 30000. */
  shardReadTimeoutMs?: number
  /**
   * Cluster mode with a transport: whether the node holding the controller lease re-places shards
   * of placed collections by itself (docs/cluster.md "Rebalancing"): a replica whose node is away
   * for 10 s moves to a live node, and a node that joins takes replicas from the most loaded ones.
   * Default true.
   */
  rebalance?: boolean
  /**
   * Cluster mode: where shard snapshots are kept (src/cluster/snapshot-store.ts
   * `openSnapshotStore`; docs/cluster.md "Shard snapshots"). With it, one replica of each shard
   * writes the shard's segments there every `shardSnapshots.everyRecords` log records and the
   * shared log is truncated below them, and a replica whose log no longer holds what it needs, or
   * a new one, starts from the newest snapshot. Without it the shared logs keep every record.
   */
  snapshots?: ShardSnapshotStore
  /** Cluster mode with `snapshots`: when snapshots are taken and how many are kept. Throws INVALID_CONFIG for a bad field. */
  shardSnapshots?: ShardSnapshotPolicy
}

/** Progress of `Quiver.open`: `loaded` of `total` collections, the last being `collection`. */
export interface OpenProgress {
  readonly loaded: number
  readonly total: number
  /** The collection just loaded; undefined in the first call. */
  readonly collection: string | undefined
}

const COLLECTIONS = 'collections'
/** A hosted shard served to the other nodes (`Quiver.serveShard`): its subscription once caught up. */
interface ServedShard {
  stopped: boolean
  handle: Served | undefined
}

/** Cluster mode: how often the controller looks at the placement, and how long a node is away before its replicas move. */
const CONTROL_INTERVAL_MS = 2000
const CONTROL_DEAD_AFTER_MS = 10_000
/** Cluster mode: the longest a `moveShard` waits for its new replica to serve before leaving both. */
const MOVE_DEADLINE_MS = 30 * 60_000
/** Cluster mode: how long a placed collection's create waits for its shards to be served. */
const CREATE_SERVED_WAIT_MS = 30_000
/** Cluster mode: how long a shard replaced by a new placement keeps answering reads already running on it. */
const RETIRE_GRACE_MS = 5000

/** The one key of a ClusterOperation; throws INVALID_ARGUMENT for anything else. */
function operationKind(op: unknown): 'moveShard' | 'replicateShard' | 'dropReplica' {
  const keys = typeof op === 'object' && op !== null && !Array.isArray(op) ? Object.keys(op) : []
  const k = keys[0]
  if (keys.length !== 1 || (k !== 'moveShard' && k !== 'replicateShard' && k !== 'dropReplica'))
    throw invalid('a cluster operation is one of { moveShard }, { replicateShard }, { dropReplica }')
  const body = (op as Record<string, unknown>)[k]
  if (typeof body !== 'object' || body === null) throw invalid(`${k} must be an object`)
  return k
}

/** `fromPeerId` -> `from_peer_id` (messages name the wire fields). */
function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** `e` with shard `shardId` placed on `replicas`. */
function withReplicas(e: CatalogEntry, shardId: number, replicas: readonly string[]): CatalogEntry {
  return { logIds: e.logIds, placement: e.placement!.map((r, i) => (i === shardId ? replicas : r)) }
}

/**
 * A placed collection's `write_consistency_factor` must be within its `replication_factor` (at
 * create and on a change); throws INVALID_CONFIG. Non-numbers pass (validated elsewhere).
 */
function checkWriteConsistency(wcf: unknown, rf: unknown): void {
  if (typeof wcf === 'number' && typeof rf === 'number' && wcf > rf)
    throw new QuiverError(
      'INVALID_CONFIG',
      `write_consistency_factor ${wcf} is more than replication_factor ${rf}: no write could ever be confirmed by that many replicas`,
      { writeConsistencyFactor: wcf, replicationFactor: rf },
    )
}

/** Collections whose failed reconciliation is retried on a timer at once (cluster mode). */
const MAX_RECONCILE_RETRIES = 1024

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
/** The `Collection` reads that wait for the read barrier in cluster mode (`Quiver.view`). */
const BARRIER_READS: ReadonlySet<string> = new Set([
  'get',
  'count',
  'scroll',
  'facet',
  'searchMatrix',
  'search',
  'searchBatch',
  'query',
  'queryBatch',
  'queryGroups',
  'info',
])
/** The `Collection` writes a `write_consistency_factor` over 1 confirms on that many replicas (`Quiver.view`). */
const CONSISTENT_WRITES: ReadonlySet<string> = new Set([
  'upsert',
  'delete',
  'updateVectors',
  'deleteVectors',
  'setPayload',
  'overwritePayload',
  'deletePayload',
  'clearPayload',
  'batchUpdate',
  'createPayloadIndex',
  'deletePayloadIndex',
])
/** A validated recovered collection waiting to be swapped in: `.recovered-<16 hex>-<name>`. */
const RECOVERED_PREFIX = '.recovered-'
const RECOVERED_RAND = 16

/**
 * An embedded Quiver database over one directory.
 *
 * @example
 * const db = await Quiver.open('./data')
 * const docs = await db.createCollection('docs', { dimension: 3, metric: 'Cosine' })
 * await docs.upsert([{ id: 1, vector: [0.1, 0.9, 0.2], payload: { lang: 'en' } }])
 * const hits = await docs.search([0.1, 0.8, 0.3], { limit: 5 })
 * await db.close()
 */
export class Quiver {
  readonly dir: string
  private readonly lock: DirLock
  private readonly options: OpenOptions
  private readonly collections = new Map<string, HostedCollection>()
  /**
   * Collections whose files failed their checks at open, with the error: they are listed, every
   * access throws that error (CORRUPTED naming the file), and they can be dropped or recovered from
   * a snapshot. The other collections serve as usual.
   */
  private readonly unavailable = new Map<string, QuiverError>()
  /** Collections being created or dropped, so a racing call sees them. */
  private readonly pending = new Set<string>()
  /** Alias name -> collection name; loaded in `open` before the collections. */
  private aliases!: AliasCatalog
  /** How alias changes see the collections (`planAliases`). */
  private readonly names: CollectionNames = {
    exists: (name) => this.collections.has(name) || this.unavailable.has(name),
    taken: (name) => this.collections.has(name) || this.unavailable.has(name) || this.pending.has(name),
  }
  private closed = false
  private readonly queryCache: QueryCache
  /** Cluster mode: reconciliations that failed, per collection, how many times in a row (their retries back off). */
  private readonly reconcileRetries = new Map<string, number>()
  /** Cluster mode: reconciliations with the catalog, one at a time. */
  private catalogChain: Promise<void> = Promise.resolve()
  /** Cluster mode: the read-barrier views handed out by `getCollection`, per collection. */
  private readonly barrierViews = new WeakMap<HostedCollection, HostedCollection>()
  /** Cluster mode with a transport: the hosted shards this node serves to the others, per collection. */
  private readonly serving = new Map<
    string,
    { collection: HostedCollection; shards: Map<number, ServedShard>; stopped: boolean }
  >()
  /** Cluster mode: the latest `moveShard` (its second half: the old replica dropped once the new one serves). */
  private moving: Promise<void> = Promise.resolve()
  /** Cluster mode: moves whose second half has not finished yet. */
  private movesInFlight = 0
  /** Cluster mode, the controller: its timer, whether a pass runs, since when each placed node is away (ms). */
  private controllerTimer: ReturnType<typeof setInterval> | undefined
  private controlling = false
  private readonly awaySince = new Map<string, number>()
  /** Cluster mode: shards replaced by a new placement, closed after a grace (`retire`). */
  private readonly retiring = new Map<() => Promise<void>, string>()
  /** Cluster mode with a snapshot store: the shard snapshotter, and the applied-seq topic this node answers. */
  private snapshotter: ShardSnapshotter | undefined
  private appliedServed: Served | undefined
  /** Cluster mode: alias/collection pairs the last `healAliases` found dangling. */
  private danglingAliases: ReadonlySet<string> = new Set()
  private catchUpServed: Served | undefined

  private constructor(dir: string, lock: DirLock, options: OpenOptions & { queryCache: QueryCache }) {
    this.dir = dir
    this.lock = lock
    this.queryCache = options.queryCache
    // collections find each other through this database (query `lookupFrom`)
    this.options = {
      ...options,
      resolveCollection: (name) => this.getCollection(name),
      ...(options.snapshots !== undefined && options.catalog !== undefined
        ? { bootstrap: snapshotBootstrap(options.snapshots, join(dir, COLLECTIONS), options.logger) }
        : {}),
    }
    this.openOptions = {
      ...this.options,
      ...(options.transport ? { remoteShard: this.remoteShardFactory(options.transport) } : {}),
    }
  }

  /** How collection directories open here: `options`, plus remote shards in cluster mode. */
  private readonly openOptions: HostedOpenOptions

  /** Cluster mode: builds the RemoteShard of a shard hosted on other nodes. */
  private remoteShardFactory(transport: ShardTransport): RemoteShardFactory {
    return (spec) =>
      new RemoteShard({
        name: spec.name,
        shardId: spec.shardId,
        logId: spec.logId,
        config: spec.config,
        replicas: spec.replicas,
        transport,
        peerIdOf,
        ...(this.options.shardReadTimeoutMs === undefined
          ? {}
          : { readTimeoutMs: this.options.shardReadTimeoutMs }),
        destroyLog: () => this.destroySharedLog(spec.name, spec.logId),
      })
  }

  /** Removes the shared log `logId` (a dropped collection's shard hosted elsewhere), through the log factory. */
  private async destroySharedLog(name: string, logId: string): Promise<void> {
    const openLog = this.options.openLog
    if (openLog === undefined) return
    // the log factory attaches through a directory of its own (its pointer file), removed after
    const dir = join(this.dir, COLLECTIONS, `.dropping-log-${randomBytes(8).toString('hex')}`)
    await mkdir(dir, { recursive: true })
    try {
      const log = await openLog({
        dir,
        collection: name,
        walSegmentBytes: 8 << 20,
        relativeTo: this.dir,
        attach: logId,
      })
      await log.close()
      await log.destroy?.()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  /**
   * Opens (creating if needed, unless `create: false`) a data directory and recovers every
   * collection from its segments and WAL. Throws DATA_DIR_NOT_FOUND (`create: false` and no data
   * directory there), DIRECTORY_LOCKED if another process has it open, IO_ERROR if the file system
   * refuses. A collection whose files fail their checks does not stop the others: it is listed,
   * and using it throws its CORRUPTED error (see `unavailableCollections`).
   * @example const db = await Quiver.open('./data', { create: false }) // an existing directory only
   */
  static async open(dir: string, options: OpenOptions = {}): Promise<Quiver> {
    const abs = resolve(dir)
    // checked before anything is touched on disk
    const queryCache = new QueryCache({
      maxBytes: options.queryCacheBytes ?? DEFAULT_QUERY_CACHE_BYTES,
      ...(options.queryCacheTtlMs === undefined ? {} : { ttlMs: options.queryCacheTtlMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    })
    // recallSampleRate / recallCpuShare: INVALID_CONFIG here rather than at the first collection
    if (options.recallSampleRate !== undefined) checkSampleRate(options.recallSampleRate, 'recallSampleRate')
    const recallBudget = new RecallBudget(options.recallCpuShare)
    if (options.threads !== undefined) CorePool.configure(options.threads)
    if (options.shardSnapshots !== undefined) checkShardSnapshotPolicy(options.shardSnapshots)
    if (options.create === false) await assertDataDir(abs)
    else await ensureDir(abs)
    const lock = await lockDirectory(abs)
    const db = new Quiver(abs, lock, { ...options, queryCache, recallBudget })
    try {
      await options.onLocked?.()
      const root = join(abs, COLLECTIONS)
      await ensureDir(root)
      await finishRecoveries(root)
      await removeSnapshotLeftovers(join(abs, SNAPSHOTS_DIR))
      db.aliases = await AliasCatalog.load(abs)
      const entries = (await readdir(root, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const total = entries.filter((e) => !e.name.startsWith('.')).length
      let loaded = 0
      await options.onProgress?.({ loaded, total, collection: undefined })
      for (const entry of entries) {
        if (entry.name.startsWith('.')) {
          // an interrupted create or drop: never acknowledged, or already dropped
          await rm(join(root, entry.name), { recursive: true, force: true })
          continue
        }
        if (loaded > 0) {
          // let a server that listens meanwhile answer its probes between collections
          await new Promise<void>((done) => setImmediate(done))
        }
        try {
          db.collections.set(
            entry.name,
            await openHostedCollection(join(root, entry.name), entry.name, db.openOptions),
          )
        } catch (err) {
          if (!(err instanceof QuiverError) || err.code !== 'CORRUPTED') throw err
          db.unavailable.set(entry.name, err)
          options.logger?.error(
            { collection: entry.name, err: { code: err.code, message: err.message, details: err.details } },
            `collection ${entry.name} is unavailable: ${err.message}; drop it or recover it from a snapshot`,
          )
        }
        loaded++
        await options.onProgress?.({ loaded, total, collection: entry.name })
      }
      if (options.catalog !== undefined) {
        await db.joinCatalog(options.catalog)
        if (options.transport !== undefined && options.rebalance !== false) db.startController()
        db.startShardSnapshots()
      }
      // a collection directory removed by hand leaves its aliases pointing nowhere (cluster mode:
      // the catalog's aliases are kept, their collections may still be attaching)
      for (const a of options.catalog !== undefined
        ? []
        : db.aliases.forgetDangling((n) => db.collections.has(n) || db.unavailable.has(n))) {
        options.logger?.warn(
          { alias: a.aliasName, collection: a.collectionName },
          `alias ${a.aliasName} names collection ${a.collectionName}, which does not exist; the alias is dropped`,
        )
      }
    } catch (err) {
      for (const c of db.collections.values()) await c.close().catch(() => undefined)
      await lock.release()
      throw err
    }
    return db
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('CLOSED', `database ${this.dir} is closed`)
  }

  /**
   * Cluster mode, at open: watches the catalog, then reconciles every collection it or this
   * directory has (attaching, replacing or dropping local copies; the log is the source of truth).
   */
  private async joinCatalog(catalog: ClusterCatalog): Promise<void> {
    await catalog.watch((name) => this.reconcile(name))
    const names = new Set([
      ...(await catalog.list()).keys(),
      ...this.collections.keys(),
      ...this.unavailable.keys(),
    ])
    for (const name of [...names].sort()) await this.reconcile(name)
    // aliases are the cluster's: the catalog's replace this node's; a first node brings its own
    await catalog.watchAliases(() => this.syncAliases())
    if ((await catalog.aliases()) === undefined) {
      const known = new Set((await catalog.list()).keys())
      const mine = new Map([...this.aliases.current].filter(([, c]) => known.has(c)))
      await catalog.updateAliases((current) => (current.size > 0 ? current : mine))
    }
    await this.syncAliases()
  }

  /**
   * Cluster mode: makes this node's aliases the catalog's (those naming a collection this node
   * does not hold are kept too: it is attached on the next reconciliation). Errors are logged.
   */
  private async syncAliases(): Promise<void> {
    const catalog = this.options.catalog
    if (catalog === undefined || this.closed) return
    try {
      // read under the alias lock: a change of this node's committed meanwhile is never undone by
      // an older copy read before it
      await this.aliases.exclusive(async () => {
        if (this.closed) return
        const wanted = await catalog.aliases()
        if (wanted !== undefined) await this.aliases.commit(wanted)
      })
    } catch (err) {
      this.options.logger?.warn(
        { err: { message: (err as Error).message } },
        `cannot follow the cluster's aliases: ${(err as Error).message}`,
      )
    }
  }

  /** Cluster mode: queues a reconciliation of `name` with the catalog (one at a time; errors are logged). */
  private reconcile(name: string, rethrow = false): Promise<void> {
    let failure: unknown
    const run = this.catalogChain.then(() =>
      this.reconcileNow(name)
        .then(() => {
          this.reconcileRetries.delete(name)
        })
        .catch((err: unknown) => {
          failure = err
          // tried again with backoff (NATS away, an I/O error): the catalog changes no more
          const attempt = (this.reconcileRetries.get(name) ?? 0) + 1
          // bounded: requests for names nobody knows (during an outage) must not pile up timers;
          // the catalog watch and the next request for a name still reconcile it
          const retry = this.reconcileRetries.has(name) || this.reconcileRetries.size < MAX_RECONCILE_RETRIES
          if (retry) this.reconcileRetries.set(name, attempt)
          if (!this.closed && retry)
            setTimeout(() => void this.reconcile(name), Math.min(30_000, 500 * 2 ** attempt)).unref()
          const e = err as QuiverError
          this.options.logger?.error(
            { collection: name, err: { code: e.code, message: e.message } },
            `collection ${name}: cannot follow the cluster catalog: ${e.message}`,
          )
        })
        .then(() => this.syncServing(name))
        // a collection dropped or replaced here took its aliases along: the catalog's come back
        .then(() => this.syncAliases())
        .catch(() => undefined),
    )
    this.catalogChain = run
    // `rethrow`: the caller (a create placing its collection) learns why it failed
    return rethrow
      ? run.then(() => {
          if (failure !== undefined) throw failure
        })
      : run
  }

  /**
   * Cluster mode with a transport: serves the shards of `name` this node hosts to the other nodes
   * (each once it caught up with its log, so a replica answers only what it has applied), and stops
   * serving a collection dropped or replaced here.
   */
  private async syncServing(name: string): Promise<void> {
    const transport = this.options.transport
    const catalog = this.options.catalog
    if (transport === undefined || catalog === undefined) return
    const c = this.closed ? undefined : this.collections.get(name)
    const current = this.serving.get(name)
    if (current !== undefined && current.collection === c) return
    if (current !== undefined) this.stopServing(name)
    if (c === undefined || c.logIds.length === 0) return
    // only placed collections are asked for by other nodes (the others are whole on every node)
    let placed: boolean
    try {
      placed = (await catalog.get(name))?.placement !== undefined
    } catch {
      placed = true
    }
    if (!placed || this.closed || this.collections.get(name) !== c || this.serving.has(name)) return
    const entry = { collection: c, shards: new Map<number, ServedShard>(), stopped: false }
    this.serving.set(name, entry)
    for (const { shardId, shard } of localShards(c)) this.serveShard(name, shardId, shard)
  }

  /** Serves shard `shardId` of `name` (hosted here now) to the other nodes once caught up, if `name` is served. */
  private serveShard(name: string, shardId: number, shard: Shard): void {
    const entry = this.serving.get(name)
    const logId = shard.logId
    if (entry === undefined || logId === undefined) return
    this.unserveShard(name, shardId)
    const served: ServedShard = { stopped: false, handle: undefined }
    entry.shards.set(shardId, served)
    void this.serveWhenCaughtUp(name, shardId, shard, logId, served)
  }

  /** Stops serving shard `shardId` of `name` (it is no longer hosted here); the others go on. */
  private unserveShard(name: string, shardId: number): void {
    const served = this.serving.get(name)?.shards.get(shardId)
    if (served === undefined) return
    this.serving.get(name)!.shards.delete(shardId)
    served.stopped = true
    void served.handle?.stop()
  }

  /**
   * Serves `shard` to other nodes once it caught up with its log; a catch-up that fails (NATS
   * away) is retried with backoff until it succeeds or serving stops.
   */
  private async serveWhenCaughtUp(
    name: string,
    shardId: number,
    shard: Shard,
    logId: string,
    entry: ServedShard,
  ): Promise<void> {
    const transport = this.options.transport!
    for (let attempt = 0; !entry.stopped && !this.closed; attempt++) {
      try {
        await shard.catchUp()
      } catch (err) {
        if (entry.stopped || this.closed) return
        if (attempt === 0)
          this.options.logger?.warn(
            { collection: name, shard: shardId, err: { message: (err as Error).message } },
            `collection ${name}: shard ${shardId} cannot catch up with its log yet (${(err as Error).message}); it is served to other nodes once it has`,
          )
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
        continue
      }
      if (entry.stopped || this.closed) return
      try {
        entry.handle = transport.serve(shardTopic(logId), (body) =>
          answerShardRequest(shard, body, {
            barrier: () => this.barrier(shard),
            maxAnswerBytes: transport.maxBodyBytes,
          }),
        )
      } catch (err) {
        this.options.logger?.error(
          { collection: name, shard: shardId, err: { message: (err as Error).message } },
          `collection ${name}: shard ${shardId} cannot be served to other nodes: ${(err as Error).message}`,
        )
      }
      return
    }
  }

  /** Stops serving `name`'s shards to other nodes (requests running finish). */
  private stopServing(name: string): void {
    const current = this.serving.get(name)
    if (current === undefined) return
    this.serving.delete(name)
    current.stopped = true
    for (const served of current.shards.values()) {
      served.stopped = true
      void served.handle?.stop()
    }
  }

  /**
   * Cluster mode, the read barrier: resolves true once `c` applied every write acknowledged
   * anywhere before the call, false after `readBarrierMs` or when catching up fails (the caller
   * then answers what it has, or, serving another node, says it is behind).
   */
  private async barrier(c: { catchUp(): Promise<void> }): Promise<boolean> {
    const wait = this.options.readBarrierMs ?? 1000
    if (wait <= 0) return true
    return catchUpWithin(c, wait)
  }

  private async reconcileNow(name: string): Promise<void> {
    const catalog = this.options.catalog
    // a create or drop here in progress reconciles itself when it ends
    if (catalog === undefined || this.closed || this.pending.has(name)) return
    const entry = await catalog.get(name)
    const local = this.collections.get(name)
    const ids = local?.logIds ?? []
    const log = this.options.logger
    if (entry === undefined) {
      // dropped through another node (or while this one was down)
      // (an unavailable copy too, if its log lived in NATS: its stream is likely gone with the drop)
      const dir = join(this.dir, COLLECTIONS, name)
      if (
        (local !== undefined && ids.length > 0) ||
        (this.unavailable.has(name) && (await logOutside(dir)))
      ) {
        log?.info({ collection: name }, `collection ${name} was dropped in the cluster; dropping it here`)
        await this.removeCollection(name, { destroyLog: false })
      }
      return
    }
    if (local !== undefined && this.holdsAsRecorded(local, entry)) return
    if (local !== undefined && sameList(local.logIds, entry.logIds) && this.options.transport !== undefined) {
      // the same collection, placed anew (a shard moved, replicated or dropped here)
      await this.relayout(name, local, entry)
      return
    }
    if (local !== undefined && ids.length === 0) {
      log?.warn(
        { collection: name },
        `collection ${name} exists in the cluster and as a local collection of this node (a local WAL); the local one is served here`,
      )
      return
    }
    if (local !== undefined || this.unavailable.has(name)) {
      // another collection of this name (dropped and created again meanwhile), or a damaged copy:
      // the cluster's log rebuilds it
      log?.info({ collection: name }, `collection ${name} is replaced from the cluster's log`)
      await this.removeCollection(name, { destroyLog: false })
    }
    log?.info({ collection: name }, `collection ${name}: attaching to the cluster's log`)
    await this.addCollection(name, (staging) =>
      attachCollectionFiles(staging, name, entry.logIds, this.options, this.remoteLayout(entry)),
    )
  }

  /**
   * Cluster mode: makes the shards of `c` (which follows `entry`'s logs already) that are hosted
   * here exactly those `entry` places here, shard by shard, the collection staying open (and its
   * aliases kept): a shard placed here is opened from its log and swapped in once it caught up (its
   * remote stand-in answers meanwhile); a shard placed elsewhere becomes a remote shard and its local
   * copy goes (after RETIRE_GRACE_MS, so reads running on it finish); a remote shard whose replicas
   * changed is rebuilt.
   */
  private async relayout(name: string, c: HostedCollection, entry: CatalogEntry): Promise<void> {
    const want = this.remoteLayout(entry)
    const have = remoteReplicas(c)
    const root = join(this.dir, COLLECTIONS, name)
    const log = this.options.logger
    for (const [shardId, w] of want.entries()) {
      const h = have[shardId]
      if (w === undefined ? h === undefined : h !== undefined && sameList(h, w)) continue
      const current = this.collections.get(name)
      // dropped, or dropped and created again, meanwhile: its own reconciliation follows
      if (current !== c) return
      const dir = shardDir(root, current, shardId)
      const old =
        current instanceof ShardedCollection ? current.shards[shardId]! : (current as unknown as Shard)
      let next: Shard
      // a copy of this shard retiring here finishes first: it has this directory open
      await this.settleRetires(dir)
      if (w === undefined) {
        log?.info(
          { collection: name, shard: shardId },
          `collection ${name}: shard ${shardId} is placed on this node; catching up with its log`,
        )
        next = await hostShardHere(dir, name, this.openOptions)
      } else {
        await markShardRemote(dir, entry.logIds[shardId]!, w)
        next = this.openOptions.remoteShard!({
          dir,
          name,
          shardId,
          logId: entry.logIds[shardId]!,
          replicas: w,
          config: old.config,
        })
        if (h === undefined)
          log?.info(
            { collection: name, shard: shardId },
            `collection ${name}: shard ${shardId} now lives on ${w.join(', ')}; its copy here goes`,
          )
      }
      if (this.closed || this.collections.get(name) !== current) {
        await next.close().catch(() => undefined)
        return
      }
      // a shard no longer hosted here stops being served before it goes; the others are untouched
      if (h === undefined) this.unserveShard(name, shardId)
      if (current instanceof ShardedCollection) {
        try {
          await current.replaceShard(shardId, next)
        } catch (err) {
          await next.close().catch(() => undefined)
          throw err
        }
      } else {
        this.collections.set(name, next)
        // an unsharded collection is its one shard: served anew as a whole (syncServing)
        this.stopServing(name)
      }
      if (w === undefined && current instanceof ShardedCollection) this.serveShard(name, shardId, next)
      this.retire(old, dir, h === undefined && w !== undefined)
    }
  }

  /** Cluster mode: whether one of `nodes` answers a ping for the shard served under `topic` (it serves it now). */
  private async servedBy(nodes: readonly string[], topic: string): Promise<boolean> {
    const transport = this.options.transport
    if (transport === undefined) return false
    for (const node of nodes) {
      try {
        await transport.request(node, topic, SHARD_PING, 1000)
        return true
      } catch {}
    }
    return false
  }

  /**
   * Cluster mode: resolves once each shard of `logIds` is served by one of its `placement` nodes
   * (a ping answered), asking every CREATE_SERVED_WAIT_MS / 60; past CREATE_SERVED_WAIT_MS it logs
   * the shards still unserved and resolves (their nodes attach them when they see the catalog).
   */
  private async untilServed(
    name: string,
    logIds: readonly string[],
    placement: readonly (readonly string[])[],
  ): Promise<void> {
    const transport = this.options.transport
    if (transport === undefined) return
    const started = performance.now()
    const served = (i: number): Promise<boolean> => this.servedBy(placement[i] ?? [], shardTopic(logIds[i]!))
    const left = new Set(logIds.map((_, i) => i))
    while (left.size > 0 && !this.closed) {
      for (const i of [...left]) if (await served(i)) left.delete(i)
      if (left.size === 0) return
      if (performance.now() - started > CREATE_SERVED_WAIT_MS) {
        this.options.logger?.warn(
          { collection: name, shards: [...left] },
          `collection ${name}: shards ${[...left].join(', ')} are not served yet by their nodes; writes to them fail with SHARD_UNAVAILABLE until they are`,
        )
        return
      }
      await new Promise((r) => setTimeout(r, CREATE_SERVED_WAIT_MS / 60))
    }
  }

  /**
   * Closes `old` (a shard this node no longer holds in that form) after RETIRE_GRACE_MS, then
   * clears `dir`'s local data if `clear` (only while `dir` is still that shard's remote stand-in:
   * `clearShardData`); at once when the database closes or something else is about to open
   * `dir` (`settleRetires`).
   */
  private retire(old: Shard, dir: string, clear: boolean): void {
    let started: Promise<void> | undefined
    const logId = old.logId
    const run = (): Promise<void> => {
      started ??= (async () => {
        clearTimeout(timer)
        this.retiring.delete(run)
        await old.closeWithoutPersist().catch(() => undefined)
        if (clear && logId !== undefined) await clearShardData(dir, logId).catch(() => undefined)
      })()
      return started
    }
    const timer = setTimeout(() => void run(), RETIRE_GRACE_MS)
    timer.unref()
    this.retiring.set(run, dir)
  }

  /** Runs now every pending `retire` of a directory under `root` (before it is opened, dropped or replaced). */
  private async settleRetires(root: string): Promise<void> {
    const runs = [...this.retiring].filter(
      ([, d]) => d === root || d.startsWith(`${root}/`) || d.startsWith(`${root}\\`),
    )
    for (const [run] of runs) await run()
  }

  /**
   * Cluster mode: per shard of `entry`, the nodes hosting it when this node does not (it is then a
   * remote shard here), undefined when this node hosts it (no placement, no transport, or placed here).
   */
  private remoteLayout(entry: CatalogEntry): (readonly string[] | undefined)[] {
    const self = this.options.catalog?.nodeId
    return entry.logIds.map((_, i) => {
      const nodes = entry.placement?.[i]
      return nodes === undefined ||
        this.options.transport === undefined ||
        self === undefined ||
        nodes.includes(self)
        ? undefined
        : nodes
    })
  }

  /** Whether `local` follows `entry`'s logs and hosts here exactly the shards `entry` places here. */
  private holdsAsRecorded(local: HostedCollection, entry: CatalogEntry): boolean {
    const ids = local.logIds
    if (ids.length !== entry.logIds.length || !ids.every((id, i) => id === entry.logIds[i])) return false
    const want = this.remoteLayout(entry)
    const have = remoteReplicas(local)
    return want.every((w, i) => {
      const h = have[i]
      return w === undefined
        ? h === undefined
        : h !== undefined && h.length === w.length && h.every((n, j) => n === w[j])
    })
  }

  /**
   * Cluster mode: settles once this node holds every collection the catalog has now (attaching
   * those created elsewhere that its watch has not brought yet) and none it dropped, and the
   * catalog's aliases; a single node: at once. `listCollections` and `listAliases` after it are the
   * cluster's. Throws LOG_UNAVAILABLE.
   */
  async syncCatalog(): Promise<void> {
    this.assertOpen()
    const catalog = this.options.catalog
    if (catalog === undefined) return
    const entries = await catalog.list()
    const names = new Set([...entries.keys(), ...this.collections.keys()])
    for (const name of [...names].sort()) {
      const local = this.collections.get(name)
      const want = entries.get(name)
      const same = local !== undefined && want !== undefined && this.holdsAsRecorded(local, want)
      if (!same && !(local !== undefined && local.logIds.length === 0)) await this.reconcile(name)
    }
    await this.syncAliases()
  }

  /**
   * Cluster mode: answers other nodes' questions about what this node applied of each shard (the
   * truncation of shared logs waits for replicas behind) and, with a snapshot store, starts the
   * shard snapshotter (src/db/shard-snapshots.ts).
   */
  private startShardSnapshots(): void {
    const { catalog, transport, snapshots } = this.options
    if (catalog === undefined) return
    if (transport !== undefined) {
      this.appliedServed = transport.serve(APPLIED_TOPIC, async () =>
        appliedAnswer(this.collections.values()),
      )
      this.catchUpServed = transport.serve(CATCH_UP_TOPIC, (body) =>
        catchUpAnswer(this.collections.values(), body),
      )
    }
    if (snapshots === undefined) return
    this.snapshotter = new ShardSnapshotter(
      snapshots,
      {
        nodeId: catalog.nodeId,
        collections: () => this.collections.entries(),
        placement: async (name) =>
          transport === undefined ? undefined : (await catalog.get(name))?.placement,
        liveNodes: async () => (await catalog.status()).peers.map((p) => p.nodeId).sort(),
      },
      join(this.dir, COLLECTIONS),
      transport,
      this.options.shardSnapshots,
      this.options.logger,
    )
    this.snapshotter.start()
  }

  /**
   * Cluster mode with a snapshot store (`OpenOptions.snapshots`): writes a snapshot of every shard
   * hosted here that applied records past its newest snapshot, now (whichever replica's turn it
   * is), removes those past `shardSnapshots.keep` and truncates the logs they cover (never past a
   * live replica's applied seq). Resolves with the snapshots written. Throws INVALID_ARGUMENT
   * without a snapshot store, LOG_UNAVAILABLE when NATS is away.
   * @example const written = await db.snapshotShards() // [{ collection: 'docs', shardId: 0, snapshot: { seq: 120, ... }, truncatedTo: 120 }]
   */
  async snapshotShards(): Promise<ShardSnapshotWritten[]> {
    this.assertOpen()
    if (this.snapshotter === undefined)
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'shard snapshots need cluster mode with a snapshot store (Quiver.open with catalog and snapshots; quiver serve --cluster)',
      )
    return this.snapshotter.runOnce(true)
  }

  /** Cluster mode: runs the controller's pass every CONTROL_INTERVAL_MS, one at a time. */
  private startController(): void {
    this.controllerTimer = setInterval(() => {
      if (this.controlling || this.closed) return
      this.controlling = true
      void this.controlOnce()
        .catch((err: unknown) =>
          this.options.logger?.warn(
            { err: { message: (err as Error).message } },
            `cluster controller: ${(err as Error).message}`,
          ),
        )
        .finally(() => {
          this.controlling = false
        })
    }, CONTROL_INTERVAL_MS)
    this.controllerTimer.unref()
  }

  /**
   * One pass of the controller, on the node holding the controller lease only: makes at most one
   * move (`moveShard`: the new replica first, the old one dropped once the new one serves, so no
   * read fails): a replica on a node away for CONTROL_DEAD_AFTER_MS goes to the least loaded live
   * node without one (also while earlier moves are finishing: a move whose target never serves must
   * not hold up re-placing a dead node's replicas; a shard with a transfer in progress is skipped);
   * else, with no move in flight, when the live nodes' replica counts differ by 2 or more (a node
   * joined), one replica goes from the most to the least loaded node. Placed collections only.
   */
  private async controlOnce(): Promise<void> {
    const catalog = this.options.catalog!
    const status = await catalog.status()
    if (status.controller !== catalog.nodeId) {
      this.awaySince.clear()
      return
    }
    // aliases left naming a collection dropped meanwhile (a race between two nodes)
    if ((await this.healAliases(true)) !== undefined) await this.syncAliases()
    // replicas go only to nodes that loaded their data; a node still loading is alive all the same
    const live = status.peers
      .filter((p) => p.ready !== false)
      .map((p) => p.nodeId)
      .sort()
    const alive = new Set(status.peers.map((p) => p.nodeId))
    const entries = [...(await catalog.list())]
      .filter(([, e]) => e.placement !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const now = Date.now()
    const placedOn = new Set(entries.flatMap(([, e]) => e.placement!.flat()))
    for (const n of placedOn) if (alive.has(n)) this.awaySince.delete(n)
    for (const n of placedOn) if (!alive.has(n) && !this.awaySince.has(n)) this.awaySince.set(n, now)
    for (const n of [...this.awaySince.keys()]) if (!placedOn.has(n)) this.awaySince.delete(n)
    const gone = (n: string) => !alive.has(n) && now - (this.awaySince.get(n) ?? now) >= CONTROL_DEAD_AFTER_MS
    const load = new Map(live.map((n) => [n, 0]))
    for (const [, e] of entries)
      for (const r of e.placement!) for (const n of r) if (load.has(n)) load.set(n, load.get(n)! + 1)
    const lightest = (exclude: readonly string[]) =>
      live
        .filter((n) => !exclude.includes(n))
        .sort((a, b) => load.get(a)! - load.get(b)! || (a < b ? -1 : 1))[0]
    /** Starts one move; resolves false when it was refused (INVALID_ARGUMENT: a transfer in progress, the placement changed). */
    const move = async (
      name: string,
      shardId: number,
      from: string,
      to: string,
      why: string,
    ): Promise<boolean> => {
      this.options.logger?.info(
        { collection: name, shard: shardId },
        `cluster controller: moving shard ${shardId} of ${name} from ${from} to ${to} (${why})`,
      )
      try {
        await this.updateCollectionCluster(name, {
          moveShard: { shardId, fromPeerId: peerIdOf(from), toPeerId: peerIdOf(to) },
        })
        return true
      } catch (err) {
        if (!(err instanceof QuiverError) || err.code !== 'INVALID_ARGUMENT') throw err
        this.options.logger?.info(
          { collection: name, shard: shardId },
          `cluster controller: not moving shard ${shardId} of ${name} now: ${err.message}`,
        )
        return false
      }
    }
    // 1. replicas on nodes gone for good: first of shards no live node serves (unavailable now)
    const lost = entries.flatMap(([name, e]) =>
      e.placement!.flatMap((replicas, shardId) =>
        replicas
          .filter(gone)
          .map((n) => ({ name, shardId, n, replicas, none: !replicas.some((r) => alive.has(r)) })),
      ),
    )
    lost.sort((x, y) => Number(y.none) - Number(x.none))
    for (const { name, shardId, n, replicas } of lost) {
      const to = lightest(replicas)
      if (to === undefined) continue
      // a shard with a transfer in progress (or one refused for another reason) waits: the next goes
      if (await move(name, shardId, n, to, `${n} is away`)) return
    }
    // 2. balance the live nodes, one move at a time
    if (live.length < 2 || this.movesInFlight > 0) return
    const byLoad = [...live].sort((a, b) => load.get(b)! - load.get(a)! || (a < b ? -1 : 1))
    const heavy = byLoad[0]!
    const light = byLoad[byLoad.length - 1]!
    if (load.get(heavy)! - load.get(light)! < 2) return
    for (const [name, e] of entries)
      for (const [shardId, replicas] of e.placement!.entries())
        if (replicas.includes(heavy) && !replicas.includes(light)) {
          if (
            await move(
              name,
              shardId,
              heavy,
              light,
              `balancing: ${heavy} holds ${load.get(heavy)} replicas, ${light} ${load.get(light)}`,
            )
          )
            return
        }
  }

  /**
   * Cluster mode: the nodes hosting each shard of collection `name` (or of the one alias `name`
   * names), shard 0 first, as the catalog records them; undefined when every node hosts every
   * shard (created without `replicationFactor`, or no transport), on a single node, or when the
   * catalog has no such collection. Throws LOG_UNAVAILABLE if the catalog cannot be read.
   */
  async shardPlacement(name: string): Promise<readonly (readonly string[])[] | undefined> {
    this.assertOpen()
    const catalog = this.options.catalog
    if (catalog === undefined || this.options.transport === undefined) return undefined
    return (await catalog.get(this.realName(name)))?.placement
  }

  /**
   * Cluster mode: changes where a shard of a placed collection (created with `replicationFactor`)
   * is hosted (`ClusterOperation`: Qdrant's `replicate_shard`, `move_shard`, `drop_replica`), by a
   * compare-and-set of its placement in the catalog; every node then adjusts (a new replica replays
   * the shard's log and serves it once caught up; a dropped one hands its shard to the others).
   * `moveShard` resolves once the new replica is recorded; the old one is dropped when the new one
   * serves the shard (checked every 500 ms; a node that stops meanwhile leaves both). Resolves true.
   * Throws INVALID_ARGUMENT (not cluster mode, a collection held whole by every node, a shard id
   * out of range, a peer that is not alive or not a replica, dropping the last replica),
   * COLLECTION_NOT_FOUND, LOG_UNAVAILABLE.
   * @example await db.updateCollectionCluster('docs', { replicateShard: { shardId: 0, fromPeerId: a, toPeerId: b } })
   */
  async updateCollectionCluster(alias: string, operation: ClusterOperation): Promise<true> {
    this.assertOpen()
    const catalog = this.options.catalog
    const transport = this.options.transport
    if (catalog === undefined || transport === undefined)
      throw invalid('cluster operations need cluster mode (quiver serve --cluster)')
    const name = this.realName(alias)
    const entry = await catalog.get(name)
    if (entry === undefined)
      throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${alias} does not exist`, { name: alias })
    if (entry.placement === undefined)
      throw invalid(
        `collection ${name} is held whole by every node (it was created without replication_factor): it has no shard placement to change`,
      )
    const kind = operationKind(operation)
    const op = (operation as Record<string, Record<string, unknown>>)[kind]!
    const shardId = op.shardId
    if (
      typeof shardId !== 'number' ||
      !Number.isInteger(shardId) ||
      shardId < 0 ||
      shardId >= entry.logIds.length
    )
      throw invalid(
        `shard_id must be an integer in 0..${entry.logIds.length - 1}, got ${JSON.stringify(shardId)}`,
      )
    const live = new Map((await catalog.status()).peers.map((p) => [p.peerId, p.nodeId]))
    const nodeOf = (field: string, mustLive: boolean, replicas: readonly string[]): string => {
      const peer = op[field]
      const byReplica = replicas.find((n) => peerIdOf(n) === peer)
      const node = byReplica ?? (typeof peer === 'number' ? live.get(peer) : undefined)
      if (node === undefined || (mustLive && !live.has(peerIdOf(node))))
        throw invalid(
          `${snake(field)} ${JSON.stringify(peer)} is not a live peer of the cluster (GET /cluster lists them)`,
        )
      return node
    }
    const topic = shardTopic(entry.logIds[shardId]!)
    // the entry as changed must still be this collection's (not one dropped and created again)
    const same = (e: CatalogEntry): void => {
      if (!sameList(e.logIds, entry.logIds) || e.placement?.[shardId] === undefined)
        throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} was dropped meanwhile`, { name })
    }
    const add = (e: CatalogEntry, to: string, from: string): CatalogEntry => {
      same(e)
      const replicas = e.placement![shardId]!
      if (!replicas.includes(from))
        throw invalid(`peer ${peerIdOf(from)} holds no replica of shard ${shardId} of collection ${name}`)
      if (!replicas.includes(to) && !sameList(replicas, checked))
        // another transfer of this shard landed since the check above: adding now could leave R+1
        throw invalid(
          `the replicas of shard ${shardId} of collection ${name} changed meanwhile (another transfer); retry`,
        )
      if (replicas.includes(to))
        throw invalid(
          `peer ${peerIdOf(to)} already holds a replica of shard ${shardId} of collection ${name}`,
        )
      return withReplicas(e, shardId, [...replicas, to])
    }
    const drop = (e: CatalogEntry, node: string): CatalogEntry => {
      same(e)
      const replicas = e.placement![shardId]!
      if (!replicas.includes(node))
        throw invalid(`peer ${peerIdOf(node)} holds no replica of shard ${shardId} of collection ${name}`)
      if (replicas.length === 1)
        throw invalid(
          `shard ${shardId} of collection ${name} has one replica, on peer ${peerIdOf(node)}: it cannot be dropped (replicate it first)`,
        )
      return withReplicas(
        e,
        shardId,
        replicas.filter((n) => n !== node),
      )
    }
    const replicas = entry.placement[shardId]!
    const checked = replicas
    if (kind === 'dropReplica') {
      const node = nodeOf('peerId', false, replicas)
      // as Qdrant, never the last replica that serves: another one must answer for the shard now
      const serving: string[] = []
      for (const n of replicas)
        if (n !== node && transport.liveNodes().has(n) && (await this.servedBy([n], topic))) serving.push(n)
      const noneServes = () =>
        invalid(
          `no other replica of shard ${shardId} of collection ${name} serves it now (away, or still catching up): peer ${peerIdOf(node)} cannot be dropped yet`,
        )
      if (replicas.length > 1 && serving.length === 0) throw noneServes()
      await catalog.update(name, (e) => {
        const next = drop(e, node)
        // checked again in the compare-and-set: a concurrent drop of the replica that served leaves
        // only replicas still catching up
        if (!next.placement![shardId]!.some((n) => serving.includes(n))) throw noneServes()
        return next
      })
    } else {
      const from = nodeOf('fromPeerId', false, replicas)
      const to = nodeOf('toPeerId', true, [])
      // one transfer of a shard at a time (as Qdrant): a live replica that does not serve the shard
      // yet is still catching up, and a second transfer started now could leave R+1 replicas
      for (const n of replicas)
        if (n !== to && transport.liveNodes().has(n) && !(await this.servedBy([n], topic)))
          throw invalid(
            `a transfer of shard ${shardId} of collection ${name} to peer ${peerIdOf(n)} is in progress (it is catching up with the shard's log); retry once it serves the shard (GET /collections/${name}/cluster: shard_transfers)`,
          )
      await catalog.update(name, (e) => add(e, to, from))
      if (kind === 'moveShard') {
        const log = this.options.logger
        const previous = this.moving
        this.movesInFlight++
        const finishing = (async () => {
          // the old replica goes once the new one answers for the shard (it caught up); the move
          // ends, both replicas staying, when the new one's node stays away CONTROL_DEAD_AFTER_MS,
          // after MOVE_DEADLINE_MS, or when the placement changed under it (dropped, re-placed)
          let awaySince: number | undefined
          const started = Date.now()
          for (let round = 0; ; round++) {
            if (this.closed) return
            if (Date.now() - started > MOVE_DEADLINE_MS)
              throw new Error(`${to} did not serve the shard within ${MOVE_DEADLINE_MS / 60_000} minutes`)
            if (round % 10 === 9) {
              const now = await catalog.get(name)
              const r = now?.placement?.[shardId]
              if (
                now === undefined ||
                !sameList(now.logIds, entry.logIds) ||
                !r?.includes(to) ||
                !r.includes(from)
              )
                throw new Error('the placement changed meanwhile')
            }
            if (await this.servedBy([to], topic)) break
            if (transport.liveNodes().has(to)) awaySince = undefined
            else {
              awaySince ??= Date.now()
              if (Date.now() - awaySince > CONTROL_DEAD_AFTER_MS)
                throw new Error(`${to} went away before it caught up`)
            }
            await new Promise((r) => setTimeout(r, 500))
          }
          await catalog.update(name, (e) =>
            e.placement?.[shardId]?.includes(from) && e.placement[shardId]!.includes(to) ? drop(e, from) : e,
          )
          log?.info(
            { collection: name, shard: shardId },
            `collection ${name}: shard ${shardId} moved from ${from} to ${to}`,
          )
        })()
          .catch((err: unknown) =>
            log?.error(
              { collection: name, shard: shardId, err: { message: (err as Error).message } },
              `collection ${name}: moving shard ${shardId} from ${from} to ${to} did not finish: ${(err as Error).message}`,
            ),
          )
          .finally(() => {
            this.movesInFlight--
          })
        this.moving = Promise.all([previous, finishing]).then(() => undefined)
      }
    }
    void this.reconcile(name)
    return true
  }

  /**
   * Cluster mode: the live nodes, this one and the controller (the catalog's heartbeats);
   * undefined on a single node. Throws LOG_UNAVAILABLE if the catalog cannot be read.
   */
  async clusterStatus(): Promise<CatalogStatus | undefined> {
    this.assertOpen()
    return this.options.catalog?.status()
  }

  /**
   * Creates a collection. Throws INVALID_COLLECTION_NAME, INVALID_CONFIG, COLLECTION_EXISTS,
   * ALIAS_EXISTS (an alias has this name).
   * @example const docs = await db.createCollection('docs', { dimension: 768, metric: 'Cosine', hnsw: { m: 16, efConstruct: 100 } })
   */
  async createCollection(name: string, options: CreateCollectionOptions): Promise<HostedCollection> {
    this.assertOpen()
    checkCollectionName(name)
    const config = resolveConfig(options)
    const catalog = this.options.catalog
    if (catalog === undefined)
      return this.addCollection(name, (staging) => createCollectionFiles(staging, name, config, this.options))
    // with `replicationFactor` and a transport: R of the live nodes host each shard
    const rf = config.params?.replicationFactor
    const transport = this.options.transport
    const shards = config.params?.shardNumber ?? 1
    const placement =
      rf === undefined || transport === undefined
        ? undefined
        : // never on a node still loading its data (alive, but not taking replicas yet)
          placeShards(
            shards,
            rf,
            [...transport.liveNodes()].filter((n) => catalog.readyNodes?.().has(n) ?? true),
            name,
          )
    if (placement !== undefined) checkWriteConsistency(config.params?.writeConsistencyFactor ?? 1, rf)
    if (placement !== undefined && rf !== undefined && rf > transport!.liveNodes().size)
      this.options.logger?.warn(
        { collection: name },
        `collection ${name}: replication_factor ${rf} but ${transport!.liveNodes().size} live node(s): each shard gets ${transport!.liveNodes().size} replica(s) (add replicas later with replicate_shard)`,
      )
    try {
      // recorded in the catalog once its logs exist; another node's create of the same name wins or loses atomically
      const created = await this.addCollection(
        name,
        (staging) => createCollectionFiles(staging, name, config, this.options),
        (c) =>
          catalog.register(
            name,
            placement === undefined ? { logIds: c.logIds } : { logIds: c.logIds, placement },
          ),
      )
      if (placement === undefined) return this.view(created)
      // this node's copy becomes what the placement gives it (its shards here, the others remote)
      await this.reconcile(name, true)
      const placed = this.collections.get(name)
      if (placed === undefined)
        throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} was dropped while it was created`, {
          name,
        })
      // answered once every shard is served by a replica: a write through any node right after works
      await this.untilServed(name, placed.logIds, placement)
      return this.view(placed)
    } finally {
      void this.reconcile(name)
    }
  }

  /**
   * Reserves `name`, lets `write` fill a staging directory with a collection's files, renames it
   * into place and opens it. Throws as `createCollection`; on a failure nothing stays.
   */
  private async addCollection(
    name: string,
    write: (staging: string) => Promise<void>,
    opened?: (collection: HostedCollection) => Promise<void>,
  ): Promise<HostedCollection> {
    this.assertOpen()
    checkCollectionName(name)
    // checked and reserved between alias changes, so an alias of this name cannot appear meanwhile
    await this.aliases.exclusive(() => {
      this.assertOpen()
      if (this.aliases.resolve(name) !== undefined) {
        throw new QuiverError(
          'ALIAS_EXISTS',
          `Wrong input: Can't create collection with name ${name}. Alias with the same name already exists`,
          { name },
        )
      }
      if (this.collections.has(name) || this.unavailable.has(name) || this.pending.has(name)) {
        throw new QuiverError('COLLECTION_EXISTS', `collection ${name} already exists`)
      }
      this.pending.add(name)
    })
    try {
      const root = join(this.dir, COLLECTIONS)
      const staging = join(root, `.creating-${randomBytes(8).toString('hex')}`)
      await mkdir(staging)
      try {
        await write(staging)
      } catch (err) {
        await rm(staging, { recursive: true, force: true }).catch(() => undefined)
        throw err
      }
      await rename(staging, join(root, name))
      await fsyncDir(root)
      let collection: HostedCollection
      try {
        collection = await openHostedCollection(join(root, name), name, this.openOptions)
      } catch (err) {
        // nothing opened: the directory goes (a retry, e.g. an attach after NATS came back, starts afresh)
        const trash = join(root, `.dropping-${randomBytes(8).toString('hex')}`)
        await rename(join(root, name), trash).catch(() => undefined)
        await rm(trash, { recursive: true, force: true }).catch(() => undefined)
        throw err
      }
      if (opened !== undefined) {
        try {
          await opened(collection)
        } catch (err) {
          // undone: the collection, its files and its logs
          await collection.closeWithoutPersist().catch(() => undefined)
          await collection.destroyLog().catch(() => undefined)
          const trash = join(root, `.dropping-${randomBytes(8).toString('hex')}`)
          await rename(join(root, name), trash).catch(() => undefined)
          await rm(trash, { recursive: true, force: true }).catch(() => undefined)
          throw err
        }
      }
      this.collections.set(name, collection)
      return collection
    } finally {
      this.pending.delete(name)
    }
  }

  /**
   * Makes this database a replica of an existing collection whose operation log is shared (a
   * JetStream stream: open the database with `connectJetStreamLogs({ shared: true }).openLog`):
   * creates collection `name` from the log's first record (its config) and replays the whole log,
   * then follows it, applying every record any replica's writer appends, in log order. Writes through
   * any replica go to the log; reads are served from this replica's own segments (`catchUp()` waits
   * until it applied everything appended so far). `log`: the collection's `logId` (or, for a
   * sharded collection, its `logIds`, shard 0 first) on a replica that has it (docs/cluster.md).
   * In cluster mode (`catalog`) the database attaches the catalog's collections itself.
   * Throws INVALID_COLLECTION_NAME, COLLECTION_EXISTS, ALIAS_EXISTS, INVALID_ARGUMENT (this
   * database's logs are not shared, or `log` is not a collection's log), LOG_NOT_FOUND.
   * @example const docs = await replica.attachCollection('docs', primaryDocs.logId!)
   */
  async attachCollection(name: string, log: string | readonly string[]): Promise<HostedCollection> {
    const ids = typeof log === 'string' ? [log] : Array.isArray(log) ? log : []
    if (ids.length === 0 || !ids.every((id) => typeof id === 'string' && id.length > 0))
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'log must be the id of a shared log (a stream name), or a non-empty list of them (one per shard)',
      )
    return this.addCollection(name, (staging) => attachCollectionFiles(staging, name, ids, this.options))
  }

  /**
   * The collection called `name`, or the one the alias `name` names (`updateAliases`). Throws
   * COLLECTION_NOT_FOUND; in cluster mode LOG_UNAVAILABLE when the catalog cannot be read to tell.
   * @example const docs = await db.getCollection('docs') // a collection or an alias
   */
  async getCollection(name: string): Promise<HostedCollection> {
    this.assertOpen()
    const real = this.aliases.resolve(name) ?? name
    let c = this.collections.get(real)
    if (c === undefined && this.options.catalog !== undefined) {
      // created through another node a moment ago: attach it now rather than answer not found;
      // a catalog that cannot be read (NATS away) is said so, never a false not found
      let failure: unknown
      await this.reconcile(real, true).catch((err: unknown) => {
        failure = err
      })
      c = this.collections.get(real)
      if (c === undefined && failure instanceof QuiverError && failure.code === 'LOG_UNAVAILABLE')
        throw failure
    }
    if (c) return this.view(c)
    const broken = this.unavailable.get(real)
    if (broken) throw broken
    throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} does not exist`, { name })
  }

  /**
   * Changes collection `name`'s parameters while it serves (`Collection.updateConfig`):
   * HNSW / optimizer settings, quantization, per-vector settings, params. Index data the change
   * affects is rebuilt in the background. Throws COLLECTION_NOT_FOUND, INVALID_CONFIG.
   * @example await db.updateCollection('docs', { quantization: { scalar: { type: 'int8' } } })
   */
  async updateCollection(name: string, update: CollectionUpdate): Promise<UpdateResult> {
    const c = await this.getCollection(name)
    // as at create: a write_consistency_factor no placed shard could ever reach is refused
    const p = update?.params as Partial<Record<keyof CollectionParams, unknown>> | null | undefined
    if (p !== null && typeof p === 'object' && ('writeConsistencyFactor' in p || 'replicationFactor' in p)) {
      const placement = await this.shardPlacement(name)
      const old = c.config.params
      const rf = 'replicationFactor' in p ? p.replicationFactor : old?.replicationFactor
      const wcf = 'writeConsistencyFactor' in p ? p.writeConsistencyFactor : old?.writeConsistencyFactor
      if (placement !== undefined) checkWriteConsistency(wcf, rf)
    }
    return c.updateConfig(update)
  }

  /** The query-result cache's budget, bytes and entries held now, and evictions since open (`queryCacheBytes`). */
  queryCacheStats(): QueryCacheStats {
    return this.queryCache.stats()
  }

  /** Whether `name` is a collection (unavailable ones included) or an alias of one. */
  hasCollection(name: string): boolean {
    const real = this.aliases.resolve(name) ?? name
    return this.collections.has(real) || this.unavailable.has(real)
  }

  /**
   * Changes aliases: applies `actions` in order as one change, all or nothing. An alias is another
   * name of a collection, resolved by `getCollection` and every call that takes a collection name
   * (REST endpoints included), so switching `docs` from `docs_v1` to `docs_v2` in one call moves
   * every reader at once: a search runs wholly against the old or the new collection. The new
   * aliases are durable (`<data>/aliases.json`, replaced atomically) before this resolves; on any
   * error nothing changes. Alias names follow collection names' rules and never equal a collection's
   * name; dropping a collection drops its aliases. Throws INVALID_ARGUMENT (a malformed action),
   * INVALID_COLLECTION_NAME, COLLECTION_NOT_FOUND (`createAlias` of a missing collection),
   * COLLECTION_EXISTS (an alias name that is a collection's), ALIAS_NOT_FOUND (`renameAlias` of a
   * missing alias), CLOSED, IO_ERROR; messages name the action as `actions[i]`.
   * @example
   * await db.updateAliases([
   *   { deleteAlias: { aliasName: 'docs' } },
   *   { createAlias: { collectionName: 'docs_v2', aliasName: 'docs' } },
   * ])
   */
  async updateAliases(actions: readonly AliasAction[]): Promise<true> {
    this.assertOpen()
    const catalog = this.options.catalog
    // cluster mode: the change is made to the catalog's aliases (compare-and-set), checked against
    // the cluster's collections, and every node follows
    if (catalog !== undefined) await this.syncCatalog()
    await this.aliases.exclusive(async () => {
      this.assertOpen()
      let next =
        catalog === undefined
          ? planAliases(this.aliases.current, actions, this.names)
          : await catalog.updateAliases((current) => planAliases(current, actions, this.names))
      if (catalog !== undefined) {
        // a collection dropped through another node between the check and the compare-and-set:
        // its new aliases go again, and the caller learns why
        // the change itself landed: a failure to heal (the catalog unavailable) is the controller's to retry
        const healed = await this.healAliases().catch((err: unknown) => {
          this.options.logger?.warn(
            { err: { message: (err as Error).message } },
            `aliases: checking for aliases of dropped collections failed (the controller retries): ${(err as Error).message}`,
          )
          return undefined
        })
        if (healed !== undefined) {
          next = healed.aliases
          const lost = actions.flatMap((a) =>
            'createAlias' in a && healed.dropped.has(a.createAlias.aliasName) ? [a.createAlias] : [],
          )
          if (lost.length > 0) {
            await this.aliases.commit(next)
            throw new QuiverError(
              'COLLECTION_NOT_FOUND',
              `collection ${lost[0]!.collectionName} was dropped while alias ${lost[0]!.aliasName} was made; the alias is removed`,
              { name: lost[0]!.collectionName },
            )
          }
        }
      }
      await this.aliases.commit(next)
    })
    return true
  }

  /**
   * Cluster mode: removes from the catalog the aliases naming a collection the catalog does not
   * have (dropped through another node while an alias to it was made), as read before the
   * collections: an alias made meanwhile is never touched, nor one naming a collection this node
   * holds. With `confirmed`, only pairs found dangling by the previous call too (the controller's
   * passes). Resolves with the aliases left and those removed, or undefined when none was removed.
   */
  private async healAliases(
    confirmed = false,
  ): Promise<{ aliases: ReadonlyMap<string, string>; dropped: ReadonlySet<string> } | undefined> {
    const catalog = this.options.catalog
    if (catalog === undefined) return undefined
    const current = await catalog.aliases()
    if (current === undefined) return undefined
    const known = new Set((await catalog.list()).keys())
    const pair = (a: string, c: string) => `${a}\u0000${c}`
    const dangling = new Set(
      [...current]
        .filter(([, c]) => !known.has(c) && !this.collections.has(c) && !this.unavailable.has(c))
        .map(([a, c]) => pair(a, c)),
    )
    const seen = this.danglingAliases
    this.danglingAliases = dangling
    const doomed = confirmed ? new Set([...dangling].filter((p) => seen.has(p))) : dangling
    if (doomed.size === 0) return undefined
    const dropped = new Set<string>()
    const aliases = await catalog.updateAliases((now) => {
      // (called again when the compare-and-set lost a race)
      dropped.clear()
      const kept = new Map<string, string>()
      for (const [a, c] of now) {
        if (doomed.has(pair(a, c))) dropped.add(a)
        else kept.set(a, c)
      }
      return kept
    })
    for (const a of dropped)
      this.options.logger?.warn(
        { alias: a },
        `alias ${a} named a collection dropped in the cluster; it is removed`,
      )
    return dropped.size === 0 ? undefined : { aliases, dropped }
  }

  /**
   * Every alias, sorted by alias name: `[{ aliasName, collectionName }]`.
   * @example db.listAliases() // [{ aliasName: 'docs', collectionName: 'docs_v2' }]
   */
  listAliases(): AliasDescription[] {
    this.assertOpen()
    return describeAliases(this.aliases.current)
  }

  /**
   * The aliases of collection `name` (exactly that name: an alias has no aliases), sorted; empty
   * when it has none or does not exist, as in Qdrant.
   * @example db.collectionAliases('docs_v2') // [{ aliasName: 'docs', collectionName: 'docs_v2' }]
   */
  collectionAliases(name: string): AliasDescription[] {
    return this.listAliases().filter((a) => a.collectionName === name)
  }

  /** The alias map without the aliases of collection `name`. */
  private aliasesWithout(names: ReadonlySet<string>): Map<string, string> {
    const next = new Map(this.aliases.current)
    for (const [alias, target] of next) if (names.has(target)) next.delete(alias)
    return next
  }

  /** Names of all collections (unavailable ones included), sorted. */
  listCollections(): string[] {
    return [...this.collections.keys(), ...this.unavailable.keys()].sort()
  }

  /** Collections that failed their checks at open, with the reason (a CORRUPTED error naming the file). */
  unavailableCollections(): ReadonlyMap<string, QuiverError> {
    return this.unavailable
  }

  /**
   * Drops a collection and its files; returns false if it did not exist.
   * @example await db.deleteCollection('docs')
   */
  async deleteCollection(name: string): Promise<boolean> {
    this.assertOpen()
    const catalog = this.options.catalog
    const c = this.collections.get(name)
    if (catalog === undefined || this.pending.has(name) || (c !== undefined && c.logIds.length === 0))
      return this.removeCollection(name, { destroyLog: true })
    // cluster mode: out of the catalog first (every node then drops its copy), then here with its
    // logs (at once: the catalog's watch would drop it here without them), then its aliases from
    // the catalog's
    const recorded = await catalog.unregister(name)
    try {
      return (await this.removeCollection(name, { destroyLog: true })) || recorded
    } finally {
      await catalog
        .updateAliases((current) => new Map([...current].filter(([, c]) => c !== name)))
        .catch((err: unknown) =>
          this.options.logger?.warn(
            { collection: name, err: { message: (err as Error).message } },
            `collection ${name}: its aliases could not be removed from the cluster catalog: ${(err as Error).message}`,
          ),
        )
      void this.reconcile(name)
    }
  }

  /** Drops collection `name` here (its aliases, files and, with `destroyLog`, its logs); false if absent. */
  private async removeCollection(name: string, { destroyLog }: { destroyLog: boolean }): Promise<boolean> {
    const c = this.collections.get(name)
    if ((!c && !this.unavailable.has(name)) || this.pending.has(name)) return false
    this.pending.add(name)
    this.stopServing(name)
    await this.settleRetires(join(this.dir, COLLECTIONS, name))
    try {
      const broken = this.unavailable.get(name)
      this.collections.delete(name)
      this.unavailable.delete(name)
      try {
        // first the aliases, as Qdrant: no alias outlives its collection, even after a crash here
        await this.aliases.exclusive(() => this.aliases.commit(this.aliasesWithout(new Set([name]))))
      } catch (err) {
        if (c) this.collections.set(name, c)
        if (broken) this.unavailable.set(name, broken)
        throw err
      }
      const root = join(this.dir, COLLECTIONS)
      const trash = join(root, `.dropping-${randomBytes(8).toString('hex')}`)
      await c?.closeWithoutPersist()
      await rename(join(root, name), trash)
      await fsyncDir(root)
      // a log kept outside the directory (a stream) goes too; a crash before this orphans it, never
      // leaves a collection whose log is gone
      if (destroyLog) {
        const logIds = c?.logIds ?? []
        await c?.destroyLog()
        for (const id of logIds)
          await this.options.snapshots
            ?.removeAll(id)
            .catch((err: unknown) =>
              this.options.logger?.warn(
                { collection: name, log: id, err: { message: (err as Error).message } },
                `collection ${name}: its shard snapshots of log ${id} could not be removed: ${(err as Error).message}`,
              ),
            )
      }
      await rm(trash, { recursive: true, force: true })
      return true
    } finally {
      this.pending.delete(name)
    }
  }

  /**
   * Cluster mode: `c.clusterInfo()` with, for a placed collection, every other replica of every
   * shard as a remote shard (`Dead` when its node's heartbeat lapsed).
   */
  private async clusterInfoOf(c: HostedCollection): Promise<CollectionClusterInfo> {
    const info = await (c.clusterInfo?.() ??
      c.info().then((i) => ({
        shardCount: 1,
        localShards: [{ shardId: 0, pointsCount: i.pointsCount, state: 'Active' as const }],
        remoteShards: [],
      })))
    const placement = await this.shardPlacement(c.name).catch(() => undefined)
    const transport = this.options.transport
    if (placement === undefined || transport === undefined) return info
    const live = transport.liveNodes()
    const self = transport.nodeId
    // a live replica that does not serve its shard yet (no responder on the shard's topic) is
    // catching up: Partial, and a transfer to it from a replica that serves
    const stateOf = async (n: string, logId: string): Promise<ShardState> => {
      if (!live.has(n)) return 'Dead'
      try {
        await transport.request(n, shardTopic(logId), SHARD_PING, 1000)
        return 'Active'
      } catch (err) {
        if (err instanceof TransportError && err.failure === 'no_responders') return 'Partial'
        // no answer (timeout) or none possible (NATS unreachable): not reachable from here; an
        // answer that is an error still comes from a replica serving the shard
        return err instanceof TransportError && (err.failure === 'timeout' || err.failure === 'unavailable')
          ? 'Dead'
          : 'Active'
      }
    }
    const remoteShards = await Promise.all(
      placement.flatMap((nodes, shardId) =>
        nodes
          .filter((n) => n !== self)
          .map(async (n) => ({
            shardId,
            peerId: peerIdOf(n),
            state: await stateOf(n, c.logIds[shardId] ?? ''),
          })),
      ),
    )
    const localShardsInfo = [...info.localShards]
    const partial = new Map<number, number[]>()
    for (const r of remoteShards)
      if (r.state === 'Partial') partial.set(r.shardId, [...(partial.get(r.shardId) ?? []), r.peerId])
    for (const [shardId, nodes] of placement.entries())
      if (nodes.includes(self) && !localShardsInfo.some((s) => s.shardId === shardId)) {
        // placed here, still catching up (its remote stand-in answers meanwhile)
        localShardsInfo.push({ shardId, pointsCount: 0, state: 'Partial' })
        partial.set(shardId, [...(partial.get(shardId) ?? []), peerIdOf(self)])
      }
    localShardsInfo.sort((a, b) => a.shardId - b.shardId)
    const shardTransfers: ShardTransferInfo[] = []
    for (const [shardId, tos] of partial) {
      const from =
        remoteShards.find((r) => r.shardId === shardId && r.state === 'Active')?.peerId ??
        (info.localShards.some((s) => s.shardId === shardId) ? peerIdOf(self) : undefined)
      if (from === undefined) continue
      for (const to of tos)
        shardTransfers.push({ shardId, from, to, sync: true, comment: "catching up from the shard's log" })
    }
    return { ...info, localShards: localShardsInfo, remoteShards, shardTransfers }
  }

  /**
   * Cluster mode: `c` as reads see it: each read first catches up with the shared log (every write
   * acknowledged anywhere before the read is applied here), waiting at most `readBarrierMs`, then
   * is answered from this node. Single node: `c` itself.
   */
  private view(c: HostedCollection): HostedCollection {
    if (this.options.catalog === undefined || c.logIds.length === 0) return c
    let v = this.barrierViews.get(c)
    if (v === undefined) {
      // shards hosted elsewhere catch up on the node that answers for them (answerShardRequest's barrier)
      // (the shards hosted here are looked up at each read: a new placement may swap them)
      const barrier = () =>
        this.barrier({
          catchUp: async () => void (await Promise.all(localShards(c).map((l) => l.shard.catchUp()))),
        })
      const clusterInfo = () => this.clusterInfoOf(c)
      const transport = this.options.transport
      // `consistency` / `write_consistency_factor` over 1: that many replicas per shard confirm (consistency.ts)
      const confirm = async (
        needed: (replicas: number) => number,
        what: string,
        o: { only?: ReadonlySet<number>; timeoutMs?: number },
      ) => {
        if (transport === undefined) return
        const placement = await this.shardPlacement(c.name).catch(() => undefined)
        await confirmReplicas(c, transport, placement, needed, what, o)
      }
      /** A request's own `timeout` (seconds) bounds the confirmation too. */
      const timeoutOf = (args: readonly unknown[]): { timeoutMs?: number } => {
        for (const a of args) {
          const t = (a as { timeout?: unknown } | null)?.timeout
          if (typeof a === 'object' && !Array.isArray(a) && typeof t === 'number' && t > 0)
            return { timeoutMs: Math.min(CONFIRM_TIMEOUT_MS, t * 1000) }
        }
        return {}
      }
      v = new Proxy(c, {
        get(target, key) {
          if (key === 'clusterInfo') return clusterInfo
          const value = Reflect.get(target, key)
          if (typeof value !== 'function') return value
          if (typeof key === 'string' && BARRIER_READS.has(key))
            return async (...args: unknown[]) => {
              const consistency = consistencyOf(args)
              await barrier()
              if (consistency !== undefined && consistency !== 1)
                await confirm(
                  (r) => replicasNeeded(consistency, r),
                  `a read with consistency ${JSON.stringify(consistency)}`,
                  timeoutOf(args),
                )
              return (value as (...a: unknown[]) => unknown).apply(target, args)
            }
          if (typeof key === 'string' && CONSISTENT_WRITES.has(key))
            return async (...args: unknown[]) => {
              const result = (await (value as (...a: unknown[]) => unknown).apply(
                target,
                args,
              )) as UpdateResult
              const w = target.config.params?.writeConsistencyFactor ?? 1
              const touched = w > 1 ? touchedShards(target, key, args) : undefined
              if (w > 1 && result.status === 'completed')
                await confirm((r) => Math.min(w, r), `a write with write_consistency_factor ${w}`, {
                  ...timeoutOf(args),
                  ...(touched === undefined ? {} : { only: touched }),
                })
              return result
            }
          return (value as (...a: unknown[]) => unknown).bind(target)
        },
      })
      this.barrierViews.set(c, v)
    }
    return v
  }

  private collectionsRoot(): string {
    return join(this.dir, COLLECTIONS)
  }

  private assertNotPending(names: readonly string[]): void {
    for (const name of names) {
      if (this.pending.has(name)) {
        throw new QuiverError(
          'COLLECTION_EXISTS',
          `collection ${name} is being created, dropped or recovered; retry when that has finished`,
          { name },
        )
      }
    }
  }

  /** The collection `name` names: the alias's collection, else `name` itself. */
  private realName(name: string): string {
    return this.aliases.resolve(name) ?? name
  }

  /**
   * Takes a snapshot of one collection: a point-in-time image (every update acknowledged before the
   * call, none queued after it) written as `<data>/snapshots/<name>/<name>-<time>-<rand>.snapshot`
   * with its `.checksum` sidecar. The image is held in memory while it is written. `collection` may be
   * an alias (here and in the other snapshot calls of one collection): the snapshot is the aliased
   * collection's, under its own name.
   * Throws COLLECTION_NOT_FOUND, CORRUPTED (an unavailable collection), IO_ERROR.
   * @example const snap = await db.createSnapshot('docs') // { name, creationTime, size, checksum }
   */
  async createSnapshot(alias: string): Promise<SnapshotInfo> {
    const c = await this.getCollection(alias)
    const collection = c.name
    const image = await c.snapshotImage()
    const dir = collectionSnapshotsDir(this.dir, collection)
    await ensureDir(dir)
    const name = newSnapshotName(collection)
    const meta: SnapshotMetadata = { kind: 'collection', collections: [{ name: collection, seq: image.seq }] }
    const written = await writeArchive(join(dir, name), image.files, { ...meta })
    return describeSnapshot(written.path, name)
  }

  /** Snapshots of a collection, oldest first. Throws COLLECTION_NOT_FOUND, IO_ERROR. */
  async listSnapshots(collection: string): Promise<SnapshotInfo[]> {
    this.assertOpen()
    this.assertKnown(collection)
    return listSnapshotFiles(collectionSnapshotsDir(this.dir, this.realName(collection)))
  }

  /**
   * Absolute path of a collection's snapshot file (to stream it). Throws INVALID_ARGUMENT for a
   * name that is not a snapshot file name, COLLECTION_NOT_FOUND, SNAPSHOT_NOT_FOUND.
   */
  async snapshotPath(collection: string, name: string): Promise<string> {
    this.assertOpen()
    this.assertKnown(collection)
    const path = join(collectionSnapshotsDir(this.dir, this.realName(collection)), checkSnapshotName(name))
    await describeSnapshot(path, name)
    return path
  }

  /** Deletes a collection's snapshot and its sidecar. Throws like `snapshotPath`. */
  async deleteSnapshot(collection: string, name: string): Promise<true> {
    await removeSnapshot(await this.snapshotPath(collection, name))
    return true
  }

  /**
   * Replaces (or creates) collection `collection` with the content of a collection snapshot file.
   * First verifies the archive's SHA-256 (`options.checksum`, else the `<file>.checksum` sidecar
   * when present) and every entry, extracting into a staging directory, and opens the result to check
   * it; only then swaps it for the live collection. A crash at any point leaves the old or the new
   * collection (a validated one is completed at the next open). The target name wins over the name
   * stored in the archive. Also repairs a collection that is unavailable (CORRUPTED at open). When
   * `collection` is an alias, the collection it names is replaced (as Qdrant); aliases are kept.
   * Throws SNAPSHOT_NOT_FOUND, CORRUPTED (checksum or entry check failed; nothing live changed),
   * INVALID_ARGUMENT (a full snapshot, a malformed checksum), INVALID_COLLECTION_NAME, IO_ERROR.
   * @example await db.recoverSnapshot('docs', '/backups/docs-2024-05-01-10-49-10-3fa2c1.snapshot')
   */
  async recoverSnapshot(name: string, source: string, options: RecoverOptions = {}): Promise<void> {
    this.assertOpen()
    checkCollectionName(name)
    const collection = await this.aliases.exclusive(() => {
      const real = this.realName(name)
      this.assertNotPending([real])
      this.pending.add(real)
      return real
    })
    const root = this.collectionsRoot()
    const staging = join(root, `.recovering-${randomBytes(8).toString('hex')}`)
    try {
      const label = options.label ?? source
      const checksum = options.checksum ?? (await readChecksumFile(source, label))
      const manifest = await extractArchive(source, staging, extractOptions(checksum, label))
      snapshotMetadata(manifest, 'collection', label)
      const ready = await this.validateRecovered(staging, collection)
      await this.installRecovered(collection, ready)
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined)
      this.pending.delete(collection)
    }
  }

  /**
   * Takes a snapshot of every available collection (each its own point-in-time image, taken one
   * after another; unavailable collections, and in cluster mode those with shards hosted on other
   * nodes only, are left out) and of the aliases of those collections (as they are once the last
   * image is taken) into one archive
   * `<data>/snapshots/full-<time>-<rand>.snapshot` with its `.checksum`. One collection's image is held
   * in memory at a time. Throws IO_ERROR.
   * @example const snap = await db.createFullSnapshot()
   */
  async createFullSnapshot(): Promise<SnapshotInfo> {
    this.assertOpen()
    const dir = fullSnapshotsDir(this.dir)
    await ensureDir(dir)
    const name = newFullSnapshotName()
    const taken: SnapshotMetadata['collections'] = []
    // cluster mode: a collection with shards hosted on other nodes only is not this node's to
    // snapshot (take it through a node hosting every shard); it is left out, said in the log
    const all = [...this.collections.entries()].sort(([a], [b]) => a.localeCompare(b))
    const collections = all.filter(([, c]) => remoteReplicas(c).every((r) => r === undefined))
    for (const [n] of all.filter((e) => !collections.includes(e)))
      this.options.logger?.warn(
        { collection: n },
        `full snapshot: collection ${n} is left out, some of its shards are hosted on other nodes only`,
      )
    async function* files(): AsyncGenerator<ArchiveFile> {
      for (const [n, c] of collections) {
        let image: Awaited<ReturnType<HostedCollection['snapshotImage']>>
        try {
          image = await c.snapshotImage()
        } catch (err) {
          // dropped meanwhile
          if (err instanceof QuiverError && err.code === 'CLOSED') continue
          throw err
        }
        taken.push({ name: n, seq: image.seq })
        for (const f of image.files) yield { path: `collections/${n}/${f.path}`, data: f.data }
      }
    }
    const metadata = (): SnapshotMetadata => {
      const names = new Set(taken.map((t) => t.name))
      const aliases = describeAliases(this.aliases.current)
        .filter((a) => names.has(a.collectionName))
        .map((a) => ({ alias: a.aliasName, collection: a.collectionName }))
      return { kind: 'full', collections: taken, aliases }
    }
    const written = await writeArchive(join(dir, name), files(), () => ({ ...metadata() }))
    return describeSnapshot(written.path, name)
  }

  /** Full snapshots, oldest first. Throws IO_ERROR. */
  async listFullSnapshots(): Promise<SnapshotInfo[]> {
    this.assertOpen()
    return listSnapshotFiles(fullSnapshotsDir(this.dir), isFullSnapshotName)
  }

  /** Absolute path of a full snapshot. Throws INVALID_ARGUMENT, SNAPSHOT_NOT_FOUND. */
  async fullSnapshotPath(name: string): Promise<string> {
    this.assertOpen()
    checkSnapshotName(name)
    if (!isFullSnapshotName(name))
      throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot ${name} does not exist`, { name })
    const path = join(fullSnapshotsDir(this.dir), name)
    await describeSnapshot(path, name)
    return path
  }

  /** Deletes a full snapshot and its sidecar. Throws like `fullSnapshotPath`. */
  async deleteFullSnapshot(name: string): Promise<true> {
    await removeSnapshot(await this.fullSnapshotPath(name))
    return true
  }

  /**
   * Recovers every collection a full snapshot holds, replacing those of the same name, and then its
   * aliases (replacing live aliases of the same names); collections not in the snapshot and the other
   * aliases are left as they are, except a live alias that has the name of a collection in the
   * snapshot, which is dropped (the snapshot's names win). Verifies the archive (as
   * `recoverSnapshot`) and opens every collection from staging before the first swap; each swap is
   * atomic on its own, but the set is not: a crash between two swaps leaves the collections swapped
   * so far recovered and the others as they were, without the snapshot's aliases (run the recovery
   * again). Returns the recovered collection names.
   * Throws as `recoverSnapshot` (INVALID_ARGUMENT for a collection snapshot, or when an alias of the
   * snapshot has the name of a live collection the snapshot does not hold).
   * @example await db.recoverFullSnapshot('/backups/full-2024-05-01-10-49-10-9c0d1e.snapshot')
   */
  async recoverFullSnapshot(source: string, options: RecoverOptions = {}): Promise<string[]> {
    this.assertOpen()
    const root = this.collectionsRoot()
    const staging = join(root, `.recovering-${randomBytes(8).toString('hex')}`)
    let names: string[] = []
    const ready: string[] = []
    let installed = 0
    try {
      const label = options.label ?? source
      const checksum = options.checksum ?? (await readChecksumFile(source, label))
      const manifest = await extractArchive(source, staging, extractOptions(checksum, label))
      const meta = snapshotMetadata(manifest, 'full', label)
      const listed = meta.collections.map((c) => c.name)
      const aliases = snapshotAliases(meta)
      const reserved = [...listed, ...aliases.keys()]
      await this.aliases.exclusive(() => {
        this.assertOpen()
        for (const alias of aliases.keys()) {
          if (this.collections.has(alias) || this.unavailable.has(alias)) {
            throw new QuiverError(
              'INVALID_ARGUMENT',
              `snapshot ${label} has an alias ${alias}, but ${alias} is a collection here that the snapshot does not hold; drop or rename that collection first`,
              { alias },
            )
          }
        }
        this.assertNotPending(reserved)
        // reserved: neither a collection nor an alias can take these names meanwhile
        names = reserved
        for (const n of names) this.pending.add(n)
      })
      for (const n of listed) ready.push(await this.validateRecovered(join(staging, 'collections', n), n))
      const recovered = new Set(listed)
      // an alias named like a recovered collection must go before that collection arrives
      await this.aliases.exclusive(() => {
        const next = new Map(this.aliases.current)
        for (const n of listed) next.delete(n)
        return this.aliases.commit(next)
      })
      for (const [i, n] of listed.entries()) {
        await this.installRecovered(n, ready[i]!)
        installed = i + 1
      }
      await this.aliases.exclusive(() => {
        const next = new Map(this.aliases.current)
        for (const [alias, target] of aliases) if (recovered.has(target)) next.set(alias, target)
        return this.aliases.commit(next)
      })
      return listed
    } finally {
      // validated images not swapped in must not be completed by the next open
      for (const dir of ready.slice(installed))
        await rm(dir, { recursive: true, force: true }).catch(() => undefined)
      await rm(staging, { recursive: true, force: true }).catch(() => undefined)
      for (const n of names) this.pending.delete(n)
    }
  }

  /**
   * A fresh path under `<data>/snapshots/` for a snapshot being received (upload, download); the
   * caller removes it. Leftovers are removed at the next open.
   */
  async incomingSnapshotPath(): Promise<string> {
    this.assertOpen()
    const dir = fullSnapshotsDir(this.dir)
    await ensureDir(dir)
    return join(dir, `.incoming-${randomBytes(8).toString('hex')}.snapshot`)
  }

  /** The directory holding this database's snapshot files (`<data>/snapshots`). */
  get snapshotsDir(): string {
    return fullSnapshotsDir(this.dir)
  }

  private assertKnown(collection: string): void {
    if (!this.hasCollection(collection)) {
      checkCollectionName(collection)
      throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${collection} does not exist`, {
        name: collection,
      })
    }
  }

  /**
   * Checks an extracted collection image at `dir` by opening it as `name` (checksums, graph, WAL), sets
   * its stored name, then renames it to `.recovered-<rand>-<name>` (the mark of a validated image) and
   * returns that path. Throws CORRUPTED when it does not open.
   */
  private async validateRecovered(dir: string, name: string): Promise<string> {
    await renameCollectionFiles(dir, name)
    const probe = await openHostedCollection(dir, name, this.openOptions)
    await probe.close()
    const ready = join(
      this.collectionsRoot(),
      `${RECOVERED_PREFIX}${randomBytes(RECOVERED_RAND / 2).toString('hex')}-${name}`,
    )
    try {
      await rename(dir, ready)
    } catch (err) {
      throw ioError('rename', dir, err)
    }
    await fsyncDir(this.collectionsRoot())
    return ready
  }

  /** Swaps a validated `.recovered-*` directory in as collection `name` and opens it. */
  private async installRecovered(name: string, ready: string): Promise<void> {
    const root = this.collectionsRoot()
    const live = join(root, name)
    const trash = join(root, `.dropping-${randomBytes(8).toString('hex')}`)
    this.assertOpen()
    const old = this.collections.get(name)
    const oldError = this.unavailable.get(name)
    this.collections.delete(name)
    this.unavailable.delete(name)
    this.stopServing(name)
    await this.settleRetires(live)
    await old?.closeWithoutPersist()
    let moved = false
    try {
      try {
        await rename(live, trash)
        moved = true
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw ioError('rename', live, err)
      }
      try {
        await rename(ready, live)
      } catch (err) {
        throw ioError('rename', ready, err)
      }
      await fsyncDir(root)
    } catch (err) {
      if (moved) await rename(trash, live).catch(() => undefined)
      await rm(ready, { recursive: true, force: true }).catch(() => undefined)
      if (old !== undefined) {
        this.collections.set(name, await openHostedCollection(live, name, this.openOptions))
      } else if (oldError !== undefined) {
        this.unavailable.set(name, oldError)
      }
      throw err
    }
    if (moved) await rm(trash, { recursive: true, force: true })
    try {
      const opened = await openHostedCollection(live, name, this.openOptions)
      if (this.closed) {
        // the database closed while this recovery ran: the files are in place, nothing stays open
        await opened.close()
        throw new QuiverError('CLOSED', `the database closed during the recovery of ${name}`, {
          dir: this.dir,
        })
      }
      this.collections.set(name, opened)
    } catch (err) {
      if (err instanceof QuiverError && err.code === 'CORRUPTED') this.unavailable.set(name, err)
      throw err
    } finally {
      // cluster mode: what is open now is served to other nodes (if the catalog places it)
      void this.syncServing(name).catch(() => undefined)
    }
  }

  /** Persists and closes every collection, then releases the directory lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // a reconciliation attaching a collection finishes first (later ones see `closed` and stop)
    clearInterval(this.controllerTimer)
    await this.snapshotter?.stop()
    await this.appliedServed?.stop()
    await this.catchUpServed?.stop()
    await this.catalogChain
    await this.moving
    for (const name of [...this.serving.keys()]) this.stopServing(name)
    for (const run of [...this.retiring.keys()]) await run()
    let first: unknown
    for (const c of this.collections.values()) {
      try {
        await c.close()
      } catch (err) {
        first ??= err
      }
    }
    this.collections.clear()
    this.queryCache.clear()
    // an alias change already writing finishes before another process may take the directory
    await this.aliases.idle()
    await this.lock.release()
    if (first !== undefined) throw first
  }
}

/** Whether collection directory `dir` keeps its log outside (a `log.json` naming a stream, its own or shard 0's). */
async function logOutside(dir: string): Promise<boolean> {
  for (const p of [join(dir, 'log.json'), join(dir, 'shards', '0', 'log.json')]) {
    try {
      await stat(p)
      return true
    } catch {}
  }
  return false
}

/** Throws DATA_DIR_NOT_FOUND unless `dir` is a directory holding `collections/` (one Quiver opened). */
async function assertDataDir(dir: string): Promise<void> {
  const isDir = async (p: string): Promise<boolean> => {
    try {
      return (await stat(p)).isDirectory()
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false
      throw ioError('stat', p, err)
    }
  }
  if (!(await isDir(dir)))
    throw new QuiverError('DATA_DIR_NOT_FOUND', `no Quiver data directory at ${dir}`, { path: dir })
  if (!(await isDir(join(dir, COLLECTIONS)))) {
    throw new QuiverError(
      'DATA_DIR_NOT_FOUND',
      `no Quiver data directory at ${dir} (it has no ${COLLECTIONS}/ directory)`,
      { path: dir },
    )
  }
}

/**
 * Completes or discards recoveries a crash interrupted: a validated `.recovered-<rand>-<name>` whose
 * collection directory is missing (the old one was moved away) is renamed into place; one whose
 * collection directory still exists is removed (the swap had not begun).
 */
async function finishRecoveries(root: string): Promise<void> {
  let changed = false
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(RECOVERED_PREFIX)) continue
    const name = entry.name.slice(RECOVERED_PREFIX.length + RECOVERED_RAND + 1)
    const from = join(root, entry.name)
    let valid = true
    try {
      checkCollectionName(name)
    } catch {
      valid = false
    }
    if (valid) {
      try {
        await rename(from, join(root, name))
        changed = true
        continue
      } catch (err) {
        const code = errnoCode(err)
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw ioError('rename', from, err)
      }
    }
    await rm(from, { recursive: true, force: true })
  }
  if (changed) await fsyncDir(root)
}

/** Removes temp files (`.name.tmp-*`, `.incoming-*`) left in `<data>/snapshots` and its sub-directories by a crash. */
async function removeSnapshotLeftovers(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return
    throw ioError('list', dir, err)
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) await rm(join(dir, e.name), { recursive: true, force: true })
    else if (e.isDirectory()) await removeSnapshotLeftovers(join(dir, e.name))
  }
}

async function removeSnapshot(path: string): Promise<void> {
  for (const p of [path, `${path}.checksum`]) {
    try {
      await unlink(p)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw ioError('remove', p, err)
    }
  }
}

function extractOptions(checksum: string | undefined, label: string): ExtractOptions {
  return checksum === undefined ? { label } : { checksum, label }
}

// The seam between a sharded collection (router.ts) and its shards (issue 14): a shard is a
// `Collection` plus the few calls the router and the database need (today a local EmbeddedCollection
// in `<collection>/shards/<i>/`; later a remote shard over NATS request/reply). Points are routed by
// a stable hash of their id (routing.ts); a read fans out to every shard and the router merges the
// per-shard answers as the collection merges segments.
import type {
  Collection,
  CollectionClusterInfo,
  CollectionConfig,
  CollectionStats,
  GetOptions,
  OptimizationsOptions,
  OptimizationsReport,
  PointId,
  PointRecord,
  RecallEstimate,
  UpdateOperation,
} from '../types.js'

/** One file of a collection's snapshot image: its path relative to the collection directory. */
export interface ImageFile {
  path: string
  data: Uint8Array
}

/** A collection as the database holds it: the `Collection` calls plus lifecycle, metrics and snapshots. */
export interface HostedCollection extends Collection {
  stats(): CollectionStats
  optimizations(options?: OptimizationsOptions): OptimizationsReport
  recallEstimates(): RecallEstimate[]
  searchLatency(): { p50: number; p99: number; count: number } | undefined
  recallSamplesIdle(): Promise<void>
  waitForOptimizers(): Promise<void>
  checkIntegrity(): { ok: boolean; problems: string[] }
  persist(): Promise<void>
  /**
   * Resolves once every write acknowledged (by any process sharing the log) before the call is
   * applied here and visible to reads; rejects with the follower's failure if applying stopped.
   */
  catchUp(): Promise<void>
  /**
   * The id of the shared log this collection follows (a JetStream stream name), to pass to
   * `Quiver.attachCollection` on another database; undefined with a local WAL, an unshared log, or
   * several shards (see `logIds`; docs/cluster.md "Replicas over a shared log").
   */
  readonly logId: string | undefined
  /**
   * The ids of the shared logs of every shard, shard 0 first (one for an unsharded collection), for
   * `Quiver.attachCollection`; empty unless every shard's log is shared.
   */
  readonly logIds: readonly string[]
  /** Qdrant's collection cluster info: the shards, where they are and their state. */
  clusterInfo(): Promise<CollectionClusterInfo>
  snapshotImage(): Promise<{ seq: number; files: ImageFile[] }>
  close(): Promise<void>
  closeWithoutPersist(): Promise<void>
  destroyLog(): Promise<void>
}

/** A shard: a hosted collection that can also check a write without making it. */
export interface Shard extends HostedCollection {
  /**
   * Throws what `batchUpdate(operations)` would throw, writing nothing; with `existing`, also
   * POINT_NOT_FOUND for an id an operation needs that the shard lacks; with `strict`, the strict-mode
   * refusal it would meet now (taking no token). `single`: error paths as the single-operation
   * methods name them (no `operations[i].`).
   */
  validateBatch(
    operations: readonly UpdateOperation[],
    options: { existing: boolean; single?: boolean; strict?: boolean },
  ): Promise<void>
}

/** What the read routers (query-router.ts) see of a sharded collection. */
export interface ShardSet {
  /** The collection's name (error messages). */
  readonly name: string
  /** The collection's config (every shard holds the same). */
  readonly config: CollectionConfig
  /** The shards, index = shard id (0 .. shard_number - 1). */
  readonly shards: readonly Collection[]
  /** The shard that holds (or would hold) point `id`. */
  shardOf(id: PointId): number
  /**
   * The points of `ids` that exist, each read from its own shard, in the order of `ids` (duplicates
   * and missing ids as `Collection.get`). Throws as `Collection.get`.
   */
  get(ids: readonly PointId[], options?: GetOptions): Promise<PointRecord[]>
}

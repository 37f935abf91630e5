// An embedded collection: validates requests, serialises updates (WAL append -> apply in seq
// order), fans searches out over its segments and merges them, and persists segments so that a
// reopen loads the graph instead of re-inserting every point.
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { CorePool } from '../engine/pool.js'
import { invalid, QuiverError } from '../errors.js'
import { type Bitset, type FilterNode, parseFilter } from '../filter/index.js'
import { parseFieldSchema } from '../filter/payload-index/index.js'
import { isAbsent } from '../json-input.js'
import { comparePointIds, parsePointId } from '../point-id.js'
import { normalizeRows } from '../segment/multivector.js'
import type { PlannerConfig, Segment, SegmentSearchOptions, SegmentSearchResult } from '../segment/segment.js'
import { idf, type SparseVector } from '../sparse/sparse-index.js'
import { writeFileAtomic } from '../storage/files.js'
import { type OpenOperationLog, type OperationLog, openLocalLog } from '../storage/operation-log.js'
import type {
  Collection,
  CollectionClusterInfo,
  CollectionConfig,
  CollectionInfo,
  CollectionStats,
  CollectionUpdate,
  CountOptions,
  Distance,
  FacetOptions,
  FacetResult,
  Filter,
  GetOptions,
  GroupsResult,
  Optimization,
  OptimizationSegment,
  OptimizationsOptions,
  OptimizationsReport,
  OptimizerStatus,
  Payload,
  PayloadFieldSchema,
  PayloadIndexInfo,
  PointId,
  PointRecord,
  PointSelector,
  PointStruct,
  QueryGroupsRequest,
  QueryRequest,
  QueryResult,
  ReadOptions,
  ScoredPoint,
  ScrollOptions,
  ScrollResult,
  SearchMatrixOptions,
  SearchMatrixResult,
  SearchOptions,
  SearchRequest,
  SearchVector,
  SetPayloadOptions,
  StrictModeConfig,
  UpdateOperation,
  UpdateResult,
  VectorOutput,
  VectorStruct,
  WithVector,
  WriteOptions,
} from '../types.js'
import {
  CALIBRATION_K,
  CALIBRATION_OFFSET,
  CALIBRATION_QUERIES,
  type Calibration,
  type CalibrationPoint,
  chooseEf,
  EF_LADDER,
  MIN_CALIBRATION_QUERIES,
  stale,
} from './calibration.js'
import { Deadline, type ResolvedWrite, resolveWrite, SHARED_APPLY_WAIT_MS } from './deadline.js'
import { facetCounts } from './facet.js'
import { checkGroupRequest, groupKeys, groupRanked, planForGroups } from './groups.js'
import {
  decodeOperation,
  encodeOperation,
  type LoggedSelector,
  type LoggedVectors,
  logVectors,
  type Operation,
} from './operations.js'
import { catchUp, copyPoints, type OptimizationPlan, planOptimization } from './optimizer.js'
import { orderedPage, type ResolvedOrderBy, resolveOrderBy } from './order-by.js'
import {
  collectionImage,
  configFromJson,
  configToJson,
  dataDirOf,
  FORMAT_VERSION,
  type ImageFile,
  loadSegments,
  type Manifest,
  type ManifestSegment,
  manifestBytes,
  openSegmentFile,
  type PersistItem,
  persistSegments,
  readConfig,
  readManifest,
  writeConfig,
} from './persistence.js'
import {
  type Hit,
  type LookupFrom,
  plainNearest,
  type QueryHost,
  QueryParser,
  type QueryPlan,
  QueryRunner,
  type QueryVector,
  type Stage,
  type StageParams,
  type VectorSpaces,
} from './query.js'
import { type QueryCache, type QueryCacheCounters, requestKey, resultBytes } from './query-cache.js'
import {
  DEFAULT_RECALL_SAMPLE_RATE,
  RecallBudget,
  type RecallEstimate,
  RecallSampler,
  recallAtK,
  selectivityBucket,
} from './recall-sampler.js'
import { applyCollectionUpdate, sameConfig, segmentNeedsRebuild } from './reconfigure.js'
import { DEFAULT_MATRIX_LIMIT, DEFAULT_MATRIX_SAMPLE, sampleIds, withoutSelf } from './search-matrix.js'
import { floatsPerPoint, SegmentHolder } from './segment-holder.js'
import { conditionCount, planCost, StrictModeGuard, type StrictModeView } from './strict-mode.js'
import { strictModeToWire } from './strict-mode-config.js'
import {
  type PayloadProjection,
  projectPayload,
  type ResolvedSelector,
  toBool,
  toDenseValue,
  toIds,
  toLimit,
  toOffset,
  toPayload,
  toPointVectors,
  toQuantizationParams,
  toSelector,
  toSparseValue,
  toTargetRecall,
  toVector,
  toWithPayload,
  toWithVector,
  toWriteKey,
  vectorNameError,
} from './validate.js'

/** A pino-compatible logger (`info`, `warn` and `error` are used). */
export interface QuiverLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** Loads shard snapshots into a collection directory (CollectionOpenOptions.bootstrap). */
export interface LogBootstrap {
  /** The newest snapshot of shared log `logId`: its seq and stored `config.json` text; undefined when none. */
  latest(logId: string): Promise<{ seq: number; config: string } | undefined>
  /**
   * Replaces the segments, manifest and config of the collection directory `dir` with those of
   * `logId`'s snapshot at `seq` (the manifest last: a crash midway leaves a directory with no
   * segments, which loads the snapshot again). Throws SNAPSHOT_NOT_FOUND, CORRUPTED, LOG_UNAVAILABLE.
   */
  restore(dir: string, logId: string, seq: number): Promise<void>
}

/** Throws INVALID_ARGUMENT unless `config` (of log `logId`) has `expected` shards (default 1). */
function checkShards(config: CollectionConfig, logId: string, expected: number | undefined): void {
  const shards = config.params?.shardNumber ?? 1
  if (shards !== (expected ?? 1))
    throw invalid(
      shards > 1 && expected === undefined
        ? `log ${logId} is one shard's log of a collection with ${shards} shards; attach such a collection with the logs of all its shards (logIds)`
        : `log ${logId} is the log of a collection with ${shards} shard(s), not ${expected ?? 1}`,
      { log: logId },
    )
}

/**
 * Loads the newest shard snapshot into `dir` when the shared log `log` no longer holds the records
 * after `persistedSeq` (truncated below a snapshot: required), or when nothing is persisted yet (a
 * new replica: loading segments beats rebuilding them from the whole log). Resolves whether it
 * loaded one. Throws CORRUPTED when the log was truncated past what any snapshot covers.
 */
async function bootstrapFromSnapshot(
  dir: string,
  name: string,
  log: OperationLog,
  persistedSeq: number,
  bootstrap: LogBootstrap,
): Promise<boolean> {
  const first = await log.firstSeq!()
  const truncated = first > persistedSeq + 1
  // a log whose records are all there for a replica that has some, or a new log (its config only,
  // a create): nothing to load
  if (!truncated && (persistedSeq > 0 || log.lastSeq <= 1)) return false
  let latest: Awaited<ReturnType<LogBootstrap['latest']>>
  try {
    latest = await bootstrap.latest(log.id!)
    if (latest !== undefined && latest.seq > persistedSeq && latest.seq + 1 >= first) {
      await bootstrap.restore(dir, log.id!, latest.seq)
      return true
    }
  } catch (err) {
    // optional (the log holds every record): replayed instead
    if (!truncated) return false
    // needed: this copy cannot open now (the cluster rebuilds it from the log and snapshots, retrying)
    throw new QuiverError(
      'CORRUPTED',
      `collection ${name}: ${log.location} starts at seq ${first}, past this replica's segments (seq ${persistedSeq}), and its newest shard snapshot could not be loaded: ${(err as Error).message}`,
      { dir, log: log.location },
      err,
    )
  }
  if (!truncated) return false
  throw new QuiverError(
    'CORRUPTED',
    `collection ${name}: ${log.location} starts at seq ${first}, but this replica's segments end at seq ${persistedSeq} and no shard snapshot covers the records between (${latest === undefined ? 'none is stored' : `the newest is at seq ${latest.seq}`}); drop this replica (POST /collections/${name}/cluster drop_replica) and replicate the shard again`,
    { dir, log: log.location },
  )
}

export interface CollectionOpenOptions {
  /** Persist segments once this many WAL bytes were written since the last persist. Default 64 MiB. */
  flushBytes?: number
  /** WAL file size before rolling over. Default 8 MiB. */
  walSegmentBytes?: number
  /**
   * Opens the collection's operation log (src/storage/operation-log.ts). Default: the local WAL in
   * `<dir>/wal`; a cluster passes a JetStream stream (src/cluster/jetstream-log.ts).
   */
  openLog?: OpenOperationLog
  /**
   * Cluster mode: the shard snapshots a replica on a shared log starts from (src/db/shard-snapshots.ts).
   * At open, when the log no longer holds the records after the persisted segments (truncated below
   * a snapshot), or when nothing is persisted yet (a new replica), the newest snapshot is loaded in
   * place of the directory's segments and the log replayed from its seq. Default: none (the log is
   * replayed from the persisted segments, and a truncated one is CORRUPTED).
   */
  bootstrap?: LogBootstrap
  /** Where advice goes, e.g. the first filter on a field with no payload index. Default: none. */
  logger?: QuiverLogger
  /** Overrides of the query planner's thresholds (docs/query-planner.md). */
  planner?: Partial<PlannerConfig>
  /**
   * How `query({ lookupFrom: { collection } })` finds another collection (Quiver.open passes its
   * `getCollection`). Absent: lookups are refused.
   */
  resolveCollection?: (name: string) => Promise<Collection>
  /**
   * Run the long graph and scan work of every search on the core pool's worker threads
   * (src/engine/pool.ts), segments in parallel, so the calling thread never blocks for long: what a
   * server wants. Work cheaper than a thread hop (ef <= 128, small scans) still runs on the calling
   * thread. `false`: a single `search` runs wholly on the calling thread, segment after segment.
   * Default (absent): on the calling thread, except that a collection with two or more segments of
   * 10,000+ points searches all but the largest on the pool meanwhile (1.26x the QPS at ef 64,
   * 1.55x at ef 128 on GloVe-100 in two segments). `searchBatch` always spreads its requests over
   * the pool.
   */
  searchThreads?: boolean
  /**
   * The clock read timeouts are measured on, in milliseconds (default `performance.now`). A test
   * seam: a clock that jumps makes a timeout deterministic.
   */
  clock?: () => number
  /**
   * The query-result cache this collection stores its search / query results in (query-cache.ts;
   * Quiver.open shares one among its collections). Absent: no caching.
   */
  queryCache?: QueryCache
  /**
   * Fraction of searches (`search`, `searchBatch`, plain nearest `query`) re-run with exact search
   * in the background to estimate recall@k (`recallEstimates()`; recall-sampler.ts), 0..1; 0 = none.
   * The re-runs take at most about 5% of one core over time. Default 0.01.
   */
  recallSampleRate?: number
  /**
   * Share of one core the recall sampler's exact re-runs may take over time, (0, 1]. Default 0.05.
   * Quiver.open shares one budget among its collections (`recallBudget`).
   */
  recallCpuShare?: number
  /** The CPU budget of exact re-runs shared with other collections (Quiver.open passes one). */
  recallBudget?: RecallBudget
}

/** Exact re-runs of the recall sampler a collection runs at once; a sample due beyond them is skipped. */
const MAX_SAMPLES_IN_FLIGHT = 2

/** Numbers collection instances, so a reopened or recreated collection never reads an older one's cache entries. */
let nextInstance = 0

/** A checked search; `quiet`: an internal re-run (recall sampling) that notes nothing (unindexed fields). */
type PreparedSearch = ReturnType<EmbeddedCollection['prepareSearch']> & { readonly quiet?: boolean }

/** Distinct field keys counted in `unindexedFilterFields`; later ones count under UNINDEXED_OTHER. */
export const MAX_UNINDEXED_FIELDS = 100
export const UNINDEXED_OTHER = '(other fields)'

const DEFAULT_FLUSH_BYTES = 64 * 1024 * 1024
/**
 * Stored points from which a segment's search goes to a pool thread while another segment is
 * searched here: searching 10k GloVe points at ef 64 takes about a thread hop (~0.1 ms).
 */
const PARALLEL_SEGMENT_MIN = 10_000
/** Writes queued on the apply chain before a new one waits for them (backpressure for `wait: false`). */
const UPDATE_QUEUE_LIMIT = 1024
const WAIT: ResolvedWrite = { wait: true, timeoutMs: undefined }
/** Finished optimizations kept for `optimizations({ completedLimit })`. */
const MAX_FINISHED_OPTIMIZATIONS = 64
const DEFAULT_WAL_SEGMENT_BYTES = 8 * 1024 * 1024

/** The keys of every member of a union of single-key objects. */
type UnionKeys<T> = { [K in T extends unknown ? keyof T : never]: true }

/** First index of sorted `ids` whose id is >= `start`. */
function lowerBound(ids: readonly PointId[], start: PointId): number {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (comparePointIds(ids[mid]!, start) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A read request without its `timeout` (a different timeout asks for the same result). */
function untimed<T extends object>(request: T): T {
  return request !== null && typeof request === 'object' && ('timeout' in request || 'cache' in request)
    ? { ...request, timeout: undefined, cache: undefined }
    : request
}

/** Whether a plan's result depends only on this collection's state: no lookups elsewhere, no random sample. */
function cacheable(plan: QueryPlan): boolean {
  const random = (s: Stage): boolean => s.query.kind === 'sample' || s.prefetches.some(random)
  return plan.lookups.length === 0 && !random(plan)
}

function filterOf(filter: Filter | null | undefined, where: string): FilterNode | null {
  const node = parseFilter(filter, where)
  return node.kind === 'true' ? null : node
}

/** A segment distance (smaller is better) -> the user's score for `metric` (sparse: a similarity). */
function toScoreFn(metric: Distance | 'sparse'): (d: number) => number {
  switch (metric) {
    case 'Cosine':
    case 'Dot':
    case 'sparse':
      return (d) => -d
    case 'Euclid':
      return (d) => Math.sqrt(Math.max(d, 0))
    case 'Manhattan':
      return (d) => d
  }
}

/** How a search on one vector name runs and scores. */
interface SearchSpace {
  readonly using: string
  readonly kind: 'dense' | 'multi' | 'sparse'
  /** Higher scores are better (Cosine, Dot, sparse). */
  readonly higherIsBetter: boolean
  readonly toScore: (d: number) => number
  /** idf weighting of query terms (sparse with `modifier: idf`). */
  readonly idf: boolean
}

/** The embedded implementation of {@link Collection}. Get one from `Quiver.createCollection` / `getCollection`. */
export class EmbeddedCollection implements Collection {
  readonly name: string
  readonly dir: string
  private readonly wal: OperationLog
  private readonly holder: SegmentHolder
  private readonly flushBytes: number
  /** Updates are applied strictly in WAL order along this chain. */
  private tail: Promise<unknown> = Promise.resolve()
  /** Writes submitted and not yet applied (Qdrant's `update_queue.length`). */
  private pending = 0
  private appliedSeq: number
  private persistedSeq: number
  private bytesSincePersist = 0
  private persisting: Promise<void> | undefined
  /** Last error of a background persist; the next persist (at the latest on close) retries. */
  private persistError: unknown
  /** Set when applying a logged update failed: the in-memory state no longer matches the WAL. */
  private failure: QuiverError | undefined
  private closed = false
  /** Per field key: filtered requests that evaluated a condition on it point by point. */
  private readonly unindexedCounts = new Map<string, number>()
  private readonly logger: QuiverLogger | undefined
  /** Searches run on the core pool (CollectionOpenOptions.searchThreads). */
  private readonly searchThreads: boolean
  /** `searchThreads: false`: never spread a single search's segments over the pool. */
  private readonly callingThreadOnly: boolean
  /** Milliseconds; read deadlines are measured on it (CollectionOpenOptions.clock). */
  private readonly clock: () => number
  private readonly plannerOverrides: Partial<PlannerConfig>
  /** The manifest last written or loaded. */
  private manifest: Manifest | undefined
  /** Per segment: its manifest entry and its mutation count when it was written (clean = equal). */
  private readonly written = new WeakMap<Segment, { mutations: number; entry: ManifestSegment }>()
  /** The running optimization, if any. */
  private optimizing: Promise<void> | undefined
  private optimizerStatus: OptimizerStatus = 'ok'
  private readonly optimizationsCompleted = { reconfigure: 0, vacuum: 0, merge: 0 }
  /** The config config.json holds (persist rewrites it when the config changed). */
  private configWritten: CollectionConfig
  /** Config changes are computed and logged one at a time (each from the result of the last). */
  private configChain: Promise<unknown> = Promise.resolve()
  /** The running optimization as `optimizations()` reports it, and the latest finished ones (newest last). */
  private runningOptimization: Optimization | undefined
  private readonly finishedOptimizations: Optimization[] = []
  /** Segment UUIDs of the optimization report, given on first report. */
  private readonly segmentIds = new WeakMap<Segment, string>()
  /** Strict mode of the current config (null: off) and the config text it was made for. */
  private strictGuard: StrictModeGuard | null = null
  private strictKey = ''
  private strictFor: StrictModeConfig | undefined | null = undefined
  /** The shared query-result cache (CollectionOpenOptions.queryCache), and this collection's use of it. */
  private readonly queryCache: QueryCache | undefined
  private readonly cacheCounters: QueryCacheCounters = { hits: 0, misses: 0 }
  private readonly instance = ++nextInstance
  /** Bumped when a write's apply failed part-way (no new applied sequence): older cache entries go. */
  private cacheEpoch = 0
  /** Live recall sampling and the latency window (recall-sampler.ts). */
  private readonly sampler: RecallSampler
  /** Exact re-runs of the recall sampler not yet finished (at most MAX_SAMPLES_IN_FLIGHT). */
  private samplesInFlight = 0
  /** Those re-runs, awaited by `close`. */
  private readonly sampleRuns = new Set<Promise<void>>()
  /** Recall-target calibrations per `${vector}\0${class}` (calibration.ts). */
  /**
   * A shared log (several writers and replicas, `OperationLog.follow`): records are applied only by
   * the follow loop, in log order, whoever appended them; `submit` appends and waits for the loop.
   */
  private readonly shared: boolean
  private following: Promise<void> | undefined
  /** Own writes waiting for the follow loop to apply their seq, by seq ascending. */
  private readonly waiters: { seq: number; resolve: () => void; reject: (err: unknown) => void }[] = []
  /** Settles once this collection's latest own write (shared log) is applied or failed. */
  private ownTail: Promise<unknown> = Promise.resolve()
  private readonly calibrations = new Map<
    string,
    { running?: Promise<Calibration> | undefined; done?: Calibration }
  >()

  private constructor(
    name: string,
    dir: string,
    config: CollectionConfig,
    wal: OperationLog,
    segments: Segment[],
    persistedSeq: number,
    options: CollectionOpenOptions,
    manifest: Manifest | undefined,
  ) {
    this.manifest = manifest
    this.name = name
    this.dir = dir
    this.configWritten = config
    this.wal = wal
    this.shared = wal.id !== undefined && wal.follow !== undefined
    this.plannerOverrides = options.planner ?? {}
    this.queryCache = options.queryCache?.enabled === true ? options.queryCache : undefined
    this.sampler = new RecallSampler({
      rate: options.recallSampleRate ?? DEFAULT_RECALL_SAMPLE_RATE,
      budget: options.recallBudget ?? new RecallBudget(options.recallCpuShare),
    })
    this.holder = new SegmentHolder(config, segments, (s) => this.configurePlanner(s))
    segments.forEach((segment, i) => {
      const entry = manifest?.segments[i]
      // segments of an older format are not reused as written: the next persist rewrites them
      // (format 2's segment files are format 3's: only its manifest is rewritten)
      if (entry !== undefined && manifest!.formatVersion >= 2)
        this.written.set(segment, { mutations: segment.mutations, entry })
    })
    this.persistedSeq = persistedSeq
    this.appliedSeq = persistedSeq
    this.flushBytes = options.flushBytes ?? DEFAULT_FLUSH_BYTES
    this.logger = options.logger
    this.searchThreads = options.searchThreads === true
    this.callingThreadOnly = options.searchThreads === false
    this.clock = options.clock ?? (() => performance.now())
    this.resolveCollection = options.resolveCollection
    for (const s of segments) this.configurePlanner(s)
  }

  /** The collection's current config (changed by `updateConfig`). */
  get config(): CollectionConfig {
    return this.holder.config
  }

  /** Sealed segments first, the appendable one last. */
  private get segments(): readonly Segment[] {
    return this.holder.segments
  }

  /**
   * The strict mode of the current config, or null when it is off. Made again (rate limiters
   * refilled) when the strict-mode config changes, or after `updateConfig` was given one.
   */
  private get strict(): StrictModeGuard | null {
    const c = this.config.strictMode
    if (c === this.strictFor) return this.strictGuard
    // a new config object (any config change): a new guard only if strict mode itself changed
    this.strictFor = c
    const key = c === undefined ? '' : JSON.stringify(strictModeToWire(c))
    if (key !== this.strictKey) {
      this.strictKey = key
      this.strictGuard = StrictModeGuard.of(c, this.clock)
    }
    return this.strictGuard
  }

  /** Makes the next request build a new guard (full rate-limit buckets). */
  private refillStrict(): void {
    this.strictFor = null
    this.strictKey = '\0refill'
  }

  /** What strict mode reads of this collection. */
  private readonly strictView: StrictModeView = {
    indexOf: (key) => {
      for (const s of this.segments) {
        const fi = s.payloadIndexes.get(key)
        if (fi !== undefined) return fi.spec.params
      }
      return undefined
    },
    indexCount: () => {
      const fields = new Set<string>()
      for (const s of this.segments) for (const f of s.payloadIndexes.keys()) fields.add(f)
      return fields.size
    },
    hnswM: (using) => {
      const v = this.config.vectors.get(using)
      if (v === undefined) return undefined
      // an IVF index is an index too: a vector configured without a graph (m 0) scans every point
      return v.index?.type === 'ivf' ? Math.max(1, v.hnsw.m) : v.hnsw.m
    },
    // each figure computed only when a limit reads it (payload bytes walk a sample of payloads)
    sizes: () => {
      const segments = this.segments
      return {
        get points() {
          return segments.reduce((n, s) => n + s.pointCount, 0)
        },
        get vectorBytes() {
          return segments.reduce((n, s) => n + s.vectorBytes, 0)
        },
        get payloadBytes() {
          return segments.reduce((n, s) => n + s.payloadBytes, 0)
        },
      }
    },
    estimate: (filter) => this.segments.reduce((n, s) => n + s.filterExecutor(filter).estimate().exp, 0),
    storedRows: (using, id) => {
      const v = this.segmentOf(id)?.vector(using, id)
      if (v === undefined) return 0
      const dense = this.config.vectors.get(using)
      return dense?.multivector === undefined ? 1 : v.length / dense.dimension
    },
    queryRows: (using, vector) => {
      const dense = this.config.vectors.get(using)
      return dense?.multivector === undefined || !(vector instanceof Float32Array)
        ? 1
        : vector.length / dense.dimension
    },
  }

  /**
   * Strict-mode checks of a write about to be logged (every limit, then the write rate limiter),
   * before anything is written. Throws STRICT_MODE or RATE_LIMITED.
   */
  private checkStrictWrite(op: Operation, write: ResolvedWrite): void {
    const guard = this.strict
    if (guard === null) return
    if (write.timeoutMs !== undefined) guard.timeout(write.timeoutMs / 1000)
    const cost = this.strictWriteCost(guard, op)
    if (guard.limitsWrites) guard.write(cost)
  }

  /** Checks one operation's limits and returns its write cost (points touched, estimated for a filter). */
  private strictWriteCost(guard: StrictModeGuard, op: Operation): number {
    const selected = (sel: LoggedSelector): number => {
      if ('ids' in sel) return sel.ids.length
      const node = parseFilter(sel.filter)
      guard.writeFilter(node.kind === 'true' ? null : node, this.strictView)
      return guard.limitsWrites ? this.strictView.estimate(node) : 0
    }
    switch (op.op) {
      case 'upsert':
      case 'update_vectors':
        guard.insert(op.points.length, op.op === 'upsert' ? 'upsert limit' : 'update limit', this.strictView)
        if (guard.hasVectorLimits) for (const p of op.points) this.strictVectorLimits(guard, p)
        return op.points.length
      case 'set_payload':
      case 'overwrite_payload':
        guard.payloadWrite(this.strictView)
        return selected(op.selector)
      case 'delete':
      case 'delete_payload':
      case 'clear_payload':
      case 'delete_vectors':
        return selected(op.selector)
      case 'batch':
        // each operation costs at least one token (as Qdrant's per-operation max(1, estimate))
        return op.ops.reduce((n, o) => n + Math.max(1, this.strictWriteCost(guard, o)), 0)
      case 'create_index':
        guard.payloadIndex(op.field, this.strictView)
        return 1
      default:
        return 1
    }
  }

  /** Multivector rows and sparse lengths of a logged point against strict mode's per-vector limits. */
  private strictVectorLimits(guard: StrictModeGuard, p: LoggedVectors): void {
    for (const [name, bytes] of p.d ?? []) {
      const c = this.config.vectors.get(name)
      if (c?.multivector !== undefined) guard.multivector(name, bytes.byteLength / 4 / c.dimension)
    }
    for (const [name, indices] of p.s ?? []) guard.sparse(name, indices.byteLength / 4)
  }

  /**
   * Strict-mode checks of a read (`timeout`, then `check`'s limits), then `cost` read tokens.
   * Nothing is read before they pass. Throws STRICT_MODE or RATE_LIMITED.
   */
  private checkStrictRead(
    timeout: number | undefined,
    check: (guard: StrictModeGuard, view: StrictModeView) => void,
    cost: () => number,
  ): void {
    const guard = this.strict
    if (guard === null) return
    guard.timeout(timeout)
    check(guard, this.strictView)
    if (guard.limitsReads) guard.read(cost())
  }

  private configurePlanner(segment: Segment): void {
    segment.planner = { ...segment.planner, ...this.plannerOverrides }
  }

  /**
   * Counts the fields a request evaluated point by point; logs the first time per field. At most
   * MAX_UNINDEXED_FIELDS distinct keys are tracked (clients choose filter keys freely); the rest
   * count under UNINDEXED_OTHER.
   */
  private noteUnindexed(keys: ReadonlySet<string>): void {
    for (const field of keys) {
      const key =
        this.unindexedCounts.has(field) || this.unindexedCounts.size < MAX_UNINDEXED_FIELDS
          ? field
          : UNINDEXED_OTHER
      const n = this.unindexedCounts.get(key) ?? 0
      this.unindexedCounts.set(key, n + 1)
      if (n === 0 && key === field) {
        this.logger?.warn(
          { collection: this.name, field: key },
          `filter on field ${JSON.stringify(key)} of collection ${this.name} has no payload index and is evaluated point by point; create one (PUT /collections/${this.name}/index) to make filtered requests faster`,
        )
      }
    }
  }

  /** Creates the collection's directory files (config + empty WAL) and opens it. */
  static async create(
    dir: string,
    name: string,
    config: CollectionConfig,
    options: CollectionOpenOptions = {},
  ): Promise<EmbeddedCollection> {
    await writeConfig(dir, name, config)
    const collection = await EmbeddedCollection.open(dir, name, options)
    // a shared log starts with the config, so that a replica can be made from the log alone
    // (Quiver.attachCollection); applying it again changes nothing
    if (collection.shared && collection.appliedSeq === 0) {
      try {
        await collection.submit({ op: 'update_collection', config: configToJson(config) })
      } catch (err) {
        await collection.closeWithoutPersist()
        throw err
      }
    }
    return collection
  }

  /**
   * Writes the files of a new replica of the collection whose shared log is `logId` into the empty
   * directory `dir`: the log's reference and the config from the log's first record (written there by
   * `create`). Open it afterwards; the open replays the whole log. `options.shardNumber`: the shard
   * count the config must say (default 1: a whole collection). Throws INVALID_ARGUMENT (a local WAL,
   * a log that does not start with a config, or one of another shard count), LOG_NOT_FOUND.
   */
  static async attachFiles(
    dir: string,
    name: string,
    logId: string,
    options: CollectionOpenOptions & { shardNumber?: number } = {},
  ): Promise<void> {
    const log = await (options.openLog ?? openLocalLog)({
      dir,
      collection: name,
      walSegmentBytes: options.walSegmentBytes ?? DEFAULT_WAL_SEGMENT_BYTES,
      relativeTo: dataDirOf(dir),
      attach: logId,
    })
    let first: Operation | undefined
    try {
      // a log truncated below a shard snapshot: its config is the snapshot's
      if (options.bootstrap !== undefined && log.firstSeq !== undefined && (await log.firstSeq()) > 1) {
        const latest = await options.bootstrap.latest(logId)
        if (latest === undefined)
          throw new QuiverError(
            'CORRUPTED',
            `log ${logId} lost its first records and no shard snapshot of it is stored; it cannot be attached to`,
            { log: logId },
          )
        await writeFileAtomic(join(dir, 'config.json'), latest.config)
        const config = await readConfig(dir)
        checkShards(config, logId, options.shardNumber)
        await writeConfig(dir, name, config)
        return
      }
      for await (const record of log.replay(0)) {
        first = decodeOperation(record.body)
        break
      }
    } finally {
      await log.close()
    }
    if (first === undefined || first.op !== 'update_collection')
      throw invalid(
        `log ${logId} does not start with a collection's config: it is not a Quiver collection's log`,
        {
          log: logId,
        },
      )
    const config = configFromJson(FORMAT_VERSION, first.config)
    checkShards(config, logId, options.shardNumber)
    await writeConfig(dir, name, config)
  }

  /**
   * Opens a collection directory: loads persisted segments (verifying checksums and the graph),
   * then replays WAL records newer than them. Throws CORRUPTED naming the damaged file.
   */
  static async open(
    dir: string,
    name: string,
    options: CollectionOpenOptions = {},
  ): Promise<EmbeddedCollection> {
    // a format-1 config.json is rewritten as format 2 here: the directory upgrades on open
    let config = await readConfig(dir, { name })
    let manifest = await readManifest(dir)
    const wal = await (options.openLog ?? openLocalLog)({
      dir,
      collection: name,
      walSegmentBytes: options.walSegmentBytes ?? DEFAULT_WAL_SEGMENT_BYTES,
      relativeTo: dataDirOf(dir),
      // a torn tail was never acknowledged, but an operator should still learn that bytes were cut
      onDiscarded: (cut) =>
        options.logger?.warn(
          { collection: name, walTail: cut },
          `collection ${name}: discarded a damaged WAL tail (${cut.reason}) of ${cut.bytes} bytes at ${cut.file}:${cut.offset}; it held no acknowledged write unless the disk damaged it`,
        ),
    })
    let segments: Segment[]
    try {
      if (options.bootstrap !== undefined && wal.id !== undefined && wal.firstSeq !== undefined) {
        const restored = await bootstrapFromSnapshot(dir, name, wal, manifest?.seq ?? 0, options.bootstrap)
        if (restored) {
          config = await readConfig(dir, { name })
          manifest = await readManifest(dir)
        }
      }
      segments = manifest ? await loadSegments(dir, config, manifest) : []
    } catch (err) {
      await wal.close()
      throw err
    }
    if (manifest !== undefined && wal.lastSeq < manifest.seq) {
      await wal.close()
      throw new QuiverError(
        'CORRUPTED',
        `collection ${name}: the WAL in ${wal.location} ends at seq ${wal.lastSeq} but the segments include seq ${manifest.seq}; WAL files are missing or damaged`,
        { dir, wal: wal.location },
      )
    }
    const collection = new EmbeddedCollection(
      name,
      dir,
      config,
      wal,
      segments,
      manifest?.seq ?? 0,
      options,
      manifest,
    )
    await collection.replay()
    if (collection.shared) collection.startFollowing()
    // an older format's manifest and segment files are rewritten at once (one atomic manifest switch)
    if (manifest !== undefined && manifest.formatVersion !== FORMAT_VERSION) await collection.persist()
    collection.scheduleOptimizers()
    return collection
  }

  private async replay(): Promise<void> {
    for await (const record of this.wal.replay(this.persistedSeq)) {
      try {
        await this.holder.apply(decodeOperation(record.body), record.seq)
      } catch (err) {
        await this.wal.close()
        throw new QuiverError(
          'CORRUPTED',
          `collection ${this.name}: WAL record ${record.seq} (${record.where}) cannot be applied: ${(err as Error).message}`,
          { seq: record.seq, where: record.where },
          err,
        )
      }
      this.appliedSeq = record.seq
      this.bytesSincePersist += record.body.byteLength
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('CLOSED', `collection ${this.name} is closed`)
  }

  private assertWritable(): void {
    this.assertOpen()
    if (this.failure) throw this.failure
  }

  /**
   * Logs `op` in the WAL, then applies it once every earlier update is applied. Resolves when the
   * record is durable (fsynced) and visible to searches (`completed`); with `wait: false` once it is
   * durable (`acknowledged`; applying continues on the chain, a failure there turns the collection
   * red and fails later writes); with a timeout, `wait_timeout` if not visible in time. The body is
   * decoded before it is logged, so a record that would not replay is never written.
   */
  private async submit(op: Operation, write: ResolvedWrite = WAIT): Promise<UpdateResult> {
    this.assertWritable()
    // bounded queue (Qdrant's update channel): a writer that outruns the apply chain waits here
    while (this.pending >= UPDATE_QUEUE_LIMIT) await (this.shared ? this.ownTail : this.tail)
    this.assertWritable()
    const body = encodeOperation(op)
    const decoded = decodeOperation(body)
    // strict mode last, after the wait: its size limits see the collection as this write will find it
    if (this.strict !== null && op.op !== 'update_collection') this.checkStrictWrite(op, write)
    if (this.shared) return this.submitShared(body, write)
    const durable = this.wal.append([body], write.writeId)
    durable.catch(() => undefined) // handled below, when the apply chain reaches it
    this.pending++
    const applied = this.tail.then(async () => {
      const seq = await durable
      try {
        await this.holder.apply(decoded, seq)
      } catch (err) {
        // The record is durable but only partly applied: stop taking writes; a reopen replays it.
        this.cacheEpoch++
        this.failure = new QuiverError(
          'INTERNAL',
          `collection ${this.name} stopped taking writes: applying WAL record ${seq} failed (${(err as Error).message}); reopen the database to recover from the WAL`,
          { seq },
          err,
        )
        throw this.failure
      }
      this.appliedSeq = seq
      this.bytesSincePersist += body.byteLength
      return seq
    })
    this.tail = applied.catch(() => undefined)
    const done = applied.then(
      async (seq) => {
        this.pending--
        this.scheduleOptimizers()
        if (this.bytesSincePersist >= this.flushBytes) {
          // The write is durable already; a failed persist is retried later and must not fail it.
          await this.persistQuietly()
        }
        return seq
      },
      (err: unknown) => {
        this.pending--
        throw err
      },
    )
    if (write.wait && write.timeoutMs === undefined) return { operationId: await done, status: 'completed' }
    // not waited for (or not past the timeout): a failed apply shows as status red and fails the next write
    done.catch(() => undefined)
    const started = performance.now()
    const seq = await durable
    if (!write.wait) return { operationId: seq, status: 'acknowledged' }
    const left = write.timeoutMs! - (performance.now() - started)
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), Math.max(0, left))
    })
    try {
      const first = await Promise.race([done, expired])
      return first === 'expired'
        ? { operationId: seq, status: 'wait_timeout' }
        : { operationId: seq, status: 'completed' }
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * `submit` on a shared log: appends `body`, then (with `wait`) waits until the follow loop applied
   * its seq, with the same answers as the local path.
   */
  private async submitShared(body: Uint8Array, write: ResolvedWrite): Promise<UpdateResult> {
    const durable = this.wal.append([body], write.writeId)
    durable.catch(() => undefined)
    this.pending++
    const applied = durable.then((seq) => this.appliedAt(seq).then(() => seq))
    this.ownTail = applied.catch(() => undefined)
    applied.then(
      () => this.pending--,
      () => this.pending--,
    )
    applied.catch(() => undefined)
    const started = performance.now()
    const seq = await durable
    if (!write.wait) return { operationId: seq, status: 'acknowledged' }
    // applying needs the follow loop, i.e. NATS: even a wait without a timeout ends
    const left = (write.timeoutMs ?? SHARED_APPLY_WAIT_MS) - (performance.now() - started)
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), Math.max(0, left))
    })
    try {
      const first = await Promise.race([applied, expired])
      return { operationId: seq, status: first === 'expired' ? 'wait_timeout' : 'completed' }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Resolves once the follow loop applied `seq` (at once if it has); rejects if it stopped first. */
  private appliedAt(seq: number): Promise<void> {
    if (this.appliedSeq >= seq) return Promise.resolve()
    if (this.failure) return Promise.reject(this.failure)
    if (this.closed)
      return Promise.reject(
        new QuiverError(
          'CLOSED',
          `collection ${this.name} closed before applying seq ${seq}; it is in the log and is applied when the collection opens again`,
        ),
      )
    return new Promise<void>((resolve, reject) => {
      let i = this.waiters.length
      while (i > 0 && this.waiters[i - 1]!.seq > seq) i--
      this.waiters.splice(i, 0, { seq, resolve, reject })
    })
  }

  /** Settles the waiters the follow loop has reached (or all of them, rejected, with `err`). */
  private settleWaiters(err?: unknown): void {
    while (this.waiters.length > 0 && (err !== undefined || this.waiters[0]!.seq <= this.appliedSeq)) {
      const w = this.waiters.shift()!
      if (err === undefined) w.resolve()
      else w.reject(err)
    }
  }

  /**
   * The follow loop of a shared log: applies every record after the replayed ones, in log order,
   * on the update chain, as it arrives; stops when the log closes. A record that cannot be applied
   * stops writes here (status red), as on the local path; reopening replays it.
   */
  private startFollowing(): void {
    const run = async () => {
      for await (const record of this.wal.follow!(this.appliedSeq)) {
        if (this.closed) break
        const op = decodeOperation(record.body)
        const size = record.body.byteLength
        await this.onChain(async () => {
          try {
            await this.holder.apply(op, record.seq)
          } catch (err) {
            this.cacheEpoch++
            this.failure = new QuiverError(
              'INTERNAL',
              `collection ${this.name} stopped taking writes: applying log record ${record.seq} (${record.where}) failed (${(err as Error).message}); reopen the database to recover from the log`,
              { seq: record.seq },
              err,
            )
            throw this.failure
          }
          this.appliedSeq = record.seq
          this.bytesSincePersist += size
        })
        this.settleWaiters()
        this.scheduleOptimizers()
        if (this.bytesSincePersist >= this.flushBytes) void this.persistQuietly()
      }
    }
    this.following = run().catch((err: unknown) => {
      if (this.closed) return
      this.failure ??=
        err instanceof QuiverError
          ? err
          : new QuiverError(
              'LOG_UNAVAILABLE',
              `collection ${this.name}: following ${this.wal.location} failed: ${(err as Error).message}; reopen the database to resume`,
              undefined,
              err,
            )
      this.logger?.error(
        { collection: this.name, err: { code: this.failure.code, message: this.failure.message } },
        this.failure.message,
      )
      this.settleWaiters(this.failure)
    })
  }

  /**
   * Resolves once this collection applied every record its log held when called: on a shared log
   * (a replica) what any writer appended so far; on a local WAL every acknowledged write. Reads after
   * it see every write acknowledged (by any replica's writer) before the call.
   * @example await replica.catchUp() // then read: sees writes other processes made before the call
   */
  async catchUp(): Promise<void> {
    this.assertOpen()
    if (!this.shared) {
      await this.tail
      if (this.failure) throw this.failure
      return
    }
    await this.appliedAt(await this.wal.head!())
  }

  /** The id of the shared log this collection follows (a stream name), for `Quiver.attachCollection`; undefined with a local WAL. */
  get logId(): string | undefined {
    return this.shared ? this.wal.id : undefined
  }

  /** `[logId]`, or empty with a local WAL (HostedCollection.logIds). */
  get logIds(): readonly string[] {
    const id = this.logId
    return id === undefined ? [] : [id]
  }

  /** Persists, keeping a failure in `persistError` (status yellow) instead of throwing; a later persist retries. */
  private async persistQuietly(): Promise<void> {
    try {
      await this.persist()
      this.persistError = undefined
    } catch (err) {
      this.persistError = err
    }
  }

  /**
   * Writes the segments to disk and drops WAL files they cover, so a reopen loads the graph
   * instead of replaying. Runs after the updates queued before it; reads are never blocked.
   */
  async persist(): Promise<void> {
    if (this.persisting !== undefined) return this.persisting
    const run = this.tail.then(async () => {
      if (this.failure) return
      const segments = [...this.segments]
      const appendable = this.holder.appendable
      // sealed segments write on_disk vectors as vector files, then read them from there
      const moving = segments.map((s) => s !== appendable && s.movesToDisk)
      const items: PersistItem[] = segments.map((s, i) => {
        const w = this.written.get(s)
        return w !== undefined && w.mutations === s.mutations && !moving[i]
          ? { reuse: w.entry, config: s.config }
          : { files: s.toFiles({ sealed: s !== appendable }), config: s.config }
      })
      const current = this.manifest === undefined || this.manifest.formatVersion === FORMAT_VERSION
      const config = this.config
      if (
        current &&
        config === this.configWritten &&
        this.appliedSeq === this.persistedSeq &&
        items.every((item) => 'reuse' in item && item.reuse.config !== undefined)
      )
        return
      const seq = this.appliedSeq
      const mutations = segments.map((s) => s.mutations)
      this.bytesSincePersist = 0
      // config.json first: once the manifest covers an update_collection record, the WAL may drop it
      if (config !== this.configWritten) {
        await writeConfig(this.dir, this.name, config)
        this.configWritten = config
      }
      const manifest = await persistSegments(this.dir, seq, items)
      this.manifest = manifest
      segments.forEach((s, i) => {
        this.written.set(s, { mutations: mutations[i]!, entry: manifest.segments[i]! })
      })
      for (const [i, s] of segments.entries()) {
        if (!moving[i] || this.closed) continue // closing: the files are written, memory goes anyway
        const entry = manifest.segments[i]!
        await s.moveToDisk((file) => openSegmentFile(this.dir, entry, file))
      }
      this.persistedSeq = seq
      await this.wal.truncateUpTo(seq)
    })
    this.persisting = run.finally(() => {
      this.persisting = undefined
    })
    this.tail = this.persisting.catch(() => undefined)
    return this.persisting
  }

  /** Settles once every write submitted here before the call is applied (or failed). */
  private async settled(): Promise<void> {
    if (this.shared) await this.ownTail
    await this.tail
  }

  /** Runs `fn` on the update chain: after every update queued before it, before any queued after. */
  private onChain<T>(fn: () => T): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.catch(() => undefined)
    return run
  }

  /**
   * Starts the next due optimization (vacuum or merge, see optimizer.ts) in the background, unless
   * one is running. Called after open and after every write; a failed optimization changes nothing,
   * sets `optimizerStatus`, and is retried after the next write.
   */
  private scheduleOptimizers(): void {
    if (this.optimizing !== undefined || this.closed || this.failure) return
    const plan = planOptimization(
      this.segments,
      this.config,
      floatsPerPoint(this.config),
      this.holder.batchCapacity,
    )
    if (plan === undefined) return
    const started = performance.now()
    const record: Optimization = {
      uuid: randomUUID(),
      optimizer: plan.kind,
      status: 'optimizing',
      segments: plan.sources.map((s) => this.reportSegment(s)),
      progress: {
        name: plan.kind,
        startedAt: new Date().toISOString(),
        total: plan.sources.reduce((n, s) => n + s.pointCount, 0),
      },
    }
    this.runningOptimization = record
    const finish = (status: Optimization['status']) => {
      this.runningOptimization = undefined
      record.status = status
      record.progress.finishedAt = new Date().toISOString()
      record.progress.durationSec = (performance.now() - started) / 1000
      this.finishedOptimizations.push(record)
      if (this.finishedOptimizations.length > MAX_FINISHED_OPTIMIZATIONS) this.finishedOptimizations.shift()
    }
    const run = this.optimize(plan, record.uuid).then(
      (done) => {
        finish(
          done
            ? 'done'
            : { cancelled: this.closed ? 'the collection closed' : 'the collection config changed' },
        )
        if (!done) return
        this.optimizerStatus = 'ok'
        this.logger?.info(
          { collection: this.name, optimizer: plan.kind, ms: Math.round(performance.now() - started) },
          `collection ${this.name}: ${plan.kind} of ${plan.sources.length} segment(s) done`,
        )
      },
      (err: unknown) => {
        const message = `${plan.kind} failed: ${(err as Error).message}`
        finish({ error: message })
        this.optimizerStatus = { error: message }
        this.logger?.error(
          { collection: this.name, optimizer: plan.kind, err },
          `collection ${this.name}: ${message}`,
        )
      },
    )
    this.optimizing = run.finally(() => {
      this.optimizing = undefined
      if (this.optimizerStatus === 'ok') this.scheduleOptimizers()
    })
  }

  /**
   * Rebuilds `plan.sources` into one new segment without blocking reads or writes: on the update
   * chain, seals the appendable segment if it is a source and starts change tracking; copies the
   * live points in time slices (the HNSW graph is built afresh) and trains the new segment's
   * quantizer (if the collection has one) and IVF lists (if it uses IVF) on them; back on the chain, replays the
   * changes made meanwhile and swaps the new segment in atomically; then persists. Resolves false
   * when the collection closed first (nothing changed).
   */
  private async optimize(plan: OptimizationPlan, uuid: string): Promise<boolean> {
    const { sources } = plan
    // an optimization begun before a config change that needs other index data is abandoned (its
    // target is built for the old config); a change of search-time settings only is adopted at the swap
    const config = this.config
    const stale = () => this.closed || segmentNeedsRebuild(config, this.config)
    const ids = await this.onChain(() => {
      if (this.closed || this.failure || !sources.every((s) => this.segments.includes(s))) return undefined
      if (sources.includes(this.holder.appendable)) this.holder.seal()
      for (const s of sources) s.trackChanges()
      return sources.map((s) => s.matchingIds(null))
    })
    if (ids === undefined) return false
    let swapped = false
    try {
      const target = this.holder.newSegment(sources[0])
      target.reserve(ids.reduce((n, list) => n + list.length, 0))
      if (!(await copyPoints(sources, ids, target, stale))) return false
      target.trainQuantizer()
      target.trainIndex()
      swapped = await this.onChain(() => {
        // a config change landed meanwhile: the target was built for the old config
        if (stale() || this.failure) return false
        catchUp(sources, target)
        target.trainQuantizer()
        target.trainIndex()
        if (target.config !== this.config) {
          target.adoptConfig(this.config)
          this.configurePlanner(target)
        }
        this.holder.replace(sources, target)
        this.segmentIds.set(target, uuid)
        this.optimizationsCompleted[plan.kind]++
        return true
      })
    } finally {
      if (!swapped) for (const s of sources) s.takeChanges()
    }
    if (!swapped) return false
    await this.persistQuietly()
    return true
  }

  private logSelector(selector: ResolvedSelector): LoggedSelector {
    return 'ids' in selector ? { ids: selector.ids } : { filter: selector.filter }
  }

  /** Throws POINT_NOT_FOUND for a missing id, after the updates queued before this call are applied. */
  private async requireExisting(selector: ResolvedSelector): Promise<void> {
    if (!('ids' in selector)) return
    // with room in the update queue, so that submit() does not wait between this check and the WAL
    // append (a delete logged in between would make the checked write partial)
    do await this.settled()
    while (this.pending >= UPDATE_QUEUE_LIMIT)
    for (const id of selector.ids) {
      if (!this.segments.some((s) => s.has(id))) {
        throw new QuiverError(
          'POINT_NOT_FOUND',
          `no point with id ${JSON.stringify(id)} in collection ${this.name}`,
          {
            id,
          },
        )
      }
    }
  }

  /** Checks an upsert into its logged operation (null: nothing to write). `at`: path prefix of errors. */
  private upsertOp(points: readonly PointStruct[], at = ''): Operation | null {
    if (!Array.isArray(points)) throw invalid(`${at}points must be an array`)
    const logged = points.map((p, i) => {
      const where = `${at}points[${i}]`
      if (typeof p !== 'object' || p === null) throw invalid(`${where} must be an object`)
      const id = parsePointId(p.id, `${where}.id`)
      const vectors = toPointVectors(p.vector, this.config, `${where}.vector`)
      const payload = toPayload(p.payload, `${where}.payload`) ?? null
      return { id, ...logVectors(vectors), payload }
    })
    if (logged.length === 0) return null
    if (logged.length > this.holder.batchCapacity) {
      throw new QuiverError(
        'CAPACITY_EXCEEDED',
        `one upsert can carry at most ${this.holder.batchCapacity} points (one segment), got ${logged.length}; split the batch`,
      )
    }
    return { op: 'upsert', points: logged }
  }

  /** Submits a checked operation; null writes nothing and answers with the last applied seq. */
  private submitOp(op: Operation | null, write: ResolvedWrite): Promise<UpdateResult> {
    if (op === null) return Promise.resolve({ operationId: this.appliedSeq, status: 'completed' })
    return this.submit(op, write)
  }

  /**
   * Inserts points or replaces those whose id exists (vectors and payload). All-or-nothing: one
   * invalid point (dimension, NaN/Infinity, for Dot/Euclid/Manhattan a squared norm above
   * MAX_SQUARED_NORM, an unknown vector name, a missing required vector, bad id, payload not an
   * object) rejects the batch with INVALID_VECTOR / INVALID_POINT_ID / INVALID_PAYLOAD and writes nothing.
   * @example await docs.upsert([{ id: 1, vector: [0.1, 0.2, 0.3], payload: { lang: 'en' } }])
   * @example await docs.upsert([{ id: 2, vector: { text: [0.1, 0.2], bm25: { indices: [7, 42], values: [1, 0.5] } } }])
   */
  async upsert(points: readonly PointStruct[], options?: WriteOptions): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    return this.submitOp(this.upsertOp(points), write)
  }

  /**
   * Deletes points by ids (missing ids are ignored) or by filter.
   * @example await docs.delete({ filter: { must: [{ key: 'lang', match: { value: 'de' } }] } })
   */
  async delete(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    return this.submit({ op: 'delete', selector: this.logSelector(toSelector(selector)) }, write)
  }

  private updateVectorsOp(
    points: readonly { id: PointId; vector: VectorStruct }[],
    at = '',
  ): { op: Operation | null; ids: PointId[] } {
    if (!Array.isArray(points)) throw invalid(`${at}points must be an array`)
    const logged = points.map((p, i) => {
      const where = `${at}points[${i}]`
      if (typeof p !== 'object' || p === null) throw invalid(`${where} must be an object`)
      const id = parsePointId(p.id, `${where}.id`)
      const vectors = toPointVectors(p.vector, this.config, `${where}.vector`, { partial: true })
      if (vectors.dense.size + vectors.sparse.size === 0)
        throw new QuiverError('INVALID_VECTOR', `${where}.vector: no vector to update`)
      return { id, ...logVectors(vectors) }
    })
    const ids = logged.map((p) => p.id)
    return { op: logged.length === 0 ? null : { op: 'update_vectors', points: logged }, ids }
  }

  /**
   * Replaces the given vectors of existing points (Qdrant's `PUT /points/vectors`); each point's
   * other vectors and its payload stay. All-or-nothing: a bad vector (INVALID_VECTOR) or a missing
   * id (POINT_NOT_FOUND) rejects the batch and writes nothing.
   * @example await docs.updateVectors([{ id: 1, vector: { text: [0.1, 0.2] } }])
   */
  async updateVectors(
    points: readonly { id: PointId; vector: VectorStruct }[],
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { op, ids } = this.updateVectorsOp(points)
    if (op === null) return this.submitOp(null, write)
    await this.requireExisting({ ids })
    return this.submit(op, write)
  }

  private deleteVectorsOp(
    names: readonly string[],
    selector: PointSelector,
    at = '',
  ): { op: Operation; sel: ResolvedSelector } {
    if (!Array.isArray(names) || names.length === 0)
      throw invalid(`${at}vector must be a non-empty array of vector names`)
    names.forEach((name, i) => {
      const where = `${at}vector[${i}]`
      if (typeof name !== 'string') throw invalid(`${where} must be a vector name, got ${typeof name}`)
      if (!this.config.vectors.has(name) && !this.config.sparseVectors.has(name))
        throw vectorNameError(this.config, name, where)
      if (name === '' && this.config.vectors.size === 1 && this.config.sparseVectors.size === 0)
        throw invalid(`${where}: the unnamed vector is this collection's only vector and cannot be deleted`)
    })
    const sel = toSelector(selector, `${at}selector`)
    return { op: { op: 'delete_vectors', selector: this.logSelector(sel), names: [...new Set(names)] }, sel }
  }

  /**
   * Removes the named vectors from the selected points (Qdrant's `POST /points/vectors/delete`).
   * The unnamed vector of a collection that has one cannot be removed. Throws INVALID_ARGUMENT for
   * an unknown name, POINT_NOT_FOUND for a missing id.
   * @example await docs.deleteVectors(['image'], { ids: [1, 2] })
   */
  async deleteVectors(
    names: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { op, sel } = this.deleteVectorsOp(names, selector)
    await this.requireExisting(sel)
    return this.submit(op, write)
  }

  private setPayloadOp(
    payload: Payload,
    selector: PointSelector,
    options: SetPayloadOptions,
    at = '',
  ): { op: Operation; sel: ResolvedSelector } {
    const p = toPayload(payload, `${at}payload`) ?? {}
    const key = options.key === undefined || options.key === null ? null : toWriteKey(options.key, `${at}key`)
    const sel = toSelector(selector, `${at}selector`)
    return { op: { op: 'set_payload', selector: this.logSelector(sel), payload: p, key }, sel }
  }

  /**
   * Merges `payload` into the payload of the selected points (a `null` value deletes that key);
   * with `key`, merges into the object at that nested path. Throws POINT_NOT_FOUND for a missing id.
   * @example await docs.setPayload({ reviewed: true }, { ids: [1, 2] })
   */
  async setPayload(
    payload: Payload,
    selector: PointSelector,
    options: SetPayloadOptions = {},
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { op, sel } = this.setPayloadOp(payload, selector, options)
    await this.requireExisting(sel)
    return this.submit(op, write)
  }

  private overwritePayloadOp(
    payload: Payload,
    selector: PointSelector,
    at = '',
  ): { op: Operation; sel: ResolvedSelector } {
    const p = toPayload(payload, `${at}payload`) ?? {}
    const sel = toSelector(selector, `${at}selector`)
    return { op: { op: 'overwrite_payload', selector: this.logSelector(sel), payload: p }, sel }
  }

  /**
   * Replaces the whole payload of the selected points.
   * @example await docs.overwritePayload({ lang: 'en' }, { ids: [1] })
   */
  async overwritePayload(
    payload: Payload,
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { op, sel } = this.overwritePayloadOp(payload, selector)
    await this.requireExisting(sel)
    return this.submit(op, write)
  }

  private deletePayloadOp(
    keys: readonly string[],
    selector: PointSelector,
    at = '',
  ): { op: Operation; sel: ResolvedSelector } {
    if (!Array.isArray(keys)) throw invalid(`${at}keys must be an array of strings`)
    for (const [i, k] of keys.entries()) toWriteKey(k, `${at}keys[${i}]`)
    const sel = toSelector(selector, `${at}selector`)
    return { op: { op: 'delete_payload', selector: this.logSelector(sel), keys: [...keys] }, sel }
  }

  /**
   * Removes payload keys (dotted paths allowed) from the selected points.
   * @example await docs.deletePayload(['draft'], { ids: [1] })
   */
  async deletePayload(
    keys: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { op, sel } = this.deletePayloadOp(keys, selector)
    await this.requireExisting(sel)
    return this.submit(op, write)
  }

  /**
   * Removes the whole payload of the selected points.
   * @example await docs.clearPayload({ ids: [1] })
   */
  async clearPayload(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const sel = toSelector(selector)
    await this.requireExisting(sel)
    return this.submit({ op: 'clear_payload', selector: this.logSelector(sel) }, write)
  }

  /**
   * Several update operations applied in order as one write (Qdrant's `POST /points/batch`): one
   * WAL record, so after a crash either all of them or none are applied. Every operation is checked
   * before anything is written (errors name `operations[i]...`); ids an operation needs must exist
   * now or be upserted by an earlier operation of the batch (POINT_NOT_FOUND otherwise).
   * @example await docs.batchUpdate([{ upsert: { points: [{ id: 1, vector: v }] } }, { setPayload: { payload: { a: 1 }, selector: { ids: [1] } } }])
   */
  async batchUpdate(operations: readonly UpdateOperation[], options?: WriteOptions): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const { ops, needed } = this.parseBatch(operations)
    if (ops.length === 0) return this.submitOp(null, write)
    await this.assertNeeded(needed)
    return this.submit(ops.length === 1 ? ops[0]! : { op: 'batch', ops }, write)
  }

  /**
   * Checks `operations` as `batchUpdate` would and writes nothing: throws the error `batchUpdate`
   * would throw (INVALID_ARGUMENT, INVALID_VECTOR, INVALID_POINT_ID, INVALID_PAYLOAD,
   * CAPACITY_EXCEEDED; with `existing`, POINT_NOT_FOUND for an id an operation needs that is
   * missing now; with `strict`, STRICT_MODE / RATE_LIMITED as strict mode would refuse it now,
   * taking no token). A sharded collection checks every shard's part with this before writing any.
   */
  async validateBatch(
    operations: readonly UpdateOperation[],
    options: { existing: boolean; single?: boolean; strict?: boolean },
  ): Promise<void> {
    this.assertWritable()
    const { ops, needed } = this.parseBatch(operations, options.single === true)
    if (options.existing) await this.assertNeeded(needed)
    const guard = this.strict
    if (options.strict === true && guard !== null && ops.length > 0) {
      // the limits and the tokens the write would take, taking none
      const cost = this.strictWriteCost(guard, ops.length === 1 ? ops[0]! : { op: 'batch', ops })
      if (guard.limitsWrites) guard.checkWrite(cost)
    }
  }

  private notFound(id: PointId, where: string): QuiverError {
    return new QuiverError(
      'POINT_NOT_FOUND',
      `${where === '' ? '' : `${where}: `}no point with id ${JSON.stringify(id)} in collection ${this.name}`,
      { id },
    )
  }

  /** Throws POINT_NOT_FOUND for the first id of `needed` no segment holds, once the queued updates are applied. */
  private async assertNeeded(needed: readonly { id: PointId; at: string }[]): Promise<void> {
    if (needed.length === 0) return
    // with room in the update queue, so that submit() does not wait between this check and the append
    do await this.settled()
    while (this.pending >= UPDATE_QUEUE_LIMIT)
    for (const { id, at: where } of needed) {
      if (!this.segments.some((s) => s.has(id))) throw this.notFound(id, where)
    }
  }

  /**
   * `batchUpdate`'s operations checked into logged operations, and the ids they need to exist.
   * `single`: one operation of a single-operation method (`setPayload`, ...), whose error messages
   * carry no `operations[i].` path.
   */
  private parseBatch(
    operations: readonly UpdateOperation[],
    single = false,
  ): {
    ops: Operation[]
    needed: { id: PointId; at: string }[]
  } {
    if (!Array.isArray(operations)) throw invalid('operations must be an array')
    const ops: Operation[] = []
    // existence as the operations leave it, in order: ids upserted or deleted (by ids) earlier in
    // the batch; other ids must exist in the collection now (checked once everything is parsed)
    const touched = new Map<PointId, 'present' | 'gone'>()
    const needed: { id: PointId; at: string }[] = []
    let at = ''
    const notFound = (id: PointId, where: string) => this.notFound(id, where)
    const need = (sel: ResolvedSelector) => {
      if (!('ids' in sel)) return
      for (const id of sel.ids) {
        const state = touched.get(id)
        if (state === 'gone') throw notFound(id, `${at}selector`)
        if (state === undefined) needed.push({ id, at: single ? '' : `${at}selector` })
      }
    }
    operations.forEach((o, i) => {
      at = `operations[${i}]`
      if (typeof o !== 'object' || o === null || Object.keys(o).length !== 1)
        throw invalid(
          `${at}: expected exactly one of upsert, delete, setPayload, overwritePayload, deletePayload, clearPayload, updateVectors, deleteVectors`,
        )
      const [kind] = Object.keys(o) as (keyof UnionKeys<UpdateOperation>)[]
      const body = (o as Record<string, unknown>)[kind!] as Record<string, unknown>
      if (typeof body !== 'object' || body === null) throw invalid(`${at}.${kind}: expected an object`)
      const w = single ? '' : `${at}.${kind}.`
      at = w
      switch (kind) {
        case 'upsert': {
          const op = this.upsertOp(body.points as PointStruct[], w)
          if (op !== null && op.op === 'upsert') {
            for (const p of op.points) touched.set(p.id, 'present')
            ops.push(op)
          }
          return
        }
        case 'delete': {
          const sel = toSelector(body.selector as PointSelector, `${w}selector`)
          if ('ids' in sel) for (const id of sel.ids) touched.set(id, 'gone')
          ops.push({ op: 'delete', selector: this.logSelector(sel) })
          return
        }
        case 'setPayload': {
          const r = this.setPayloadOp(
            body.payload as Payload,
            body.selector as PointSelector,
            body as SetPayloadOptions,
            w,
          )
          need(r.sel)
          ops.push(r.op)
          return
        }
        case 'overwritePayload': {
          const r = this.overwritePayloadOp(body.payload as Payload, body.selector as PointSelector, w)
          need(r.sel)
          ops.push(r.op)
          return
        }
        case 'deletePayload': {
          const r = this.deletePayloadOp(body.keys as string[], body.selector as PointSelector, w)
          need(r.sel)
          ops.push(r.op)
          return
        }
        case 'clearPayload': {
          const sel = toSelector(body.selector as PointSelector, `${w}selector`)
          need(sel)
          ops.push({ op: 'clear_payload', selector: this.logSelector(sel) })
          return
        }
        case 'updateVectors': {
          const r = this.updateVectorsOp(body.points as { id: PointId; vector: VectorStruct }[], w)
          need({ ids: r.ids })
          if (r.op !== null) ops.push(r.op)
          return
        }
        case 'deleteVectors': {
          const r = this.deleteVectorsOp(body.names as string[], body.selector as PointSelector, w)
          need(r.sel)
          ops.push(r.op)
          return
        }
        default:
          throw invalid(`operations[${i}]: unknown operation ${JSON.stringify(kind)}`)
      }
    })
    return { ops, needed }
  }

  private record(
    segment: Segment,
    id: PointId,
    withPayload: PayloadProjection,
    withVector: WithVector,
  ): PointRecord {
    const rec: PointRecord = { id }
    const payload = projectPayload(segment.payload(id), withPayload)
    if (payload !== undefined) rec.payload = structuredClone(payload)
    const vector = this.vectorOutput(segment, segment.offsetOf(id)!, withVector)
    if (vector !== undefined) rec.vector = vector
    return rec
  }

  /**
   * The vectors of the point at `offset` as returned (Qdrant's shape): the unnamed vector alone as
   * numbers, otherwise an object by name (own properties: `Object.fromEntries`), only the names
   * asked for and held. Multivector rows as arrays; sparse as { indices, values }.
   */
  private vectorOutput(segment: Segment, offset: number, withVector: WithVector): VectorOutput | undefined {
    if (withVector === false) return undefined
    const names = withVector === true ? undefined : new Set(withVector)
    const dim = (name: string) => this.config.vectors.get(name)!
    const dense = (name: string): number[] | number[][] | undefined => {
      const v = segment.vectorAt(name, offset)
      if (v === undefined) return undefined
      const c = dim(name)
      if (c.multivector === undefined) return Array.from(v)
      const rows: number[][] = []
      for (let r = 0; r < v.length; r += c.dimension) rows.push(Array.from(v.subarray(r, r + c.dimension)))
      return rows
    }
    if (
      this.config.vectors.has('') &&
      this.config.vectors.size === 1 &&
      this.config.sparseVectors.size === 0
    ) {
      if (names !== undefined && !names.has('')) return undefined
      return dense('')
    }
    const out: [string, number[] | number[][] | { indices: number[]; values: number[] }][] = []
    for (const name of this.config.vectors.keys()) {
      if (names !== undefined && !names.has(name)) continue
      const v = dense(name)
      if (v !== undefined) out.push([name, v])
    }
    for (const name of this.config.sparseVectors.keys()) {
      if (names !== undefined && !names.has(name)) continue
      const v = segment.sparseAt(name, offset)
      if (v !== undefined) out.push([name, { indices: Array.from(v.indices), values: Array.from(v.values) }])
    }
    // only the unnamed vector: a plain array, as Qdrant answers
    if (out.length === 1 && out[0]![0] === '') return out[0]![1] as number[] | number[][]
    return Object.fromEntries(out)
  }

  private segmentOf(id: PointId): Segment | undefined {
    return this.holder.segmentOf(id)
  }

  /**
   * The points with these ids, in request order; missing ids are skipped. Default: payload yes, vector no.
   * @example const [p] = await docs.get([1], { withVector: true })
   */
  async get(ids: readonly PointId[], options: GetOptions = {}): Promise<PointRecord[]> {
    this.assertOpen()
    const parsed = toIds(ids)
    const withPayload = toWithPayload(options.withPayload, 'withPayload', true)
    const withVector = toWithVector(options.withVector, 'withVector')
    const deadline = Deadline.after(options.timeout, 'retrieve', this.clock)
    this.checkStrictRead(
      options.timeout,
      () => undefined,
      () => parsed.length,
    )
    const out: PointRecord[] = []
    const seen = new Set<PointId>()
    for (const id of parsed) {
      if (seen.has(id)) continue
      seen.add(id)
      const seg = this.segmentOf(id)
      if (seg) out.push(this.record(seg, id, withPayload, withVector))
    }
    deadline.check()
    return out
  }

  /**
   * Number of points matching the filter (all points without one). Exact.
   * @example const n = await docs.count({ filter: { must: [{ key: 'year', range: { gte: 2020 } }] } })
   */
  async count(options: CountOptions = {}): Promise<number> {
    this.assertOpen()
    const deadline = Deadline.after(options.timeout, 'count', this.clock)
    const filter = filterOf(options.filter, 'filter')
    const exact = toBool(options.exact, 'exact', true)
    this.checkStrictRead(
      options.timeout,
      (g, v) => g.stage({ filter, exact }, v),
      () => 1 + conditionCount(filter),
    )
    const unindexed = new Set<string>()
    let n = 0
    for (const s of this.segments) {
      deadline.check()
      n += s.count(filter, unindexed)
    }
    this.noteUnindexed(unindexed)
    return n
  }

  /**
   * Pages through points in id order (integers ascending, then UUIDs), optionally filtered.
   * Pass `nextPageOffset` back as `offset` for the next page. With `orderBy` (Qdrant's `order_by`),
   * in the order of a range-indexed field instead: a point once per distinct value (`orderValue`),
   * points without one left out, ties by id; page with `startFrom` (no `offset`, `nextPageOffset` null).
   * @example let page = await docs.scroll({ limit: 100 }); while (page.nextPageOffset !== null) ...
   */
  async scroll(options: ScrollOptions = {}): Promise<ScrollResult> {
    this.assertOpen()
    const deadline = Deadline.after(options.timeout, 'scroll', this.clock)
    const limit = toLimit(options.limit, 'limit', 10)
    const filter = filterOf(options.filter, 'filter')
    const ordered = options.orderBy !== undefined && options.orderBy !== null
    if (ordered && options.offset !== undefined && options.offset !== null)
      throw invalid(
        'Cannot use an `offset` when using `order_by`. The alternative for paging is to use `order_by.start_from` and a filter to exclude the IDs that you have already seen for the `order_by.start_from` value',
      )
    const order = ordered ? resolveOrderBy(options.orderBy!, 'orderBy') : undefined
    const start =
      options.offset === undefined || options.offset === null ? null : parsePointId(options.offset, 'offset')
    const withPayload = toWithPayload(options.withPayload, 'withPayload', true)
    const withVector = toWithVector(options.withVector, 'withVector')
    // only a limit the client gave is checked (as Qdrant), not the default
    this.checkStrictRead(
      options.timeout,
      (g, v) => g.stage({ limit: isAbsent(options.limit) ? undefined : limit, filter }, v),
      () => 1 + conditionCount(filter),
    )
    if (order !== undefined) return this.scrollOrdered(order, limit, filter, withPayload, withVector)
    // each segment contributes its first limit + 1 matches from `start`; together they hold the page
    const candidates: { id: PointId; segment: Segment }[] = []
    const unindexed = new Set<string>()
    for (const segment of this.segments) {
      deadline.check()
      const ids = segment.sortedIds(comparePointIds)
      let i = start === null ? 0 : lowerBound(ids, start)
      let matches: Bitset | null = null
      if (filter !== null) {
        const ex = segment.filterExecutor(filter)
        matches = ex.materialize()
        for (const k of ex.unindexed) unindexed.add(k)
      }
      for (let taken = 0; i < ids.length && taken <= limit; i++) {
        const id = ids[i]!
        if (matches !== null && !matches.has(segment.offsetOf(id)!)) continue
        candidates.push({ id, segment })
        taken++
      }
    }
    if (unindexed.size > 0) this.noteUnindexed(unindexed)
    if (this.segments.length > 1) candidates.sort((a, b) => comparePointIds(a.id, b.id))
    const points = candidates
      .slice(0, limit)
      .map((c) => this.record(c.segment, c.id, withPayload, withVector))
    const next = candidates[limit]?.id ?? null
    return { points, nextPageOffset: next }
  }

  /** `scroll` with `orderBy`: one record per (point, value), `nextPageOffset` always null (as Qdrant). */
  private scrollOrdered(
    order: ResolvedOrderBy,
    limit: number,
    filter: FilterNode | null,
    withPayload: PayloadProjection,
    withVector: WithVector,
  ): ScrollResult {
    const page = orderedPage(this.segments, order, limit, this.name, (s) => this.matchesOf(s, filter))
    const points = page.map((e) => ({
      ...this.record(e.segment, e.id, withPayload, withVector),
      orderValue: e.value,
    }))
    return { points, nextPageOffset: null }
  }

  /** The live offsets of `segment` matching `filter` (null = all); notes fields evaluated without an index. */
  private matchesOf(segment: Segment, filter: FilterNode | null): Bitset | null {
    if (filter === null) return null
    const ex = segment.filterExecutor(filter)
    const matches = ex.materialize()
    if (ex.unindexed.size > 0) this.noteUnindexed(ex.unindexed)
    return matches
  }

  /**
   * Counts the values of a payload field among the points matching `filter` (Qdrant's facet): the
   * `limit` (default 10) values held by the most points, by count descending then value ascending. A
   * point counts once per distinct value it holds. Needs a keyword, uuid, bool or integer (`lookup`)
   * index on `key` (INDEX_REQUIRED otherwise). Counts are always exact (`exact` is accepted).
   * @example const { hits } = await docs.facet({ key: 'city', limit: 3 }) // [{ value: 'Berlin', count: 12 }, ...]
   */
  async facet(options: FacetOptions): Promise<FacetResult> {
    this.assertOpen()
    if (typeof options !== 'object' || options === null)
      throw invalid('facet options must be an object with a key')
    if (typeof options.key !== 'string' || options.key.length === 0)
      throw invalid('key must be a non-empty string (the payload field to count)')
    const limit = toLimit(options.limit, 'limit', 10)
    const exact = toBool(options.exact, 'exact', false)
    const deadline = Deadline.after(options.timeout, 'facet', this.clock)
    const filter = filterOf(options.filter, 'filter')
    this.checkStrictRead(
      options.timeout,
      (g, v) => g.stage({ limit: isAbsent(options.limit) ? undefined : limit, filter, exact }, v),
      () => 1 + conditionCount(filter),
    )
    const hits = facetCounts(this.segments, options.key, limit, this.name, (s) => {
      deadline.check()
      return this.matchesOf(s, filter)
    })
    deadline.check()
    return { hits }
  }

  /**
   * Distance matrix of a random sample (Qdrant's search matrix): `sample` (default 10, >= 2) points
   * drawn among those matching `filter`, sorted by id, and for each its `limit` (default 3) nearest
   * other sampled points, found by the ordinary search restricted to the sample (`has_id`).
   * Fewer than 2 matching points give an empty result.
   * @example const { sampleIds, nearest } = await docs.searchMatrix({ sample: 100, limit: 5 })
   */
  async searchMatrix(options: SearchMatrixOptions = {}): Promise<SearchMatrixResult> {
    this.assertOpen()
    const deadline = Deadline.after(options.timeout, 'search matrix', this.clock)
    const sample = toLimit(options.sample, 'sample', DEFAULT_MATRIX_SAMPLE)
    if (sample < 2) throw invalid(`sample must be an integer >= 2, got ${sample}`)
    const limit = toLimit(options.limit, 'limit', DEFAULT_MATRIX_LIMIT)
    const using = options.using ?? ''
    if (typeof using !== 'string') throw invalid(`using must be a vector name, got ${typeof using}`)
    const space = this.space(using, 'using')
    if (space.kind === 'sparse') throw invalid('using: the distance matrix works on dense vectors')
    if (this.strict !== null) {
      const userFilter = filterOf(options.filter, 'filter')
      // Qdrant checks sample x limit only when the client gave both
      const asked = isAbsent(options.sample) || isAbsent(options.limit) ? undefined : sample * limit
      this.checkStrictRead(
        options.timeout,
        (g, v) => g.stage({ limit: asked, filter: userFilter }, v),
        () => sample + conditionCount(userFilter),
      )
    }
    const filter = filterOf(
      {
        must: [
          ...(options.filter === undefined || options.filter === null ? [] : [options.filter]),
          { has_vector: using },
        ],
      },
      'filter',
    )
    const unindexed = new Set<string>()
    const matching = this.segments.flatMap((s) => s.matchingIds(filter, unindexed))
    this.noteUnindexed(unindexed)
    const ids = sampleIds(matching, sample)
    if (ids.length < 2) return { sampleIds: [], nearest: [] }
    const among = filterOf({ must: [{ has_id: ids }] }, 'filter')
    const searches = ids.map((id) => {
      const vector = this.segmentOf(id)!.vector(using, id)!
      const p = this.prepareSearch(vector, { limit: limit + 1, using }, 'vector', true, deadline)
      return { ...p, filter: among }
    })
    const results = await Promise.all(searches.map((p) => this.runSearchAsync(p, true)))
    const nearest = results.map((hits, i) =>
      withoutSelf(hits, ids[i]!, limit).map((h) => ({ id: h.id, score: h.score })),
    )
    return { sampleIds: ids, nearest }
  }

  /**
   * k-nearest-neighbour search. `vector`: `dimension` finite numbers (for Dot/Euclid/Manhattan with
   * a squared norm of at most MAX_SQUARED_NORM, so every score is finite). Returns up to `limit` hits,
   * best first: Cosine/Dot score = similarity (higher is better), Euclid/Manhattan score = distance
   * (lower is better). Filtered results contain only matching points, always.
   * Throws INVALID_VECTOR, INVALID_FILTER, INVALID_ARGUMENT.
   * @example const hits = await docs.search(queryVector, { limit: 5, filter: { must: [{ key: 'lang', match: { value: 'en' } }] } })
   */
  async search(vector: SearchVector, options: SearchOptions = {}): Promise<ScoredPoint[]> {
    this.assertOpen()
    const deadline = Deadline.after(options?.timeout, 'Search', this.clock)
    const p = this.prepareSearch(vector, options, 'vector', false, deadline)
    this.checkStrictRead(
      options?.timeout,
      (g, v) => g.stage(this.searchLimits(p, options), v),
      () => this.searchCost(p),
    )
    const started = performance.now()
    const run = async () => {
      const seq = this.appliedSeq
      const q = p.target === undefined ? p : await this.withTargetEf(p)
      const hits =
        this.searchThreads || this.segmentsInParallel(q)
          ? await this.runSearchAsync(q, true)
          : this.runSearch(q)
      this.sampleRecall(q, hits, seq)
      return hits
    }
    try {
      return await this.cachedRead('search', () => [vector, untimed(options)], run, options)
    } finally {
      // failures and timeouts too: they are often the slowest
      this.sampler.latency(performance.now() - started)
    }
  }

  /**
   * Several searches in one call; each request carries its vector. All are validated before any runs.
   * @example const [a, b] = await docs.searchBatch([{ vector: v1, limit: 3 }, { vector: v2, limit: 3 }])
   */
  async searchBatch(requests: readonly SearchRequest[], options: ReadOptions = {}): Promise<ScoredPoint[][]> {
    this.assertOpen()
    if (!Array.isArray(requests)) throw invalid('requests must be an array')
    const deadline = Deadline.after(options?.timeout, 'Search', this.clock)
    const prepared = requests.map((r, i) =>
      this.prepareSearch(r?.vector, r ?? {}, `requests[${i}]`, false, deadline),
    )
    this.checkStrictRead(
      options?.timeout,
      (g, v) => {
        g.batchSize(requests.length)
        for (const [i, p] of prepared.entries()) g.stage(this.searchLimits(p, requests[i]!), v)
      },
      () => prepared.reduce((n, p) => n + this.searchCost(p), 0),
    )
    const run = async () => {
      const seq = this.appliedSeq
      const ready = await Promise.all(
        prepared.map((p) => (p.target === undefined ? p : this.withTargetEf(p))),
      )
      const all = await Promise.all(ready.map((p) => this.runSearchAsync(p, false)))
      for (const [i, hits] of all.entries()) this.sampleRecall(ready[i]!, hits, seq)
      return all
    }
    return this.cachedRead('searchBatch', () => requests, run, options)
  }

  /** The search space of vector `using`; throws INVALID_ARGUMENT naming `where` for an unknown name. */
  private space(using: string, where: string): SearchSpace {
    const dense = this.config.vectors.get(using)
    if (dense !== undefined) {
      const higherIsBetter = dense.metric === 'Cosine' || dense.metric === 'Dot'
      const multi = dense.multivector !== undefined
      return {
        using,
        kind: multi ? 'multi' : 'dense',
        higherIsBetter,
        // a multivector's distance is the sum of its rows' (Qdrant: Euclid score = sqrt of the summed squared L2)
        toScore: toScoreFn(dense.metric),
        idf: false,
      }
    }
    const sparse = this.config.sparseVectors.get(using)
    if (sparse !== undefined)
      return {
        using,
        kind: 'sparse',
        higherIsBetter: true,
        toScore: toScoreFn('sparse'),
        idf: sparse.modifier === 'idf',
      }
    throw vectorNameError(this.config, using, where)
  }

  /**
   * A query vector for `space`: dense numbers (a multivector's rows concatenated, normalised per row
   * for Cosine), or a sparse vector. `stored`: already a stored (checked, normalised) vector.
   */
  private queryVector(
    space: SearchSpace,
    vector: unknown,
    where: string,
    stored = false,
  ): Float32Array | SparseVector {
    if (space.kind === 'sparse') return toSparseValue(vector, where, 'query')
    const c = this.config.vectors.get(space.using)!
    if (stored) return vector as Float32Array
    if (space.kind === 'dense') return toVector(vector, c.dimension, c.metric, where)
    const rows = toDenseValue(vector, { ...c, datatype: 'float32' }, where)
    if (c.metric === 'Cosine') normalizeRows(rows, c.dimension)
    return rows
  }

  private prepareSearch(
    vector: unknown,
    options: SearchOptions,
    where: string,
    stored = false,
    deadline = Deadline.none,
  ) {
    const prefix = where === 'vector' ? '' : `${where}.`
    const using = options.using ?? ''
    if (typeof using !== 'string') throw invalid(`${prefix}using must be a vector name, got ${typeof using}`)
    const space = this.space(using, `${prefix}using`)
    const query = this.queryVector(space, vector, where === 'vector' ? 'vector' : `${where}.vector`, stored)
    const limit = toLimit(options.limit, `${prefix}limit`, 10)
    const offset = toOffset(options.offset, `${prefix}offset`)
    const ef =
      options.ef === undefined || options.ef === null
        ? (this.config.vectors.get(using)?.hnsw.ef ?? this.config.hnsw.ef)
        : toLimit(options.ef, `${prefix}ef`, 1)
    const nprobe =
      options.nprobe === undefined || options.nprobe === null
        ? undefined
        : toLimit(options.nprobe, `${prefix}nprobe`, 1)
    const exact = toBool(options.exact, `${prefix}exact`, false)
    const asked = toTargetRecall(options.targetRecall, `${prefix}targetRecall`)
    const explicitEf = options.ef !== undefined && options.ef !== null
    const target = explicitEf || exact ? undefined : (asked ?? this.config.searchConfig?.targetRecall)
    const quantization = toQuantizationParams(options.quantization, `${prefix}quantization`)
    const threshold = options.scoreThreshold ?? null
    if (threshold !== null && (typeof threshold !== 'number' || Number.isNaN(threshold))) {
      throw invalid(`${prefix}scoreThreshold must be a number`)
    }
    const filter = filterOf(options.filter, `${prefix}filter`)
    const withPayload = toWithPayload(options.withPayload, `${prefix}withPayload`, false)
    const withVector = toWithVector(options.withVector, `${prefix}withVector`)
    return {
      space,
      query,
      limit,
      offset,
      ef,
      nprobe,
      exact,
      quantization,
      threshold,
      filter,
      withPayload,
      withVector,
      deadline,
      target,
    }
  }

  /** The strict-mode limits of a prepared search (`ef` only when the request set it). */
  private searchLimits(p: PreparedSearch, options: SearchOptions) {
    return {
      limit: p.limit,
      filter: p.filter,
      ef: options.ef ?? undefined,
      exact: p.exact,
      oversampling: p.quantization?.oversampling ?? undefined,
    }
  }

  /** Read cost of a prepared search: its query vector's rows and its filter's conditions (Qdrant's `search_rate_cost`). */
  private searchCost(p: PreparedSearch): number {
    return this.strictView.queryRows(p.space.using, p.query) + conditionCount(p.filter)
  }

  private segmentSearchOptions(p: PreparedSearch, unindexed: Set<string> | undefined): SegmentSearchOptions {
    const k = p.limit + p.offset
    return {
      k,
      ef: Math.max(p.ef, k),
      nprobe: p.nprobe,
      exact: p.exact,
      filter: p.filter,
      unindexed,
      quantization: p.quantization,
    }
  }

  /** Searches every segment on this thread, then merges (into `raw` instead of the result when given). */
  private runSearch(p: PreparedSearch, raw?: Hit[]): ScoredPoint[] {
    const unindexed = p.filter === null ? undefined : new Set<string>()
    if (p.space.kind !== 'dense') return this.mergeHits(p, this.searchOther(p, unindexed), unindexed, raw)
    const options = this.segmentSearchOptions(p, unindexed)
    const q = p.query as Float32Array
    const results = this.segments.map((segment) => {
      p.deadline.check()
      return { segment, hits: segment.search(p.space.using, q, options) }
    })
    return this.mergeHits(p, results, unindexed, raw)
  }

  /** Sparse and multivector searches: per segment, exact (inverted lists / max-sim scan). */
  private searchOther(
    p: PreparedSearch,
    unindexed: Set<string> | undefined,
  ): { segment: Segment; hits: SegmentSearchResult }[] {
    const k = p.limit + p.offset
    const { using } = p.space
    if (p.space.kind === 'multi') {
      return this.segments.map((segment) => {
        p.deadline.check()
        return {
          segment,
          hits: {
            ...segment.searchMulti(using, p.query as Float32Array, k, p.filter, unindexed),
            plan: 'exact' as const,
            quantized: false,
          },
        }
      })
    }
    const query = p.query as SparseVector
    const weights = p.space.idf ? this.idfWeights(using, query) : undefined
    return this.segments.map((segment) => {
      p.deadline.check()
      const r = segment.searchSparse(using, query, k, p.filter, weights, unindexed)
      // scores -> the merge's distances (smaller is better)
      return {
        segment,
        hits: {
          offsets: r.offsets,
          distances: r.scores.map((x) => -x),
          plan: 'exact' as const,
          quantized: false,
        },
      }
    })
  }

  /**
   * IDF of each query index over the whole collection (Qdrant's modifier): N = points holding
   * sparse vector `using`, df = those whose vector has the index, summed over segments.
   */
  private idfWeights(using: string, query: SparseVector): Float32Array {
    let n = 0
    const df = new Float64Array(query.indices.length)
    for (const segment of this.segments) {
      const index = segment.sparseIndex(using)
      if (index === undefined) continue
      n += index.count
      for (let i = 0; i < query.indices.length; i++) df[i]! += index.df(query.indices[i]!)
    }
    return Float32Array.from(df, (d) => idf(n, d))
  }

  /**
   * True when a dense search of `p` should spread its segments over the core pool even without
   * `searchThreads`: at least two segments of PARALLEL_SEGMENT_MIN stored points (a search of each
   * costs more than a thread hop) and a pool to run them on.
   */
  private segmentsInParallel(p: PreparedSearch): boolean {
    if (p.space.kind !== 'dense' || this.callingThreadOnly) return false
    let big = 0
    for (const s of this.segments) if (s.storedCount >= PARALLEL_SEGMENT_MIN) big++
    return big >= 2 && (CorePool.shared()?.size ?? 0) > 0
  }

  /**
   * Searches the segments in parallel: on the core pool, except, with `inlineCheap`, the largest
   * segment's cheap calls (and small segments'), which run here meanwhile; then merges.
   */
  private async runSearchAsync(p: PreparedSearch, inlineCheap: boolean): Promise<ScoredPoint[]> {
    if (p.space.kind !== 'dense') return this.runSearch(p)
    const unindexed = p.filter === null ? undefined : new Set<string>()
    const options = this.segmentSearchOptions(p, unindexed)
    const q = p.query as Float32Array
    p.deadline.check()
    const segments = this.segments
    let largest = 0
    for (let i = 1; i < segments.length; i++)
      if (segments[i]!.storedCount > segments[largest]!.storedCount) largest = i
    const here = (i: number) =>
      inlineCheap && (i === largest || segments[i]!.storedCount < PARALLEL_SEGMENT_MIN)
    // the pool's segments are dispatched first, so their threads work while this one searches
    const order = segments.map((_, i) => i).sort((a, b) => Number(here(a)) - Number(here(b)))
    const found = new Array<SegmentSearchResult>(segments.length)
    try {
      await Promise.all(
        order.map(async (i) => {
          found[i] = await segments[i]!.searchAsync(p.space.using, q, options, here(i))
        }),
      )
    } catch (err) {
      this.assertOpen() // closed meanwhile (its files too): CLOSED, not the read that failed
      throw err
    }
    const results = segments.map((segment, i) => ({ segment, hits: found[i]! }))
    this.assertOpen()
    p.deadline.check()
    // a write or an optimizer swap landed while the threads searched and a hit is gone: answer as of
    // now, on this thread (rare), rather than return a point that no longer exists
    const current = this.segments
    for (const { segment, hits } of results) {
      if (!current.includes(segment)) return this.runSearch(p)
      const live = segment.live
      for (const o of hits.offsets) if (!live.has(o)) return this.runSearch(p)
    }
    return this.mergeHits(p, results, unindexed)
  }

  private mergeHits(
    p: PreparedSearch,
    results: { segment: Segment; hits: SegmentSearchResult }[],
    unindexed: Set<string> | undefined,
    raw?: Hit[],
  ): ScoredPoint[] {
    const k = p.limit + p.offset
    const merged: { segment: Segment; offset: number; distance: number }[] = []
    for (const { segment, hits } of results) {
      for (let i = 0; i < hits.offsets.length; i++) {
        merged.push({ segment, offset: hits.offsets[i]!, distance: hits.distances[i]! })
      }
    }
    if (unindexed !== undefined && unindexed.size > 0 && p.quiet !== true) this.noteUnindexed(unindexed)
    if (results.length > 1) merged.sort((a, b) => a.distance - b.distance)
    const out: ScoredPoint[] = []
    const end = Math.min(k, merged.length)
    for (let i = p.offset; i < end; i++) {
      const hit = merged[i]!
      const score = p.space.toScore(hit.distance)
      if (p.threshold !== null && (p.space.higherIsBetter ? score < p.threshold : score > p.threshold)) break
      const id = hit.segment.idAt(hit.offset)
      if (raw !== undefined) raw.push({ segment: hit.segment, offset: hit.offset, id, score })
      else out.push(this.scoredPoint(hit.segment, hit.offset, id, score, p.withPayload, p.withVector))
    }
    return out
  }

  private scoredPoint(
    segment: Segment,
    offset: number,
    id: PointId,
    score: number,
    withPayload: PayloadProjection,
    withVector: WithVector,
  ): ScoredPoint {
    const sp: ScoredPoint = { id, score, version: segment.versionAt(offset) }
    const payload = projectPayload(segment.payloadAt(offset), withPayload)
    if (payload !== undefined) sp.payload = structuredClone(payload)
    const vector = this.vectorOutput(segment, offset, withVector)
    if (vector !== undefined) sp.vector = vector
    return sp
  }

  /**
   * Qdrant's universal query (docs/rest-api.md#query): nearest neighbours of a vector or of a
   * stored point (`query: id`, that point excluded), MMR, recommend (`average_vector`,
   * `best_score`, `sum_scores`; example ids excluded), fusion of prefetches (`rrf`, weighted
   * `{ rrf: { k, weights } }`, `dbsf`), random sampling, `{ orderBy }` (a range-indexed field's order,
   * as `scroll({ orderBy })`, score 1, no scoreThreshold), `{ discover: { target, context } }` and
   * `{ context }` (Qdrant's scores over context pairs, computed exactly for every matching point),
   * or (no `query`) points in id order with score 0. `prefetch` stages (nested) run first; the query then ranks their candidates, and the
   * top-level `filter` applies to every prefetch. Everything is checked before anything runs:
   * a bad field throws INVALID_ARGUMENT / INVALID_VECTOR / INVALID_FILTER / INVALID_POINT_ID naming
   * its path (`query.recommend.positive[2]`); an example id that does not exist throws POINT_NOT_FOUND.
   * A plain nearest query runs exactly as `search`; other queries run on the calling thread.
   * @example const { points } = await docs.query({ query: [0.1, 0.2, 0.3], limit: 5 })
   * @example await docs.query({ query: 42, filter: { must: [{ key: 'lang', match: { value: 'en' } }] } })
   * @example await docs.query({ query: { nearest: v, mmr: { diversity: 0.5, candidatesLimit: 50 } }, limit: 10 })
   * @example await docs.query({ query: { recommend: { positive: [1, 2], negative: [3], strategy: 'best_score' } } })
   * @example await docs.query({ prefetch: [{ query: v1, limit: 50 }, { query: v2, limit: 50 }], query: { fusion: 'rrf' } })
   * @example await docs.query({ prefetch: { query: v, limit: 50 }, query: { formula: { sum: ['$score', { mult: [0.1, 'likes'] }] }, defaults: { likes: 0 } } })
   * @example await docs.query({ query: { orderBy: { key: 'price', direction: 'desc' } }, limit: 10 }) // orderValue on each hit
   * @example await docs.query({ query: { discover: { target: 7, context: [{ positive: 1, negative: 2 }] } } })
   */
  async query(request: QueryRequest = {}): Promise<QueryResult> {
    this.assertOpen()
    const deadline = Deadline.after(request?.timeout, 'Search', this.clock)
    const plan = QueryParser.parse(request, this.vectorSpaces)
    this.checkStrictRead(
      request?.timeout,
      (g, v) => g.plan(plan, v),
      () => planCost(plan, this.strictView),
    )
    const started = performance.now()
    const run = async () => ({ points: await this.runQuery(plan, true, deadline) })
    try {
      return await this.cachedRead(
        'query',
        () => (cacheable(plan) ? untimed(request) : undefined),
        run,
        request,
      )
    } finally {
      this.sampler.latency(performance.now() - started)
    }
  }

  /**
   * Several queries in one call; all are checked before any runs.
   * @example const [a, b] = await docs.queryBatch([{ query: v1 }, { query: 7, limit: 3 }])
   */
  async queryBatch(requests: readonly QueryRequest[], options: ReadOptions = {}): Promise<QueryResult[]> {
    this.assertOpen()
    if (!Array.isArray(requests)) throw invalid('requests must be an array')
    const deadline = Deadline.after(options?.timeout, 'Search', this.clock)
    const plans = requests.map((r, i) => QueryParser.parse(r, this.vectorSpaces, `requests[${i}]`))
    this.checkStrictRead(
      options?.timeout,
      (g, v) => {
        g.batchSize(plans.length)
        for (const plan of plans) g.plan(plan, v)
      },
      () => plans.reduce((n, plan) => n + planCost(plan, this.strictView), 0),
    )
    const run = async () => {
      const out: QueryResult[] = []
      for (const plan of plans) {
        deadline.check()
        out.push({ points: await this.runQuery(plan, false, deadline) })
      }
      return out
    }
    return this.cachedRead('queryBatch', () => (plans.every(cacheable) ? requests : undefined), run, options)
  }

  /** The query layer's view of vector `using`; throws INVALID_ARGUMENT naming `path` for an unknown name. */
  private readonly vectorSpaces: VectorSpaces = (using, path) => {
    const dense = this.config.vectors.get(using)
    if (dense !== undefined)
      return {
        kind: dense.multivector === undefined ? 'dense' : 'multi',
        dimension: dense.dimension,
        metric: dense.metric,
        config: dense,
      }
    if (this.config.sparseVectors.has(using))
      return { kind: 'sparse', dimension: 0, metric: 'sparse', config: undefined }
    throw vectorNameError(this.config, using, path)
  }

  /** Vector `using` stored at `offset` of `segment` (dense, multi or sparse), or undefined. */
  private storedVector(segment: Segment, using: string, offset: number): QueryVector | undefined {
    return this.config.sparseVectors.has(using)
      ? segment.sparseAt(using, offset)
      : segment.vectorAt(using, offset)
  }

  /**
   * Qdrant's query/groups: the hits of a query (as `query` takes it, without `offset`) grouped by the
   * value of the payload field `groupBy` (strings and integers; a point with an array joins the group
   * of each element; a point with no value, or any value of another type, joins none). Returns the
   * `limit` (default 10) groups with the best best hits, in that order, each with its best
   * `groupSize` (default 3) hits. Exact for the query's ranking: the ranked list is widened until
   * those groups are full or it runs out. Throws what `query` throws, and INVALID_ARGUMENT for
   * `groupBy`, `groupSize`, `limit` or an `offset`. Lookups in another collection: groups.ts `lookupGroups`.
   * @example const { groups } = await docs.queryGroups({ query: v, groupBy: 'author', groupSize: 2, limit: 5 })
   */
  async queryGroups(request: QueryGroupsRequest): Promise<GroupsResult> {
    this.assertOpen()
    const { options, query } = checkGroupRequest(request)
    const deadline = Deadline.after(request?.timeout, 'GroupBy', this.clock)
    const plan = QueryParser.parse(query, this.vectorSpaces)
    if (this.strict !== null) {
      // checked with the request's own filter (the plan's adds "groupBy is not empty")
      const asked = { ...plan, filter: filterOf(request.filter, 'filter') }
      this.checkStrictRead(
        request?.timeout,
        (g, v) => {
          g.groupBy(request.groupBy, v)
          g.plan(asked, v, options.groups * options.groupSize)
        },
        () => planCost(asked, this.strictView),
      )
    }
    const run = () => this.runGroups(plan, options, deadline)
    return this.cachedRead('groups', () => (cacheable(plan) ? untimed(request) : undefined), run, request)
  }

  private async runGroups(
    plan: QueryPlan,
    options: ReturnType<typeof checkGroupRequest>['options'],
    deadline: Deadline,
  ): Promise<GroupsResult> {
    const host = this.queryHostFor(await this.fetchLookups(plan), deadline)
    const live = this.segments.reduce((n, s) => n + s.pointCount, 0)
    const grouped = groupRanked(
      // past the live count every hit is in: asking for more would only grow the search's heaps
      (k) => this.queryHits(planForGroups(plan, Math.min(k, live + 1), options.groupSize), host, deadline),
      (h) => groupKeys(h.segment.payloadAt(h.offset), options.path),
      options,
    )
    return {
      groups: grouped.map((g) => ({
        id: g.id,
        hits: g.hits.map((h) => this.toScoredPoint(h, plan)),
      })),
    }
  }

  /** The ranked hits of `plan` on this thread (a plain nearest query runs as `search`). */
  private queryHits(plan: QueryPlan, host: QueryHost, deadline: Deadline): Hit[] {
    const vector = plainNearest(plan)
    if (vector === undefined) return new QueryRunner(host).run(plan)
    const raw: Hit[] = []
    this.runSearch(
      {
        space: this.space(plan.using, 'using'),
        query: vector,
        limit: plan.limit,
        offset: plan.offset,
        ...this.stageSearch(plan.using, plan.params),
        threshold: plan.threshold,
        filter: plan.filter,
        withPayload: false,
        withVector: false,
        deadline,
      },
      raw,
    )
    return raw
  }

  private toScoredPoint(h: Hit, plan: QueryPlan): ScoredPoint {
    const sp = this.scoredPoint(h.segment, h.offset, h.id, h.score, plan.withPayload, plan.withVector)
    if (h.orderValue !== undefined) sp.orderValue = h.orderValue
    return sp
  }

  private async runQuery(plan: QueryPlan, inlineCheap: boolean, deadline: Deadline): Promise<ScoredPoint[]> {
    const vector = plainNearest(plan)
    if (vector !== undefined) {
      const p: PreparedSearch = {
        space: this.space(plan.using, 'using'),
        query: vector,
        limit: plan.limit,
        offset: plan.offset,
        ...this.stageSearch(plan.using, plan.params),
        threshold: plan.threshold,
        filter: plan.filter,
        withPayload: plan.withPayload,
        withVector: plan.withVector,
        deadline,
      }
      const seq = this.appliedSeq
      const q = p.target === undefined ? p : await this.withTargetEf(p)
      const hits =
        this.searchThreads || !inlineCheap || this.segmentsInParallel(q)
          ? await this.runSearchAsync(q, inlineCheap)
          : this.runSearch(q)
      this.sampleRecall(q, hits, seq)
      return hits
    }
    const host = this.queryHostFor(await this.fetchLookups(plan), deadline)
    return new QueryRunner(host).run(plan).map((h) => this.toScoredPoint(h, plan))
  }

  /**
   * Fetches the example points a plan names with `lookup_from` from their collections (resolved by
   * the database that opened this one), as stored vectors by location and id. Throws
   * COLLECTION_NOT_FOUND for an unknown collection, INVALID_ARGUMENT when this collection was opened
   * without a database (nothing to look up in).
   */
  private async fetchLookups(plan: QueryPlan): Promise<Map<string, Map<PointId, VectorOutput>>> {
    const out = new Map<string, Map<PointId, VectorOutput>>()
    for (const { lookup, ids } of plan.lookups) {
      const resolve = this.resolveCollection
      if (resolve === undefined)
        throw invalid(
          `lookupFrom: collection ${this.name} was opened without a database to look ${lookup.collection} up in`,
        )
      const other = await resolve(lookup.collection)
      if (!other.config.vectors.has(lookup.vector) && !other.config.sparseVectors.has(lookup.vector))
        throw vectorNameError(other.config, lookup.vector, 'lookupFrom.vector')
      const found = new Map<PointId, VectorOutput>()
      for (const rec of await other.get(ids, { withPayload: false, withVector: [lookup.vector] })) {
        if (rec.vector !== undefined) found.set(rec.id, rec.vector)
      }
      out.set(`${lookup.collection}\u0000${lookup.vector}`, found)
    }
    return out
  }

  /**
   * A looked-up vector (VectorOutput of the other collection) as a query vector of this collection's
   * vector `using`; throws INVALID_ARGUMENT when its kind or size does not fit `using`.
   */
  private lookupQueryVector(raw: VectorOutput, lookup: LookupFrom, using: string): QueryVector | undefined {
    const value: unknown = Array.isArray(raw) ? raw : (raw as Record<string, unknown>)[lookup.vector]
    if (value === undefined) return undefined
    const where = `lookupFrom (${lookup.collection} vector ${JSON.stringify(lookup.vector)})`
    const space = this.space(using, 'using')
    return this.queryVector(space, value, where)
  }

  private readonly resolveCollection: ((name: string) => Promise<Collection>) | undefined

  private stageSearch(using: string, params: StageParams) {
    return {
      ef: params.ef ?? this.config.vectors.get(using)?.hnsw.ef ?? this.config.hnsw.ef,
      nprobe: params.nprobe,
      exact: params.exact,
      quantization: params.quantization,
      target:
        params.ef !== undefined || params.exact
          ? undefined
          : (params.targetRecall ?? this.config.searchConfig?.targetRecall),
    }
  }

  /** The collection as the query layer sees it (query.ts), with the `lookup_from` vectors fetched for the plan. */
  private queryHostFor(
    lookups: Map<string, Map<PointId, VectorOutput>> = new Map(),
    deadline = Deadline.none,
  ): QueryHost {
    const matching = (filter: FilterNode | null): Hit[] => {
      const out: Hit[] = []
      const unindexed = new Set<string>()
      for (const segment of this.segments) {
        deadline.check()
        for (const id of segment.matchingIds(filter, unindexed)) {
          out.push({ segment, offset: segment.offsetOf(id)!, id, score: 0 })
        }
      }
      if (unindexed.size > 0) this.noteUnindexed(unindexed)
      return out
    }
    return {
      checkDeadline: () => deadline.check(),
      space: (using) => this.vectorSpaces(using, 'using'),
      lookupVector: (lookup, id, using) => {
        const raw = lookups.get(`${lookup.collection}\u0000${lookup.vector}`)?.get(id)
        return raw === undefined ? undefined : this.lookupQueryVector(raw, lookup, using)
      },
      vectorOf: (using, id) => {
        const segment = this.holder.segmentOf(id)
        const offset = segment?.offsetOf(id)
        return offset === undefined ? undefined : this.storedVector(segment!, using, offset)
      },
      nearest: (using, vector, k, filter, threshold, params) => {
        const raw: Hit[] = []
        const p: PreparedSearch = {
          space: this.space(using, 'using'),
          query: vector,
          limit: k,
          offset: 0,
          ...this.stageSearch(using, params),
          threshold,
          filter,
          withPayload: false,
          withVector: false,
          deadline,
        }
        this.runSearch(p, raw)
        return raw
      },
      matching,
      scroll: (filter, k) => {
        const out = matching(filter).sort((a, b) => comparePointIds(a.id, b.id))
        return out.length > k ? out.slice(0, k) : out
      },
      vectorAt: (using, hit) => this.storedVector(hit.segment, using, hit.offset),
      weighted: (using, query) => {
        if (query instanceof Float32Array || this.config.sparseVectors.get(using)?.modifier !== 'idf')
          return query
        const w = this.idfWeights(using, query)
        return { indices: query.indices, values: query.values.map((x, i) => x * w[i]!) }
      },
      orderBy: (order, filter, k) =>
        orderedPage(this.segments, order, k, this.name, (s) => {
          deadline.check()
          return this.matchesOf(s, filter)
        }).map((e) => ({
          segment: e.segment,
          offset: e.segment.offsetOf(e.id)!,
          id: e.id,
          score: 1,
          orderValue: e.value,
        })),
    }
  }

  /**
   * A point-in-time image of the collection directory: the segments as of the last update
   * acknowledged before this call (taken between two updates, so never half of one), config,
   * manifest and an empty WAL. Written into an empty directory, it opens as this collection at that
   * seq. Holds a copy of the segments in memory while it lives.
   */
  async snapshotImage(): Promise<{ seq: number; files: ImageFile[] }> {
    this.assertOpen()
    return this.onChain(() => {
      const seq = this.appliedSeq
      return {
        seq,
        files: collectionImage(
          this.name,
          this.config,
          seq,
          this.segments.map((s) => ({ files: s.toFiles(), config: s.config })),
        ),
      }
    })
  }

  /** Resource figures: points, memory, disk, WAL, optimizer state (for metrics and telemetry). */
  stats(): CollectionStats {
    this.assertOpen()
    let points = 0
    let stored = 0
    let memory = 0
    let codes = 0
    let onDisk = 0
    for (const s of this.segments) {
      points += s.pointCount
      stored += s.storedCount
      memory += s.memoryBytes
      codes += s.quantizationBytes
      onDisk += s.onDiskVectorBytes
    }
    const walBytes = this.wal.byteLength
    return {
      pointsCount: points,
      storedCount: stored,
      segmentsCount: this.segments.length,
      memoryBytes: memory,
      ...([...this.config.vectors.values()].some((v) => v.quantization !== undefined)
        ? { quantizationBytes: codes }
        : {}),
      onDiskVectorBytes: onDisk,
      diskBytes: manifestBytes(this.manifest) + walBytes,
      walBytes,
      appliedSeq: this.appliedSeq,
      persistedSeq: this.persistedSeq,
      optimizer: {
        status: this.optimizerStatus,
        running: this.optimizing !== undefined,
        completed: { ...this.optimizationsCompleted },
      },
      queryCache: { ...this.cacheCounters },
    }
  }

  /**
   * The live recall@k estimates (CollectionOpenOptions.recallSampleRate): per vector name and query
   * class (unfiltered; filtered by selectivity bucket; quantized or not), the mean over the latest
   * 500 sampled searches of recall@k against exact search, with a 95% confidence interval. Empty
   * until a search was sampled.
   * @example const [e] = docs.recallEstimates() // { vector: '', class: 'unfiltered', estimate: 0.97, lower: 0.96, upper: 0.98, ... }
   */
  recallEstimates(): RecallEstimate[] {
    this.assertOpen()
    return this.sampler.estimates()
  }

  /** Resolves once the recall sampler's exact re-runs started so far have finished (tests, `quiver eval`). */
  async recallSamplesIdle(): Promise<void> {
    while (this.sampleRuns.size > 0) await Promise.allSettled([...this.sampleRuns])
  }

  /** p50 / p99 in milliseconds of the latest 2000 `search` / `query` calls; undefined before the first. */
  searchLatency(): { p50: number; p99: number; count: number } | undefined {
    this.assertOpen()
    return this.sampler.latencyPercentiles()
  }

  /**
   * `p` with the `ef` its recall target asks for (calibration.ts): the smallest calibrated ef whose
   * recall@10 reaches the target plus a margin, at least `limit + offset`, at most strict mode's
   * `search_max_hnsw_ef`; exact search when no ef up to 4096 reaches it. A vector without an HNSW graph (IVF, `m: 0`, sparse, multi) searches as it is.
   * The first search of a class waits for its calibration (tens of searches on the pool).
   */
  private async withTargetEf(p: PreparedSearch): Promise<PreparedSearch> {
    const dense = this.config.vectors.get(p.space.using)
    if (p.target === undefined || p.space.kind !== 'dense' || dense === undefined) return p
    if (dense.index?.type === 'ivf' || dense.hnsw.m === 0) return p
    // a filter matching fewer vectors than `fullScanThreshold` KiB is scanned exactly by every
    // segment whatever the ef: nothing to calibrate (a calibration of so few points is not kept,
    // and would be made again for every search)
    // (unquantized only: with codes a segment's scan scores codes and rescores, which is approximate)
    if (p.filter !== null && dense.quantization === undefined) {
      const scanned = (n: number) => (n * dense.dimension * 4) / 1024 < dense.hnsw.fullScanThreshold
      // the planner's estimate decides when it is clearly below (a quarter of the threshold: no
      // second evaluation of the filter on the search path); near it, the count does
      const filter = p.filter
      const estimate = this.strictView.estimate(filter)
      if (scanned(estimate * 4)) return p
      if (
        scanned(estimate / 2) &&
        scanned(this.segments.reduce((n, seg) => n + seg.matchingIds(filter).length, 0))
      )
        return p
    }
    const calibration = await this.calibrationFor(p)
    // too few matching points to measure: a filter that matches so few is searched exactly
    const chosen =
      calibration.queries < MIN_CALIBRATION_QUERIES
        ? 'exact'
        : chooseEf(calibration, p.target, p.limit + p.offset)
    const strict = this.strict?.config
    // beyond the graph's reach only exact search gets there (unless strict mode forbids it)
    if (chosen === 'exact' && strict?.searchAllowExact !== false) return { ...p, exact: true }
    let ef = chosen === 'exact' ? EF_LADDER[EF_LADDER.length - 1]! : chosen
    if (strict?.searchMaxHnswEf !== undefined) ef = Math.min(ef, strict.searchMaxHnswEf)
    return { ...p, ef }
  }

  /**
   * The calibration of `p`'s class (vector, filter selectivity bucket, quantization settings),
   * made when missing. A stale one (live points changed by 20%, segments rebuilt or merged, config
   * changed) keeps serving while its successor is made; a failed remake keeps it. A calibration
   * from fewer than MIN_CALIBRATION_QUERIES queries, or that went stale while it ran, serves the
   * search that asked for it and is not kept.
   */
  private async calibrationFor(p: PreparedSearch): Promise<Calibration> {
    const live = this.segments.reduce((n, s) => n + s.pointCount, 0)
    const bucket =
      p.filter === null
        ? 'unfiltered'
        : selectivityBucket(live === 0 ? 0 : this.strictView.estimate(p.filter) / live)
    const key = `${p.space.using}\u0000${bucket}\u0000${JSON.stringify(p.quantization ?? null)}`
    const known = this.calibrations.get(key)
    const fresh = (c: Calibration) =>
      !stale(c, live) && c.generation === this.holder.generation && c.config === this.config
    if (known?.done !== undefined && fresh(known.done)) return known.done
    if (known?.running !== undefined) return known.done ?? known.running
    const entry = known ?? {}
    const running = this.calibrate(p, live).then(
      (c) => {
        entry.running = undefined
        // kept unless the collection moved on meanwhile as far as would make it stale (steady
        // writes must not force a calibration per search)
        const liveNow = this.segments.reduce((n, s) => n + s.pointCount, 0)
        const current = c.generation === this.holder.generation && c.config === this.config
        if (c.queries >= MIN_CALIBRATION_QUERIES && current && !stale(c, liveNow)) entry.done = c
        return c
      },
      (err: unknown) => {
        entry.running = undefined
        if (entry.done === undefined && this.calibrations.get(key) === entry) this.calibrations.delete(key)
        throw err
      },
    )
    entry.running = running
    this.calibrations.set(key, entry)
    // a remake in the background while the stale one serves: its failure (a close meanwhile)
    // keeps the old one, and is nobody's to handle
    if (entry.done !== undefined) running.catch(() => undefined)
    return entry.done ?? running
  }

  /**
   * Measures recall@10 against `ef` (EF_LADDER) with up to CALIBRATION_QUERIES queries made from
   * points matching `p`'s filter (each moved off the stored points, see below) under that filter;
   * stops two rungs after recall reached 0.999.
   */
  private async calibrate(p: PreparedSearch, live: number): Promise<Calibration> {
    const seq = this.appliedSeq
    const generation = this.holder.generation
    const config = this.config
    const using = p.space.using
    const ids = sampleIds(
      this.segments.flatMap((s) => s.matchingIds(p.filter)),
      CALIBRATION_QUERIES,
    )
    const base: PreparedSearch = {
      ...p,
      limit: CALIBRATION_K + 1,
      offset: 0,
      threshold: null,
      withPayload: false,
      withVector: false,
      deadline: Deadline.none,
      quiet: true,
      target: undefined,
    }
    // A stored point as a query finds itself and its links at once: recall looks better than on
    // the user's queries. Each query is a stored point v moved away from its nearest neighbour u
    // by CALIBRATION_OFFSET of their distance: off the stored points, as a new query is.
    const cosine = this.config.vectors.get(using)?.metric === 'Cosine'
    const queries: PreparedSearch[] = []
    for (const id of ids) {
      const v = this.segmentOf(id)?.vector(using, id)
      if (v === undefined) continue
      const near = await this.runSearchAsync({ ...base, query: v, limit: 2, exact: true }, false)
      const other = near.find((h) => h.id !== id)
      const u = other === undefined ? undefined : this.segmentOf(other.id)?.vector(using, other.id)
      const q = Float32Array.from(v, (x, i) => (u === undefined ? x : x + CALIBRATION_OFFSET * (x - u[i]!)))
      if (cosine) {
        let sq = 0
        for (const x of q) sq += x * x
        const norm = Math.sqrt(sq)
        if (norm > 0) for (let i = 0; i < q.length; i++) q[i]! /= norm
      }
      queries.push({ ...base, query: q })
    }
    const truths = await Promise.all(
      queries.map(async (q) =>
        (await this.runSearchAsync({ ...q, exact: true }, false)).slice(0, CALIBRATION_K),
      ),
    )
    const points: CalibrationPoint[] = []
    let saturated = 0
    const maxEf = this.strict?.config.searchMaxHnswEf ?? Number.POSITIVE_INFINITY
    for (const ef of EF_LADDER) {
      if (ef > maxEf) break
      const answers = await Promise.all(
        queries.map(async (q) => (await this.runSearchAsync({ ...q, ef }, false)).slice(0, CALIBRATION_K)),
      )
      const recall =
        answers.length === 0
          ? 1
          : answers.reduce((n, a, i) => n + recallAtK(a, truths[i]!), 0) / answers.length
      points.push({ ef, recall })
      if (recall >= 0.999 && ++saturated >= 2) break
    }
    return { points, livePoints: live, queries: queries.length, seq, generation, config }
  }

  /**
   * Maybe (recallSampleRate, CPU budget, at most MAX_SAMPLES_IN_FLIGHT at once) re-runs the dense
   * search `p` exactly once the caller has its answer `hits`, and records recall@k of `hits`.
   * `seq`: the applied sequence when the search started; a write landing since voids the sample
   * (the two answers would see different points). Never throws.
   */
  private sampleRecall(p: PreparedSearch, hits: readonly ScoredPoint[], seq: number): void {
    if (p.exact || p.quiet === true || p.space.kind !== 'dense' || p.offset !== 0) return
    if (this.samplesInFlight >= MAX_SAMPLES_IN_FLIGHT) return
    const dense = this.config.vectors.get(p.space.using)
    // a vector without a graph or lists is always searched exactly: nothing to estimate
    if (dense === undefined || (dense.hnsw.m === 0 && dense.index?.type !== 'ivf')) return
    const rate = this.config.searchConfig?.recallSampleRate
    if (!this.sampler.shouldSample(rate, this.exactCostMs(dense.dimension))) return
    const given = hits.map((h) => ({ id: h.id, score: h.score }))
    this.samplesInFlight++
    const run: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runRecallSample(p, given, seq))
      .catch(() => undefined) // a sample that fails is dropped, never an unhandled rejection
      .finally(() => {
        this.samplesInFlight--
        this.sampleRuns.delete(run)
      })
    this.sampleRuns.add(run)
  }

  /** Estimated CPU milliseconds of the exact re-run of `p`: the floats it scans at ~500 per microsecond. */
  private exactCostMs(dimension: number): number {
    let points = 0
    for (const s of this.segments) points += s.pointCount
    return (points * dimension) / 500_000
  }

  private async runRecallSample(
    p: PreparedSearch,
    given: readonly { id: PointId; score: number }[],
    seq: number,
  ): Promise<void> {
    const started = performance.now()
    let parallel = 1
    try {
      if (this.closed || this.appliedSeq !== seq) return
      const using = p.space.using
      const quantized =
        this.config.vectors.get(using)?.quantization !== undefined && p.quantization?.ignore !== true
      let cls: Parameters<RecallSampler['record']>[0]
      if (p.filter === null) cls = { vector: using, class: 'unfiltered', quantized }
      else {
        const live = this.segments.reduce((n, s) => n + s.pointCount, 0)
        const fraction = live === 0 ? 0 : this.strictView.estimate(p.filter) / live
        cls = { vector: using, class: 'filtered', selectivity: selectivityBucket(fraction), quantized }
      }
      // segments are scanned in parallel on the pool: the CPU taken is up to that many times the wall time
      parallel = Math.max(1, Math.min(this.segments.length, CorePool.shared()?.size ?? 1))
      const truth = await this.runSearchAsync(
        { ...p, exact: true, withPayload: false, withVector: false, deadline: Deadline.none, quiet: true },
        false,
      )
      if (this.closed || this.appliedSeq !== seq) return
      this.sampler.record(cls, recallAtK(given, truth))
    } finally {
      this.sampler.charge((performance.now() - started) * parallel)
    }
  }

  /**
   * `compute`'s result, from the query cache when this collection's state has not changed since it
   * was stored (the key holds the applied sequence: any write makes older entries unreachable).
   * `request` gives what the result depends on besides the state (called only when the cache is on); undefined: not cacheable.
   */
  private async cachedRead<T>(
    kind: string,
    request: () => unknown,
    compute: () => Promise<T>,
    options: { cache?: boolean } | undefined,
  ): Promise<T> {
    const cache = this.queryCache
    if (cache === undefined || options?.cache === false) return compute()
    const asked = request()
    const text = asked === undefined ? undefined : requestKey(kind, asked)
    if (text === undefined) return compute()
    // segments rebuilt (a config change's reconfigure) or a failed apply answer differently too
    const key = `${this.instance}:${this.appliedSeq}:${this.holder.generation}:${this.cacheEpoch}:${text}`
    const hit = cache.get<T>(key)
    if (hit !== undefined) {
      this.cacheCounters.hits++
      return hit
    }
    const value = await compute()
    this.cacheCounters.misses++
    // a read finishing after close stores nothing (its entries were just released)
    if (!this.closed) cache.set(key, value, resultBytes(value))
    return value
  }

  private reportSegment(s: Segment): OptimizationSegment {
    let uuid = this.segmentIds.get(s)
    if (uuid === undefined) {
      uuid = randomUUID()
      this.segmentIds.set(s, uuid)
    }
    return { uuid, pointsCount: s.pointCount }
  }

  /**
   * Qdrant's optimization progress: the running optimization (at most one: optimizers run one at a
   * time), with `queued` the next due one (an estimate: each one is planned when the previous
   * finishes), with `completedLimit` the latest finished ones (newest first, at most 64 kept), with
   * `idleSegments` the segments neither running nor queued. Segment UUIDs are given when a segment
   * is first reported (not persisted). Throws INVALID_ARGUMENT for a bad `completedLimit`.
   * @example const { running, summary } = docs.optimizations({ queued: true })
   */
  optimizations(options: OptimizationsOptions = {}): OptimizationsReport {
    this.assertOpen()
    const limit = options.completedLimit ?? 0
    if (!Number.isInteger(limit) || limit < 0)
      throw invalid(`completedLimit must be an integer >= 0, got ${JSON.stringify(limit)}`)
    const running = this.runningOptimization === undefined ? [] : [structuredClone(this.runningOptimization)]
    const busy = new Set(this.runningOptimization?.segments.map((s) => s.uuid))
    const plan =
      this.runningOptimization === undefined && !this.closed && this.failure === undefined
        ? planOptimization(this.segments, this.config, floatsPerPoint(this.config), this.holder.batchCapacity)
        : undefined
    const queued =
      plan === undefined
        ? []
        : [{ optimizer: plan.kind, segments: plan.sources.map((s) => this.reportSegment(s)) }]
    for (const q of queued) for (const s of q.segments) busy.add(s.uuid)
    const idle = this.segments.map((s) => this.reportSegment(s)).filter((s) => !busy.has(s.uuid))
    const report: OptimizationsReport = {
      summary: {
        queuedOptimizations: queued.length,
        queuedSegments: queued.reduce((n, q) => n + q.segments.length, 0),
        queuedPoints: queued.reduce((n, q) => n + q.segments.reduce((m, s) => m + s.pointsCount, 0), 0),
        idleSegments: idle.length,
      },
      running,
    }
    if (options.queued === true) report.queued = queued
    if (limit > 0)
      report.completed = this.finishedOptimizations
        .slice(-limit)
        .reverse()
        .map((o) => structuredClone(o))
    if (options.idleSegments === true) report.idleSegments = idle
    return report
  }

  /** Qdrant's collection cluster info of a collection that is one shard: shard 0, local, `Active`. */
  async clusterInfo(): Promise<CollectionClusterInfo> {
    this.assertOpen()
    const pointsCount = this.segments.reduce((n, s) => n + s.pointCount, 0)
    return { shardCount: 1, localShards: [{ shardId: 0, pointsCount, state: 'Active' }], remoteShards: [] }
  }

  /** Point counts and config, Qdrant's collection info in engine terms. */
  async info(): Promise<CollectionInfo> {
    this.assertOpen()
    const points = this.segments.reduce((n, s) => n + s.pointCount, 0)
    return {
      name: this.name,
      // red: writes stopped after a failed apply; yellow: the last background persist failed
      status: this.failure ? 'red' : this.pendingWork() ? 'yellow' : 'green',
      optimizerStatus: this.optimizerStatus,
      pointsCount: points,
      indexedVectorsCount: points,
      segmentsCount: this.segments.length,
      config: this.config,
      payloadSchema: this.payloadSchema(),
      unindexedFilterFields: Object.fromEntries(this.unindexedCounts),
      updateQueue: { length: this.pending },
      recallEstimates: this.sampler.estimates(),
    }
  }

  /** An optimization runs or is due, or the last background persist failed. */
  private pendingWork(): boolean {
    return (
      this.persistError !== undefined ||
      this.optimizing !== undefined ||
      planOptimization(this.segments, this.config, floatsPerPoint(this.config), this.holder.batchCapacity) !==
        undefined
    )
  }

  /**
   * Resolves when no optimization is running or due (tests, benchmarks, `quiver` tools). Throws
   * INTERNAL with the optimizer's error if one failed.
   */
  async waitForOptimizers(): Promise<void> {
    this.assertOpen()
    this.scheduleOptimizers()
    for (let running = this.optimizing; running !== undefined; running = this.optimizing) {
      await running
      this.assertOpen()
      // a failed optimization is not retried here (the next write retries it)
      if (this.optimizerStatus !== 'ok') break
    }
    if (this.optimizerStatus !== 'ok') {
      throw new QuiverError('INTERNAL', `collection ${this.name}: ${this.optimizerStatus.error}`)
    }
  }

  /** Payload indexes by field, summed over segments; keyed through a `Map` (fields are user strings). */
  private payloadSchema(): Record<string, PayloadIndexInfo> {
    const byField = new Map<string, PayloadIndexInfo>()
    for (const segment of this.segments) {
      for (const [field, fi] of segment.payloadIndexes) {
        const info = byField.get(field)
        if (info === undefined)
          byField.set(field, { dataType: fi.type, params: fi.spec.params, points: fi.pointCount })
        else info.points += fi.pointCount
      }
    }
    // fromEntries defines own properties: no key reaches a prototype
    return Object.fromEntries(byField)
  }

  /**
   * Changes the collection's parameters while it serves (Qdrant's `PATCH /collections/{name}`):
   * HNSW and optimizer settings, quantization (set, change, or `null` to remove), per dense vector
   * `hnsw` / `quantization` / `onDisk`, per sparse vector `modifier` / `fullScanThreshold` /
   * `onDisk`, deployment `params`. The change is one WAL record (durable, replayed in order with
   * the writes around it) and applies at once; segments whose index data it changes (HNSW `m` /
   * `efConstruct`, quantization) are rebuilt afterwards by the optimizers, one at a time with the
   * usual atomic swap, while `info().status` is `yellow` (`waitForOptimizers()` waits for them).
   * Reads and writes go on meanwhile; each segment answers either as built before or as rebuilt.
   * An update that changes nothing is not logged. Throws INVALID_CONFIG naming the field (nothing
   * changes), CLOSED.
   */
  async updateConfig(update: CollectionUpdate): Promise<UpdateResult> {
    this.assertWritable()
    // computed from the config every earlier change left (changes are logged one at a time)
    const run = this.configChain.then(async (): Promise<UpdateResult> => {
      const next = applyCollectionUpdate(this.config, update)
      // a strict-mode change refills the rate limiters, even one that changes nothing (as Qdrant)
      const refill = () => {
        if (update.strictMode !== undefined && update.strictMode !== null) this.refillStrict()
      }
      if (sameConfig(next, this.config)) {
        refill()
        return { operationId: this.appliedSeq, status: 'completed' }
      }
      const result = await this.submit({ op: 'update_collection', config: configToJson(next) })
      refill()
      return result
    })
    this.configChain = run.catch(() => undefined)
    return run
  }

  /**
   * Creates the payload index of `field` (replacing an existing one) and builds it over the stored
   * points; it is then kept in sync on every write, persisted with the segments and used by the
   * query planner. `schema`: a type name (`keyword`, `integer`, `float`, `bool`, `datetime`, `uuid`,
   * `text`, `geo`) or Qdrant's params object. Throws INVALID_ARGUMENT for a bad field key or schema.
   * @example await docs.createPayloadIndex('lang', 'keyword')
   * @example await docs.createPayloadIndex('body', { type: 'text', tokenizer: 'word', lowercase: true })
   */
  async createPayloadIndex(
    field: string,
    schema: PayloadFieldSchema,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    const spec = parseFieldSchema(field, schema, 'field_schema')
    return this.submit({ op: 'create_index', field: spec.field, params: spec.params }, write)
  }

  /**
   * Drops the payload index of `field`; filters on it are then evaluated point by point. A no-op
   * when there is none.
   * @example await docs.deletePayloadIndex('lang')
   */
  async deletePayloadIndex(field: string, options?: WriteOptions): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    if (typeof field !== 'string' || field.length === 0)
      throw invalid('field_name must be a non-empty string')
    return this.submit({ op: 'delete_index', field }, write)
  }

  /** Graph self-check of every segment (tests and `quiver` diagnostics). */
  checkIntegrity(): { ok: boolean; problems: string[] } {
    const problems: string[] = []
    this.segments.forEach((s, i) => {
      for (const name of this.config.vectors.keys()) {
        const r = s.indexOf(name)?.checkIntegrity()
        if (r !== undefined && !r.ok)
          problems.push(
            `segment ${i}${name === '' ? '' : ` vector ${JSON.stringify(name)}`}: offset ${r.node}: ${r.reason}`,
          )
      }
    })
    return { ok: problems.length === 0, problems }
  }

  /** Waits for queued updates, persists segments, closes the WAL. Later calls throw CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.queryCache?.deletePrefix(`${this.instance}:`)
    if (this.shared) await this.stopFollowing()
    try {
      await Promise.allSettled(this.sampleRuns)
      await this.optimizing // stops at its next time slice
      await this.tail
      await this.persist()
    } finally {
      await this.wal.close()
      for (const s of this.segments) s.close()
    }
  }

  /** Closes without persisting (the collection is about to be dropped). */
  async closeWithoutPersist(): Promise<void> {
    this.closed = true
    this.queryCache?.deletePrefix(`${this.instance}:`)
    if (this.shared) await this.stopFollowing()
    await Promise.allSettled(this.sampleRuns)
    await this.optimizing
    await this.tail
    await this.wal.close()
    for (const s of this.segments) s.close()
  }

  /**
   * Ends the follow loop of a shared log (closing the log ends its consumer; a closed log still
   * answers the persist's `truncateUpTo`, a no-op when shared) and fails the writes still waiting.
   */
  private async stopFollowing(): Promise<void> {
    await this.wal.close()
    await this.following
    this.settleWaiters(
      new QuiverError(
        'CLOSED',
        `collection ${this.name} closed before applying the write; it is in the log and is applied when the collection opens again`,
      ),
    )
  }

  /** After `closeWithoutPersist`: removes the log's storage outside the directory (a JetStream stream). */
  async destroyLog(): Promise<void> {
    await this.wal.destroy?.()
  }
}

// Shards hosted by other nodes (issue 14, docs/cluster.md "Shard placement"). A collection whose
// shards are placed on some nodes only holds, on every other node, a RemoteShard per shard it does
// not host: the same `Shard` interface, each call sent over the ShardTransport seam
// (src/storage/transport.ts) to a live node hosting that shard, which answers with
// `answerShardRequest` below. The router (router.ts, query-router.ts) cannot tell a remote shard
// from a local one. Whoever may publish on `QUIVER.rpc.>` can call these: restrict it with NATS
// subject permissions (docs/cluster.md).
//
// Wire: a request is `v8.serialize({ m, a, s? })` (method name, argument list, stale answer
// allowed); the answer is
// `v8.serialize({ r })` (the result) or `v8.serialize({ e: { code, message, details } })` (a
// QuiverError, rebuilt as one on the asking node). v8's structured-clone format carries typed
// arrays (vectors) as they are; both ends are Quiver nodes of one cluster (trusted peers on NATS).
// A read is answered once the serving replica caught up with the shard's log (the read barrier);
// a replica that cannot within `readBarrierMs` says so and the next is asked, so a read through
// any node sees every write acknowledged before it while one replica is caught up (when none is,
// the first answers what it has, as a node answers its own reads then).
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { deserialize, serialize } from 'node:v8'
import { resolveWrite, SHARED_APPLY_WAIT_MS } from '../collection/deadline.js'
import { ERROR_CODES, type ErrorCode, QuiverError } from '../errors.js'
import { type ShardTransport, TransportError } from '../storage/transport.js'
import type {
  CollectionClusterInfo,
  CollectionConfig,
  CollectionInfo,
  CollectionStats,
  CollectionUpdate,
  CountOptions,
  FacetOptions,
  FacetResult,
  GetOptions,
  GroupsResult,
  OptimizationsReport,
  Payload,
  PayloadFieldSchema,
  PointId,
  PointRecord,
  PointSelector,
  PointStruct,
  QueryGroupsRequest,
  QueryRequest,
  QueryResult,
  ReadOptions,
  RecallEstimate,
  ScoredPoint,
  ScrollOptions,
  ScrollResult,
  SearchMatrixOptions,
  SearchMatrixResult,
  SearchOptions,
  SearchRequest,
  SearchVector,
  SetPayloadOptions,
  UpdateOperation,
  UpdateResult,
  VectorStruct,
  WriteOptions,
} from '../types.js'
import type { ImageFile, Shard } from './shard-set.js'

/**
 * Default milliseconds a read waits for one replica before asking the next: long, as a replica
 * that dies or stops meanwhile is noticed sooner by the probe (`RemoteShard.probed`).
 */
export const SHARD_READ_TIMEOUT_MS = 30_000
/** Milliseconds a write waits for one replica to make it durable before it is sent to the next (the same `writeId`). */
const SHARD_APPEND_ATTEMPT_MS = 5000
/** Milliseconds a retry-safe call keeps going round the replicas (a JetStream publish retried through a leader election takes ~11 s). */
const SHARD_RETRY_BUDGET_MS = 30_000

/** Milliseconds between probes of a replica that has not answered yet (`RemoteShard.probed`). */
const PROBE_MS = 500

/** The calls a replica answers, and whether each is a read (waits for the read barrier first). */
const METHODS: ReadonlyMap<string, 'read' | 'write' | 'other'> = new Map([
  ['get', 'read'],
  ['count', 'read'],
  ['scroll', 'read'],
  ['facet', 'read'],
  ['searchMatrix', 'read'],
  ['search', 'read'],
  ['searchBatch', 'read'],
  ['query', 'read'],
  ['queryBatch', 'read'],
  ['queryGroups', 'read'],
  ['info', 'read'],
  ['validateBatch', 'read'],
  ['batchUpdate', 'write'],
  ['upsert', 'write'],
  ['delete', 'write'],
  ['updateVectors', 'write'],
  ['deleteVectors', 'write'],
  ['setPayload', 'write'],
  ['overwritePayload', 'write'],
  ['deletePayload', 'write'],
  ['clearPayload', 'write'],
  ['updateConfig', 'write'],
  ['createPayloadIndex', 'write'],
  ['deletePayloadIndex', 'write'],
  ['catchUp', 'other'],
  ['config', 'other'],
  ['ping', 'other'],
])

/** A probe: answered at once by any node serving the shard. */
export const SHARD_PING: Uint8Array = serialize({ m: 'ping', a: [] })

/**
 * The topic a shard is served under: its log id (a JetStream stream name) when that is a short
 * subject token, else `h` + 32 hex digits of its SHA-256 (a long collection name's stream).
 */
export function shardTopic(logId: string): string {
  return /^[A-Za-z0-9_-]{1,100}$/.test(logId)
    ? logId
    : `h${createHash('sha256').update(logId).digest('hex').slice(0, 32)}`
}

/**
 * Refuses arguments that structured clone can carry but JSON cannot: sparse arrays (a few bytes
 * can say "length 2^32 - 1" and stall whoever walks it) and nesting over 64 levels.
 */
function checkDense(v: unknown, depth = 0): void {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return
  if (depth > 64) throw new QuiverError('INVALID_ARGUMENT', 'a shard request nests over 64 levels')
  if (Array.isArray(v)) {
    if (Object.keys(v).length !== v.length)
      throw new QuiverError('INVALID_ARGUMENT', 'a shard request holds a sparse array')
    for (const x of v) checkDense(x, depth + 1)
    return
  }
  for (const x of Object.values(v)) checkDense(x, depth + 1)
}

interface WireError {
  code: string
  message: string
  details?: Record<string, unknown> | undefined
}

function answerError(err: unknown): Uint8Array {
  const e: WireError =
    err instanceof QuiverError
      ? {
          code: err.code,
          message: err.message,
          details: err.details === undefined ? undefined : { ...err.details },
        }
      : { code: 'INTERNAL', message: `a remote shard failed: ${(err as Error)?.message ?? String(err)}` }
  try {
    return serialize({ e })
  } catch {
    return serialize({ e: { code: e.code, message: e.message } })
  }
}

/** Options of {@link answerShardRequest}. */
export interface ServeShardOptions {
  /**
   * Awaited before a read is answered: catches up with the shard's log (bounded; the database's
   * read barrier) and resolves whether it did; false answers SHARD_UNAVAILABLE `{ behind: true }`
   * unless the request allows a stale answer.
   */
  barrier?: () => Promise<boolean>
  /** The largest answer, bytes (the transport's `maxBodyBytes`). */
  maxAnswerBytes: number
}

/**
 * Answers one request `body` for `shard` (see the file comment): decodes it, refuses a method not
 * in the allowlist or malformed arguments with INVALID_ARGUMENT, runs the call (the shard checks
 * its arguments as the embedded API does) and encodes the result or the error. Never throws.
 */
export async function answerShardRequest(
  shard: Shard,
  body: Uint8Array,
  options: ServeShardOptions,
): Promise<Uint8Array> {
  try {
    let req: unknown
    try {
      req = deserialize(body)
    } catch {
      throw new QuiverError('INVALID_ARGUMENT', 'a shard request is not a Quiver shard request')
    }
    const m = (req as { m?: unknown } | null)?.m
    const a = (req as { a?: unknown } | null)?.a
    const kind = typeof m === 'string' ? METHODS.get(m) : undefined
    if (kind === undefined || !Array.isArray(a) || a.length > 4)
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `a shard request names no call this node answers: ${JSON.stringify(m)}`,
      )
    checkDense(a)
    // a replica behind its log says so (the asker tries another) unless told stale answers will do
    const stale = (req as { s?: unknown }).s === true
    if (kind === 'read' && options.barrier !== undefined && !(await options.barrier()) && !stale)
      throw new QuiverError('SHARD_UNAVAILABLE', 'this replica has not caught up with the shard log', {
        behind: true,
      })
    let result: unknown
    if (m === 'config') result = shard.config
    else if (m === 'ping') result = true
    else
      result = await (shard as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[
        m as string
      ]!(...a)
    const out = serialize({ r: result })
    if (out.byteLength > options.maxAnswerBytes)
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `the answer of a remote shard is ${out.byteLength} bytes, over the cluster's message limit (NATS max_payload ${options.maxAnswerBytes}); ask for fewer points (limit) or less of each (with_payload, with_vector), or raise max_payload`,
      )
    return out
  } catch (err) {
    return answerError(err)
  }
}

/** Where a RemoteShard sends its calls. */
export interface RemoteShardOptions {
  /** The collection's name (messages). */
  name: string
  /** This shard's id (0 .. shard_number - 1). */
  shardId: number
  /** The shard's log id: the topic its replicas serve. */
  logId: string
  /** The shard's config as its log's first record gave it (kept fresh from replicas' answers). */
  config: CollectionConfig
  /** The node ids hosting this shard. */
  replicas: readonly string[]
  transport: ShardTransport
  /** Milliseconds a read waits for one replica before asking the next (default SHARD_READ_TIMEOUT_MS). */
  readTimeoutMs?: number
  /** Qdrant's numeric peer id of a node id (clusterInfo). */
  peerIdOf?: (nodeId: string) => number
  /** Removes the shard's log (the collection is dropped through this node). */
  destroyLog?: () => Promise<void>
}

/** A shard hosted on other nodes; see the file comment. */
export class RemoteShard implements Shard {
  readonly name: string
  readonly shardId: number
  readonly replicas: readonly string[]
  private currentConfig: CollectionConfig
  private next = 0
  private closed = false

  constructor(private readonly options: RemoteShardOptions) {
    this.name = options.name
    this.shardId = options.shardId
    this.replicas = [...options.replicas]
    this.currentConfig = options.config
  }

  get config(): CollectionConfig {
    return this.currentConfig
  }

  get logId(): string {
    return this.options.logId
  }

  get logIds(): readonly string[] {
    return [this.options.logId]
  }

  /** The live replicas to ask, a different one first each call (spreading reads). */
  private candidates(): string[] {
    const live = this.options.transport.liveNodes()
    const self = this.options.transport.nodeId
    const up = this.replicas.filter((n) => n !== self && live.has(n))
    const start = this.next++ % Math.max(1, up.length)
    return [...up.slice(start), ...up.slice(0, start)]
  }

  private unavailable(why: string): QuiverError {
    return new QuiverError(
      'SHARD_UNAVAILABLE',
      `collection ${this.name}: shard ${this.shardId} is hosted on ${this.replicas.join(', ')}, and ${why}`,
      { shardId: this.shardId, replicas: [...this.replicas] },
    )
  }

  /**
   * Sends `m(...a)` to a live replica and returns its result. A read, and a write that carries a
   * `writeId` (`retrySafe`: stored once however often it is sent), go on to the next replica when
   * one is gone or does not answer in time; another write only when it never reached the replica
   * (a timed-out one may have been applied: SHARD_UNAVAILABLE says so). Throws the replica's error
   * as it threw it, SHARD_UNAVAILABLE when no replica answered.
   */
  private async call<T>(m: string, a: unknown[], timeoutMs?: number, retrySafe = false): Promise<T> {
    if (this.closed) throw new QuiverError('CLOSED', `collection ${this.name} is closed`)
    const kind = METHODS.get(m)!
    const body = serialize({ m, a })
    const timeout =
      timeoutMs ??
      (kind === 'read' ? (this.options.readTimeoutMs ?? SHARD_READ_TIMEOUT_MS) : SHARD_APPEND_ATTEMPT_MS)
    const tried: string[] = []
    let behind: string | undefined
    let notFound: QuiverError | undefined
    const started = performance.now()
    // a read goes round the replicas once; a retry-safe call until its budget is spent
    for (let round = 0; ; round++) {
      const nodes = this.candidates()
      if (round > 0) {
        // a replica said the collection is gone (dropped in the cluster), none answered: it is
        if (notFound !== undefined) throw notFound
        if (!retrySafe || nodes.length === 0 || performance.now() - started > SHARD_RETRY_BUDGET_MS) break
        await delay(Math.min(1000, 100 * 2 ** round))
      }
      for (const node of nodes) {
        let answer: Uint8Array
        try {
          answer = await this.probed(
            node,
            this.options.transport.request(node, shardTopic(this.options.logId), body, timeout),
          )
        } catch (err) {
          if (!(err instanceof TransportError)) throw err
          if (err.failure === 'too_large')
            throw new QuiverError(
              'INVALID_ARGUMENT',
              `collection ${this.name}: a request to shard ${this.shardId} is ${body.byteLength} bytes, over the cluster's message limit (NATS max_payload ${this.options.transport.maxBodyBytes}); send smaller batches`,
            )
          if (err.failure === 'timeout' && kind !== 'read' && !retrySafe)
            throw this.unavailable(
              `node ${node} did not answer a ${m} within ${timeout} ms (it may still be applied)`,
            )
          tried.push(`${node}: ${err.message}`)
          continue
        }
        let decoded: { r?: unknown; e?: WireError }
        try {
          decoded = deserialize(answer) as typeof decoded
        } catch {
          throw new QuiverError(
            'INTERNAL',
            `collection ${this.name}: node ${node} answered shard ${this.shardId} with something that is not an answer`,
          )
        }
        if (decoded.e !== undefined) {
          const code = (Object.hasOwn(ERROR_CODES, decoded.e.code) ? decoded.e.code : 'INTERNAL') as ErrorCode
          const e = new QuiverError(code, String(decoded.e.message), decoded.e.details)
          // a replica behind its log, or one closing or dropping its copy (a new placement, a
          // shutdown): the next replica may answer; a read falls back to a behind one's answer
          if (e.code === 'SHARD_UNAVAILABLE' && e.details?.behind === true && kind === 'read') {
            behind ??= node
            tried.push(`${node}: behind its log`)
            continue
          }
          if ((e.code === 'CLOSED' || e.code === 'COLLECTION_NOT_FOUND') && (kind === 'read' || retrySafe)) {
            if (e.code === 'COLLECTION_NOT_FOUND') notFound ??= e
            tried.push(`${node}: ${e.message}`)
            continue
          }
          throw e
        }
        return decoded.r as T
      }
    }
    if (notFound !== undefined && behind === undefined) throw notFound
    if (behind !== undefined) {
      // every replica asked is behind (NATS slow or away): the one that said so first answers
      // what it has, as a node answers its own reads past `readBarrierMs`
      try {
        const answer = await this.probed(
          behind,
          this.options.transport.request(
            behind,
            shardTopic(this.options.logId),
            serialize({ m, a, s: true }),
            timeout,
          ),
        )
        const decoded = deserialize(answer) as { r?: unknown; e?: WireError }
        if (decoded.e === undefined) return decoded.r as T
        tried.push(`${behind}: ${decoded.e.message}`)
      } catch (err) {
        if (!(err instanceof TransportError)) throw err
        tried.push(`${behind}: ${err.message}`)
      }
    }
    throw this.unavailable(
      tried.length === 0 ? 'none of them is alive' : `none answered (${tried.join('; ')})`,
    )
  }

  /**
   * `attempt` (a request to `node`), abandoned early when `node` goes away meanwhile: while it is
   * pending, every PROBE_MS a ping asks whether `node` still serves the shard; "no responders"
   * (its NATS connection is gone: the process died), or `node` leaving the live nodes (its
   * heartbeats lapsed: stopped, cut off), rejects as a timeout would (the request may have run
   * there), so the caller moves on without waiting out the whole timeout.
   */
  private async probed(node: string, attempt: Promise<Uint8Array>): Promise<Uint8Array> {
    const stop = new AbortController()
    const probe = (async (): Promise<never> => {
      for (;;) {
        await delay(PROBE_MS, undefined, { signal: stop.signal })
        // its heartbeats lapsed (SIGSTOPped, cut off): no answer is coming soon
        if (!this.options.transport.liveNodes().has(node))
          throw new TransportError('timeout', `node ${node} stopped sending heartbeats while answering`)
        try {
          await this.options.transport.request(node, shardTopic(this.options.logId), SHARD_PING, PROBE_MS * 2)
        } catch (err) {
          if (err instanceof TransportError && err.failure === 'no_responders')
            throw new TransportError('timeout', `node ${node} went away while answering`)
        }
      }
    })()
    probe.catch(() => undefined)
    try {
      return await Promise.race([attempt, probe])
    } finally {
      stop.abort()
    }
  }

  /** Asks a replica for the shard's config now (after a change). */
  private async refreshConfig(): Promise<void> {
    this.currentConfig = await this.call<CollectionConfig>('config', [])
  }

  // ---- writes ----

  /**
   * Write `m(...a, options)`: checks `options` here, sends the write with a `writeId` (the
   * caller's, else a new one) and `wait: false`, so a replica that does not answer in time is
   * bypassed (the next one's append of the same id is the same record), then with `wait` waits
   * until a replica applied it (`completed`), or `wait_timeout` past `timeout` (default
   * SHARED_APPLY_WAIT_MS) or when no replica can tell (the write is durable in the log either way).
   */
  private async write(m: string, a: unknown[], options: WriteOptions | undefined): Promise<UpdateResult> {
    const write = resolveWrite(options)
    const o = { ...(options ?? {}), wait: false, writeId: write.writeId ?? randomUUID() }
    const durable = await this.call<UpdateResult>(m, [...a, o], SHARD_APPEND_ATTEMPT_MS, true)
    if (!write.wait) return durable
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), write.timeoutMs ?? SHARED_APPLY_WAIT_MS)
    })
    try {
      const first = await Promise.race([this.catchUp().catch(() => 'expired' as const), expired])
      return { operationId: durable.operationId, status: first === 'expired' ? 'wait_timeout' : 'completed' }
    } finally {
      clearTimeout(timer)
    }
  }

  upsert(points: readonly PointStruct[], options?: WriteOptions): Promise<UpdateResult> {
    return this.write('upsert', [points], options)
  }
  delete(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write('delete', [selector], options)
  }
  updateVectors(
    points: readonly { id: PointId; vector: VectorStruct }[],
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write('updateVectors', [points], options)
  }
  deleteVectors(
    names: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write('deleteVectors', [names, selector], options)
  }
  batchUpdate(operations: readonly UpdateOperation[], options?: WriteOptions): Promise<UpdateResult> {
    return this.write('batchUpdate', [operations], options)
  }
  async updateConfig(update: CollectionUpdate): Promise<UpdateResult> {
    const r = await this.call<UpdateResult>(
      'updateConfig',
      [update],
      SHARED_APPLY_WAIT_MS + SHARD_APPEND_ATTEMPT_MS,
    )
    await this.refreshConfig().catch(() => undefined)
    return r
  }
  setPayload(payload: Payload, selector: PointSelector, options?: SetPayloadOptions): Promise<UpdateResult> {
    return this.write('setPayload', [payload, selector], options)
  }
  overwritePayload(payload: Payload, selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write('overwritePayload', [payload, selector], options)
  }
  deletePayload(
    keys: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write('deletePayload', [keys, selector], options)
  }
  clearPayload(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write('clearPayload', [selector], options)
  }
  async createPayloadIndex(
    field: string,
    schema: PayloadFieldSchema,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    const r = await this.write('createPayloadIndex', [field, schema], options)
    await this.refreshConfig().catch(() => undefined)
    return r
  }
  async deletePayloadIndex(field: string, options?: WriteOptions): Promise<UpdateResult> {
    const r = await this.write('deletePayloadIndex', [field], options)
    await this.refreshConfig().catch(() => undefined)
    return r
  }
  async validateBatch(
    operations: readonly UpdateOperation[],
    options: { existing: boolean; single?: boolean; strict?: boolean },
  ): Promise<void> {
    await this.call('validateBatch', [operations, options])
  }

  // ---- reads ----

  /** A read's per-replica timeout: its own `timeout` (seconds) when longer than the default. */
  private readTimeout(options: ReadOptions | undefined): number | undefined {
    const t = options?.timeout
    return typeof t === 'number' && t > 0
      ? Math.max(t * 1000 + 1000, this.options.readTimeoutMs ?? SHARD_READ_TIMEOUT_MS)
      : undefined
  }

  get(ids: readonly PointId[], options?: GetOptions): Promise<PointRecord[]> {
    return this.call('get', [ids, options])
  }
  count(options?: CountOptions): Promise<number> {
    return this.call('count', [options], this.readTimeout(options))
  }
  scroll(options?: ScrollOptions): Promise<ScrollResult> {
    return this.call('scroll', [options], this.readTimeout(options))
  }
  facet(options: FacetOptions): Promise<FacetResult> {
    return this.call('facet', [options], this.readTimeout(options))
  }
  searchMatrix(options?: SearchMatrixOptions): Promise<SearchMatrixResult> {
    return this.call('searchMatrix', [options], this.readTimeout(options))
  }
  search(vector: SearchVector, options?: SearchOptions): Promise<ScoredPoint[]> {
    return this.call('search', [vector, options], this.readTimeout(options))
  }
  searchBatch(requests: readonly SearchRequest[], options?: ReadOptions): Promise<ScoredPoint[][]> {
    return this.call('searchBatch', [requests, options], this.readTimeout(options))
  }
  query(request?: QueryRequest): Promise<QueryResult> {
    return this.call('query', [request], this.readTimeout(request))
  }
  queryBatch(requests: readonly QueryRequest[], options?: ReadOptions): Promise<QueryResult[]> {
    return this.call('queryBatch', [requests, options], this.readTimeout(options))
  }
  queryGroups(request: QueryGroupsRequest): Promise<GroupsResult> {
    return this.call('queryGroups', [request], this.readTimeout(request))
  }
  async info(): Promise<CollectionInfo> {
    const info = await this.call<CollectionInfo>('info', [])
    this.currentConfig = info.config
    return info
  }

  /**
   * Waits until a replica applied every write acknowledged before the call; a replica that does not
   * answer within SHARD_APPEND_ATTEMPT_MS is left for the next. Rejects with SHARD_UNAVAILABLE when
   * no replica could tell within SHARD_RETRY_BUDGET_MS.
   */
  async catchUp(): Promise<void> {
    await this.call('catchUp', [], SHARD_APPEND_ATTEMPT_MS, true)
  }

  async clusterInfo(): Promise<CollectionClusterInfo> {
    const live = this.options.transport.liveNodes()
    const peer = this.options.peerIdOf ?? (() => 0)
    return {
      shardCount: this.config.params?.shardNumber ?? 1,
      localShards: [],
      remoteShards: this.replicas.map((n) => ({
        shardId: this.shardId,
        peerId: peer(n),
        state: live.has(n) ? ('Active' as const) : ('Dead' as const),
      })),
    }
  }

  // ---- what this node holds of it: nothing ----

  stats(): CollectionStats {
    return {
      pointsCount: 0,
      storedCount: 0,
      segmentsCount: 0,
      memoryBytes: 0,
      onDiskVectorBytes: 0,
      diskBytes: 0,
      walBytes: 0,
      appliedSeq: 0,
      persistedSeq: 0,
      optimizer: { status: 'ok', running: false, completed: { reconfigure: 0, vacuum: 0, merge: 0 } },
      queryCache: { hits: 0, misses: 0 },
    }
  }
  optimizations(): OptimizationsReport {
    return {
      summary: { queuedOptimizations: 0, queuedSegments: 0, queuedPoints: 0, idleSegments: 0 },
      running: [],
    }
  }
  recallEstimates(): RecallEstimate[] {
    return []
  }
  searchLatency(): undefined {
    return undefined
  }
  async recallSamplesIdle(): Promise<void> {}
  async waitForOptimizers(): Promise<void> {}
  checkIntegrity(): { ok: boolean; problems: string[] } {
    return { ok: true, problems: [] }
  }
  async persist(): Promise<void> {}
  async snapshotImage(): Promise<{ seq: number; files: ImageFile[] }> {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `collection ${this.name}: shard ${this.shardId} is hosted on ${this.replicas.join(', ')}, not on this node; a snapshot needs every shard here: replicate the missing shards to this node first (POST /collections/${this.name}/cluster with replicate_shard)`,
    )
  }
  async close(): Promise<void> {
    this.closed = true
  }
  async closeWithoutPersist(): Promise<void> {
    this.closed = true
  }
  /** Removes the shard's log (`RemoteShardOptions.destroyLog`), when the collection is dropped through this node. */
  async destroyLog(): Promise<void> {
    await this.options.destroyLog?.()
  }
}

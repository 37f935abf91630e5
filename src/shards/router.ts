// A collection of S shards (Qdrant's `shard_number`; issue 14): every shard is a full collection
// of its own (local today: an EmbeddedCollection in `<collection>/shards/<i>/` with its own WAL,
// segments and optimizers; later a remote shard over NATS), holding the points `shardOf(id, S)`
// routes to it. Writes are split by point id (a filter selector reaches every shard) after every
// shard's part was checked, so a rejected batch writes nothing anywhere; reads fan out to every
// shard concurrently and the answers are merged as the collection merges its segments. The Query
// API, groups and the distance matrix are routed by query-router.ts.

import { resolveWrite, SHARED_APPLY_WAIT_MS } from '../collection/deadline.js'
import { compareFacetValues } from '../collection/facet.js'
import { MAX_LIMIT, toIds, toLimit, toOffset } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import { isAbsent } from '../json-input.js'
import { comparePointIds, parsePointId } from '../point-id.js'
import type {
  CollectionClusterInfo,
  CollectionConfig,
  CollectionInfo,
  CollectionStats,
  CollectionUpdate,
  CountOptions,
  FacetHit,
  FacetOptions,
  FacetResult,
  GetOptions,
  GroupsResult,
  Optimization,
  OptimizationsOptions,
  OptimizationsReport,
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
import {
  type RouteOptions,
  routeQuery,
  routeQueryBatch,
  routeQueryGroups,
  routeSearchMatrix,
} from './query-router.js'
import { RemoteShard } from './remote.js'
import { shardOf } from './routing.js'
import type { HostedCollection, ImageFile, Shard, ShardSet } from './shard-set.js'

/** An operation that writes nothing (an empty upsert): a placeholder keeping operation positions in a shard's part. */
const NOTHING: UpdateOperation = { upsert: { points: [] } }

/** Where a sharded collection keeps its shards, and the file that marks it as sharded. */
export const SHARDS_DIR = 'shards'
export const SHARDING_FILE = 'sharding.json'

/** Facet values each shard is asked for (the most a facet returns), so the summed counts rank the same values. */
const FACET_ALL = MAX_LIMIT

/** A collection of `shards.length` shards; see the file comment. Built by the database (db/quiver.ts). */
export class ShardedCollection implements HostedCollection, ShardSet {
  readonly name: string
  private readonly shardList: Shard[]
  private closed = false
  private readonly route: RouteOptions
  /** Writes and config changes, one at a time (see `write`). */
  private writeChain: Promise<unknown> = Promise.resolve()

  /** `options.resolveCollection`: the database's collections by name (query `lookupFrom`). */
  constructor(name: string, shards: readonly Shard[], options: RouteOptions = {}) {
    if (shards.length < 2) throw new QuiverError('INTERNAL', `a sharded collection needs >= 2 shards`)
    this.name = name
    this.shardList = [...shards]
    this.route = options
  }

  /** The shards, index = shard id. */
  get shards(): readonly Shard[] {
    return this.shardList
  }

  /**
   * Puts `next` in place of shard `shardId` (cluster mode: a shard this node starts or stops
   * hosting, its local copy for a remote one or back), between two writes; resolves with the shard
   * it replaced, for the caller to close.
   */
  replaceShard(shardId: number, next: Shard): Promise<Shard> {
    this.assertOpen()
    return this.exclusive(async () => {
      // closed while waiting for the writes before it: the caller keeps (and closes) `next`
      this.assertOpen()
      const old = this.shardList[shardId]
      if (old === undefined)
        throw new QuiverError('INTERNAL', `collection ${this.name} has no shard ${shardId}`)
      this.shardList[shardId] = next
      return old
    })
  }

  /** The collection's config (every shard holds the same; `params.shardNumber` = the shard count). */
  get config(): CollectionConfig {
    return this.checker.config
  }

  /**
   * The shard that checks whole requests before they are split (errors then name the same paths
   * as a single collection's): the first one hosted here, so a check needs no other node (shard 0
   * when all are elsewhere).
   */
  private get checker(): Shard {
    return this.shards.find((s) => !(s instanceof RemoteShard)) ?? this.shards[0]!
  }

  shardOf(id: PointId): number {
    return shardOf(id, this.shards.length)
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('CLOSED', `collection ${this.name} is closed`)
  }

  // ---- writes ----

  /**
   * Applies `operations` split by shard: checks the whole batch first (the checker parses it all, so
   * errors name the same paths as a single collection's), then each shard's part against that
   * shard (ids an operation needs must exist there), and only then writes each part as one WAL
   * record of its shard. `single`: the call is one of the single-operation methods (error paths
   * without `operations[i].`). Each shard's part is atomic; a crash between two shards' appends can
   * leave the batch applied on some shards only (as Qdrant; docs/cluster.md).
   */
  private async write(
    operations: readonly UpdateOperation[],
    options: WriteOptions | undefined,
    single: boolean,
  ): Promise<UpdateResult> {
    this.assertOpen()
    const write = resolveWrite(options)
    // checks and appends of one write run alone: no other write can change a shard between this
    // write's check there and its append (the lock is released once every part is durable)
    const parts = await this.exclusive(async () => {
      await this.checker.validateBatch(operations, { existing: false, single })
      const split = this.split(operations)
      const touched = split
        .map((ops, i) => ({ ops, shard: this.shards[i]! }))
        .filter((p) => p.ops.some((o) => o !== NOTHING))
      // each shard checks its part (ids it needs, strict mode) in the batch's positions (NOTHING
      // elsewhere), so errors name operations[i] as given; only then does any shard write
      await Promise.all(
        touched.map((p) => p.shard.validateBatch(p.ops, { existing: true, single, strict: true })),
      )
      const durable = await settleAll(
        touched.map((p) =>
          p.shard.batchUpdate(
            p.ops.filter((o) => o !== NOTHING),
            { wait: false, ...(write.writeId === undefined ? {} : { writeId: write.writeId }) },
          ),
        ),
      )
      return touched.map((p, i) => ({ shard: p.shard, result: durable[i]! }))
    })
    if (parts.length === 0) return this.checker.batchUpdate([], options)
    const operationId = Math.max(...parts.map((p) => p.result.operationId))
    if (!write.wait) return { operationId, status: 'acknowledged' }
    // a shard hosted elsewhere whose replicas cannot tell (SHARD_UNAVAILABLE) leaves the write
    // durable but not known visible: wait_timeout, as a wait past its timeout
    const visible = Promise.all(
      parts.map((p) =>
        p.shard.catchUp().catch((err: unknown) => {
          if (err instanceof QuiverError && err.code === 'SHARD_UNAVAILABLE')
            return new Promise<void>(() => {})
          throw err
        }),
      ),
    )
    // over shared logs applying depends on NATS: a wait without a timeout still ends (the write is
    // in the logs and is applied when they answer again)
    const timeoutMs = write.timeoutMs ?? (this.logIds.length > 0 ? SHARED_APPLY_WAIT_MS : undefined)
    if (timeoutMs === undefined) {
      await visible
      return { operationId, status: 'completed' }
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), timeoutMs)
    })
    try {
      const first = await Promise.race([visible, expired])
      return { operationId, status: first === 'expired' ? 'wait_timeout' : 'completed' }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs `fn` after every write and config change started before it, and before any started after. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn)
    this.writeChain = run.catch(() => undefined)
    return run
  }

  /**
   * `operations` per shard, position by position: points by their id's shard, a filter selector to
   * every shard; NOTHING where an operation has no part in that shard.
   */
  private split(operations: readonly UpdateOperation[]): UpdateOperation[][] {
    const parts: UpdateOperation[][] = this.shards.map(() => [])
    const byShard = <T>(items: readonly T[], id: (t: T) => PointId): T[][] => {
      const out: T[][] = this.shards.map(() => [])
      for (const item of items) out[this.shardOf(parsePointId(id(item)))]!.push(item)
      return out
    }
    const selectorParts = (selector: PointSelector): (PointSelector | undefined)[] => {
      if ('ids' in selector && selector.ids !== undefined && selector.ids !== null) {
        return byShard(selector.ids, (id) => id).map((ids) => (ids.length > 0 ? { ids } : undefined))
      }
      return this.shards.map(() => selector)
    }
    for (const [n, o] of operations.entries()) {
      if ('upsert' in o) {
        byShard(o.upsert.points, (p) => p.id).forEach((points, i) => {
          if (points.length > 0) parts[i]!.push({ upsert: { points } })
        })
      } else if ('updateVectors' in o) {
        byShard(o.updateVectors.points, (p) => p.id).forEach((points, i) => {
          if (points.length > 0) parts[i]!.push({ updateVectors: { points } })
        })
      } else {
        const [kind] = Object.keys(o) as [keyof UnionKeys<UpdateOperation>]
        const body = (o as Record<string, { selector: PointSelector }>)[kind]!
        selectorParts(body.selector).forEach((selector, i) => {
          if (selector !== undefined) parts[i]!.push({ [kind]: { ...body, selector } } as UpdateOperation)
        })
      }
      for (const part of parts) if (part.length === n) part.push(NOTHING)
    }
    return parts
  }

  upsert(points: readonly PointStruct[], options?: WriteOptions): Promise<UpdateResult> {
    return this.write([{ upsert: { points } }], options, true)
  }

  delete(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write([{ delete: { selector } }], options, true)
  }

  updateVectors(
    points: readonly { id: PointId; vector: VectorStruct }[],
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write([{ updateVectors: { points } }], options, true)
  }

  deleteVectors(
    names: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write([{ deleteVectors: { names, selector } }], options, true)
  }

  setPayload(
    payload: Payload,
    selector: PointSelector,
    options: SetPayloadOptions = {},
  ): Promise<UpdateResult> {
    const key = options.key
    return this.write(
      [{ setPayload: { payload, selector, ...(key === undefined ? {} : { key }) } }],
      options,
      true,
    )
  }

  overwritePayload(payload: Payload, selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write([{ overwritePayload: { payload, selector } }], options, true)
  }

  deletePayload(
    keys: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.write([{ deletePayload: { keys, selector } }], options, true)
  }

  clearPayload(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult> {
    return this.write([{ clearPayload: { selector } }], options, true)
  }

  batchUpdate(operations: readonly UpdateOperation[], options?: WriteOptions): Promise<UpdateResult> {
    return this.write(operations, options, false)
  }

  /**
   * Runs a change that every shard makes the same (config, payload index): on the checker first, which
   * checks it (a rejected change changes nothing), then on the others concurrently.
   */
  private everyShard(change: (s: Shard) => Promise<UpdateResult>): Promise<UpdateResult> {
    this.assertOpen()
    return this.exclusive(async () => {
      const checker = this.checker
      const first = await change(checker)
      const rest = await settleAll(this.shards.filter((s) => s !== checker).map(change))
      return combineResults([first, ...rest])
    })
  }

  updateConfig(update: CollectionUpdate): Promise<UpdateResult> {
    return this.everyShard((s) => s.updateConfig(update))
  }

  createPayloadIndex(
    field: string,
    schema: PayloadFieldSchema,
    options?: WriteOptions,
  ): Promise<UpdateResult> {
    return this.everyShard((s) => s.createPayloadIndex(field, schema, options))
  }

  deletePayloadIndex(field: string, options?: WriteOptions): Promise<UpdateResult> {
    return this.everyShard((s) => s.deletePayloadIndex(field, options))
  }

  // ---- reads ----

  /**
   * The points of `ids` (as `Collection.get`: in the order asked, duplicates once, missing ids left
   * out), each read from its shard. Invalid input throws as a single collection (the checker checks the
   * whole request first).
   */
  async get(ids: readonly PointId[], options: GetOptions = {}): Promise<PointRecord[]> {
    this.assertOpen()
    if (!Array.isArray(ids)) return this.checker.get(ids, options)
    const parsed = toIds(ids)
    const byShard: PointId[][] = this.shards.map(() => [])
    for (const id of parsed) byShard[this.shardOf(id)]!.push(id)
    const found = new Map<PointId, PointRecord>()
    // the checker checks the options even when it holds none of the ids
    const checker = this.checker
    const answers = await Promise.all(
      this.shards.map((s, i) => (byShard[i]!.length > 0 || s === checker ? s.get(byShard[i]!, options) : [])),
    )
    for (const list of answers) for (const r of list) found.set(r.id, r)
    const out: PointRecord[] = []
    const seen = new Set<PointId>()
    for (const id of parsed) {
      if (seen.has(id)) continue
      seen.add(id)
      const r = found.get(id)
      if (r !== undefined) out.push(r)
    }
    return out
  }

  /** Points matching the filter: the sum of the shards' exact counts. */
  async count(options: CountOptions = {}): Promise<number> {
    this.assertOpen()
    const counts = await Promise.all(this.shards.map((s) => s.count(options)))
    return counts.reduce((a, b) => a + b, 0)
  }

  /**
   * Pages through points in id order: every shard gives its first `limit` + 1 matches from
   * `offset`; the merged first `limit` are the page and the next id is `nextPageOffset`. With
   * `orderBy`, the shards' pages merged by value (ties by id, descending with `desc`).
   */
  async scroll(options: ScrollOptions = {}): Promise<ScrollResult> {
    this.assertOpen()
    const ordered = typeof options === 'object' && options !== null && !isAbsent(options.orderBy)
    if (ordered) {
      const pages = await Promise.all(this.shards.map((s) => s.scroll(options)))
      const limit = options.limit ?? 10
      const desc = isDescending(options.orderBy)
      const merged = pages.flatMap((p) => p.points)
      merged.sort((a, b) => compareOrdered(a, b, desc))
      return { points: merged.slice(0, limit), nextPageOffset: null }
    }
    const limit = typeof options === 'object' && options !== null ? toLimit(options.limit, 'limit', 10) : 10
    // every shard's first limit + 1 matches hold the page and the next page's first id
    const ahead = Math.min(limit + 1, MAX_LIMIT)
    const pages = await Promise.all(this.shards.map((s) => s.scroll({ ...options, limit: ahead })))
    const merged = pages.flatMap((p) => p.points).sort((a, b) => comparePointIds(a.id, b.id))
    const points = merged.slice(0, limit)
    if (ahead > limit || points.length < limit) return { points, nextPageOffset: merged[limit]?.id ?? null }
    // a page of MAX_LIMIT: no shard could look ahead, so the next id is asked for after the last one
    const after = await this.scroll({ ...options, offset: points[limit - 1]!.id, limit: 2 })
    return { points, nextPageOffset: after.points[1]?.id ?? null }
  }

  /**
   * Counts of a payload field's values: every shard counts all its values (up to 100,000), the
   * counts are summed per value, then ranked as one collection ranks them (count descending, value
   * ascending) and cut to `limit`.
   */
  async facet(options: FacetOptions): Promise<FacetResult> {
    this.assertOpen()
    const limit = typeof options === 'object' && options !== null ? toLimit(options.limit, 'limit', 10) : 10
    const all = await Promise.all(this.shards.map((s) => s.facet({ ...options, limit: FACET_ALL })))
    const counts = new Map<string | number | boolean, FacetHit>()
    for (const { hits } of all) {
      for (const h of hits) {
        const had = counts.get(h.value)
        if (had === undefined) counts.set(h.value, { value: h.value, count: h.count })
        else had.count += h.count
      }
    }
    const hits = [...counts.values()].sort(
      (a, b) => b.count - a.count || compareFacetValues(a.value, b.value),
    )
    return { hits: hits.slice(0, limit) }
  }

  /**
   * Nearest neighbours: every shard answers `offset + limit` hits (offset 0), merged by score in
   * the vector's order (higher first for Cosine / Dot / sparse, lower first for Euclid / Manhattan
   * distances); then `offset` and `limit`. Throws as a single collection.
   */
  async search(vector: SearchVector, options: SearchOptions = {}): Promise<ScoredPoint[]> {
    this.assertOpen()
    const page = searchPage(options, '')
    const lists = await Promise.all(this.shards.map((s) => s.search(vector, { ...options, ...page.shard })))
    return mergeScored(lists, this.higherIsBetter(options.using), page.offset, page.limit)
  }

  async searchBatch(requests: readonly SearchRequest[], options: ReadOptions = {}): Promise<ScoredPoint[][]> {
    this.assertOpen()
    if (!Array.isArray(requests)) return this.checker.searchBatch(requests, options)
    const pages = requests.map((r, i) =>
      typeof r === 'object' && r !== null ? searchPage(r, `requests[${i}].`) : undefined,
    )
    const per = requests.map((r, i) => (pages[i] === undefined ? r : { ...r, ...pages[i].shard }))
    const answers = await Promise.all(this.shards.map((s) => s.searchBatch(per, options)))
    return requests.map((r, i) =>
      mergeScored(
        answers.map((a) => a[i]!),
        this.higherIsBetter(r.using),
        pages[i]!.offset,
        pages[i]!.limit,
      ),
    )
  }

  /** Whether higher scores rank first for vector `using` (search's merge order). */
  private higherIsBetter(using: string | null | undefined): boolean {
    const dense = this.config.vectors.get(using ?? '')
    return dense === undefined || dense.metric === 'Cosine' || dense.metric === 'Dot'
  }

  query(request: QueryRequest = {}): Promise<QueryResult> {
    this.assertOpen()
    return routeQuery(this, request, this.route)
  }

  queryBatch(requests: readonly QueryRequest[], options: ReadOptions = {}): Promise<QueryResult[]> {
    this.assertOpen()
    return routeQueryBatch(this, requests, options, this.route)
  }

  queryGroups(request: QueryGroupsRequest): Promise<GroupsResult> {
    this.assertOpen()
    return routeQueryGroups(this, request, this.route)
  }

  searchMatrix(options: SearchMatrixOptions = {}): Promise<SearchMatrixResult> {
    this.assertOpen()
    return routeSearchMatrix(this, options)
  }

  // ---- state ----

  /**
   * The shards' info combined: counts summed, the worst status, payload index point counts summed,
   * unindexed-field counters summed, recall estimates merged per class (sample-weighted).
   */
  async info(): Promise<CollectionInfo> {
    this.assertOpen()
    const all = await Promise.all(this.shards.map((s) => s.info()))
    const rank = { green: 0, yellow: 1, red: 2 } as const
    const status = all.reduce<CollectionInfo['status']>(
      (worst, i) => (rank[i.status] > rank[worst] ? i.status : worst),
      'green',
    )
    const optimizerStatus = all.find((i) => i.optimizerStatus !== 'ok')?.optimizerStatus ?? 'ok'
    const payloadSchema: Record<string, PayloadIndexInfo> = Object.create(null)
    const unindexed: Record<string, number> = Object.create(null)
    for (const i of all) {
      for (const [field, p] of Object.entries(i.payloadSchema)) {
        const had = payloadSchema[field]
        payloadSchema[field] = had === undefined ? { ...p } : { ...had, points: had.points + p.points }
      }
      for (const [field, n] of Object.entries(i.unindexedFilterFields))
        unindexed[field] = (unindexed[field] ?? 0) + n
    }
    const sum = (f: (i: CollectionInfo) => number) => all.reduce((n, i) => n + f(i), 0)
    return {
      name: this.name,
      status,
      optimizerStatus,
      pointsCount: sum((i) => i.pointsCount),
      indexedVectorsCount: sum((i) => i.indexedVectorsCount),
      segmentsCount: sum((i) => i.segmentsCount),
      config: this.config,
      payloadSchema: { ...payloadSchema },
      unindexedFilterFields: { ...unindexed },
      updateQueue: { length: sum((i) => i.updateQueue?.length ?? 0) },
      recallEstimates: mergeEstimates(all.map((i) => i.recallEstimates ?? [])),
    }
  }

  /** The shards this node hosts as `localShards`, those hosted elsewhere (RemoteShard) as `remoteShards`. */
  async clusterInfo(): Promise<CollectionClusterInfo> {
    this.assertOpen()
    const localShards: CollectionClusterInfo['localShards'] = []
    const remoteShards: CollectionClusterInfo['remoteShards'] = []
    await Promise.all(
      this.shards.map(async (s, shardId) => {
        if (s instanceof RemoteShard) remoteShards.push(...(await s.clusterInfo()).remoteShards)
        else localShards.push({ shardId, pointsCount: (await s.info()).pointsCount, state: 'Active' })
      }),
    )
    localShards.sort((a, b) => a.shardId - b.shardId)
    remoteShards.sort((a, b) => a.shardId - b.shardId || a.peerId - b.peerId)
    return { shardCount: this.shards.length, localShards, remoteShards }
  }

  stats(): CollectionStats {
    this.assertOpen()
    const all = this.shards.map((s) => s.stats())
    const sum = (f: (s: CollectionStats) => number) => all.reduce((n, s) => n + f(s), 0)
    const quantized = all.some((s) => s.quantizationBytes !== undefined)
    const failed = all.find((s) => s.optimizer.status !== 'ok')?.optimizer.status
    const completed = { reconfigure: 0, vacuum: 0, merge: 0 }
    for (const s of all) {
      completed.reconfigure += s.optimizer.completed.reconfigure
      completed.vacuum += s.optimizer.completed.vacuum
      completed.merge += s.optimizer.completed.merge
    }
    return {
      pointsCount: sum((s) => s.pointsCount),
      storedCount: sum((s) => s.storedCount),
      segmentsCount: sum((s) => s.segmentsCount),
      memoryBytes: sum((s) => s.memoryBytes),
      ...(quantized ? { quantizationBytes: sum((s) => s.quantizationBytes ?? 0) } : {}),
      onDiskVectorBytes: sum((s) => s.onDiskVectorBytes),
      diskBytes: sum((s) => s.diskBytes),
      walBytes: sum((s) => s.walBytes),
      // per-shard sequences: their sums only grow, which is what the metrics need
      appliedSeq: sum((s) => s.appliedSeq),
      persistedSeq: sum((s) => s.persistedSeq),
      optimizer: {
        status: failed ?? 'ok',
        running: all.some((s) => s.optimizer.running),
        completed,
      },
      queryCache: {
        hits: sum((s) => s.queryCache?.hits ?? 0),
        misses: sum((s) => s.queryCache?.misses ?? 0),
      },
    }
  }

  /** The shards' optimization reports together (running, queued, completed newest first, idle segments). */
  optimizations(options: OptimizationsOptions = {}): OptimizationsReport {
    this.assertOpen()
    const all = this.shards.map((s) => s.optimizations(options))
    const report: OptimizationsReport = {
      summary: {
        queuedOptimizations: all.reduce((n, r) => n + r.summary.queuedOptimizations, 0),
        queuedSegments: all.reduce((n, r) => n + r.summary.queuedSegments, 0),
        queuedPoints: all.reduce((n, r) => n + r.summary.queuedPoints, 0),
        idleSegments: all.reduce((n, r) => n + r.summary.idleSegments, 0),
      },
      running: all.flatMap((r) => r.running),
    }
    if (options.queued === true) report.queued = all.flatMap((r) => r.queued ?? [])
    const limit = options.completedLimit ?? 0
    if (limit > 0) {
      const done: Optimization[] = all.flatMap((r) => r.completed ?? [])
      done.sort((a, b) => (b.progress.finishedAt ?? '').localeCompare(a.progress.finishedAt ?? ''))
      report.completed = done.slice(0, limit)
    }
    if (options.idleSegments === true) report.idleSegments = all.flatMap((r) => r.idleSegments ?? [])
    return report
  }

  recallEstimates(): RecallEstimate[] {
    this.assertOpen()
    return mergeEstimates(this.shards.map((s) => s.recallEstimates()))
  }

  /** The slowest shard's p50 / p99 (a fanned-out search waits for it), over the shards' searches. */
  searchLatency(): { p50: number; p99: number; count: number } | undefined {
    this.assertOpen()
    const all = this.shards.map((s) => s.searchLatency()).filter((l) => l !== undefined)
    if (all.length === 0) return undefined
    return {
      p50: Math.max(...all.map((l) => l.p50)),
      p99: Math.max(...all.map((l) => l.p99)),
      count: Math.max(...all.map((l) => l.count)),
    }
  }

  async recallSamplesIdle(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.recallSamplesIdle()))
  }

  async waitForOptimizers(): Promise<void> {
    this.assertOpen()
    await Promise.all(this.shards.map((s) => s.waitForOptimizers()))
  }

  checkIntegrity(): { ok: boolean; problems: string[] } {
    const problems = this.shards.flatMap((s, i) => s.checkIntegrity().problems.map((p) => `shard ${i}: ${p}`))
    return { ok: problems.length === 0, problems }
  }

  async persist(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.persist()))
  }

  /** Undefined: several shards have several logs (`logIds`). */
  get logId(): string | undefined {
    return undefined
  }

  get logIds(): readonly string[] {
    const ids = this.shards.map((s) => s.logId)
    return ids.every((id) => id !== undefined) ? (ids as string[]) : []
  }

  async catchUp(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.catchUp()))
  }

  /**
   * The shards' point-in-time images under `shards/<i>/`, plus `sharding.json`. Each shard's image
   * is taken between two of its updates; the shards' images are taken one after another, so a batch
   * split over shards and written meanwhile can be in some images only. `seq`: the sum of the
   * shards' seqs (informational).
   */
  async snapshotImage(): Promise<{ seq: number; files: ImageFile[] }> {
    this.assertOpen()
    const files: ImageFile[] = [{ path: SHARDING_FILE, data: shardingFile(this.shards.length) }]
    let seq = 0
    for (const [i, s] of this.shards.entries()) {
      const image = await s.snapshotImage()
      seq += image.seq
      for (const f of image.files) files.push({ path: `${SHARDS_DIR}/${i}/${f.path}`, data: f.data })
    }
    return { seq, files }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await settleAll(this.shards.map((s) => s.close()))
  }

  async closeWithoutPersist(): Promise<void> {
    this.closed = true
    await settleAll(this.shards.map((s) => s.closeWithoutPersist()))
  }

  async destroyLog(): Promise<void> {
    await settleAll(this.shards.map((s) => s.destroyLog()))
  }
}

/** `sharding.json`: the format version and the shard count of a sharded collection directory. */
export function shardingFile(shards: number): Uint8Array {
  return new TextEncoder().encode(
    `${JSON.stringify({ version: 1, shardNumber: shards, routing: 'crc32c-mod' })}\n`,
  )
}

/** Waits for every promise; throws the first failure once all settled (none is left running). */
async function settleAll<T>(all: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(all)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  return results.map((r) => (r as PromiseFulfilledResult<T>).value)
}

/** One answer for a write split over shards: the highest operation id; completed only if every part is. */
function combineResults(results: readonly UpdateResult[]): UpdateResult {
  const order = { completed: 0, wait_timeout: 1, acknowledged: 2 } as const
  let status: UpdateResult['status'] = 'completed'
  let operationId = 0
  for (const r of results) {
    operationId = Math.max(operationId, r.operationId)
    if (order[r.status] > order[status]) status = r.status
  }
  return { operationId, status }
}

function isDescending(orderBy: ScrollOptions['orderBy']): boolean {
  return typeof orderBy === 'object' && orderBy !== null && orderBy.direction === 'desc'
}

/** Order of `scroll({ orderBy })` records: by `orderValue`, ties by id (both descending with `desc`). */
function compareOrdered(a: PointRecord, b: PointRecord, desc: boolean): number {
  const va = a.orderValue as number | string
  const vb = b.orderValue as number | string
  const c = va < vb ? -1 : va > vb ? 1 : comparePointIds(a.id, b.id)
  return desc ? -c : c
}

/**
 * A search's `offset` and `limit` (checked as a collection checks them, `at` naming the request), and
 * what each shard is asked for: its first `offset + limit` hits (at most MAX_LIMIT), offset 0.
 */
function searchPage(
  options: SearchOptions,
  at: string,
): { offset: number; limit: number; shard: { offset: number; limit: number } } {
  const limit = toLimit(options.limit, `${at}limit`, 10)
  const offset = toOffset(options.offset, `${at}offset`)
  return { offset, limit, shard: { offset: 0, limit: Math.min(MAX_LIMIT, offset + limit) } }
}

/**
 * The shards' hit lists (each sorted) merged by score: higher first when `higherIsBetter`, else
 * lower first; then `offset` and `limit`.
 */
export function mergeScored(
  lists: readonly (readonly ScoredPoint[])[],
  higherIsBetter: boolean,
  offset: number,
  limit: number,
): ScoredPoint[] {
  const all = lists.flat()
  // ties by id, as the Query API's merges (query-router.ts)
  all.sort(
    higherIsBetter
      ? (a, b) => b.score - a.score || comparePointIds(a.id, b.id)
      : (a, b) => a.score - b.score || comparePointIds(a.id, b.id),
  )
  return all.slice(offset, offset + limit)
}

/** Recall estimates of the same class from several shards, merged by their window sizes. */
function mergeEstimates(lists: readonly (readonly RecallEstimate[])[]): RecallEstimate[] {
  const byClass = new Map<string, RecallEstimate[]>()
  for (const list of lists) {
    for (const e of list) {
      const key = `${e.vector}\u0000${e.class}\u0000${e.selectivity ?? ''}\u0000${e.quantized}`
      const had = byClass.get(key)
      if (had === undefined) byClass.set(key, [e])
      else had.push(e)
    }
  }
  return [...byClass.values()].map((es) => {
    if (es.length === 1) return es[0]!
    const window = es.reduce((n, e) => n + e.window, 0)
    const w = (f: (e: RecallEstimate) => number) =>
      window === 0 ? f(es[0]!) : es.reduce((n, e) => n + f(e) * e.window, 0) / window
    return {
      ...es[0]!,
      estimate: w((e) => e.estimate),
      lower: w((e) => e.lower),
      upper: w((e) => e.upper),
      window,
      samples: es.reduce((n, e) => n + e.samples, 0),
    }
  })
}

type UnionKeys<T> = { [K in T extends unknown ? keyof T : never]: unknown }

// The Query API over a sharded collection (issue 14): checks a request as the collection does, then
// runs its plan stage by stage, fanning each stage out to every shard and merging the per-shard
// lists as the collection merges segments; rank fusion, formulas, MMR and grouping run here.
//
// Where results can differ from a single collection holding the same points:
// - exact ties of score are broken by point id where shard lists are merged (a collection keeps its
//   storage order); fusion and formula ties keep candidate order, as the collection does;
// - a sparse vector with `modifier: idf` is weighted by each shard's own IDF (as Qdrant's shards);
// - an example id of a multivector (Cosine) is sent as its stored rows, which the shard normalises
//   again (a last-bit change in rare rows); dense examples are sent so that they score exactly
//   (see `withVectors`, `preimage`);
// - strict mode is checked by each shard on the requests it receives (limit + offset, `has_id`
//   lists), not on the request as the client sent it; the query cache and recall sampler see those;
// - a stage re-ranking more than MAX_LIMIT candidates of one shard, or asking more than MAX_LIMIT
//   hits of a shard, is cut at MAX_LIMIT per shard;
// - with HNSW, recall is per shard (each shard searches its own graph with the same `ef`).

import { Deadline } from '../collection/deadline.js'
import { evaluateFormula, type Formula } from '../collection/formula.js'
import { dbsf, rrf } from '../collection/fusion.js'
import { checkGroupRequest, groupKeys, groupRanked, planForGroups } from '../collection/groups.js'
import { mmrSelect } from '../collection/mmr.js'
import {
  maxSim,
  plainNearest,
  QueryParser,
  type QueryPlan,
  type QueryVector,
  type Stage,
  type StageQuery,
  similarity,
  sparseDot,
  type VectorSource,
  type VectorSpaces,
} from '../collection/query.js'
import { DEFAULT_MATRIX_LIMIT, DEFAULT_MATRIX_SAMPLE, withoutSelf } from '../collection/search-matrix.js'
import { MAX_LIMIT, toLimit, vectorNameError } from '../collection/validate.js'
import { invalid, QuiverError } from '../errors.js'
import { isPlainObject, type Obj } from '../json-input.js'
import { comparePointIds, parsePointId } from '../point-id.js'
import type {
  Collection,
  CollectionConfig,
  Distance,
  Filter,
  GroupsResult,
  Payload,
  PointId,
  QueryGroupsRequest,
  QueryRequest,
  QueryResult,
  ReadOptions,
  ScoredPoint,
  SearchMatrixOptions,
  SearchMatrixResult,
  SearchRequest,
  VectorOutput,
  WithPayload,
  WithVector,
} from '../types.js'
import type { ShardSet } from './shard-set.js'

/** Optional wiring of the router. */
export interface RouteOptions {
  /**
   * How `lookupFrom` collections are found when the router itself needs a looked-up vector (MMR
   * relevance); other stages pass `lookupFrom` on to the shards, which resolve it themselves.
   */
  resolveCollection?: (name: string) => Promise<Collection>
}

/**
 * Qdrant's universal query over the shards of `set`: the same points, scores and order as one
 * collection holding them (see the file header for the exceptions). Checks the request completely
 * first and throws what `Collection.query` throws (INVALID_ARGUMENT / INVALID_VECTOR / INVALID_FILTER /
 * INVALID_POINT_ID naming the path, POINT_NOT_FOUND for a missing example id, TIMEOUT).
 * @example const { points } = await routeQuery(set, { query: [0.1, 0.2], limit: 5 })
 */
export async function routeQuery(
  set: ShardSet,
  request: QueryRequest = {},
  options: RouteOptions = {},
): Promise<QueryResult> {
  const r = request ?? {}
  const deadline = Deadline.after(r.timeout, 'Search')
  const plan = QueryParser.parse(r, spacesOf(set.config))
  const run = await startRun(set, plan, r.timeout, deadline, options)
  return { points: await runPlan(run, r, plan) }
}

/**
 * Several queries; all are checked (paths `requests[i]...`) before any runs, then they run
 * concurrently. `options.timeout` (seconds) is the budget of each.
 * @example const [a, b] = await routeQueryBatch(set, [{ query: v1 }, { query: 7, limit: 3 }], {})
 */
export async function routeQueryBatch(
  set: ShardSet,
  requests: readonly QueryRequest[],
  options: ReadOptions = {},
  route: RouteOptions = {},
): Promise<QueryResult[]> {
  if (!Array.isArray(requests)) throw invalid('requests must be an array')
  const deadline = Deadline.after(options?.timeout, 'Search')
  const spaces = spacesOf(set.config)
  const plans = requests.map((r, i) => QueryParser.parse(r, spaces, `requests[${i}]`))
  return Promise.all(
    plans.map(async (plan, i) => {
      const run = await startRun(set, plan, options?.timeout, deadline, route)
      return { points: await runPlan(run, requests[i] ?? {}, plan) }
    }),
  )
}

/**
 * Qdrant's query/groups over the shards, exact for the query's ranking: the global ranked list is
 * widened (groups.ts `groupRanked`) until the best `limit` groups are full, so a group whose hits
 * are spread over shards gets its best `groupSize` hits from all of them. Throws what
 * `Collection.queryGroups` throws.
 * @example const { groups } = await routeQueryGroups(set, { query: v, groupBy: 'author', groupSize: 2 })
 */
export async function routeQueryGroups(
  set: ShardSet,
  request: QueryGroupsRequest,
  route: RouteOptions = {},
): Promise<GroupsResult> {
  const { options, query } = checkGroupRequest(request)
  const deadline = Deadline.after(request?.timeout, 'GroupBy')
  const plan = QueryParser.parse(query, spacesOf(set.config))
  const run = await startRun(set, plan, request.timeout, deadline, route)
  const payloads = new Map<PointId, Payload | undefined>()
  const ranked = async (k: number): Promise<ScoredPoint[]> => {
    const scaled = planForGroups(plan, k, options.groupSize)
    const hits = await rootStage(run, query, scaled, k, null)
    const missing = hits.map((h) => h.id).filter((id) => !payloads.has(id))
    for (const rec of await set.get(missing, { withPayload: true, withVector: false, ...timed(run) }))
      payloads.set(rec.id, rec.payload)
    return hits
  }
  // groupRanked widens synchronously; each round here fetches `k` hits and lets it group them, and
  // when it asks for more than were fetched, the next round fetches twice as many
  let k = options.groups * options.groupSize
  for (;;) {
    const hits = await ranked(k)
    let wider = false
    const grouped = groupRanked(
      (n) => {
        if (n <= k) return hits.slice(0, n)
        wider = true
        return []
      },
      (h) => groupKeys(payloads.get(h.id), options.path),
      options,
    )
    if (!wider) {
      const members = [...new Map(grouped.flatMap((g) => g.hits.map((h) => [h.id, h] as const))).values()]
      const out = new Map((await finish(run, members, query, false)).map((h) => [h.id, h]))
      return { groups: grouped.map((g) => ({ id: g.id, hits: g.hits.map((h) => out.get(h.id)!) })) }
    }
    k *= 2
  }
}

/**
 * Qdrant's search matrix over the shards: `sample` points drawn uniformly among the matches of all
 * shards (hypergeometric split by each shard's count), sorted by id; for each, its `limit` nearest
 * other sampled points (one `searchBatch` per shard restricted to the sample, merged). Same shape
 * and errors as `Collection.searchMatrix`.
 * @example const { sampleIds, nearest } = await routeSearchMatrix(set, { sample: 100, limit: 5 })
 */
export async function routeSearchMatrix(
  set: ShardSet,
  options: SearchMatrixOptions = {},
): Promise<SearchMatrixResult> {
  const deadline = Deadline.after(options.timeout, 'search matrix')
  const sample = toLimit(options.sample, 'sample', DEFAULT_MATRIX_SAMPLE)
  if (sample < 2) throw invalid(`sample must be an integer >= 2, got ${sample}`)
  const limit = toLimit(options.limit, 'limit', DEFAULT_MATRIX_LIMIT)
  const using = options.using ?? ''
  if (typeof using !== 'string') throw invalid(`using must be a vector name, got ${typeof using}`)
  const space = spacesOf(set.config)(using, 'using')
  if (space.kind === 'sparse') throw invalid('using: the distance matrix works on dense vectors')
  const filter: Filter = {
    must: [
      ...(options.filter === undefined || options.filter === null ? [] : [options.filter]),
      { has_vector: using },
    ],
  }
  const t = options.timeout === undefined ? {} : { timeout: options.timeout }
  const drawn = await randomSample(set, filter, sample, t, { withVector: [using] })
  deadline.check()
  if (drawn.length < 2) return { sampleIds: [], nearest: [] }
  drawn.sort((a, b) => comparePointIds(a.id, b.id))
  const ids = drawn.map((h) => h.id)
  const among: Filter = { must: [{ has_id: ids }] }
  const requests: SearchRequest[] = drawn.map((h) => ({
    vector: vectorValue(h.vector, using) as SearchRequest['vector'],
    using,
    limit: limit + 1,
    filter: among,
  }))
  const perShard = await Promise.all(set.shards.map((s) => s.searchBatch(requests, t)))
  deadline.check()
  const order = scoreOrder(higherIsBetter(space.metric))
  const nearest = ids.map((id, i) => {
    const merged = perShard.flatMap((lists) => lists[i]!).sort(order)
    return withoutSelf(merged.slice(0, limit + 1), id, limit).map((h) => ({ id: h.id, score: h.score }))
  })
  return { sampleIds: ids, nearest }
}

// ---- the run of one plan ----

/** One query's run: the shards, its budget, and the stored vectors of the example ids it names. */
interface Run {
  readonly set: ShardSet
  readonly spaces: VectorSpaces
  readonly timeout: number | undefined
  readonly deadline: Deadline
  /** Stored vectors of the request's own example ids, by `${using}\0${id}`. */
  readonly examples: Map<string, VectorOutput>
  readonly route: RouteOptions
  /** The root plan while it is a plain nearest search (the collection runs it as `search`), else null. */
  plainRoot: Stage | null
}

/** The shard reads' `timeout` option (the request's budget, passed to every shard). */
function timed(run: Run): { timeout?: number } {
  return run.timeout === undefined ? {} : { timeout: run.timeout }
}

const exampleKey = (using: string, id: PointId) => `${using}\u0000${JSON.stringify(id)}`

/**
 * Fetches the stored vectors of every example id `plan` names (not `lookupFrom` ones) from their
 * shards. Throws POINT_NOT_FOUND as the collection does, for the first missing id in the order the
 * collection resolves them.
 */
async function startRun(
  set: ShardSet,
  plan: QueryPlan,
  timeout: number | undefined,
  deadline: Deadline,
  route: RouteOptions,
): Promise<Run> {
  const wanted: { using: string; id: PointId }[] = []
  collectExamples(plan, wanted)
  const byUsing = new Map<string, PointId[]>()
  for (const { using, id } of wanted) {
    const list = byUsing.get(using) ?? []
    list.push(id)
    byUsing.set(using, list)
  }
  const examples = new Map<string, VectorOutput>()
  const t = timeout === undefined ? {} : { timeout }
  await Promise.all(
    [...byUsing].map(async ([using, ids]) => {
      for (const rec of await set.get([...new Set(ids)], { withPayload: false, withVector: [using], ...t })) {
        const v = vectorValue(rec.vector, using)
        if (v !== undefined) examples.set(exampleKey(using, rec.id), rec.vector!)
      }
    }),
  )
  for (const { using, id } of wanted) {
    if (!examples.has(exampleKey(using, id)))
      throw new QuiverError(
        'POINT_NOT_FOUND',
        `no point with id ${JSON.stringify(id)} found${using === '' ? '' : ` holding vector ${JSON.stringify(using)}`}`,
        { id },
      )
  }
  return { set, spaces: spacesOf(set.config), timeout, deadline, examples, route, plainRoot: null }
}

/** The example ids of `stage` (own collection only), in the order QueryRunner resolves them. */
function collectExamples(stage: Stage, out: { using: string; id: PointId }[]): void {
  for (const p of stage.prefetches) collectExamples(p, out)
  const add = (s: VectorSource) => {
    if ('id' in s && s.lookup === undefined) out.push({ using: stage.using, id: s.id })
  }
  const q = stage.query
  if (q.kind === 'nearest') add(q.input)
  else if (q.kind === 'recommend') for (const s of [...q.positive, ...q.negative]) add(s)
  else if (q.kind === 'discover' || q.kind === 'context') {
    for (const p of q.pairs) {
      add(p.positive)
      add(p.negative)
    }
    if (q.kind === 'discover') add(q.target)
  }
}

/** The final points of a checked request: its stages run, `offset` dropped, payload and vectors attached. */
async function runPlan(run: Run, request: QueryRequest, plan: QueryPlan): Promise<ScoredPoint[]> {
  const fetch = { withPayload: request.withPayload ?? false, withVector: request.withVector ?? false }
  const leafFetched = fetchesAtLeaf(plan)
  const hits = await rootStage(
    run,
    request as Obj,
    plan,
    plan.limit + plan.offset,
    leafFetched ? fetch : null,
  )
  return finish(run, hits.slice(plan.offset), request, leafFetched)
}

/** The root stage of `plan` (its example ids excluded from every stage, as the collection does), best `k`. */
function rootStage(
  run: Run,
  raw: Obj,
  plan: QueryPlan,
  k: number,
  fetch: FetchOptions | null,
): Promise<ScoredPoint[]> {
  run.plainRoot = plainNearest(plan) === undefined ? null : plan
  const ids = plan.referencedIds
  const excluded: Filter | null = ids.length === 0 ? null : { must_not: [{ has_id: [...ids] }] }
  return runStage(run, raw, plan, excluded, k, fetch)
}

interface FetchOptions {
  readonly withPayload: WithPayload
  readonly withVector: WithVector
}

/** Whether a root stage's shard requests can carry the request's withPayload / withVector themselves. */
function fetchesAtLeaf(plan: Stage): boolean {
  const q = plan.query
  return plan.prefetches.length === 0 && !(q.kind === 'nearest' && q.mmr !== null)
}

/**
 * Hits as the collection returns them: id, score, version, orderValue, and (unless the shards sent
 * them already) payload and vectors read from their shards as `request` asks.
 */
async function finish(
  run: Run,
  hits: ScoredPoint[],
  request: { withPayload?: WithPayload; withVector?: WithVector },
  fetched: boolean,
): Promise<ScoredPoint[]> {
  const withPayload = request.withPayload ?? false
  const withVector = request.withVector ?? false
  const bare = (h: ScoredPoint): ScoredPoint => {
    const sp: ScoredPoint = { id: h.id, score: h.score }
    if (h.version !== undefined) sp.version = h.version
    if (h.orderValue !== undefined) sp.orderValue = h.orderValue
    return sp
  }
  if (fetched) return hits
  const out = hits.map(bare)
  if (withPayload === false && withVector === false) return out
  const records = await run.set.get([...new Set(out.map((h) => h.id))], {
    withPayload,
    withVector,
    ...timed(run),
  })
  const byId = new Map(records.map((r) => [r.id, r]))
  for (const h of out) {
    const rec = byId.get(h.id)
    if (rec?.payload !== undefined) h.payload = rec.payload
    if (rec?.vector !== undefined) h.vector = rec.vector
  }
  return out
}

// ---- stages ----

/**
 * The best `k` hits of one stage (the root or a prefetch) over all shards, best first. `inherited`:
 * the filters of the enclosing stages (and the example-id exclusion). `raw`: the stage's JSON as the
 * client wrote it (checked: `plan` is its parse).
 */
async function runStage(
  run: Run,
  raw: Obj,
  plan: Stage,
  inherited: Filter | null,
  k: number,
  fetch: FetchOptions | null,
): Promise<ScoredPoint[]> {
  run.deadline.check()
  const filter = and(inherited, (raw.filter ?? null) as Filter | null)
  if (plan.prefetches.length === 0) return leaf(run, raw, plan, filter, k, fetch)
  const rawPrefetches = (Array.isArray(raw.prefetch) ? raw.prefetch : [raw.prefetch]) as Obj[]
  const lists = await Promise.all(
    plan.prefetches.map((p, i) => runStage(run, rawPrefetches[i]!, p, filter, p.limit, null)),
  )
  run.deadline.check()
  const q = plan.query
  switch (q.kind) {
    case 'rrf':
      return cut(rrf(lists, q.k, q.weights), k, plan.threshold, true)
    case 'dbsf':
      return cut(
        dbsf(
          lists,
          plan.prefetches.map((p) => higherFirst(run, p)),
        ),
        k,
        plan.threshold,
        true,
      )
    case 'formula':
      return cut(await formulaOver(run, lists, q.formula, rawFormula(raw)), k, plan.threshold, true)
    case 'sample':
      return shuffled(union(lists)).slice(0, k)
    case 'nearest':
      if (q.mmr !== null) {
        const n = Math.max(q.mmr.candidatesLimit ?? k, k)
        const candidates = await rerank(run, raw, plan, union(lists), filter, n, [plan.using])
        return mmrAt(run, plan, q, candidates, k)
      }
      return rerank(run, raw, plan, union(lists), filter, k, false)
    case 'recommend':
    case 'discover':
    case 'context':
      return rerank(run, raw, plan, union(lists), filter, k, false)
    case 'orderBy':
      return rerank(run, raw, plan, union(lists), filter, k, false)
    case 'none':
      throw invalid('a query is needed to merge the prefetches')
  }
}

/** A stage without prefetches: every shard runs it with `limit = k`; the lists are merged. */
async function leaf(
  run: Run,
  raw: Obj,
  plan: Stage,
  filter: Filter | null,
  k: number,
  fetch: FetchOptions | null,
): Promise<ScoredPoint[]> {
  const q = plan.query
  if (q.kind === 'sample') return randomSample(run.set, filter, k, timed(run), fetch ?? {})
  if (q.kind === 'nearest' && q.mmr !== null) {
    const n = Math.max(q.mmr.candidatesLimit ?? k, k)
    const request = shardStage(run, raw, plan, filter, n)
    request.query = withoutMmr(request.query) ?? null
    const candidates = await fanOut(run, request, orderOf(run, plan), n, null, [plan.using])
    return mmrAt(run, plan, q, candidates, k)
  }
  return fanOut(run, shardStage(run, raw, plan, filter, k), orderOf(run, plan), k, fetch, false)
}

/**
 * Re-ranks prefetch candidates: each shard runs the stage's query over a prefetch of just its own
 * candidates (`has_id`, in id order), so it scores them as the collection scores candidates (the
 * same code, exactly), and the lists are merged.
 */
async function rerank(
  run: Run,
  raw: Obj,
  plan: Stage,
  candidates: ScoredPoint[],
  filter: Filter | null,
  k: number,
  withVector: WithVector,
): Promise<ScoredPoint[]> {
  const ids = splitByShard(
    run.set,
    candidates.map((h) => h.id),
  )
  const order = orderOf(run, plan)
  const base = shardStage(run, raw, plan, null, k, true)
  delete base.params
  if (plan.query.kind === 'orderBy') {
    // order_by over candidates is the ordered page of the candidates matching the stage filter
    const lists = await Promise.all(
      ids.map((own, s) =>
        own.length === 0
          ? []
          : run.set.shards[s]!.query({
              ...base,
              filter: and(filter, { must: [{ has_id: own }] }) as Filter,
              ...timed(run),
            }).then((r) => r.points),
      ),
    )
    return lists.flat().sort(order).slice(0, k)
  }
  const rescoring = withoutMmr(base.query)
  if (rescoring !== undefined) base.query = rescoring
  const lists = await Promise.all(
    ids.map((own, s) =>
      own.length === 0
        ? []
        : run.set.shards[s]!.query({
            ...base,
            prefetch: { filter: { must: [{ has_id: own }] }, limit: Math.min(own.length, MAX_LIMIT) },
            withVector,
            ...timed(run),
          }).then((r) => r.points),
    ),
  )
  return lists.flat().sort(order).slice(0, k)
}

/** Sends `request` to every shard and merges their lists in `order`, best `k`. */
async function fanOut(
  run: Run,
  request: QueryRequest,
  order: (a: ScoredPoint, b: ScoredPoint) => number,
  k: number,
  fetch: FetchOptions | null,
  withVector: WithVector,
): Promise<ScoredPoint[]> {
  const r: QueryRequest = { ...request, ...timed(run), withVector }
  if (fetch !== null) {
    r.withPayload = fetch.withPayload
    r.withVector = fetch.withVector
  }
  const lists = await Promise.all(run.set.shards.map((s) => s.query(r).then((x) => x.points)))
  return lists.flat().sort(order).slice(0, k)
}

/**
 * The stage as one shard runs it: its own fields (no prefetch), `filter` as given, `limit` k, and
 * the example ids replaced by their stored vectors (ids under `lookupFrom` stay: shards look them up).
 */
function shardStage(
  run: Run,
  raw: Obj,
  plan: Stage,
  filter: Filter | null,
  k: number,
  rescoring = false,
): QueryRequest {
  const out: QueryRequest = { limit: Math.min(k, MAX_LIMIT) }
  // a shard runs a nearest leaf as a plain search (no normalisation of the query in JS), anything
  // else with QueryRunner (given vectors normalised for Cosine): the vectors sent are chosen so that
  // the shard scores with the very vector the collection would
  const plain = !rescoring && plan.query.kind === 'nearest'
  const average = averageVector(run, plan)
  if (average !== undefined)
    out.query = {
      nearest: Array.from(rescoring ? average : (normalised(run, plan.using, average) as Float32Array)),
    }
  else if (raw.query !== undefined && raw.query !== null)
    out.query =
      plan.lookup === null ? (withVectors(run, plan, raw.query, plain) as never) : (raw.query as never)
  if (filter !== null) out.filter = filter
  if (raw.using !== undefined && raw.using !== null) out.using = raw.using as string
  if (raw.params !== undefined && raw.params !== null) out.params = raw.params as never
  if (raw.scoreThreshold !== undefined && raw.scoreThreshold !== null)
    out.scoreThreshold = raw.scoreThreshold as number
  if (raw.lookupFrom !== undefined && raw.lookupFrom !== null) out.lookupFrom = raw.lookupFrom as never
  return out
}

/**
 * A recommend `average_vector` stage's search vector computed here as QueryRunner.averageVector does
 * (2 * mean(positive) - mean(negative), not yet normalised for Cosine) from the stored vectors, so the
 * shards search exactly the collection's vector (sending them the examples would normalise each
 * stored vector again). Undefined for other stages and for `lookupFrom` examples (the shards look those up).
 */
function averageVector(run: Run, plan: Stage): Float32Array | undefined {
  const q = plan.query
  if (q.kind !== 'recommend' || q.strategy !== 'average_vector') return undefined
  const sources = [...q.positive, ...q.negative]
  if (sources.some((s) => 'id' in s && s.lookup !== undefined)) return undefined
  const using = plan.using
  const resolve = (s: VectorSource): Float32Array =>
    ('vector' in s
      ? normalised(run, using, s.vector)
      : toQueryVector(vectorValue(run.examples.get(exampleKey(using, s.id)), using)!)) as Float32Array
  const dim = run.spaces(using, 'using').dimension
  const mean = (list: readonly VectorSource[]): Float64Array => {
    const m = new Float64Array(dim)
    for (const s of list) {
      const v = resolve(s)
      for (let i = 0; i < m.length; i++) m[i]! += v[i]!
    }
    for (let i = 0; i < m.length; i++) m[i]! /= list.length
    return m
  }
  const pos = mean(q.positive)
  const out = new Float32Array(dim)
  if (q.negative.length === 0) out.set(pos)
  else {
    const neg = mean(q.negative)
    for (let i = 0; i < out.length; i++) out[i] = pos[i]! + pos[i]! - neg[i]!
  }
  return out
}

/** A raw query with every example id (a number or string where a vector may stand) replaced by its stored vector. */
function withVectors(run: Run, plan: Stage, query: unknown, plain: boolean): unknown {
  const using = plan.using
  const q = plan.query
  const swap = (v: unknown): unknown => {
    if (typeof v !== 'number' && typeof v !== 'string') return v
    const stored = vectorValue(run.examples.get(exampleKey(using, parsePointId(v))), using)
    // the collection scores with the stored vector as it is: a plain search takes it so, QueryRunner
    // would normalise it again, so it gets a vector whose normalisation is the stored one
    return plain || !isCosineDense(run, using)
      ? stored
      : Array.from(preimage(Float32Array.from(stored as number[])))
  }
  const nearest = (v: unknown): unknown => {
    // a given vector the collection runs through QueryRunner is normalised there first
    if (!plain || run.plainRoot === plan || q.kind !== 'nearest' || !('vector' in q.input)) return swap(v)
    const given = q.input.vector
    return isCosineDense(run, using) ? Array.from(normalised(run, using, given) as Float32Array) : v
  }
  const pairs = (c: unknown): unknown => {
    if (c === undefined || c === null) return c
    const swapPair = (p: Obj) => ({ ...p, positive: swap(p.positive), negative: swap(p.negative) })
    return Array.isArray(c) ? c.map((p) => swapPair(p as Obj)) : swapPair(c as Obj)
  }
  if (!isPlainObject(query) || 'indices' in query) return nearest(query)
  if ('nearest' in query) return { ...query, nearest: nearest(query.nearest) }
  if ('recommend' in query && isPlainObject(query.recommend)) {
    const r = query.recommend
    const list = (l: unknown) => (Array.isArray(l) ? l.map(swap) : l)
    return { recommend: { ...r, positive: list(r.positive), negative: list(r.negative) } }
  }
  if ('discover' in query && isPlainObject(query.discover)) {
    const d = query.discover
    return { discover: { ...d, target: swap(d.target), context: pairs(d.context) } }
  }
  if ('context' in query) return { context: pairs(query.context) }
  return query
}

function isCosineDense(run: Run, using: string): boolean {
  const space = run.spaces(using, 'using')
  return space.kind === 'dense' && space.metric === 'Cosine'
}

/**
 * A vector `w` whose Cosine normalisation (QueryRunner's, the core's) is exactly the unit vector `s`:
 * `s` itself unless normalising it moves a last bit, else `s` scaled by 1 + j·2⁻²⁴ for the first j
 * that works (`s` when none of the first 64 does).
 */
function preimage(s: Float32Array): Float32Array {
  const same = (w: Float32Array) => {
    let n = 0
    for (let i = 0; i < w.length; i++) n += w[i]! * w[i]!
    const inv = 1 / Math.sqrt(n)
    for (let i = 0; i < w.length; i++) if (Math.fround(w[i]! * inv) !== s[i]) return false
    return true
  }
  if (same(s)) return s
  for (let j = 1; j <= 64; j++)
    for (const c of [1 + j * 2 ** -24, 1 - j * 2 ** -24]) {
      const w = s.map((x) => x * c)
      if (same(w)) return w
    }
  return s
}

/** A raw nearest query without its `mmr` (the shards return the nearest candidates; MMR runs here). */
function withoutMmr(query: QueryRequest['query']): QueryRequest['query'] {
  if (!isPlainObject(query) || !('mmr' in query)) return query
  return { nearest: query.nearest } as never
}

// ---- merging ----

function scoreOrder(higher: boolean): (a: ScoredPoint, b: ScoredPoint) => number {
  return higher
    ? (a, b) => b.score - a.score || comparePointIds(a.id, b.id)
    : (a, b) => a.score - b.score || comparePointIds(a.id, b.id)
}

/** The order a stage's hits come in: by score (its direction), by order-by value, or by id (no query). */
function orderOf(run: Run, plan: Stage): (a: ScoredPoint, b: ScoredPoint) => number {
  const q = plan.query
  if (q.kind === 'none') return (a, b) => comparePointIds(a.id, b.id)
  if (q.kind === 'orderBy') {
    // order-by.ts compareEntries: value, then id; both reversed for desc
    const asc = (a: ScoredPoint, b: ScoredPoint) =>
      a.orderValue! < b.orderValue! ? -1 : a.orderValue! > b.orderValue! ? 1 : comparePointIds(a.id, b.id)
    return q.order.descending ? (a, b) => asc(b, a) : asc
  }
  return scoreOrder(higherFirst(run, plan))
}

function higherIsBetter(metric: Distance | 'sparse'): boolean {
  return metric === 'Cosine' || metric === 'Dot' || metric === 'sparse'
}

/** As QueryRunner: nearest and average_vector rank by the metric's direction, other queries higher first. */
function higherFirst(run: Run, stage: Stage): boolean {
  const q = stage.query
  if (q.kind === 'nearest' || (q.kind === 'recommend' && q.strategy === 'average_vector'))
    return higherIsBetter(run.spaces(stage.using, 'using').metric)
  return true
}

/** The best `k` of a sorted list down to `threshold` (QueryRunner.cut). */
function cut(sorted: ScoredPoint[], k: number, threshold: number | null, higher: boolean): ScoredPoint[] {
  let end = Math.min(k, sorted.length)
  if (threshold !== null) {
    const i = sorted.findIndex((h, j) => j < end && (higher ? h.score < threshold : h.score > threshold))
    if (i >= 0) end = i
  }
  return sorted.slice(0, end)
}

/** The distinct points of several lists (first occurrence kept), as fresh hits (query.ts `union`). */
function union(lists: readonly (readonly ScoredPoint[])[]): ScoredPoint[] {
  const seen = new Set<PointId>()
  const out: ScoredPoint[] = []
  for (const list of lists)
    for (const h of list) {
      if (seen.has(h.id)) continue
      seen.add(h.id)
      out.push(
        h.version === undefined
          ? { id: h.id, score: h.score }
          : { id: h.id, score: h.score, version: h.version },
      )
    }
  return out
}

function shuffled(hits: ScoredPoint[]): ScoredPoint[] {
  for (let i = hits.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = hits[i]!
    hits[i] = hits[j]!
    hits[j] = t
  }
  for (const h of hits) h.score = 0
  return hits
}

/** `ids` split by shard (index = shard id), each in the given order. */
function splitByShard(set: ShardSet, ids: readonly PointId[]): PointId[][] {
  const out: PointId[][] = set.shards.map(() => [])
  for (const id of ids) out[set.shardOf(id)]!.push(id)
  return out
}

function and(a: Filter | null, b: Filter | null): Filter | null {
  if (a === null) return b
  if (b === null) return a
  return { must: [a, b] }
}

// ---- random sample ----

/**
 * `k` points drawn uniformly without replacement among those matching `filter` on all shards
 * (fewer when fewer match), score 0, in random order: each shard's count, then a draw of how many
 * come from each shard, then each shard's own random sample of that many.
 */
async function randomSample(
  set: ShardSet,
  filter: Filter | null,
  k: number,
  t: { timeout?: number },
  fetch: { withPayload?: WithPayload; withVector?: WithVector },
): Promise<ScoredPoint[]> {
  const f = filter === null ? {} : { filter }
  const counts = await Promise.all(set.shards.map((s) => s.count({ ...f, ...t })))
  const left = [...counts]
  let total = left.reduce((a, b) => a + b, 0)
  const take = counts.map(() => 0)
  for (let i = 0; i < k && total > 0; i++, total--) {
    let r = Math.floor(Math.random() * total)
    let s = 0
    while (r >= left[s]!) r -= left[s++]!
    left[s]!--
    take[s]!++
  }
  const lists = await Promise.all(
    set.shards.map((s, i) =>
      take[i] === 0
        ? []
        : s
            .query({ query: { sample: 'random' }, ...f, limit: take[i]!, ...fetch, ...t })
            .then((r) => r.points),
    ),
  )
  return shuffled(lists.flat())
}

// ---- MMR ----

/**
 * MMR at the router over merged nearest `candidates` (which carry vector `using`), as QueryRunner.mmr:
 * relevance = similarity to the query vector, redundancy = similarity between candidates; the hits
 * keep their nearest scores. Throws POINT_NOT_FOUND for a missing `lookupFrom` example.
 */
async function mmrAt(
  run: Run,
  plan: Stage,
  q: Extract<StageQuery, { kind: 'nearest' }>,
  candidates: ScoredPoint[],
  k: number,
): Promise<ScoredPoint[]> {
  const space = run.spaces(plan.using, 'using')
  const query = await queryVectorOf(run, plan, q.input)
  const present = candidates.filter((h) => vectorValue(h.vector, plan.using) !== undefined)
  const vectors = present.map((h) => toQueryVector(vectorValue(h.vector, plan.using)!))
  const sim = (a: QueryVector, b: QueryVector): number => {
    if (!(a instanceof Float32Array) || !(b instanceof Float32Array))
      return !(a instanceof Float32Array) && !(b instanceof Float32Array) ? sparseDot(a, b) : 0
    if (space.kind === 'multi') return maxSim(space.metric as Distance, a, b, space.dimension)
    return similarity(space.metric as Distance, a, b)
  }
  const relevance = Float64Array.from(vectors, (v) => sim(query, v))
  const order = mmrSelect(relevance, (i, j) => sim(vectors[i]!, vectors[j]!), q.mmr!.lambda, k)
  return order.map((i) => {
    const { vector: _, ...hit } = present[i]!
    return hit
  })
}

/** The query vector of a nearest stage as QueryRunner.resolve gives it. */
async function queryVectorOf(run: Run, plan: Stage, source: VectorSource): Promise<QueryVector> {
  const using = plan.using
  if ('vector' in source) return normalised(run, using, source.vector)
  if (source.lookup === undefined)
    return toQueryVector(vectorValue(run.examples.get(exampleKey(using, source.id)), using)!)
  const lookup = source.lookup
  const resolve = run.route.resolveCollection
  if (resolve === undefined)
    throw invalid(
      `lookupFrom: collection ${run.set.name} was opened without a database to look ${lookup.collection} up in`,
    )
  const other = await resolve(lookup.collection)
  if (!other.config.vectors.has(lookup.vector) && !other.config.sparseVectors.has(lookup.vector))
    throw vectorNameError(other.config, lookup.vector, 'lookupFrom.vector')
  const [rec] = await other.get([source.id], { withPayload: false, withVector: [lookup.vector] })
  const value = vectorValue(rec?.vector, lookup.vector)
  if (value === undefined)
    throw new QuiverError(
      'POINT_NOT_FOUND',
      `no point with id ${JSON.stringify(source.id)} holding vector ${JSON.stringify(lookup.vector)} in collection ${lookup.collection} (lookup_from)`,
      { id: source.id, collection: lookup.collection },
    )
  return normalised(run, using, toQueryVector(value))
}

/** A given dense query vector normalised for Cosine (QueryRunner.normalised). */
function normalised(run: Run, using: string, v: QueryVector): QueryVector {
  const space = run.spaces(using, 'using')
  if (!(v instanceof Float32Array) || space.metric !== 'Cosine' || space.kind !== 'dense') return v
  let n = 0
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!
  if (n === 0) return v
  const out = new Float32Array(v.length)
  const inv = 1 / Math.sqrt(n)
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv
  return out
}

/** One vector of a record's VectorOutput (the unnamed one as an array, named ones by name), or undefined. */
function vectorValue(
  out: VectorOutput | undefined,
  using: string,
): number[] | number[][] | { indices: number[]; values: number[] } | undefined {
  if (out === undefined) return undefined
  if (Array.isArray(out)) return using === '' ? out : undefined
  return (out as Record<string, number[] | number[][] | { indices: number[]; values: number[] }>)[using]
}

/** A VectorOutput value as a query vector: dense numbers, a multivector's rows concatenated, or sparse. */
function toQueryVector(v: number[] | number[][] | { indices: number[]; values: number[] }): QueryVector {
  if (!Array.isArray(v))
    return { indices: Uint32Array.from(v.indices), values: Float32Array.from(v.values) } as never
  if (v.length > 0 && Array.isArray(v[0])) return Float32Array.from((v as number[][]).flat())
  return Float32Array.from(v as number[])
}

// ---- formula ----

/** The raw `{ formula, defaults }` of a formula stage. */
function rawFormula(raw: Obj): unknown {
  return (raw.query as Obj).formula
}

/**
 * formula.ts `rescoreByFormula` at the router: the distinct candidates of `lists` (first occurrence
 * kept) scored by `formula` with `$score[i]` from list i, payloads read from their shards, and each
 * condition of the formula answered by the shard holding the candidate (its filter, payload
 * indexes included). Best first; throws as `evaluateFormula` for the first candidate that fails.
 */
async function formulaOver(
  run: Run,
  lists: readonly (readonly ScoredPoint[])[],
  formula: Formula,
  raw: unknown,
): Promise<ScoredPoint[]> {
  const scores = lists.map((list) => new Map(list.map((h) => [h.id, h.score])))
  const out = union(lists)
  const ids = out.map((h) => h.id)
  const conditions: unknown[] = []
  collectConditions(raw, conditions)
  const [records, matches] = await Promise.all([
    run.set.get(ids, { withPayload: true, withVector: false, ...timed(run) }),
    Promise.all(conditions.map((c) => matchingAmong(run, c as Filter, ids))),
  ])
  const payloads = new Map(records.map((r) => [r.id, r.payload]))
  for (const hit of out) {
    hit.score = evaluateFormula(formula, {
      id: hit.id,
      payload: payloads.get(hit.id),
      score: (i) => scores[i]?.get(hit.id),
      condition: (i) => matches[i]!.has(hit.id),
    })
  }
  // stable: ties keep candidate order, as rescoreByFormula
  return out.sort((a, b) => b.score - a.score)
}

/** The filter conditions of a raw formula expression, in the order formula.ts numbers them. */
function collectConditions(v: unknown, out: unknown[]): void {
  if (!isPlainObject(v)) return
  const keys = Object.keys(v)
  if (keys.some((k) => CONDITION_KEYS.has(k))) {
    out.push(v)
    return
  }
  const op = keys[0]
  if (op === undefined) return
  const arg = v[op]
  if (op === 'mult' || op === 'sum') for (const a of arg as unknown[]) collectConditions(a, out)
  else if (['neg', 'abs', 'sqrt', 'exp', 'log10', 'ln'].includes(op)) collectConditions(arg, out)
  else if (op === 'div') for (const k of ['left', 'right']) collectConditions((arg as Obj)[k], out)
  else if (op === 'pow') for (const k of ['base', 'exponent']) collectConditions((arg as Obj)[k], out)
  else if (op.endsWith('_decay')) for (const k of ['x', 'target']) collectConditions((arg as Obj)[k], out)
}

/** formula.ts CONDITION_KEYS: an object with one of them is a condition, not an operator. */
const CONDITION_KEYS = new Set([
  'key',
  'is_empty',
  'is_null',
  'has_id',
  'has_vector',
  'nested',
  'must',
  'should',
  'must_not',
  'min_should',
])

/** The points of `ids` matching `condition`, each checked by its own shard. */
async function matchingAmong(run: Run, condition: Filter, ids: readonly PointId[]): Promise<Set<PointId>> {
  const own = splitByShard(run.set, ids)
  const lists = await Promise.all(
    own.map((list, s) =>
      list.length === 0
        ? []
        : run.set.shards[s]!.scroll({
            filter: { must: [condition, { has_id: list }] },
            limit: list.length,
            withPayload: false,
            withVector: false,
            ...timed(run),
          }).then((r) => r.points.map((p) => p.id)),
    ),
  )
  return new Set(lists.flat())
}

// ---- vector spaces ----

/** The query layer's view of a collection's vectors (as EmbeddedCollection's `vectorSpaces`). */
function spacesOf(config: CollectionConfig): VectorSpaces {
  return (using, path) => {
    const dense = config.vectors.get(using)
    if (dense !== undefined)
      return {
        kind: dense.multivector === undefined ? 'dense' : 'multi',
        dimension: dense.dimension,
        metric: dense.metric,
        config: dense,
      }
    if (config.sparseVectors.has(using))
      return { kind: 'sparse', dimension: 0, metric: 'sparse', config: undefined }
    throw vectorNameError(config, using, path)
  }
}

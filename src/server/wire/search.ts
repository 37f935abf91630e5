// Wire format of the search endpoints: the universal Query API (`points/query` and its batch) and the
// legacy `search` and `recommend` with their batches.
import {
  describe,
  fail,
  isAbsent,
  isPlainObject,
  join,
  type Obj,
  optBool,
  optInt,
  optNumber,
  optString,
  reqArray,
  reqObject,
} from '../../json-input.js'
import { parsePointId } from '../../point-id.js'
import { parseQuantizationSearchParams } from '../../quantization/config.js'
import type {
  ContextPair,
  FormulaQuery,
  MmrOptions,
  Prefetch,
  Query,
  QueryParams,
  QueryRequest,
  RecommendStrategy,
  SearchOptions,
  SearchRequest,
  SparseVectorInput,
  VectorInput,
} from '../../types.js'
import {
  bodyObject,
  parseFilter,
  parseVector,
  parseWithPayload,
  parseWithVector,
  unsupported,
} from './common.js'
import { parseOrderBy } from './points.js'

/** A parsed search: the query vector and engine options (`withPayload` included). */
export interface ParsedSearch {
  request: SearchRequest
}

function parseSearchParams(o: Obj, path: string, options: SearchOptions): void {
  const params = o.params
  if (isAbsent(params)) return
  if (!isPlainObject(params)) fail(join(path, 'params'), `expected an object, got ${describe(params)}`)
  const ppath = join(path, 'params')
  const ef = optInt(params, 'hnsw_ef', ppath, 1)
  if (ef !== undefined) options.ef = ef
  const nprobe = optInt(params, 'nprobe', ppath, 1)
  if (nprobe !== undefined) options.nprobe = nprobe
  const exact = optBool(params, 'exact', ppath)
  if (exact !== undefined) options.exact = exact
  const target = optNumber(params, 'target_recall', ppath)
  if (target !== undefined) {
    if (!(target > 0 && target < 1))
      fail(join(ppath, 'target_recall'), `expected a number between 0 and 1 (exclusive), got ${target}`)
    options.targetRecall = target
  }
  optBool(params, 'indexed_only', ppath)
  const quantization = parseQuantizationSearchParams(params.quantization, join(ppath, 'quantization'))
  if (quantization !== undefined) options.quantization = quantization
}

/** Fields shared by `query` and legacy `search`: filter, params, limit, offset, score_threshold, with_*. */
function parseSearchCommon(
  o: Obj,
  path: string,
  vector: number[] | SparseVectorInput,
  defaultLimit: number | undefined,
): ParsedSearch {
  unsupported(o, 'shard_key', path, 'shard_key')
  const request: SearchRequest = {
    vector,
    withPayload: parseWithPayload(o.with_payload, join(path, 'with_payload'), false),
    withVector: parseWithVector(o.with_vector, join(path, 'with_vector'), false),
  }
  const filter = parseFilter(o.filter, join(path, 'filter'))
  if (filter !== undefined) request.filter = filter
  parseSearchParams(o, path, request)
  const limit = optInt(o, 'limit', path, 1) ?? optInt(o, 'top', path, 1) ?? defaultLimit
  if (limit !== undefined) request.limit = limit
  const offset = optInt(o, 'offset', path, 0)
  if (offset !== undefined) request.offset = offset
  const threshold = optNumber(o, 'score_threshold', path)
  if (threshold !== undefined) request.scoreThreshold = threshold
  return { request }
}

/** A parsed query: the engine request (`withPayload` included). */
export interface ParsedQuery {
  request: QueryRequest
}

/** Qdrant's `VectorInput` of the unnamed dense vector: an array of numbers or a point id. */
export function parseVectorInput(
  container: Obj | unknown[],
  key: string | number,
  path: string,
  dimension: number | undefined,
): VectorInput {
  const v = (container as Record<string | number, unknown>)[key]
  if (typeof v === 'number' || typeof v === 'string') return parsePointId(v, path)
  // a sparse vector { indices, values } or a multivector (rows): the engine checks them against `using`
  if (isPlainObject(v) && ('indices' in v || 'values' in v || 'text' in v))
    return v as unknown as SparseVectorInput
  if (Array.isArray(v) && v.some((x) => Array.isArray(x))) return v as number[][]
  return parseVector(v, path, dimension)
}

function parseExamples(
  o: Obj,
  key: string,
  path: string,
  dimension: number | undefined,
): VectorInput[] | undefined {
  if (isAbsent(o[key])) return undefined
  const list = reqArray(o, key, path)
  return list.map((_, i) => parseVectorInput(list, i, `${join(path, key)}[${i}]`, dimension))
}

function parseRecommendInput(v: unknown, path: string, dimension: number | undefined): Query {
  if (!isPlainObject(v)) fail(path, `expected { positive, negative, strategy }, got ${describe(v)}`)
  const recommend: { positive?: VectorInput[]; negative?: VectorInput[]; strategy?: RecommendStrategy } = {}
  const positive = parseExamples(v, 'positive', path, dimension)
  if (positive !== undefined) recommend.positive = positive
  const negative = parseExamples(v, 'negative', path, dimension)
  if (negative !== undefined) recommend.negative = negative
  const strategy = optString(v, 'strategy', path)
  if (strategy !== undefined) recommend.strategy = strategy as RecommendStrategy
  return { recommend }
}

/** Qdrant's `QueryInterface` (snake_case) -> the engine's `Query`; kinds Quiver lacks are refused by name. */
function parseQueryInput(o: Obj, path: string, dimension: number | undefined): Query | undefined {
  const q = o.query
  const qpath = join(path, 'query')
  if (isAbsent(q)) return undefined
  // a vector, a point id, a sparse vector or a document is a nearest query
  if (!isPlainObject(q) || 'indices' in q || 'values' in q || 'text' in q)
    return parseVectorInput(o, 'query', qpath, dimension)
  if ('nearest' in q) {
    const nearest = parseVectorInput(q, 'nearest', `${qpath}.nearest`, dimension)
    if (isAbsent(q.mmr)) return { nearest }
    const mmr = reqObject(q, 'mmr', qpath)
    const mpath = `${qpath}.mmr`
    const out: MmrOptions = {}
    const diversity = optNumber(mmr, 'diversity', mpath)
    if (diversity !== undefined) out.diversity = diversity
    const candidates = optInt(mmr, 'candidates_limit', mpath, 1)
    if (candidates !== undefined) out.candidatesLimit = candidates
    return { nearest, mmr: out }
  }
  if ('recommend' in q) return parseRecommendInput(q.recommend, `${qpath}.recommend`, dimension)
  if ('fusion' in q) return { fusion: q.fusion as 'rrf' }
  if ('rrf' in q) {
    const r = isAbsent(q.rrf) ? {} : reqObject(q, 'rrf', qpath)
    const rrf: { k?: number; weights?: number[] } = {}
    const k = optInt(r, 'k', `${qpath}.rrf`, 1)
    if (k !== undefined) rrf.k = k
    if (!isAbsent(r.weights)) rrf.weights = r.weights as number[]
    return { rrf }
  }
  if ('sample' in q) return { sample: q.sample as 'random' }
  // A formula is Qdrant's JSON in the engine too (like a filter): passed as is, checked there.
  if ('formula' in q) return q as unknown as FormulaQuery
  if ('order_by' in q) return { orderBy: parseOrderBy(q.order_by, `${qpath}.order_by`) }
  if ('discover' in q) {
    const d = q.discover
    const dpath = `${qpath}.discover`
    if (!isPlainObject(d)) fail(dpath, `expected { target, context }, got ${describe(d)}`)
    if (isAbsent(d.target)) fail(`${dpath}.target`, 'required: a vector or a point id')
    return {
      discover: {
        target: parseVectorInput(d, 'target', `${dpath}.target`, dimension),
        context: parseContextPairs(d.context, `${dpath}.context`, dimension),
      },
    }
  }
  if ('context' in q) return { context: parseContextPairs(q.context, `${qpath}.context`, dimension) }
  const kind = Object.keys(q)[0] ?? ''
  fail(
    qpath,
    `query kind ${JSON.stringify(kind)} is not supported yet (supported: a vector, a point id, nearest (+ mmr), recommend, discover, context, order_by, fusion, rrf, formula, sample)`,
  )
}

/** Qdrant's `ContextInput` (a pair, a list of pairs or null) -> the engine's pairs of vector inputs. */
export function parseContextPairs(v: unknown, path: string, dimension: number | undefined): ContextPair[] {
  if (isAbsent(v)) return []
  const list = Array.isArray(v) ? v : [v]
  return list.map((p: unknown, i: number) => {
    const ppath = Array.isArray(v) ? `${path}[${i}]` : path
    if (!isPlainObject(p)) fail(ppath, `expected a pair { positive, negative }, got ${describe(p)}`)
    for (const side of ['positive', 'negative'] as const)
      if (isAbsent(p[side])) fail(`${ppath}.${side}`, 'required: a vector or a point id')
    return {
      positive: parseVectorInput(p, 'positive', `${ppath}.positive`, dimension),
      negative: parseVectorInput(p, 'negative', `${ppath}.negative`, dimension),
    }
  })
}

/** One `Prefetch` or the stage fields of a `QueryRequest`. */
function parseStage(o: Obj, path: string, dimension: number): Prefetch {
  const out: Prefetch = {}
  if (!isAbsent(o.lookup_from)) {
    const l = reqObject(o, 'lookup_from', path)
    const lpath = join(path, 'lookup_from')
    unsupported(l, 'shard_key', lpath, 'shard_key')
    if (typeof l.collection !== 'string')
      fail(join(lpath, 'collection'), `expected a collection name, got ${describe(l.collection)}`)
    if (!isAbsent(l.vector) && typeof l.vector !== 'string')
      fail(join(lpath, 'vector'), `expected a vector name, got ${describe(l.vector)}`)
    out.lookupFrom = { collection: l.collection, vector: (l.vector as string | undefined) ?? null }
  }
  const using = o.using
  if (!isAbsent(using)) out.using = using as string
  // the wire checks a dense query's length only against the unnamed vector; the engine checks the rest
  const query = parseQueryInput(o, path, isAbsent(using) || using === '' ? dimension : undefined)
  if (query !== undefined) out.query = query
  const prefetch = o.prefetch
  if (Array.isArray(prefetch)) {
    out.prefetch = prefetch.map((p, i) => {
      const ppath = `${join(path, 'prefetch')}[${i}]`
      if (!isPlainObject(p)) fail(ppath, `expected a prefetch object, got ${describe(p)}`)
      return parseStage(p, ppath, dimension)
    })
  } else if (!isAbsent(prefetch)) {
    out.prefetch = parseStage(reqObject(o, 'prefetch', path), join(path, 'prefetch'), dimension)
  }
  const filter = parseFilter(o.filter, join(path, 'filter'))
  if (filter !== undefined) out.filter = filter
  const limit = optInt(o, 'limit', path, 1)
  if (limit !== undefined) out.limit = limit
  const threshold = optNumber(o, 'score_threshold', path)
  if (threshold !== undefined) out.scoreThreshold = threshold
  const search: SearchOptions = {}
  parseSearchParams(o, path, search)
  const params: QueryParams = {}
  if (search.ef !== undefined) params.hnswEf = search.ef
  if (search.exact !== undefined) params.exact = search.exact
  if (search.nprobe !== undefined) params.nprobe = search.nprobe
  if (search.quantization !== undefined) params.quantization = search.quantization
  if (search.targetRecall !== undefined) params.targetRecall = search.targetRecall
  if (Object.keys(params).length > 0) out.params = params
  return out
}

/**
 * `POST .../points/query` (or one entry of `query/batch`): Qdrant's `QueryRequest` -> the engine's
 * `QueryRequest`. The engine checks the rest (kinds, strategies, weights) and names the same paths.
 */
export function parseQuery(body: unknown, dimension: number, path = ''): ParsedQuery {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  unsupported(o, 'shard_key', path, 'shard_key')
  const withPayload = parseWithPayload(o.with_payload, join(path, 'with_payload'), false)
  const request: QueryRequest = {
    ...parseStage(o, path, dimension),
    withPayload,
    withVector: parseWithVector(o.with_vector, join(path, 'with_vector'), false),
  }
  const offset = optInt(o, 'offset', path, 0)
  if (offset !== undefined) request.offset = offset
  return { request }
}

/** `POST .../points/query/batch`: `{ searches: [QueryRequest] }`. */
export function parseQueryBatch(body: unknown, dimension: number): ParsedQuery[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a query object, got ${describe(s)}`)
    return parseQuery(s, dimension, `searches[${i}]`)
  })
}

/**
 * Legacy `POST .../points/recommend` (or one entry of `recommend/batch`): Qdrant's
 * `RecommendRequest` -> a recommend query. `positive` / `negative`: point ids or vectors.
 */
export function parseRecommend(body: unknown, dimension: number, path = ''): ParsedQuery {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  unsupported(o, 'shard_key', path, 'shard_key')
  const query = parseRecommendInput(o, path, isAbsent(o.using) || o.using === '' ? dimension : undefined)
  const { request } = parseQuery(
    { ...o, query: undefined, positive: undefined, negative: undefined, strategy: undefined },
    dimension,
    path,
  )
  request.query = query
  if (request.limit === undefined) request.limit = optInt(o, 'top', path, 1) ?? 10
  return { request }
}

/** Legacy `POST .../points/recommend/batch`: `{ searches: [RecommendRequest] }`. */
export function parseRecommendBatch(body: unknown, dimension: number): ParsedQuery[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a recommend object, got ${describe(s)}`)
    return parseRecommend(s, dimension, `searches[${i}]`)
  })
}

/** Legacy `POST .../points/search` (or one entry of `search/batch`): `vector` is an array or `{ name: "", vector }`. */
export function parseSearch(body: unknown, dimension: number, path = ''): ParsedSearch {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  let v = o.vector
  let vpath = join(path, 'vector')
  let using = ''
  if (isPlainObject(v) && 'name' in v) {
    // NamedVector { name, vector: [...] } or NamedSparseVector { name, vector: { indices, values } }
    if (typeof v.name !== 'string') fail(`${vpath}.name`, `expected a vector name, got ${describe(v.name)}`)
    using = v.name
    v = v.vector
    vpath = `${vpath}.vector`
  }
  if (isAbsent(v)) fail(vpath, 'required: the query vector (an array of numbers)', 'INVALID_VECTOR')
  const vector = isPlainObject(v)
    ? (v as unknown as SparseVectorInput)
    : parseVector(v, vpath, using === '' ? dimension : undefined)
  const parsed = parseSearchCommon(o, path, vector, 10)
  if (using !== '') parsed.request.using = using
  return parsed
}

/** Legacy `POST .../points/search/batch`: `{ searches: [SearchRequest] }`. */
export function parseSearchBatch(body: unknown, dimension: number): ParsedSearch[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a search object, got ${describe(s)}`)
    return parseSearch(s, dimension, `searches[${i}]`)
  })
}

/** The collections a query's stages look example ids up in (`lookup_from`), for access checks. */
export function lookupCollections(request: Prefetch): string[] {
  const out = new Set<string>()
  const walk = (p: Prefetch) => {
    if (p.lookupFrom !== undefined && p.lookupFrom !== null) out.add(p.lookupFrom.collection)
    const pre = p.prefetch
    if (Array.isArray(pre)) for (const q of pre) walk(q)
    else if (pre !== undefined && pre !== null) walk(pre as Prefetch)
  }
  walk(request)
  return [...out]
}

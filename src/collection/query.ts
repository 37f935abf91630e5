// The Query API layer (Qdrant's universal `query`): checks a QueryRequest completely into a plan
// of stages (prefetches nested under the query that ranks their results), then runs the plan over
// a QueryHost, the collection's per-segment search. fusion.ts and mmr.ts hold the re-rankers.
import { describeValue, invalid, QuiverError } from '../errors.js'
import { type FilterNode, parseFilter } from '../filter/index.js'
import { join as at, fail, isAbsent, isPlainObject as isObject, type Obj, onlyKeys } from '../json-input.js'
import { comparePointIds, parsePointId } from '../point-id.js'
import { normalizeRows } from '../segment/multivector.js'
import type { Segment } from '../segment/segment.js'
import type { SparseVector } from '../sparse/sparse-index.js'
import type {
  Distance,
  PointId,
  Prefetch,
  QuantizationSearchParams,
  RecommendStrategy,
  VectorConfig,
  WithVector,
} from '../types.js'
import { type Formula, parseFormula, rescoreByFormula } from './formula.js'
import { DEFAULT_RRF_K, dbsf, rrf } from './fusion.js'
import { mmrSelect } from './mmr.js'
import { type ResolvedOrderBy, resolveOrderBy } from './order-by.js'
import {
  isSparseOrDocumentInput,
  MAX_LIMIT,
  type PayloadProjection,
  toBool,
  toDenseValue,
  toLimit,
  toOffset,
  toQuantizationParams,
  toSparseValue,
  toTargetRecall,
  toVector,
  toWithPayload,
  toWithVector,
} from './validate.js'

/**
 * One searchable vector of a collection as the query layer sees it: a dense vector, a multivector
 * (rows of `dimension`), or a sparse vector (`dimension` 0, `metric` 'sparse': dot product).
 */
export interface VectorSpace {
  readonly kind: 'dense' | 'multi' | 'sparse'
  readonly dimension: number
  readonly metric: Distance | 'sparse'
  /** The dense vector's config (checks example vectors: dimension, datatype); undefined for sparse. */
  readonly config: VectorConfig | undefined
}

/** Resolves a `using` name (`""` = the unnamed vector); throws INVALID_ARGUMENT naming `path` when unknown. */
export type VectorSpaces = (using: string, path: string) => VectorSpace

/** A query or stored vector: dense (a multivector's rows concatenated) or sparse. */
export type QueryVector = Float32Array | SparseVector

function isSparse(v: QueryVector): v is SparseVector {
  return !(v instanceof Float32Array)
}

/** Sparse dot product of two vectors with ascending indices. */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  let i = 0
  let j = 0
  let s = 0
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i]!
    const y = b.indices[j]!
    if (x === y) s += a.values[i++]! * b.values[j++]!
    else if (x < y) i++
    else j++
  }
  return s
}

/** Max-sim similarity (ColBERT): sum over rows of `q` of the best `similarity` to a row of `p`. */
export function maxSim(metric: Distance, q: Float32Array, p: Float32Array, dim: number): number {
  let total = 0
  for (let r = 0; r < q.length; r += dim) {
    const qr = q.subarray(r, r + dim)
    let best = Number.NEGATIVE_INFINITY
    for (let t = 0; t < p.length; t += dim)
      best = Math.max(best, rowSimilarity(metric, qr, p.subarray(t, t + dim)))
    total += best
  }
  return total
}

/** A row's similarity for max-sim, Qdrant's: dot (Cosine on unit rows, Dot), minus squared L2, minus L1. */
function rowSimilarity(metric: Distance, a: Float32Array, b: Float32Array): number {
  return similarity(metric, a, b)
}

/** One point of an intermediate or final result: where it lives, and its score in this stage. */
export interface Hit {
  readonly segment: Segment
  readonly offset: number
  readonly id: PointId
  score: number
  /** `orderBy` stages: the order-by field's value this hit is at. */
  readonly orderValue?: number
}

/** Search parameters of one stage, checked. `ef` undefined = the collection's default. */
export interface StageParams {
  readonly ef: number | undefined
  readonly nprobe: number | undefined
  readonly exact: boolean
  readonly quantization: QuantizationSearchParams | undefined
  /** Quiver's recall target (0 < t < 1) instead of `ef`; undefined = none given. */
  readonly targetRecall?: number | undefined
}

/** What the query layer needs from the collection. All calls are synchronous (one consistent view). */
export interface QueryHost {
  /** The vector `using` names (checked when the plan was parsed). */
  space(using: string): VectorSpace
  /** Vector `using` of a live point (normalised for Cosine), or undefined (no such point, or it lacks the vector). */
  vectorOf(using: string, id: PointId): QueryVector | undefined
  /** k nearest matching points by vector `using`, best first, `threshold` applied; scores as `search` gives them. */
  nearest(
    using: string,
    vector: QueryVector,
    k: number,
    filter: FilterNode | null,
    threshold: number | null,
    params: StageParams,
  ): Hit[]
  /** Every live matching point (score 0), in no particular order. */
  matching(filter: FilterNode | null): Hit[]
  /** The first `k` matching points in id order (score 0). */
  scroll(filter: FilterNode | null, k: number): Hit[]
  /**
   * The vector of point `id` of another collection fetched for `lookup` before the plan ran, as a
   * query vector of this collection's vector `using`, or undefined when that point (or vector) is missing.
   */
  lookupVector(lookup: LookupFrom, id: PointId, using: string): QueryVector | undefined
  /** Vector `using` of a hit (normalised for Cosine), or undefined when the point lacks it. */
  vectorAt(using: string, hit: Hit): QueryVector | undefined
  /**
   * A query vector as `nearest` scores it: for a sparse vector with `modifier: idf`, each value
   * times its collection-wide idf; any other vector unchanged.
   */
  weighted(using: string, query: QueryVector): QueryVector
  /**
   * The first `k` (point, value) entries in the order of a range-indexed field (order-by.ts
   * `orderedPage`), score 1 as Qdrant's scroll-backed queries. Throws INDEX_REQUIRED without an index.
   */
  orderBy(order: ResolvedOrderBy, filter: FilterNode | null, k: number): Hit[]
  /** Throws TIMEOUT once the query's deadline passed (deadline.ts); called in long scoring loops. */
  checkDeadline?(): void
}

/** Candidates scored between two deadline checks in the exact scoring loops. */
const DEADLINE_STRIDE = 1024

/** Qdrant's `lookup_from`: example ids of a stage name points of another collection, and which vector of theirs. */
export interface LookupFrom {
  readonly collection: string
  /** The vector of the other collection (default `""`, Qdrant's default vector). */
  readonly vector: string
}

/**
 * A vector example as checked: given, or a stored point's (resolved when the plan runs): of this
 * collection, or with `lookup` of another one.
 */
export type VectorSource =
  | { readonly vector: QueryVector }
  | { readonly id: PointId; readonly lookup?: LookupFrom | undefined }

export type StageQuery =
  | { readonly kind: 'nearest'; readonly input: VectorSource; readonly mmr: MmrPlan | null }
  | {
      readonly kind: 'recommend'
      readonly positive: readonly VectorSource[]
      readonly negative: readonly VectorSource[]
      readonly strategy: RecommendStrategy
    }
  | { readonly kind: 'rrf'; readonly k: number; readonly weights: readonly number[] | null }
  | { readonly kind: 'dbsf' }
  | { readonly kind: 'sample' }
  | { readonly kind: 'none' }
  /** Rescores the prefetches' candidates: score = the formula's value, higher first. */
  | { readonly kind: 'formula'; readonly formula: Formula }
  | { readonly kind: 'orderBy'; readonly order: ResolvedOrderBy }
  | { readonly kind: 'discover'; readonly target: VectorSource; readonly pairs: readonly ContextPlan[] }
  | { readonly kind: 'context'; readonly pairs: readonly ContextPlan[] }

/** One context pair as checked: the search prefers points nearer `positive` than `negative`. */
export interface ContextPlan {
  readonly positive: VectorSource
  readonly negative: VectorSource
}

export interface MmrPlan {
  /** 1 - diversity. */
  readonly lambda: number
  readonly candidatesLimit: number | null
}

export interface Stage {
  /** The vector this stage searches and scores by (`""` = the unnamed vector). */
  readonly using: string
  readonly query: StageQuery
  readonly prefetches: readonly Stage[]
  readonly filter: FilterNode | null
  readonly limit: number
  readonly threshold: number | null
  readonly params: StageParams
  /** `lookup_from`: where this stage's example ids live (null: this collection). */
  readonly lookup: LookupFrom | null
}

export interface QueryPlan extends Stage {
  readonly offset: number
  readonly withPayload: PayloadProjection
  readonly withVector: WithVector
  /** Point ids the request names as examples (root and nested): excluded from every stage, as Qdrant. */
  readonly referencedIds: readonly PointId[]
  /** Example ids to fetch from other collections before the plan runs, per lookup location. */
  readonly lookups: readonly { readonly lookup: LookupFrom; readonly ids: readonly PointId[] }[]
}

const STRATEGIES: readonly RecommendStrategy[] = ['average_vector', 'best_score', 'sum_scores']

/** Validates requests into plans; `spaces` resolves `using` names and checks example vectors. */
export class QueryParser {
  private readonly referenced: PointId[] = []
  /** `lookup_from` of the stage being parsed. */
  private lookup: LookupFrom | null = null
  private readonly lookups = new Map<string, { lookup: LookupFrom; ids: Set<PointId> }>()
  /** The vector of the stage being parsed (its `using`), resolved on first need. */
  private resolveSpace: () => VectorSpace = () => this.spaces('', 'using')

  constructor(private readonly spaces: VectorSpaces) {}

  /**
   * Checks `request` completely (paths named from `prefix`, e.g. `requests[0]`) and returns its plan.
   * Throws INVALID_ARGUMENT / INVALID_VECTOR / INVALID_FILTER / INVALID_POINT_ID naming the JSON path.
   */
  static parse(request: unknown, spaces: VectorSpaces, prefix = ''): QueryPlan {
    const parser = new QueryParser(spaces)
    const r = request ?? {}
    if (!isObject(r)) fail(prefix === '' ? 'request' : prefix, `expected an object, got ${describeValue(r)}`)
    const stage = parser.stage(r, prefix, 10)
    return {
      ...stage,
      offset: toOffset(r.offset, at(prefix, 'offset')),
      withPayload: toWithPayload(r.withPayload, at(prefix, 'withPayload'), false),
      withVector: toWithVector(r.withVector, at(prefix, 'withVector')),
      referencedIds: [...new Set(parser.referenced)],
      lookups: [...parser.lookups.values()].map((l) => ({ lookup: l.lookup, ids: [...l.ids] })),
    }
  }

  private stage(o: Obj, path: string, defaultLimit: number): Stage {
    const using = isAbsent(o.using) ? '' : o.using
    if (typeof using !== 'string')
      fail(at(path, 'using'), `expected a vector name, got ${describeValue(using)}`)
    const prefetches = this.prefetches(o.prefetch, at(path, 'prefetch'))
    const lookup = this.lookupFrom(o.lookupFrom, at(path, 'lookupFrom'))
    this.lookup = lookup
    // an explicit `using` must exist; the default "" is resolved only when the query needs a vector
    // (a fusion of prefetches over named vectors has no vector of its own)
    const usingPath = at(path, 'using')
    if (!isAbsent(o.using)) this.spaces(using, usingPath)
    this.resolveSpace = () => this.spaces(using, usingPath)
    const query = this.query(o.query, at(path, 'query'))
    const vectorless = ['none', 'rrf', 'dbsf', 'formula', 'sample', 'orderBy'].includes(query.kind)
    const space = vectorless && isAbsent(o.using) ? undefined : this.resolveSpace()
    const limit = toLimit(o.limit, at(path, 'limit'), defaultLimit)
    const threshold = o.scoreThreshold ?? null
    if (threshold !== null && (typeof threshold !== 'number' || !Number.isFinite(threshold)))
      fail(at(path, 'scoreThreshold'), `expected a finite number, got ${describeValue(threshold)}`)
    const filterNode = parseFilter(o.filter as never, at(path, 'filter'))
    const filter = filterNode.kind === 'true' ? null : filterNode
    const params = this.params(o.params, at(path, 'params'))
    const qpath = at(path, 'query')
    if (prefetches.length === 0) {
      if (query.kind === 'rrf' || query.kind === 'dbsf')
        fail(qpath, 'fusion needs prefetches: it merges their results')
      if (query.kind === 'formula') fail(qpath, 'a formula needs prefetches: it rescores their results')
    } else {
      if (query.kind === 'none')
        fail(qpath, 'a query is needed to merge the prefetches; prefetch without a query is not allowed')
      if (query.kind === 'rrf' && query.weights !== null && query.weights.length !== prefetches.length)
        fail(
          `${qpath}.rrf.weights`,
          `expected one weight per prefetch (${prefetches.length}), got ${query.weights.length}`,
        )
    }
    if (query.kind === 'none' && threshold !== null)
      fail(at(path, 'scoreThreshold'), 'a query is needed to use scoreThreshold')
    if (query.kind === 'orderBy' && threshold !== null)
      fail(at(path, 'scoreThreshold'), "Can't use score_threshold with an order_by query")
    if (space?.kind === 'sparse' && query.kind === 'nearest' && query.mmr !== null)
      fail(`${qpath}.mmr`, 'MMR works on dense vectors, not on the sparse vector of `using`')
    if (
      space !== undefined &&
      space.kind !== 'dense' &&
      query.kind === 'recommend' &&
      query.strategy === 'average_vector'
    )
      fail(
        `${qpath}.recommend.strategy`,
        `average_vector needs a dense vector; use best_score or sum_scores with the ${space.kind} vector ${JSON.stringify(using)}`,
      )
    return { using, query, prefetches, filter, limit, threshold, params, lookup }
  }

  /** `lookupFrom: { collection, vector? }` (Qdrant's LookupLocation) or null. */
  private lookupFrom(v: unknown, path: string): LookupFrom | null {
    if (isAbsent(v)) return null
    if (!isObject(v)) fail(path, `expected { collection, vector? }, got ${describeValue(v)}`)
    onlyKeys(v, ['collection', 'vector'], path)
    if (typeof v.collection !== 'string' || v.collection.length === 0)
      fail(at(path, 'collection'), `expected a collection name, got ${describeValue(v.collection)}`)
    const vector = isAbsent(v.vector) ? '' : v.vector
    if (typeof vector !== 'string')
      fail(at(path, 'vector'), `expected a vector name, got ${describeValue(vector)}`)
    return { collection: v.collection, vector }
  }

  private prefetches(v: unknown, path: string): Stage[] {
    if (isAbsent(v)) return []
    if (Array.isArray(v)) return v.map((p, i) => this.prefetch(p, `${path}[${i}]`))
    return [this.prefetch(v, path)]
  }

  private prefetch(v: unknown, path: string): Stage {
    if (!isObject(v)) fail(path, `expected a prefetch object, got ${describeValue(v)}`)
    onlyKeys(
      v,
      ['query', 'prefetch', 'filter', 'limit', 'params', 'scoreThreshold', 'using', 'lookupFrom'] satisfies (
        | keyof Prefetch
        | 'lookupFrom'
      )[],
      path,
    )
    return this.stage(v, path, 10)
  }

  private params(v: unknown, path: string): StageParams {
    if (isAbsent(v))
      return {
        ef: undefined,
        nprobe: undefined,
        exact: false,
        quantization: undefined,
        targetRecall: undefined,
      }
    if (!isObject(v)) fail(path, `expected an object, got ${describeValue(v)}`)
    onlyKeys(v, ['hnswEf', 'exact', 'quantization', 'nprobe', 'indexedOnly', 'targetRecall'], path)
    return {
      ef: isAbsent(v.hnswEf) ? undefined : toLimit(v.hnswEf, at(path, 'hnswEf'), 1),
      nprobe: isAbsent(v.nprobe) ? undefined : toLimit(v.nprobe, at(path, 'nprobe'), 1),
      exact: toBool(v.exact, at(path, 'exact'), false),
      quantization: toQuantizationParams(v.quantization, at(path, 'quantization')),
      targetRecall: toTargetRecall(v.targetRecall, at(path, 'targetRecall')),
    }
  }

  private vectorSource(v: unknown, path: string): VectorSource {
    if (typeof v === 'number' || typeof v === 'string') {
      const id = parsePointId(v, path)
      const lookup = this.lookup
      if (lookup === null) {
        this.referenced.push(id)
        return { id }
      }
      // an id of another collection: fetched before the plan runs, and not excluded from the results
      const key = `${lookup.collection}\u0000${lookup.vector}`
      let entry = this.lookups.get(key)
      if (entry === undefined) {
        entry = { lookup, ids: new Set() }
        this.lookups.set(key, entry)
      }
      entry.ids.add(id)
      return { id, lookup }
    }
    const space = this.resolveSpace()
    if (space.kind === 'sparse') return { vector: toSparseValue(v, path, 'query') }
    const c = space.config!
    if (space.kind === 'dense') return { vector: toVector(v, c.dimension, c.metric, path) }
    const rows = toDenseValue(v, { ...c, datatype: 'float32' }, path)
    if (c.metric === 'Cosine') normalizeRows(rows, c.dimension)
    return { vector: rows }
  }

  private query(v: unknown, path: string): StageQuery {
    if (isAbsent(v)) return { kind: 'none' }
    if (!isObject(v) || isSparseOrDocumentInput(v))
      return { kind: 'nearest', input: this.vectorSource(v, path), mmr: null }
    const keys = Object.keys(v)
    // a sparse vector `{ indices, values }` is a nearest query (Qdrant's VectorInput)
    if (keys.length === 2 && 'indices' in v && 'values' in v)
      return { kind: 'nearest', input: this.vectorSource(v, path), mmr: null }
    const kind = keys[0]
    const pair = (a: string, b: string) => keys.length === 2 && a in v && b in v
    if (keys.length !== 1 && !pair('nearest', 'mmr') && !pair('formula', 'defaults'))
      fail(
        path,
        `expected exactly one query kind (nearest, recommend, fusion, rrf, formula, sample), got ${keys.length === 0 ? 'none' : keys.join(', ')}`,
      )
    if ('nearest' in v) {
      const input = this.vectorSource(v.nearest, `${path}.nearest`)
      return { kind: 'nearest', input, mmr: this.mmr(v.mmr, `${path}.mmr`) }
    }
    if ('recommend' in v) return this.recommend(v.recommend, `${path}.recommend`)
    if ('fusion' in v) {
      if (v.fusion === 'rrf') return { kind: 'rrf', k: DEFAULT_RRF_K, weights: null }
      if (v.fusion === 'dbsf') return { kind: 'dbsf' }
      fail(`${path}.fusion`, `expected "rrf" or "dbsf", got ${describeValue(v.fusion)}`)
    }
    if ('rrf' in v) {
      const r = v.rrf ?? {}
      const rpath = `${path}.rrf`
      if (!isObject(r)) fail(rpath, `expected { k?, weights? }, got ${describeValue(r)}`)
      onlyKeys(r, ['k', 'weights'], rpath)
      const k = isAbsent(r.k) ? DEFAULT_RRF_K : toLimit(r.k, `${rpath}.k`, DEFAULT_RRF_K)
      let weights: number[] | null = null
      if (!isAbsent(r.weights)) {
        if (!Array.isArray(r.weights))
          fail(`${rpath}.weights`, `expected an array of numbers, got ${describeValue(r.weights)}`)
        weights = r.weights.map((w: unknown, i: number) => {
          if (typeof w !== 'number' || !Number.isFinite(w) || w < 0)
            fail(`${rpath}.weights[${i}]`, `expected a finite number >= 0, got ${describeValue(w)}`)
          return w
        })
      }
      return { kind: 'rrf', k, weights }
    }
    if ('formula' in v) return { kind: 'formula', formula: parseFormula(v, path) }
    if ('sample' in v) {
      if (v.sample !== 'random') fail(`${path}.sample`, `expected "random", got ${describeValue(v.sample)}`)
      return { kind: 'sample' }
    }
    const more = this.moreKinds(v, path)
    if (more !== undefined) return more
    fail(
      path,
      `query kind ${JSON.stringify(kind)} is not supported (nearest, recommend, fusion, rrf, formula, sample)`,
    )
  }

  /** Query kinds beyond the first set: `orderBy`, `discover`, `context`. Undefined when `v` holds none of them. */
  private moreKinds(v: Obj, path: string): StageQuery | undefined {
    if ('orderBy' in v)
      return { kind: 'orderBy', order: resolveOrderBy(v.orderBy as never, `${path}.orderBy`) }
    if ('discover' in v) {
      const d = v.discover
      const dpath = `${path}.discover`
      if (!isObject(d)) fail(dpath, `expected { target, context }, got ${describeValue(d)}`)
      onlyKeys(d, ['target', 'context'], dpath)
      if (isAbsent(d.target)) fail(`${dpath}.target`, 'required: a vector or a point id')
      const target = this.vectorSource(d.target, `${dpath}.target`)
      return { kind: 'discover', target, pairs: this.contextPairs(d.context, `${dpath}.context`) }
    }
    if ('context' in v) return { kind: 'context', pairs: this.contextPairs(v.context, `${path}.context`) }
    return undefined
  }

  /** Qdrant's `ContextInput`: a pair, a list of pairs, or null (none). */
  private contextPairs(v: unknown, path: string): ContextPlan[] {
    if (isAbsent(v)) return []
    const list = Array.isArray(v) ? v : [v]
    return list.map((p: unknown, i: number) => {
      const ppath = Array.isArray(v) ? `${path}[${i}]` : path
      if (!isObject(p)) fail(ppath, `expected a pair { positive, negative }, got ${describeValue(p)}`)
      onlyKeys(p, ['positive', 'negative'], ppath)
      if (isAbsent(p.positive)) fail(`${ppath}.positive`, 'required: a vector or a point id')
      if (isAbsent(p.negative)) fail(`${ppath}.negative`, 'required: a vector or a point id')
      return {
        positive: this.vectorSource(p.positive, `${ppath}.positive`),
        negative: this.vectorSource(p.negative, `${ppath}.negative`),
      }
    })
  }

  private mmr(v: unknown, path: string): MmrPlan | null {
    if (isAbsent(v)) return null
    if (!isObject(v)) fail(path, `expected { diversity?, candidatesLimit? }, got ${describeValue(v)}`)
    onlyKeys(v, ['diversity', 'candidatesLimit'], path)
    let lambda = 0.5
    if (!isAbsent(v.diversity)) {
      const d = v.diversity
      if (typeof d !== 'number' || !(d >= 0 && d <= 1))
        fail(`${path}.diversity`, `expected a number in [0, 1], got ${describeValue(d)}`)
      lambda = 1 - d
    }
    const candidatesLimit = isAbsent(v.candidatesLimit)
      ? null
      : toLimit(v.candidatesLimit, `${path}.candidatesLimit`, MAX_LIMIT)
    return { lambda, candidatesLimit }
  }

  private recommend(v: unknown, path: string): StageQuery {
    if (!isObject(v)) fail(path, `expected { positive, negative, strategy }, got ${describeValue(v)}`)
    onlyKeys(v, ['positive', 'negative', 'strategy'], path)
    const examples = (key: 'positive' | 'negative'): VectorSource[] => {
      const list = v[key]
      if (isAbsent(list)) return []
      if (!Array.isArray(list))
        fail(`${path}.${key}`, `expected an array of vectors or point ids, got ${describeValue(list)}`)
      return list.map((e: unknown, i: number) => this.vectorSource(e, `${path}.${key}[${i}]`))
    }
    const positive = examples('positive')
    const negative = examples('negative')
    const strategy = (v.strategy ?? 'average_vector') as RecommendStrategy
    if (!STRATEGIES.includes(strategy))
      fail(`${path}.strategy`, `expected one of ${STRATEGIES.join(', ')}, got ${describeValue(v.strategy)}`)
    if (strategy === 'average_vector' && positive.length === 0)
      fail(`${path}.positive`, 'at least one positive example is required with the average_vector strategy')
    if (positive.length === 0 && negative.length === 0)
      fail(path, 'at least one positive or negative example is required')
    return { kind: 'recommend', positive, negative, strategy }
  }
}

/** A plain nearest-vector query with no prefetch, MMR or point id: it runs as `search` does. */
export function plainNearest(plan: QueryPlan): QueryVector | undefined {
  const q = plan.query
  if (plan.prefetches.length > 0 || q.kind !== 'nearest' || q.mmr !== null || !('vector' in q.input))
    return undefined
  return q.input.vector
}

function and(a: FilterNode | null, b: FilterNode | null): FilterNode | null {
  if (a === null) return b
  if (b === null) return a
  return { kind: 'and', children: [a, b] }
}

/** `similarity(a, b)`: higher is more similar (dot; minus squared L2; minus L1), as Qdrant's raw scores. */
export function similarity(metric: Distance, a: Float32Array, b: Float32Array): number {
  let s = 0
  switch (metric) {
    case 'Cosine':
    case 'Dot':
      for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
      return s
    case 'Euclid':
      for (let i = 0; i < a.length; i++) {
        const d = a[i]! - b[i]!
        s += d * d
      }
      return -s
    case 'Manhattan':
      for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!)
      return -s
  }
}

/** Qdrant's `scaled_fast_sigmoid`: x / (1 + |x|) mapped to (0, 1). */
function sigmoid(x: number): number {
  return 0.5 * (fastSigmoid(x) + 1)
}

/** Qdrant's `fast_sigmoid`: x / (1 + |x|), in (-1, 1). */
function fastSigmoid(x: number): number {
  return x / (1 + Math.abs(x))
}

/** Qdrant's context-pair margin (`f32::EPSILON`): a point exactly between a pair's examples loses. */
const CONTEXT_MARGIN = 1.1920929e-7

/** Runs checked plans over a host. */
export class QueryRunner {
  /** Vector spaces by `using`, resolved once per run (similarities ask for them per candidate pair). */
  private readonly spaces = new Map<string, VectorSpace>()

  constructor(private readonly host: QueryHost) {}

  private space(using: string): VectorSpace {
    let s = this.spaces.get(using)
    if (s === undefined) {
      s = this.host.space(using)
      this.spaces.set(using, s)
    }
    return s
  }

  /** The final hits of `plan`, after `offset`, at most `limit`. Throws POINT_NOT_FOUND for an unknown example id. */
  run(plan: QueryPlan): Hit[] {
    const excluded: FilterNode | null =
      plan.referencedIds.length === 0
        ? null
        : { kind: 'not', child: { kind: 'has_id', ids: new Set(plan.referencedIds) } }
    const hits = this.stage(plan, excluded, plan.limit + plan.offset)
    return hits.slice(plan.offset)
  }

  private resolve(using: string, source: VectorSource): QueryVector {
    if ('vector' in source) return this.normalised(using, source.vector)
    if (source.lookup !== undefined) {
      const found = this.host.lookupVector(source.lookup, source.id, using)
      if (found === undefined)
        throw new QuiverError(
          'POINT_NOT_FOUND',
          `no point with id ${JSON.stringify(source.id)} holding vector ${JSON.stringify(source.lookup.vector)} in collection ${source.lookup.collection} (lookup_from)`,
          { id: source.id, collection: source.lookup.collection },
        )
      return this.normalised(using, found)
    }
    const v = this.host.vectorOf(using, source.id)
    if (v === undefined)
      throw new QuiverError(
        'POINT_NOT_FOUND',
        `no point with id ${JSON.stringify(source.id)} found${using === '' ? '' : ` holding vector ${JSON.stringify(using)}`}`,
        { id: source.id },
      )
    return v
  }

  /**
   * An example (recommend, discover, context) as it is scored: resolved, and for a sparse vector with
   * `modifier: idf` weighted by the collection's idf, as Qdrant weighs every vector of such a query.
   */
  private example(using: string, source: VectorSource): QueryVector {
    return this.host.weighted(using, this.resolve(using, source))
  }

  /** A given dense query vector normalised for Cosine (multivector rows were normalised when parsed). */
  private normalised(using: string, v: QueryVector): QueryVector {
    const space = this.space(using)
    if (isSparse(v) || space.metric !== 'Cosine' || space.kind !== 'dense') return v
    let n = 0
    for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!
    if (n === 0) return v
    const out = new Float32Array(v.length)
    const inv = 1 / Math.sqrt(n)
    for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv
    return out
  }

  /** Raw similarity of two vectors of `using` (higher is more similar). */
  private similarity(using: string, a: QueryVector, b: QueryVector): number {
    const space = this.space(using)
    if (isSparse(a) || isSparse(b)) return isSparse(a) && isSparse(b) ? sparseDot(a, b) : 0
    if (space.kind === 'multi') return maxSim(space.metric as Distance, a, b, space.dimension)
    return similarity(space.metric as Distance, a, b)
  }

  /** Higher scores are better for nearest matches of `using` (Cosine, Dot, sparse). */
  private higherIsBetter(using: string): boolean {
    const m = this.space(using).metric
    return m === 'Cosine' || m === 'Dot' || m === 'sparse'
  }

  /** Qdrant's user-facing score of a nearest match from its raw similarity. */
  private nearestScore(using: string, sim: number): number {
    const space = this.space(using)
    switch (space.metric) {
      case 'Cosine':
      case 'Dot':
      case 'sparse':
        return sim
      case 'Euclid':
        return Math.sqrt(Math.max(-sim, 0))
      case 'Manhattan':
        return -sim
    }
  }

  /** Does this stage rank higher scores first? (nearest on Euclid/Manhattan ranks distances ascending) */
  private higherFirst(stage: Stage): boolean {
    const q = stage.query
    if (q.kind === 'nearest' || (q.kind === 'recommend' && q.strategy === 'average_vector'))
      return this.higherIsBetter(stage.using)
    return true
  }

  private stage(stage: Stage, inherited: FilterNode | null, k: number): Hit[] {
    const filter = and(inherited, stage.filter)
    const q = stage.query
    const using = stage.using
    if (stage.prefetches.length === 0) return this.leaf(stage, q, filter, k)
    const lists = stage.prefetches.map((p) => this.stage(p, filter, p.limit))
    let out: Hit[]
    switch (q.kind) {
      case 'rrf':
        out = rrf(lists, q.k, q.weights)
        break
      case 'dbsf':
        out = dbsf(
          lists,
          stage.prefetches.map((p) => this.higherFirst(p)),
        )
        break
      case 'formula':
        out = rescoreByFormula(lists, q.formula)
        break
      case 'sample':
        out = sample(union(lists), k)
        break
      case 'none':
        throw invalid('a query is needed to merge the prefetches')
      case 'nearest': {
        const query = this.resolve(using, q.input)
        if (q.mmr !== null) {
          const n = Math.max(q.mmr.candidatesLimit ?? k, k)
          return this.mmr(
            using,
            this.rescore(using, union(lists), query, n, stage.threshold),
            query,
            q.mmr.lambda,
            k,
          )
        }
        return this.rescore(using, union(lists), query, k, stage.threshold)
      }
      case 'recommend':
        return this.recommendOver(using, union(lists), q, k, stage.threshold)
      case 'orderBy': {
        const ids = new Set(union(lists).map((h) => h.id))
        return this.host.orderBy(q.order, and(filter, { kind: 'has_id', ids }), k)
      }
      case 'discover':
      case 'context':
        return this.contextOver(using, union(lists), q, k, stage.threshold)
    }
    return this.cut(out, k, stage.threshold, true)
  }

  private leaf(stage: Stage, q: StageQuery, filter: FilterNode | null, k: number): Hit[] {
    const using = stage.using
    switch (q.kind) {
      case 'none':
        return this.host.scroll(filter, k)
      case 'sample':
        return sample(this.host.matching(filter), k)
      case 'nearest': {
        const query = this.resolve(using, q.input)
        if (q.mmr === null) return this.host.nearest(using, query, k, filter, stage.threshold, stage.params)
        const n = Math.max(q.mmr.candidatesLimit ?? k, k)
        const candidates = this.host.nearest(using, query, n, filter, stage.threshold, stage.params)
        return this.mmr(using, candidates, query, q.mmr.lambda, k)
      }
      case 'recommend':
        if (q.strategy === 'average_vector')
          return this.host.nearest(
            using,
            this.averageVector(using, q),
            k,
            filter,
            stage.threshold,
            stage.params,
          )
        return this.recommendOver(
          using,
          this.withVector(using, this.host.matching(filter)),
          q,
          k,
          stage.threshold,
        )
      case 'orderBy':
        return this.host.orderBy(q.order, filter, k)
      case 'discover':
      case 'context':
        return this.contextOver(
          using,
          this.withVector(using, this.host.matching(filter)),
          q,
          k,
          stage.threshold,
        )
      case 'rrf':
      case 'dbsf':
        throw invalid('fusion needs prefetches')
      case 'formula':
        throw invalid('a formula needs prefetches')
    }
  }

  /** The hits whose point holds vector `using`. */
  private withVector(using: string, hits: Hit[]): Hit[] {
    return hits.filter((h) => this.host.vectorAt(using, h) !== undefined)
  }

  /** Qdrant's average_vector: 2 * mean(positive) - mean(negative), or mean(positive). Dense vectors only. */
  private averageVector(using: string, q: Extract<StageQuery, { kind: 'recommend' }>): Float32Array {
    const dim = this.space(using).dimension
    const mean = (sources: readonly VectorSource[]): Float64Array => {
      const m = new Float64Array(dim)
      for (const s of sources) {
        const v = this.resolve(using, s) as Float32Array
        for (let i = 0; i < m.length; i++) m[i]! += v[i]!
      }
      for (let i = 0; i < m.length; i++) m[i]! /= sources.length
      return m
    }
    const pos = mean(q.positive)
    const out = new Float32Array(dim)
    if (q.negative.length === 0) out.set(pos)
    else {
      const neg = mean(q.negative)
      for (let i = 0; i < out.length; i++) out[i] = pos[i]! + pos[i]! - neg[i]!
    }
    return this.normalised(using, out) as Float32Array
  }

  private recommendOver(
    using: string,
    candidates: Hit[],
    q: Extract<StageQuery, { kind: 'recommend' }>,
    k: number,
    threshold: number | null,
  ): Hit[] {
    if (q.strategy === 'average_vector')
      return this.rescore(using, candidates, this.averageVector(using, q), k, threshold)
    const positive = q.positive.map((s) => this.example(using, s))
    const negative = q.negative.map((s) => this.example(using, s))
    const scored: Hit[] = []
    let n = 0
    for (const hit of candidates) {
      if (++n % DEADLINE_STRIDE === 0) this.host.checkDeadline?.()
      const v = this.host.vectorAt(using, hit)
      if (v === undefined) continue
      if (q.strategy === 'sum_scores') {
        let s = 0
        for (const p of positive) s += this.similarity(using, p, v)
        for (const n of negative) s -= this.similarity(using, n, v)
        hit.score = s
      } else {
        let maxPos = Number.NEGATIVE_INFINITY
        let maxNeg = Number.NEGATIVE_INFINITY
        for (const p of positive) maxPos = Math.max(maxPos, this.similarity(using, p, v))
        for (const n of negative) maxNeg = Math.max(maxNeg, this.similarity(using, n, v))
        hit.score = maxPos > maxNeg ? sigmoid(maxPos) : -sigmoid(maxNeg)
      }
      scored.push(hit)
    }
    scored.sort((a, b) => b.score - a.score)
    return this.cut(scored, k, threshold, true)
  }

  /**
   * Qdrant's discovery and context scores, computed exactly for every candidate (higher is better),
   * from raw similarities `sim` (`similarity` above):
   * - discover: `rank + scaledSigmoid(sim(target))`, rank = per pair +1 if sim(positive) > sim(negative),
   *   -1 if less, 0 if equal; so the pairs' constraint dominates and the target breaks ties in (0, 1);
   * - context: the sum over pairs of `fastSigmoid(min(sim(positive) - sim(negative) - eps, 0))`, in
   *   (-1, 0] per pair: 0 for a point on the positive side of every pair.
   * Ties are broken by id so results repeat. Cost: pairs x candidates similarity computations.
   */
  private contextOver(
    using: string,
    candidates: Hit[],
    q: Extract<StageQuery, { kind: 'discover' | 'context' }>,
    k: number,
    threshold: number | null,
  ): Hit[] {
    const pairs = q.pairs.map((p) => ({
      positive: this.example(using, p.positive),
      negative: this.example(using, p.negative),
    }))
    const target = q.kind === 'discover' ? this.example(using, q.target) : null
    const scored: Hit[] = []
    let n = 0
    for (const hit of candidates) {
      if (++n % DEADLINE_STRIDE === 0) this.host.checkDeadline?.()
      const v = this.host.vectorAt(using, hit)
      if (v === undefined) continue
      scored.push(hit)
      let score = 0
      for (const p of pairs) {
        const d = this.similarity(using, p.positive, v) - this.similarity(using, p.negative, v)
        if (target !== null) score += d > 0 ? 1 : d < 0 ? -1 : 0
        else score += fastSigmoid(Math.min(d - CONTEXT_MARGIN, 0))
      }
      if (target !== null) score += sigmoid(this.similarity(using, target, v))
      hit.score = score
    }
    scored.sort((a, b) => b.score - a.score || comparePointIds(a.id, b.id))
    return this.cut(scored, k, threshold, true)
  }

  /**
   * Scores `candidates` exactly as nearest matches of `query` by vector `using`, best first, top k
   * past the threshold. Candidates lacking that vector drop out (Qdrant's rescoring does likewise).
   */
  private rescore(
    using: string,
    candidates: Hit[],
    query: QueryVector,
    k: number,
    threshold: number | null,
  ): Hit[] {
    const scored: Hit[] = []
    const q = this.host.weighted(using, query)
    let n = 0
    for (const hit of candidates) {
      if (++n % DEADLINE_STRIDE === 0) this.host.checkDeadline?.()
      const v = this.host.vectorAt(using, hit)
      if (v === undefined) continue
      hit.score = this.nearestScore(using, this.similarity(using, q, v))
      scored.push(hit)
    }
    const higher = this.higherIsBetter(using)
    scored.sort((a, b) => (higher ? b.score - a.score : a.score - b.score))
    return this.cut(scored, k, threshold, higher)
  }

  /** MMR over nearest `candidates` (scores kept: the similarity to the query, as Qdrant). */
  private mmr(using: string, candidates: Hit[], query: QueryVector, lambda: number, k: number): Hit[] {
    const present = this.withVector(using, candidates)
    const vectors = present.map((h) => this.host.vectorAt(using, h)!)
    const relevance = Float64Array.from(vectors, (v) => this.similarity(using, query, v))
    const order = mmrSelect(relevance, (i, j) => this.similarity(using, vectors[i]!, vectors[j]!), lambda, k)
    return order.map((i) => present[i]!)
  }

  private cut(sorted: Hit[], k: number, threshold: number | null, higherFirst: boolean): Hit[] {
    let end = Math.min(k, sorted.length)
    if (threshold !== null) {
      for (let i = 0; i < end; i++) {
        const s = sorted[i]!.score
        if (higherFirst ? s < threshold : s > threshold) {
          end = i
          break
        }
      }
    }
    return sorted.length === end ? sorted : sorted.slice(0, end)
  }
}

/** The distinct points of several lists (first occurrence kept), as fresh hits a stage may rescore. */
function union(lists: readonly (readonly Hit[])[]): Hit[] {
  const seen = new Set<PointId>()
  const out: Hit[] = []
  for (const list of lists) {
    for (const h of list) {
      if (seen.has(h.id)) continue
      seen.add(h.id)
      out.push({ segment: h.segment, offset: h.offset, id: h.id, score: h.score })
    }
  }
  return out
}

/** Up to k of `hits` chosen uniformly at random (partial Fisher-Yates), score 0. */
function sample(hits: Hit[], k: number): Hit[] {
  const n = Math.min(k, hits.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (hits.length - i))
    const t = hits[i]!
    hits[i] = hits[j]!
    hits[j] = t
    hits[i]!.score = 0
  }
  return hits.slice(0, n)
}

// Wire format of the read endpoints beyond search and query: facet, the distance matrix (pairs and
// offsets), groups and legacy discover. Type errors are 400 (Qdrant's deserialize errors); range
// checks are 422 VALIDATION_FAILED (Qdrant's `validate` errors), with Qdrant's message wording.
import { QuiverError } from '../errors.js'
import { parseKeyPath } from '../filter/index.js'
import type {
  FacetOptions,
  GroupsResult,
  PointId,
  QueryGroupsRequest,
  QueryParams,
  QueryRequest,
  SearchMatrixOptions,
  SearchMatrixResult,
  SparseVectorInput,
  VectorInput,
  WithVector,
} from '../types.js'
import {
  bodyObject,
  fail,
  isAbsent,
  isPlainObject,
  join,
  type Obj,
  optBool,
  optString,
  type PayloadSelection,
  parseContextPairs,
  parseFilter,
  parseQuery,
  parseRecommend,
  parseSearch,
  parseVectorInput,
  parseWithPayload,
  parseWithVector,
  shortestFloat32,
  toWireRecord,
  toWireScoredPoint,
  unsupported,
  type WireRecord,
  type WireScoredPoint,
} from './wire.js'

/**
 * A non-negative integer field (Qdrant's `uint`): absent -> undefined; not an integer >= 0 -> 400
 * INVALID_ARGUMENT; below `min` -> 422 VALIDATION_FAILED, worded as Qdrant's validator words it.
 */
export function optCount(o: Obj, key: string, path: string, min: number): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  return countValue(v, join(path, key), min)
}

function countValue(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(path, `expected a non-negative integer, got ${describeShort(v)}`)
  if (v < min) throw validationError(path, `value ${v} invalid, must be ${min} or larger`)
  return v
}

/** Qdrant's 422 wording: `Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]`. */
export function validationError(path: string, message: string): QuiverError {
  return new QuiverError('VALIDATION_FAILED', `Validation error in JSON body: [${path}: ${message}]`, {
    path,
  })
}

function describeShort(v: unknown): string {
  return typeof v === 'number' ? `number ${v}` : Array.isArray(v) ? 'an array' : typeof v
}

export function reqCount(o: Obj, key: string, path: string, min: number): number {
  const n = optCount(o, key, path, min)
  if (n === undefined) fail(join(path, key), `required: an integer >= ${min}`)
  return n
}

/** A payload key that must be a non-empty string (empty: 422, as Qdrant's `length(min = 1)`). */
export function nonEmptyKey(o: Obj, key: string, path: string): string {
  const v = o[key]
  if (typeof v !== 'string')
    fail(join(path, key), `expected a payload key (a string), got ${describeShort(v)}`)
  if (v === '') throw validationError(join(path, key), 'must not be empty')
  return v
}

// ---- facet ----

/** `POST /collections/{name}/facet`: `{ key, limit = 10, filter?, exact = false }`. */
export function parseFacet(body: unknown): FacetOptions {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  if (typeof o.key !== 'string' || o.key === '')
    fail('key', `expected a payload key (a non-empty string), got ${describeShort(o.key)}`)
  const out: FacetOptions = { key: o.key }
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const exact = optBool(o, 'exact', '')
  if (exact !== undefined) out.exact = exact
  return out
}

// ---- distance matrix ----

/** `POST .../points/search/matrix/{pairs,offsets}`: `{ sample = 10 (>= 2), limit = 3 (>= 1), filter?, using? }`. */
export function parseSearchMatrix(body: unknown): SearchMatrixOptions {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const out: SearchMatrixOptions = {}
  const sample = optCount(o, 'sample', '', 2)
  if (sample !== undefined) out.sample = sample
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const using = optString(o, 'using', '')
  if (using !== undefined) out.using = using
  return out
}

/** Qdrant's `SearchMatrixPairsResponse`: per sampled point (ascending id), its neighbours best first. */
export function toWireMatrixPairs(r: SearchMatrixResult): {
  pairs: { a: PointId; b: PointId; score: number }[]
} {
  const pairs: { a: PointId; b: PointId; score: number }[] = []
  r.sampleIds.forEach((a, i) => {
    for (const n of r.nearest[i]!) pairs.push({ a, b: n.id, score: shortestFloat32(n.score) })
  })
  return { pairs }
}

/**
 * Qdrant's `SearchMatrixOffsetsResponse`: `ids` the sample; entry k says that `ids[offsets_col[k]]`
 * is a neighbour of `ids[offsets_row[k]]` with `scores[k]`.
 */
export function toWireMatrixOffsets(r: SearchMatrixResult): {
  offsets_row: number[]
  offsets_col: number[]
  scores: number[]
  ids: PointId[]
} {
  const position = new Map<PointId, number>()
  r.sampleIds.forEach((id, i) => {
    position.set(id, i)
  })
  const offsets_row: number[] = []
  const offsets_col: number[] = []
  const scores: number[] = []
  r.sampleIds.forEach((_, i) => {
    for (const n of r.nearest[i]!) {
      offsets_row.push(i)
      offsets_col.push(position.get(n.id)!)
      scores.push(shortestFloat32(n.score))
    }
  })
  return { offsets_row, offsets_col, scores, ids: r.sampleIds }
}

// ---- groups ----

/** Qdrant's `with_lookup`: the collection to look group ids up in, and what to return of its points. */
export interface ParsedLookup {
  collection: string
  payload: PayloadSelection
  withVector: WithVector
}

export interface ParsedGroups {
  request: QueryGroupsRequest
  /** Payload selection of the hits. */
  payload: PayloadSelection
  lookup: ParsedLookup | undefined
}

/** `with_lookup`: a collection name, or `{ collection, with_payload = true, with_vectors = false }` (`with_vector` too, as Qdrant's alias). */
function parseLookup(v: unknown, path: string): ParsedLookup | undefined {
  if (isAbsent(v)) return undefined
  if (typeof v === 'string')
    return { collection: v, payload: { select: true, exclude: undefined }, withVector: false }
  if (!isPlainObject(v))
    fail(
      path,
      `expected a collection name or { collection, with_payload?, with_vectors? }, got ${describeShort(v)}`,
    )
  if (typeof v.collection !== 'string' || v.collection === '')
    fail(join(path, 'collection'), `expected a collection name, got ${describeShort(v.collection)}`)
  const vectors = isAbsent(v.with_vectors) ? v.with_vector : v.with_vectors
  return {
    collection: v.collection,
    payload: parseWithPayload(v.with_payload, join(path, 'with_payload'), true),
    withVector: parseWithVector(
      vectors,
      join(path, isAbsent(v.with_vectors) ? 'with_vector' : 'with_vectors'),
      false,
    ),
  }
}

/** The grouping fields; `required`: the legacy requests, where `group_size` and `limit` have no default. */
function parseGroupFields(
  o: Obj,
  required: boolean,
): {
  groupBy: string
  groupSize: number | undefined
  limit: number | undefined
  lookup: ParsedLookup | undefined
} {
  if (typeof o.group_by !== 'string' || o.group_by === '')
    fail('group_by', `expected a payload key (a non-empty string), got ${describeShort(o.group_by)}`)
  parseKeyPath(o.group_by, 'group_by')
  const groupSize = required ? reqCount(o, 'group_size', '', 1) : optCount(o, 'group_size', '', 1)
  const limit = required ? reqCount(o, 'limit', '', 1) : optCount(o, 'limit', '', 1)
  return { groupBy: o.group_by, groupSize, limit, lookup: parseLookup(o.with_lookup, 'with_lookup') }
}

/** The body without the grouping fields (and `offset`, which groups do not have): what the query parsers read. */
function queryPart(o: Obj): Obj {
  const rest: Obj = Object.create(null)
  for (const k of Object.keys(o))
    if (k !== 'group_by' && k !== 'group_size' && k !== 'limit' && k !== 'with_lookup' && k !== 'offset')
      rest[k] = o[k]
  return rest
}

function groupsRequest(
  base: Omit<QueryGroupsRequest, 'groupBy'>,
  g: ReturnType<typeof parseGroupFields>,
): QueryGroupsRequest {
  const { limit: _l, offset: _o, ...query } = base as QueryGroupsRequest & { offset?: unknown }
  const request: QueryGroupsRequest = { ...query, groupBy: g.groupBy }
  if (g.groupSize !== undefined) request.groupSize = g.groupSize
  if (g.limit !== undefined) request.limit = g.limit
  return request
}

/** `POST .../points/query/groups`: a `QueryRequest` (no offset) + `group_by`, `group_size = 3`, `limit = 10`, `with_lookup?`. */
export function parseQueryGroups(body: unknown, dimension: number): ParsedGroups {
  const o = bodyObject(body)
  const g = parseGroupFields(o, false)
  const { request, payload } = parseQuery(queryPart(o), dimension)
  return { request: groupsRequest(request, g), payload, lookup: g.lookup }
}

/** Legacy `POST .../points/search/groups`: a `SearchRequest` (no offset) + `group_by`, `group_size`, `limit` (both required), `with_lookup?`. */
export function parseSearchGroups(body: unknown, dimension: number): ParsedGroups {
  const o = bodyObject(body)
  const g = parseGroupFields(o, true)
  const { request: s, payload } = parseSearch(queryPart(o), dimension)
  const params: QueryParams = {}
  if (s.ef !== undefined) params.hnswEf = s.ef
  if (s.exact !== undefined) params.exact = s.exact
  if (s.nprobe !== undefined) params.nprobe = s.nprobe
  if (s.quantization !== undefined) params.quantization = s.quantization
  const base: Omit<QueryGroupsRequest, 'groupBy'> = {
    // a dense vector (numbers) or a multivector (rows), copied
    query: isSparseInput(s.vector) ? s.vector : (Array.from(s.vector as ArrayLike<unknown>) as VectorInput),
    params,
  }
  // `vector: { name, vector }` (NamedVectorStruct) searches that vector, as plain search does
  if (s.using !== undefined && s.using !== null) base.using = s.using
  if (s.filter !== undefined) base.filter = s.filter
  if (s.scoreThreshold !== undefined) base.scoreThreshold = s.scoreThreshold
  if (s.withPayload !== undefined) base.withPayload = s.withPayload
  if (s.withVector !== undefined) base.withVector = s.withVector
  return { request: groupsRequest(base, g), payload, lookup: g.lookup }
}

/** Legacy `POST .../points/recommend/groups`: a `RecommendRequest` (no offset) + the grouping fields (required sizes). */
export function parseRecommendGroups(body: unknown, dimension: number): ParsedGroups {
  const o = bodyObject(body)
  const g = parseGroupFields(o, true)
  const { request, payload } = parseRecommend(queryPart(o), dimension)
  return { request: groupsRequest(request, g), payload, lookup: g.lookup }
}

/** Qdrant's `GroupsResult`: `{ groups: [{ id, hits: [ScoredPoint], lookup? }] }`. */
export function toWireGroups(
  r: GroupsResult,
  payload: PayloadSelection,
  lookup: ParsedLookup | undefined,
): { groups: { id: string | number; hits: WireScoredPoint[]; lookup?: WireRecord }[] } {
  return {
    groups: r.groups.map((g) => {
      const out: { id: string | number; hits: WireScoredPoint[]; lookup?: WireRecord } = {
        id: g.id,
        hits: g.hits.map((h) => toWireScoredPoint(h, payload)),
      }
      if (g.lookup !== undefined && lookup !== undefined) out.lookup = toWireRecord(g.lookup, lookup.payload)
      return out
    }),
  }
}

// ---- legacy discover ----

/**
 * Legacy `POST .../points/discover` (or one entry of `discover/batch`): `{ target?, context?: [{
 * positive, negative }], limit (required, >= 1), offset?, filter?, params?, with_payload?, with_vector? }`
 * -> a `discover` query (with a target) or a `context` query (without). Neither: 400, as Qdrant.
 */
export function parseDiscover(
  body: unknown,
  dimension: number,
  path = '',
): { request: QueryRequest; payload: PayloadSelection } {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  const limit = reqCount(o, 'limit', path, 1)
  if (!isAbsent(o.context) && !Array.isArray(o.context))
    fail(
      join(path, 'context'),
      `expected a list of { positive, negative } pairs, got ${describeShort(o.context)}`,
    )
  const pairs = parseContextPairs(o.context, join(path, 'context'), dimension)
  const target = isAbsent(o.target)
    ? undefined
    : parseVectorInput(o, 'target', join(path, 'target'), dimension)
  if (target === undefined && pairs.length === 0)
    fail(path === '' ? 'body' : path, 'target and/or context pairs must be specified')
  const rest: Obj = Object.create(null)
  for (const k of Object.keys(o))
    if (k !== 'target' && k !== 'context' && k !== 'limit' && k !== 'query') rest[k] = o[k]
  const { request, payload } = parseQuery(rest, dimension, path)
  request.query = target === undefined ? { context: pairs } : { discover: { target, context: pairs } }
  request.limit = limit
  return { request, payload }
}

/** Legacy `POST .../points/discover/batch`: `{ searches: [DiscoverRequest] }`. */
export function parseDiscoverBatch(
  body: unknown,
  dimension: number,
): { request: QueryRequest; payload: PayloadSelection }[] {
  const o = bodyObject(body)
  if (!Array.isArray(o.searches))
    fail('searches', `expected an array of discover requests, got ${describeShort(o.searches)}`)
  return o.searches.map((s: unknown, i: number) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a discover object, got ${describeShort(s)}`)
    return parseDiscover(s, dimension, `searches[${i}]`)
  })
}

function isSparseInput(v: unknown): v is SparseVectorInput {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

// Wire format of the groups endpoints: `query/groups`, legacy `search/groups` and `recommend/groups`.
import { parseKeyPath } from '../../filter/index.js'
import { fail, isAbsent, isPlainObject, join, type Obj } from '../../json-input.js'
import type {
  GroupsResult,
  QueryGroupsRequest,
  QueryParams,
  VectorInput,
  WithPayload,
  WithVector,
} from '../../types.js'
import {
  bodyObject,
  describeShort,
  isSparseInput,
  optCount,
  parseWithPayload,
  parseWithVector,
  reqCount,
} from './common.js'
import { toWireRecord, toWireScoredPoint, type WireRecord, type WireScoredPoint } from './records.js'
import { parseQuery, parseRecommend, parseSearch } from './search.js'

/** Qdrant's `with_lookup`: the collection to look group ids up in, and what to return of its points. */
export interface ParsedLookup {
  collection: string
  withPayload: WithPayload
  withVector: WithVector
}

export interface ParsedGroups {
  request: QueryGroupsRequest
  lookup: ParsedLookup | undefined
}

/** `with_lookup`: a collection name, or `{ collection, with_payload = true, with_vectors = false }` (`with_vector` too, as Qdrant's alias). */
function parseLookup(v: unknown, path: string): ParsedLookup | undefined {
  if (isAbsent(v)) return undefined
  if (typeof v === 'string') return { collection: v, withPayload: true, withVector: false }
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
    withPayload: parseWithPayload(v.with_payload, join(path, 'with_payload'), true),
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
  const { request } = parseQuery(queryPart(o), dimension)
  return { request: groupsRequest(request, g), lookup: g.lookup }
}

/** Legacy `POST .../points/search/groups`: a `SearchRequest` (no offset) + `group_by`, `group_size`, `limit` (both required), `with_lookup?`. */
export function parseSearchGroups(body: unknown, dimension: number): ParsedGroups {
  const o = bodyObject(body)
  const g = parseGroupFields(o, true)
  const { request: s } = parseSearch(queryPart(o), dimension)
  const params: QueryParams = {}
  if (s.ef !== undefined) params.hnswEf = s.ef
  if (s.exact !== undefined) params.exact = s.exact
  if (s.nprobe !== undefined) params.nprobe = s.nprobe
  if (s.quantization !== undefined) params.quantization = s.quantization
  if (s.targetRecall !== undefined) params.targetRecall = s.targetRecall
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
  return { request: groupsRequest(base, g), lookup: g.lookup }
}

/** Legacy `POST .../points/recommend/groups`: a `RecommendRequest` (no offset) + the grouping fields (required sizes). */
export function parseRecommendGroups(body: unknown, dimension: number): ParsedGroups {
  const o = bodyObject(body)
  const g = parseGroupFields(o, true)
  const { request } = parseRecommend(queryPart(o), dimension)
  return { request: groupsRequest(request, g), lookup: g.lookup }
}

/** Qdrant's `GroupsResult`: `{ groups: [{ id, hits: [ScoredPoint], lookup? }] }`. */
export function toWireGroups(r: GroupsResult): {
  groups: { id: string | number; hits: WireScoredPoint[]; lookup?: WireRecord }[]
} {
  return {
    groups: r.groups.map((g) => {
      const out: { id: string | number; hits: WireScoredPoint[]; lookup?: WireRecord } = {
        id: g.id,
        hits: g.hits.map((h) => toWireScoredPoint(h)),
      }
      if (g.lookup !== undefined) out.lookup = toWireRecord(g.lookup)
      return out
    }),
  }
}

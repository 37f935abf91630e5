// Grouping of query hits by a payload field (Qdrant's `query/groups`, `search/groups`,
// `recommend/groups`): group keys from payload values, the rounds that widen the ranked list until
// the best groups are full, and the lookup of each group's id in another collection.
import { describeValue, invalid } from '../errors.js'
import { getValues, type KeyPath, parseKeyPath } from '../filter/index.js'
import { parsePointId } from '../point-id.js'
import type {
  Collection,
  Filter,
  GroupId,
  JsonValue,
  Payload,
  PointGroup,
  PointId,
  QueryGroupsRequest,
  WithPayload,
  WithVector,
} from '../types.js'
import type { QueryPlan, Stage } from './query.js'
import { MAX_LIMIT, toLimit } from './validate.js'

/** Qdrant's defaults (QueryGroupsRequest). */
export const DEFAULT_GROUP_SIZE = 3
export const DEFAULT_GROUPS = 10

/** A checked groups request: the field, the sizes, and the query part (what `query` takes). */
export interface GroupOptions {
  readonly path: KeyPath
  readonly key: string
  readonly groupSize: number
  readonly groups: number
}

/**
 * Checks the grouping fields of `request` (throws INVALID_ARGUMENT naming `groupBy`, `groupSize`
 * or `limit`; `offset` is refused, as groups have none) and returns them with the query part, whose
 * filter also requires the field to be non-empty (points without a key cannot join a group).
 */
export function checkGroupRequest(request: QueryGroupsRequest): {
  options: GroupOptions
  query: Record<string, unknown>
} {
  if (typeof request !== 'object' || request === null)
    throw invalid(`request must be an object with groupBy, got ${describeValue(request)}`)
  const { groupBy, groupSize, limit, ...query } = request
  if (typeof groupBy !== 'string' || groupBy === '')
    throw invalid(`groupBy must be a payload key (a non-empty string), got ${describeValue(groupBy)}`)
  if ('offset' in query && query.offset !== undefined && query.offset !== null)
    throw invalid('offset is not supported with groups (a group request returns the best `limit` groups)')
  const options: GroupOptions = {
    path: parseKeyPath(groupBy, 'groupBy'),
    key: groupBy,
    groupSize: toLimit(groupSize, 'groupSize', DEFAULT_GROUP_SIZE),
    groups: toLimit(limit, 'limit', DEFAULT_GROUPS),
  }
  const notEmpty: Filter = { must_not: [{ is_empty: { key: groupBy } }] }
  const filter: Filter =
    query.filter === undefined || query.filter === null ? notEmpty : { must: [query.filter, notEmpty] }
  return { options, query: { ...query, filter } }
}

/**
 * The group keys of a payload, as Qdrant's aggregator reads them: the values at the path, arrays
 * flattened one level, each a string or an integer, duplicates dropped. Null when the point cannot
 * join any group: no value, or any value of another type (a float, bool, null, object), which makes
 * Qdrant skip the point.
 */
export function groupKeys(payload: Payload | undefined, path: KeyPath): GroupId[] | null {
  if (payload === undefined) return null
  const keys: GroupId[] = []
  const add = (v: JsonValue): boolean => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v))) {
      if (!keys.includes(v)) keys.push(v)
      return true
    }
    return false
  }
  for (const v of getValues(payload, path)) {
    if (Array.isArray(v)) {
      for (const x of v) if (!add(x)) return null
    } else if (!add(v)) return null
  }
  return keys.length === 0 ? null : keys
}

/** `plan` with its result size `k`, no offset, and each prefetch's limit times `groupSize` (as Qdrant). */
export function planForGroups(plan: QueryPlan, k: number, groupSize: number): QueryPlan {
  const scale = (s: Stage): Stage => ({
    ...s,
    limit: Math.min(s.limit * groupSize, MAX_LIMIT * groupSize),
    prefetches: s.prefetches.map(scale),
  })
  return { ...plan, limit: k, offset: 0, prefetches: plan.prefetches.map(scale) }
}

/**
 * Groups ranked hits: `run(k)` returns the best `k` hits of the query, best first; `keysOf(hit)` its
 * group keys (null: joins none). Starts with `groups * groupSize` hits and doubles `k` until the
 * best `groups` groups (ordered by their best hit) are all full or the ranking ran out (fewer than
 * `k` hits). A hit joins every group of its keys. The result is exact for the ranking `run`
 * produces: an unseen hit ranks below every seen one, so it can neither start a better group nor
 * displace a member of a full one.
 */
export function groupRanked<H>(
  run: (k: number) => H[],
  keysOf: (hit: H) => GroupId[] | null,
  options: GroupOptions,
): { id: GroupId; hits: H[] }[] {
  const { groupSize, groups } = options
  let k = groups * groupSize
  for (;;) {
    const hits = run(k)
    const byKey = new Map<GroupId, H[]>()
    for (const hit of hits) {
      const keys = keysOf(hit)
      if (keys === null) continue
      for (const key of keys) {
        let list = byKey.get(key)
        if (list === undefined) {
          list = []
          byKey.set(key, list)
        }
        if (list.length < groupSize) list.push(hit)
      }
    }
    // Map iteration follows insertion, which is the order of each group's best hit
    const best = [...byKey].slice(0, groups)
    const full = best.length === groups && best.every(([, list]) => list.length === groupSize)
    if (full || hits.length < k) return best.map(([id, list]) => ({ id, hits: list }))
    k *= 2
  }
}

/** How `lookupGroups` reads the looked-up points. */
export interface LookupOptions {
  /** Default true. */
  withPayload?: WithPayload
  /** Default false. */
  withVector?: WithVector
}

/**
 * Qdrant's `with_lookup`: sets `group.lookup` to the point of `other` whose id is the group's id
 * (groups whose id is no point id, such as a non-UUID string, or whose point is missing get none).
 * @example await lookupGroups(groups, await db.getCollection('authors'), { withPayload: ['name'] })
 */
export async function lookupGroups(
  groups: PointGroup[],
  other: Pick<Collection, 'get'>,
  options: LookupOptions = {},
): Promise<void> {
  const ids: PointId[] = []
  const idOf = new Map<PointGroup, PointId>()
  for (const g of groups) {
    let id: PointId
    try {
      id = parsePointId(g.id, 'group id')
    } catch {
      continue
    }
    ids.push(id)
    idOf.set(g, id)
  }
  if (ids.length === 0) return
  const records = await other.get(ids, {
    withPayload: options.withPayload ?? true,
    withVector: options.withVector ?? false,
  })
  const byId = new Map(records.map((r) => [r.id, r]))
  for (const g of groups) {
    const id = idOf.get(g)
    const rec = id === undefined ? undefined : byId.get(id)
    if (rec !== undefined) g.lookup = rec
  }
}

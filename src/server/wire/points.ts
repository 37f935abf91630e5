// Wire format of the point endpoints: upsert, vectors, retrieve, selectors, payload writes, scroll,
// count and `points/batch`; every error names the JSON path of the bad value.
import { QuiverError } from '../../errors.js'
import { parseDateTime } from '../../filter/index.js'
import {
  describe,
  fail,
  isAbsent,
  isPlainObject,
  join,
  type Obj,
  optBool,
  optInt,
  optString,
  reqArray,
  reqObject,
  stringArray,
} from '../../json-input.js'
import { parsePointId } from '../../point-id.js'
import type {
  CountOptions,
  GetOptions,
  OrderBy,
  Payload,
  PointId,
  PointSelector,
  PointStruct,
  ScrollOptions,
  UpdateOperation,
  VectorStruct,
} from '../../types.js'
import {
  bodyObject,
  parseFilter,
  parseIds,
  parsePayload,
  parseVectorStruct,
  parseWithPayload,
  parseWithVector,
  requirePayload,
  unsupported,
} from './common.js'

/** `PUT /collections/{name}/points`: `{ points: [{ id, vector, payload? }] }` or `{ batch: { ids, vectors, payloads? } }`. */
export function parseUpsert(body: unknown): PointStruct[] {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  unsupported(o, 'update_filter', '', 'update_filter')
  if (!isAbsent(o.update_mode) && o.update_mode !== 'upsert')
    fail('update_mode', `only "upsert" is supported, got ${describe(o.update_mode)}`)
  if (!isAbsent(o.points)) {
    return reqArray(o, 'points', '').map((p, i) => {
      const path = `points[${i}]`
      if (!isPlainObject(p))
        fail(path, `expected a point object { id, vector, payload? }, got ${describe(p)}`)
      const point: PointStruct = { id: parsePointId(p.id, `${path}.id`) }
      const vector = parseVectorStruct(p.vector, `${path}.vector`)
      if (vector !== undefined) point.vector = vector
      const payload = parsePayload(p.payload, `${path}.payload`)
      if (payload !== undefined) point.payload = payload
      return point
    })
  }
  if (!isAbsent(o.batch)) {
    const b = reqObject(o, 'batch', '')
    const ids = parseIds(b.ids, 'batch.ids')
    const vectors = batchVectors(b, ids.length)
    let payloads: unknown[] | undefined
    if (!isAbsent(b.payloads)) {
      payloads = reqArray(b, 'payloads', 'batch')
      if (payloads.length !== ids.length)
        fail(
          'batch.payloads',
          `has ${payloads.length} payloads for ${ids.length} ids; the lengths must match`,
        )
    }
    return ids.map((id, i) => {
      const point: PointStruct = { id }
      const vector = parseVectorStruct(vectors[i], `batch.vectors[${i}]`)
      if (vector !== undefined) point.vector = vector
      const payload = parsePayload(payloads?.[i], `batch.payloads[${i}]`)
      if (payload !== undefined) point.payload = payload
      return point
    })
  }
  fail('body', 'expected "points": [...] or "batch": { ids, vectors, payloads }')
}

/**
 * Qdrant's `BatchVectorStruct`: one vector per id (an array), or `{ name: [vector per id] }` for
 * named vectors -> one `VectorStruct` per id.
 */
function batchVectors(b: Obj, n: number): unknown[] {
  const v = b.vectors
  if (Array.isArray(v)) {
    if (v.length !== n) fail('batch.vectors', `has ${v.length} vectors for ${n} ids; the lengths must match`)
    return v
  }
  if (!isPlainObject(v))
    fail(
      'batch.vectors',
      `expected an array of vectors or { name: [vectors] }, got ${describe(v)}`,
      'INVALID_VECTOR',
    )
  const names = Object.keys(v)
  const columns = names.map((name) => {
    const col = v[name]
    if (!Array.isArray(col) || col.length !== n)
      fail(
        `batch.vectors.${name}`,
        `expected an array of ${n} vectors (one per id), got ${describe(col)}`,
        'INVALID_VECTOR',
      )
    return col
  })
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((name, j) => [name, columns[j]![i]])),
  )
}

/**
 * `PUT /collections/{name}/points/vectors`: `{ points: [{ id, vector }] }` (Qdrant's
 * `UpdateVectors`); the engine checks names and values.
 */
export function parseUpdateVectors(body: unknown): { id: PointId; vector: VectorStruct }[] {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  unsupported(o, 'update_filter', '', 'update_filter')
  return reqArray(o, 'points', '').map((p, i) => {
    const path = `points[${i}]`
    if (!isPlainObject(p)) fail(path, `expected { id, vector }, got ${describe(p)}`)
    const vector = parseVectorStruct(p.vector, `${path}.vector`)
    if (vector === undefined) fail(`${path}.vector`, 'required: the vectors to set', 'INVALID_VECTOR')
    return { id: parsePointId(p.id, `${path}.id`), vector }
  })
}

/** `POST /collections/{name}/points/vectors/delete`: `{ points | filter, vector: [names] }`. */
export function parseDeleteVectors(body: unknown): { names: string[]; selector: PointSelector } {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  const names = stringArray(reqArray(o, 'vector', ''), 'vector')
  return { names, selector: parseSelectorFields(o) }
}

/** `POST /collections/{name}/points`: `{ ids, with_payload = true, with_vector = false }`. */
export function parseRetrieve(body: unknown): {
  ids: PointId[]
  options: GetOptions
} {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  const ids = parseIds(o.ids, 'ids')
  const withPayload = parseWithPayload(o.with_payload, 'with_payload', true)
  // `with_vectors` is Qdrant's alias of `with_vector` on retrieve
  const withVector = isAbsent(o.with_vector)
    ? parseWithVector(o.with_vectors, 'with_vectors', false)
    : parseWithVector(o.with_vector, 'with_vector', false)
  return { ids, options: { withPayload, withVector } }
}

/**
 * Qdrant's `points` + `filter` pair (delete, payload operations). Both given: the points among
 * `points` that match `filter` (Qdrant's rule).
 */
function parseSelectorFields(o: Obj): PointSelector {
  unsupported(o, 'shard_key', '', 'shard_key')
  const ids = isAbsent(o.points) ? undefined : parseIds(o.points, 'points')
  const filter = parseFilter(o.filter, 'filter')
  if (ids !== undefined && filter !== undefined) return { filter: { must: [{ has_id: ids }, filter] } }
  if (ids !== undefined) return { ids }
  if (filter !== undefined) return { filter }
  fail('body', 'expected "points": [ids] or "filter": {...} to select points')
}

/** `POST .../points/delete` and `.../points/payload/clear`: `{ points: [...] }` or `{ filter }`. */
export function parsePointsSelector(body: unknown): PointSelector {
  return parseSelectorFields(bodyObject(body))
}

/** `POST|PUT .../points/payload`: `{ payload, points? , filter?, key? }`; `key` only for set. */
export function parseSetPayload(
  body: unknown,
  allowKey: boolean,
): { payload: Payload; selector: PointSelector; key: string | undefined } {
  const o = bodyObject(body)
  const payload = requirePayload(o, 'payload', '')
  const key = optString(o, 'key', '')
  if (key !== undefined && !allowKey)
    fail('key', 'is only supported when setting payload (POST), not overwriting')
  if (key === '') fail('key', 'must not be empty')
  return { payload, selector: parseSelectorFields(o), key }
}

/** `POST .../points/payload/delete`: `{ keys: [...], points?, filter? }`. */
export function parseDeletePayload(body: unknown): { keys: string[]; selector: PointSelector } {
  const o = bodyObject(body)
  const keys = stringArray(o.keys, 'keys')
  return { keys, selector: parseSelectorFields(o) }
}

/**
 * `POST .../points/scroll`: `{ offset?, limit = 10, filter?, with_payload = true, with_vector = false,
 * order_by? }`; `order_by` is a key or `{ key, direction?, start_from? }` (parseOrderBy).
 */
export function parseScroll(body: unknown): { options: ScrollOptions } {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const options: ScrollOptions = {
    withPayload: parseWithPayload(o.with_payload, 'with_payload', true),
    withVector: parseWithVector(o.with_vector, 'with_vector', false),
  }
  const limit = optInt(o, 'limit', '', 1)
  if (limit !== undefined) options.limit = limit
  if (!isAbsent(o.offset)) options.offset = parsePointId(o.offset, 'offset')
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) options.filter = filter
  if (!isAbsent(o.order_by)) options.orderBy = parseOrderBy(o.order_by, 'order_by')
  return { options }
}

/**
 * Qdrant's `OrderByInterface`: a payload key, or `{ key, direction?: "asc" | "desc", start_from?:
 * number | RFC 3339 string }` -> the engine's `OrderBy`. Wrong types and an empty key are 400 (Qdrant
 * has no range validation on OrderBy). The engine checks the datetime and the index.
 */
export function parseOrderBy(v: unknown, path: string): OrderBy | string {
  if (typeof v === 'string') {
    if (v === '') fail(path, 'the order_by key must not be empty')
    return v
  }
  if (!isPlainObject(v))
    fail(path, `expected a payload key or { key, direction?, start_from? }, got ${describe(v)}`)
  for (const k of Object.keys(v))
    if (k !== 'key' && k !== 'direction' && k !== 'start_from')
      fail(join(path, k), 'unknown field (expected key, direction, start_from)')
  if (typeof v.key !== 'string')
    fail(join(path, 'key'), `expected a payload key (a string), got ${describe(v.key)}`)
  if (v.key === '') fail(join(path, 'key'), 'must not be empty (the payload key to order by)')
  const out: OrderBy = { key: v.key }
  const direction = v.direction
  if (!isAbsent(direction)) {
    if (direction !== 'asc' && direction !== 'desc')
      fail(join(path, 'direction'), `expected "asc" or "desc", got ${describe(direction)}`)
    out.direction = direction
  }
  const start = v.start_from
  if (!isAbsent(start)) {
    if ((typeof start !== 'number' || !Number.isFinite(start)) && typeof start !== 'string')
      fail(join(path, 'start_from'), `expected a number or an RFC 3339 datetime, got ${describe(start)}`)
    if (typeof start === 'string' && !Number.isFinite(parseDateTime(start) ?? Number.NaN))
      fail(join(path, 'start_from'), `expected a number or an RFC 3339 datetime, got ${describe(start)}`)
    out.startFrom = start
  }
  return out
}

/** `POST .../points/count`: `{ filter?, exact? }` (counts are always exact; `exact` is for strict mode). */
export function parseCount(body: unknown): CountOptions {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const exact = optBool(o, 'exact', '')
  const filter = parseFilter(o.filter, 'filter')
  return { ...(filter === undefined ? {} : { filter }), ...(exact === undefined ? {} : { exact }) }
}

/**
 * `POST /collections/{name}/points/batch`: `{ operations: [{ upsert | delete | set_payload |
 * overwrite_payload | delete_payload | clear_payload | update_vectors | delete_vectors: {...} }] }`,
 * each body as its own endpoint takes it -> the engine's batch. Errors name `operations[i].<kind>`.
 */
export function parseBatchUpdate(body: unknown): UpdateOperation[] {
  const o = bodyObject(body)
  return reqArray(o, 'operations', '').map((op, i): UpdateOperation => {
    const at = `operations[${i}]`
    if (!isPlainObject(op) || Object.keys(op).length !== 1)
      fail(
        at,
        'expected exactly one of upsert, delete, set_payload, overwrite_payload, delete_payload, clear_payload, update_vectors, delete_vectors',
      )
    const kind = Object.keys(op)[0]!
    const b = op[kind]
    try {
      switch (kind) {
        case 'upsert':
          return { upsert: { points: parseUpsert(b) } }
        case 'delete':
          return { delete: { selector: parsePointsSelector(b) } }
        case 'set_payload': {
          const { payload, selector, key } = parseSetPayload(b, true)
          return { setPayload: { payload, selector, key: key ?? null } }
        }
        case 'overwrite_payload': {
          const { payload, selector } = parseSetPayload(b, false)
          return { overwritePayload: { payload, selector } }
        }
        case 'delete_payload':
          return { deletePayload: parseDeletePayload(b) }
        case 'clear_payload':
          return { clearPayload: { selector: parsePointsSelector(b) } }
        case 'update_vectors':
          return { updateVectors: { points: parseUpdateVectors(b) } }
        case 'delete_vectors':
          return { deleteVectors: parseDeleteVectors(b) }
        default:
          return fail(at, `unknown operation ${JSON.stringify(kind)}`)
      }
    } catch (err) {
      if (err instanceof QuiverError && !err.message.startsWith(at))
        throw new QuiverError(err.code, `${at}.${kind}: ${err.message}`, err.details, err)
      throw err
    }
  })
}

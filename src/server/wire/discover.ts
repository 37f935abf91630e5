// Wire format of legacy `points/discover` and its batch.
import { fail, isAbsent, isPlainObject, join, type Obj } from '../../json-input.js'
import type { QueryRequest } from '../../types.js'
import { bodyObject, describeShort, reqCount } from './common.js'
import { parseContextPairs, parseQuery, parseVectorInput } from './search.js'

/**
 * Legacy `POST .../points/discover` (or one entry of `discover/batch`): `{ target?, context?: [{
 * positive, negative }], limit (required, >= 1), offset?, filter?, params?, with_payload?, with_vector? }`
 * -> a `discover` query (with a target) or a `context` query (without). Neither: 400, as Qdrant.
 */
export function parseDiscover(body: unknown, dimension: number, path = ''): { request: QueryRequest } {
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
  const { request } = parseQuery(rest, dimension, path)
  request.query = target === undefined ? { context: pairs } : { discover: { target, context: pairs } }
  request.limit = limit
  return { request }
}

/** Legacy `POST .../points/discover/batch`: `{ searches: [DiscoverRequest] }`. */
export function parseDiscoverBatch(body: unknown, dimension: number): { request: QueryRequest }[] {
  const o = bodyObject(body)
  if (!Array.isArray(o.searches))
    fail('searches', `expected an array of discover requests, got ${describeShort(o.searches)}`)
  return o.searches.map((s: unknown, i: number) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a discover object, got ${describeShort(s)}`)
    return parseDiscover(s, dimension, `searches[${i}]`)
  })
}

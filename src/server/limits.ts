// Request limits of the HTTP server: JSON nesting depth (checked on the raw text before parsing),
// batch sizes, payload size per point, filter depth, `limit`, concurrent requests and timeouts.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isPlainObject } from '../json-input.js'
import { ERROR_CODE_HEADER, type WireErrorResponse } from './errors.js'
import { HttpError } from './http-error.js'

/** Every request limit of the server; `BuildServerOptions.limits` overrides any of them. */
export interface ServerLimits {
  /** Deepest nesting of `[`/`{` in a JSON body; deeper bodies get 400 before `JSON.parse`. */
  maxJsonDepth: number
  /** Deepest nesting of filter clauses (`must`/`should`/`must_not`/`min_should`) in a filter. */
  maxFilterDepth: number
  /** Most point ids or points in one request (`points`, `ids`, `batch.ids`). */
  maxBatchPoints: number
  /** Most searches in one `search/batch` or `query/batch` request. */
  maxBatchSearches: number
  /** Largest payload of one point, in bytes of its JSON (UTF-8). */
  maxPayloadBytes: number
  /** Largest `limit` (or `top`) of a search, query or scroll. */
  maxLimit: number
  /** Most requests in flight at once; more get 429 with `retry-after`. Health probes are not counted. */
  maxConcurrentRequests: number
  /**
   * Milliseconds a client has to send a whole request (headers and body); Node answers 408 and
   * closes the connection after that (Node checks every 30 s, so the cut comes up to 30 s later).
   * 0 disables it.
   */
  requestTimeoutMs: number
}

/** Defaults of every limit; the body size limit (32 MiB) is `DEFAULT_BODY_LIMIT` in app.ts. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  maxJsonDepth: 64,
  maxFilterDepth: 16,
  maxBatchPoints: 10_000,
  maxBatchSearches: 1_000,
  maxPayloadBytes: 1024 * 1024,
  maxLimit: 100_000,
  maxConcurrentRequests: 256,
  requestTimeoutMs: 60_000,
}

/** Fills `overrides` with the defaults; throws TypeError if a limit is not a positive integer. */
export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS }
  for (const [name, value] of Object.entries(overrides) as [keyof ServerLimits, number | undefined][]) {
    if (value === undefined) continue
    if (!(name in DEFAULT_LIMITS)) throw new TypeError(`unknown server limit "${name}"`)
    const min = name === 'requestTimeoutMs' ? 0 : 1
    if (!Number.isSafeInteger(value) || value < min)
      throw new TypeError(`server limit ${name} must be an integer >= ${min}, got ${String(value)}`)
    limits[name] = value
  }
  return limits
}

const STRUCTURAL = /["[\]{}]/g
const IN_STRING = /["\\]/g

/**
 * Throws LIMIT_EXCEEDED (400) if `text` (JSON) nests arrays/objects deeper than `maxDepth`.
 * One linear scan that skips string contents (regex searches for the next structural character,
 * no recursion, no capture groups), about 1.5 ms per MiB of vectors; malformed text is left to
 * `JSON.parse`.
 */
export function checkJsonDepth(text: string, maxDepth: number): void {
  let depth = 0
  STRUCTURAL.lastIndex = 0
  while (STRUCTURAL.test(text)) {
    const at = STRUCTURAL.lastIndex - 1
    const c = text.charCodeAt(at)
    if (c === 0x22) {
      IN_STRING.lastIndex = at + 1
      for (;;) {
        if (!IN_STRING.test(text)) return
        const k = IN_STRING.lastIndex - 1
        if (text.charCodeAt(k) !== 0x5c) break
        IN_STRING.lastIndex = k + 2
      }
      STRUCTURAL.lastIndex = IN_STRING.lastIndex
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth)
        throw new HttpError(
          'LIMIT_EXCEEDED',
          `Invalid JSON body: nested deeper than ${maxDepth} levels (server limit maxJsonDepth)`,
        )
    } else depth--
  }
}

const CLAUSES = ['must', 'should', 'must_not'] as const

/** Depth of filter clauses in a (not yet validated) filter: `{}` is 1, `{ must: [{ must: [] }] }` is 2. */
export function filterDepth(value: unknown): number {
  if (Array.isArray(value)) {
    let max = 0
    for (const v of value) max = Math.max(max, filterDepth(v))
    return max
  }
  if (typeof value !== 'object' || value === null) return 0
  const o = value as Record<string, unknown>
  let inner = 0
  for (const key of CLAUSES) if (key in o) inner = Math.max(inner, filterDepth(o[key]))
  const minShould = o.min_should
  if (typeof minShould === 'object' && minShould !== null && 'conditions' in minShould)
    inner = Math.max(inner, filterDepth((minShould as { conditions: unknown }).conditions))
  const nested = o.nested
  if (typeof nested === 'object' && nested !== null && 'filter' in nested)
    inner = Math.max(inner, filterDepth((nested as { filter: unknown }).filter))
  const isFilter = CLAUSES.some((k) => k in o) || 'min_should' in o
  return (isFilter ? 1 : 0) + inner
}

function tooMany(what: string, count: number, max: number, limit: string): HttpError {
  return new HttpError(
    'LIMIT_EXCEEDED',
    `${what}: ${count} in one request exceed the server limit of ${max} (${limit})`,
  )
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return isPlainObject(v) ? v : undefined
}

function payloadBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload) ?? '', 'utf8')
}

function checkPayload(payload: unknown, where: string, limits: ServerLimits): void {
  if (payload === undefined || payload === null) return
  const bytes = payloadBytes(payload)
  if (bytes > limits.maxPayloadBytes)
    throw new HttpError(
      'LIMIT_EXCEEDED',
      `${where}: payload of ${bytes} bytes exceeds the server limit of ${limits.maxPayloadBytes} bytes (maxPayloadBytes)`,
    )
}

/** Checks `filter` and `limit`/`top` of one search-like object (a body or one entry of `searches`). */
function checkSearchLike(o: Record<string, unknown>, where: string, limits: ServerLimits): void {
  if (o.filter !== undefined) {
    const depth = filterDepth(o.filter)
    if (depth > limits.maxFilterDepth)
      throw new HttpError(
        'LIMIT_EXCEEDED',
        `${where}filter: nested ${depth} levels deep, deeper than the server limit of ${limits.maxFilterDepth} (maxFilterDepth)`,
      )
  }
  for (const key of ['limit', 'top'] as const) {
    const v = o[key]
    if (typeof v === 'number' && v > limits.maxLimit)
      throw new HttpError(
        'LIMIT_EXCEEDED',
        `${where}${key}: ${v} exceeds the server limit of ${limits.maxLimit} (maxLimit)`,
      )
  }
}

/**
 * Throws LIMIT_EXCEEDED (400) if a parsed request body breaks a limit: point/id counts
 * (`points`, `ids`, `batch.ids`), searches per batch, payload bytes per point (`points[i].payload`,
 * `batch.payloads[i]`, `payload`), filter depth and `limit`/`top` (top level and in `searches[i]`).
 * Shapes are not validated here; the route's parser does that afterwards.
 */
export function checkBodyLimits(body: unknown, limits: ServerLimits): void {
  const o = asObject(body)
  if (o === undefined) return
  for (const key of ['points', 'ids'] as const) {
    const list = o[key]
    if (Array.isArray(list) && list.length > limits.maxBatchPoints)
      throw tooMany(key, list.length, limits.maxBatchPoints, 'maxBatchPoints')
  }
  const batch = asObject(o.batch)
  if (batch !== undefined) {
    for (const key of ['ids', 'vectors', 'payloads'] as const) {
      const list = batch[key]
      if (Array.isArray(list) && list.length > limits.maxBatchPoints)
        throw tooMany(`batch.${key}`, list.length, limits.maxBatchPoints, 'maxBatchPoints')
    }
    if (Array.isArray(batch.payloads))
      for (const [i, p] of batch.payloads.entries()) checkPayload(p, `batch.payloads[${i}]`, limits)
  }
  if (Array.isArray(o.points))
    for (const [i, p] of o.points.entries()) checkPayload(asObject(p)?.payload, `points[${i}]`, limits)
  checkPayload(o.payload, 'payload', limits)
  checkSearchLike(o, '', limits)
  if (Array.isArray(o.searches)) {
    if (o.searches.length > limits.maxBatchSearches)
      throw tooMany('searches', o.searches.length, limits.maxBatchSearches, 'maxBatchSearches')
    o.searches.forEach((s, i) => {
      const search = asObject(s)
      if (search !== undefined) checkSearchLike(search, `searches[${i}].`, limits)
    })
  }
}

const UNCOUNTED = new Set(['/healthz', '/livez', '/readyz'])

/**
 * Adds the limit hooks to `app`: a concurrency gate (`preParsing`, so after authentication when
 * `registerSecurity` ran first, and before the body is read; the slot is freed when the response
 * closes, whether sent or aborted) answering 429 `TOO_MANY_REQUESTS` with
 * `retry-after: 1`, and the body checks of `checkBodyLimits` (`preValidation`, after parsing and
 * before any handler). The JSON depth check runs in the body parser (`parseJsonBody`).
 */
export function registerLimits(app: FastifyInstance, limits: ServerLimits): void {
  let inFlight = 0
  app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
    if (UNCOUNTED.has(request.routeOptions.url ?? '')) return payload
    if (inFlight >= limits.maxConcurrentRequests) {
      const body: WireErrorResponse = {
        status: {
          error: `Too many requests: ${limits.maxConcurrentRequests} requests are in flight (server limit maxConcurrentRequests); retry later`,
        },
        time: reply.elapsedTime / 1000,
      }
      return reply
        .status(429)
        .header('retry-after', '1')
        .header(ERROR_CODE_HEADER, 'TOO_MANY_REQUESTS')
        .send(body)
    }
    inFlight++
    reply.raw.once('close', () => {
      inFlight--
    })
    return payload
  })
  app.addHook('preValidation', async (request) => {
    checkBodyLimits(request.body, limits)
  })
}

// Qdrant's write and read query parameters: `wait`, `ordering`, `timeout` (point writes, payload
// index changes) and `timeout`, `consistency` (reads), checked into engine options.
import { QuiverError } from '../../errors.js'
import type { ReadConsistency, ReadOptions, WriteOptions } from '../../types.js'

/** Qdrant's `WriteOrdering`; one node has one order, so every value behaves as `strong`. */
export type WireWriteOrdering = 'weak' | 'medium' | 'strong'

const ORDERINGS: readonly string[] = ['weak', 'medium', 'strong']
const CONSISTENCY: readonly string[] = ['majority', 'quorum', 'all']

function queryObject(query: unknown): Readonly<Record<string, unknown>> {
  return typeof query === 'object' && query !== null ? (query as Record<string, unknown>) : {}
}

function bad(name: string, expected: string, got: unknown): never {
  throw new QuiverError(
    'INVALID_ARGUMENT',
    `query.${name}: expected ${expected}, got ${JSON.stringify(got)}`,
    {
      path: `query.${name}`,
    },
  )
}

/** `wait`: `true`, `false` or empty (true); absent: `absent`. */
export function parseWaitParam(query: unknown, absent = false): boolean {
  const w = queryObject(query).wait
  if (w === undefined) return absent
  if (w === 'true' || w === '') return true
  if (w === 'false') return false
  return bad('wait', 'true or false', w)
}

/** `timeout`: whole seconds >= 1 (Qdrant's `integer, minimum 1`), or undefined. */
export function parseTimeoutParam(query: unknown): number | undefined {
  const t = queryObject(query).timeout
  if (t === undefined) return undefined
  if (typeof t === 'string' && /^\d{1,9}$/.test(t) && Number(t) >= 1) return Number(t)
  return bad('timeout', 'an integer number of seconds >= 1', t)
}

/**
 * The query of a write: `wait` (`false`: answer `acknowledged` once durable; default true, unlike
 * Qdrant's false, so that a plain `curl` write is visible when answered; the official clients send
 * `wait=true` by default anyway),
 * `ordering` (`weak` | `medium` | `strong`, accepted: one node applies writes in one order) and
 * `timeout` (seconds >= 1: with `wait=true`, answer `wait_timeout` if the write is not visible by
 * then). Throws INVALID_ARGUMENT naming the parameter.
 */
export function parseWriteParams(query: unknown): WriteOptions {
  const ordering = queryObject(query).ordering
  if (ordering !== undefined && (typeof ordering !== 'string' || !ORDERINGS.includes(ordering)))
    bad('ordering', 'one of weak, medium, strong', ordering)
  const wait = parseWaitParam(query, true)
  const timeout = parseTimeoutParam(query)
  return timeout === undefined ? { wait } : { wait, timeout }
}

/**
 * The query of a read: `timeout` (seconds >= 1; past it the read is stopped and answers 408) and
 * `consistency` (an integer >= 1 or `majority` | `quorum` | `all`: replicas per shard caught up
 * before the answer in cluster mode; one node holds one replica); a `Cache-Control: no-cache` or
 * `no-store` request header gives `cache: false` (the query-result cache is neither read nor
 * filled). Throws INVALID_ARGUMENT naming the parameter.
 */
export function parseReadParams(
  query: unknown,
  headers?: { 'cache-control'?: string | string[] | undefined },
): ReadOptions {
  const c = queryObject(query).consistency
  if (c !== undefined && !(typeof c === 'string' && (/^[1-9]\d{0,8}$/.test(c) || CONSISTENCY.includes(c))))
    bad('consistency', 'an integer >= 1 or one of majority, quorum, all', c)
  const timeout = parseTimeoutParam(query)
  const consistency: ReadConsistency | undefined =
    c === undefined ? undefined : /^\d+$/.test(c as string) ? Number(c) : (c as ReadConsistency)
  // HTTP's own way to ask for an answer not served from a cache (RFC 9111 §5.2.1.4, 5.2.1.5)
  const control = headers?.['cache-control']
  const noCache = [control ?? []].flat().some((v) => /(^|[\s,])no-(cache|store)([\s,=]|$)/i.test(v))
  return {
    ...(timeout === undefined ? {} : { timeout }),
    ...(consistency === undefined ? {} : { consistency }),
    ...(noCache ? { cache: false } : {}),
  }
}

// The query-result cache (issue 16 section 3): an LRU of read results with a byte budget and a TTL,
// shared by every collection of a database (lru-cache does the LRU, sizes and TTL). An entry is
// keyed by the collection instance, its write version (the highest applied operation sequence) and
// the normalised request, so a write makes every earlier entry of that collection
// unreachable at once: the cache is never stale, and unreachable entries age out by LRU order.
import { LRUCache } from 'lru-cache'
import { QuiverError } from '../errors.js'

/** Default byte budget of a database's query cache (Quiver.open's `queryCacheBytes`): 32 MiB. */
export const DEFAULT_QUERY_CACHE_BYTES = 32 * 1024 * 1024
/** Default time an entry may be served, in milliseconds (Quiver.open's `queryCacheTtlMs`): 5 minutes. */
export const DEFAULT_QUERY_CACHE_TTL_MS = 5 * 60 * 1000
/** Bytes counted for an entry beyond its estimated result size (key, LRU node, bookkeeping). */
const ENTRY_OVERHEAD = 256

/** Options of a {@link QueryCache}. */
export interface QueryCacheOptions {
  /** Byte budget (estimated result bytes); 0 turns the cache off. Integer >= 0. */
  readonly maxBytes: number
  /** Milliseconds an entry may be served after it was stored; integer >= 1. Default 5 minutes. */
  readonly ttlMs?: number
  /** The clock TTLs are measured on, in milliseconds. Default `performance.now`. */
  readonly clock?: () => number
}

/** Counters of one collection's use of the cache, since it was opened. */
export interface QueryCacheCounters {
  /** Requests answered from the cache. */
  hits: number
  /** Cacheable requests computed (and then stored). */
  misses: number
}

/** The whole cache: its budget and what it holds now, and evictions since the database opened. */
export interface QueryCacheStats {
  readonly maxBytes: number
  readonly bytes: number
  readonly entries: number
  /** Entries dropped to stay within the budget (not counting expired or unreachable ones read later). */
  readonly evictions: number
}

interface Entry {
  readonly value: unknown
  readonly bytes: number
}

/**
 * A byte-budgeted LRU of read results. Results are stored and returned as deep copies
 * (`copyResult`), so a caller changing a result it got changes nothing cached.
 * Throws INVALID_CONFIG for a bad budget or TTL.
 * @example const cache = new QueryCache({ maxBytes: 32 << 20 }); const hits = cache.get(key) ?? compute()
 */
export class QueryCache {
  readonly maxBytes: number
  readonly ttlMs: number
  private readonly lru: LRUCache<string, Entry> | undefined
  private evicted = 0

  constructor(options: QueryCacheOptions) {
    const { maxBytes, ttlMs = DEFAULT_QUERY_CACHE_TTL_MS } = options
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new QuiverError(
        'INVALID_CONFIG',
        `queryCacheBytes must be an integer >= 0 (bytes; 0 turns the cache off), got ${maxBytes}`,
      )
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
      throw new QuiverError(
        'INVALID_CONFIG',
        `queryCacheTtlMs must be an integer >= 1 (milliseconds), got ${ttlMs}`,
      )
    this.maxBytes = maxBytes
    this.ttlMs = ttlMs
    this.lru =
      maxBytes === 0
        ? undefined
        : new LRUCache<string, Entry>({
            maxSize: maxBytes,
            sizeCalculation: (e) => e.bytes,
            ttl: ttlMs,
            updateAgeOnGet: false,
            // read the clock on every check (no cached "now" refreshed by a timer)
            ttlResolution: 0,
            // lru-cache reads a start time of 0 as "no TTL": a clock starting at 0 is moved by 1 ms
            ...(options.clock === undefined
              ? {}
              : { perf: { now: () => (options.clock as () => number)() + 1 } }),
            dispose: (_value, _key, reason) => {
              if (reason === 'evict') this.evicted++
            },
          })
  }

  /** Whether the cache stores anything (a budget > 0). */
  get enabled(): boolean {
    return this.lru !== undefined
  }

  /** A copy of the result stored under `key`, or undefined (absent, expired, or the cache is off). */
  get<T>(key: string): T | undefined {
    const e = this.lru?.get(key)
    return e === undefined ? undefined : (copyResult(e.value) as T)
  }

  /**
   * Stores a copy of `value` under `key`, counted as `bytes` (an estimate, see `resultBytes`). A
   * value larger than a quarter of the budget is not stored: it would evict too much for one entry.
   */
  set(key: string, value: unknown, bytes: number): void {
    if (this.lru === undefined) return
    const size = bytes + ENTRY_OVERHEAD + key.length * 2
    if (size > this.maxBytes / 4) return
    this.lru.set(key, { value: copyResult(value), bytes: size })
  }

  stats(): QueryCacheStats {
    return {
      maxBytes: this.maxBytes,
      bytes: this.lru?.calculatedSize ?? 0,
      entries: this.lru?.size ?? 0,
      evictions: this.evicted,
    }
  }

  /** Drops the entries whose key starts with `prefix` (a closed collection's: their memory comes back now). */
  deletePrefix(prefix: string): void {
    const lru = this.lru
    if (lru === undefined) return
    for (const key of [...lru.keys()]) if (key.startsWith(prefix)) lru.delete(key)
  }

  /** Drops every entry (a closing database's; correctness never needs it). */
  clear(): void {
    this.lru?.clear()
  }
}

/**
 * The cache key of `request` normalised: object keys in sorted order, `undefined` members left out,
 * numbers by value, and arrays of numbers and typed arrays by their raw float64 / byte content
 * (latin1 text, one byte per byte: a 100-d query vector is an 800-character key), so two requests
 * that mean the same JSON get the same key. No hashing: equal keys are equal requests. Returns
 * undefined for a request holding anything else (functions, Maps, class instances): not cached.
 */
export function requestKey(kind: string, request: unknown): string | undefined {
  const out: string[] = [kind, '\0']
  return canonical(request, out) ? out.join('') : undefined
}

/** Float64 scratch for number arrays (grown on demand). */
let scratch = new Float64Array(1024)

function canonical(v: unknown, out: string[]): boolean {
  switch (typeof v) {
    case 'undefined':
      out.push('u')
      return true
    case 'number':
      out.push(Object.is(v, -0) ? 'd-0;' : `d${v};`)
      return true
    case 'boolean':
      out.push(v ? 't' : 'f')
      return true
    case 'string':
      out.push(`s${v.length}:`, v)
      return true
    case 'bigint':
      out.push(`b${v};`)
      return true
    case 'object':
      break
    default:
      return false
  }
  if (v === null) {
    out.push('n')
    return true
  }
  if (ArrayBuffer.isView(v)) {
    out.push(
      `v${v.constructor.name}${v.byteLength}:`,
      Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'),
    )
    return true
  }
  if (Array.isArray(v)) {
    if (v.length > 8 && v.every((x) => typeof x === 'number')) {
      // a vector given as numbers: its float64 bytes, not one string per element
      if (scratch.length < v.length) scratch = new Float64Array(v.length)
      for (let i = 0; i < v.length; i++) scratch[i] = v[i] as number
      out.push(`N${v.length}:`, Buffer.from(scratch.buffer, 0, v.length * 8).toString('latin1'))
      return true
    }
    out.push(`a${v.length}:`)
    for (const x of v) if (!canonical(x, out)) return false
    return true
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return false
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
  out.push(`o${keys.length}:`)
  for (const k of keys) {
    out.push(`${k.length}:`, k)
    if (!canonical(o[k], out)) return false
  }
  return true
}

/**
 * A deep copy of a read result (plain objects, arrays, typed arrays and primitives; anything else
 * by structuredClone). Several times faster than structuredClone on search results.
 */
export function copyResult<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) {
    const a = new Array(v.length)
    for (let i = 0; i < v.length; i++) a[i] = copyResult(v[i])
    return a as T
  }
  if (ArrayBuffer.isView(v)) return (v as unknown as Float32Array).slice() as T
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return structuredClone(v)
  const o: Record<string, unknown> = proto === null ? Object.create(null) : {}
  for (const k of Object.keys(v)) {
    const x = copyResult((v as Record<string, unknown>)[k])
    // a payload key `__proto__` stays a key (plain assignment would set the prototype)
    if (k === '__proto__')
      Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true })
    else o[k] = x
  }
  return o as T
}

/**
 * Estimated bytes of a read result held in memory: a fixed cost per object and array, 8 per
 * number, 2 per string character (UTF-16). Walks the result once.
 */
export function resultBytes(v: unknown): number {
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return 8
    case 'string':
      return 16 + v.length * 2
    case 'object': {
      if (v === null) return 8
      if (ArrayBuffer.isView(v)) return 64 + v.byteLength
      if (Array.isArray(v)) {
        let n = 32 + v.length * 8
        for (const x of v) if (typeof x === 'object' || typeof x === 'string') n += resultBytes(x)
        return n
      }
      let n = 64
      const o = v as Record<string, unknown>
      for (const k in o) n += 16 + k.length * 2 + resultBytes(o[k])
      return n
    }
    default:
      return 8
  }
}

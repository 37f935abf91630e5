// The one error type of Quiver and the one table of error codes. Imports nothing.
// The engine knows nothing of HTTP: src/server/errors.ts maps `kind` to a status in one place.

/** What class of failure an error is; callers branch on this, not on messages. */
export type ErrorKind =
  | 'invalid_argument'
  | 'out_of_range'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'rate_limited'
  | 'timeout'
  | 'closed'
  | 'unavailable'
  | 'corrupted'
  | 'internal'

interface CodeSpec {
  readonly kind: ErrorKind
  /** One line saying what happened and what the caller can do; docs/errors.md repeats it. */
  readonly summary: string
}

/**
 * Every error code Quiver raises, with its kind. A test fails if a code here is missing from
 * docs/errors.md.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { kind: 'invalid_argument', summary: 'A request argument is malformed or out of range.' },
  VALIDATION_FAILED: {
    kind: 'out_of_range',
    summary:
      'A well-typed request value is out of its allowed range (`limit: 0`, `sample: 1`, `group_size: 0`, an empty `group_by`); Qdrant answers 422 for these.',
  },
  INVALID_VECTOR: {
    kind: 'invalid_argument',
    summary:
      'A vector has the wrong dimension, holds NaN/Infinity or, for Dot/Euclid/Manhattan, has a squared norm above 1e32; nothing was written.',
  },
  INVALID_POINT_ID: {
    kind: 'invalid_argument',
    summary: 'A point id is neither an unsigned integer (< 2^53) nor a UUID string.',
  },
  INVALID_PAYLOAD: { kind: 'invalid_argument', summary: 'A payload is not a JSON object.' },
  INVALID_FILTER: { kind: 'invalid_argument', summary: 'A filter does not follow the filter language.' },
  INVALID_COLLECTION_NAME: {
    kind: 'invalid_argument',
    summary: 'A collection name is empty, too long, or holds characters other than [A-Za-z0-9_.-].',
  },
  INVALID_CONFIG: {
    kind: 'invalid_argument',
    summary: 'Collection parameters (dimension, metric, HNSW) are invalid.',
  },
  INDEX_REQUIRED: {
    kind: 'invalid_argument',
    summary:
      'The request needs a payload index on the field (`order_by`: integer with range, float or datetime; facet: keyword, uuid, bool or integer); create it first.',
  },
  STRICT_MODE: {
    kind: 'invalid_argument',
    summary:
      "A request exceeds a limit of the collection's `strict_mode_config` (Qdrant answers 400 with the same message); nothing was read or written.",
  },
  RATE_LIMITED: {
    kind: 'rate_limited',
    summary:
      "A request exceeds the collection's strict-mode `read_rate_limit` / `write_rate_limit` (HTTP 429, `Retry-After` in seconds when waiting helps); nothing was read or written.",
  },
  COLLECTION_NOT_FOUND: { kind: 'not_found', summary: 'No collection has this name.' },
  ALIAS_NOT_FOUND: {
    kind: 'not_found',
    summary: 'No alias has this name (`rename_alias` of a missing alias).',
  },
  DATA_DIR_NOT_FOUND: {
    kind: 'not_found',
    summary:
      'Opened with `create: false` (read-only CLI commands), the directory does not exist or is not a Quiver data directory; nothing was created.',
  },
  POINT_NOT_FOUND: { kind: 'not_found', summary: 'No point has this id.' },
  SNAPSHOT_NOT_FOUND: {
    kind: 'not_found',
    summary: 'No snapshot has this name, or the snapshot file does not exist.',
  },
  COLLECTION_EXISTS: { kind: 'already_exists', summary: 'A collection with this name exists already.' },
  ALIAS_EXISTS: {
    kind: 'invalid_argument',
    summary:
      "A collection cannot take an alias's name (Qdrant answers 400); delete or rename the alias first.",
  },
  DIRECTORY_LOCKED: {
    kind: 'failed_precondition',
    summary: 'Another process holds the data directory open; close it first.',
  },
  CAPACITY_EXCEEDED: {
    kind: 'resource_exhausted',
    summary: 'A segment would exceed the 4 GiB WebAssembly memory limit.',
  },
  TIMEOUT: {
    kind: 'timeout',
    summary:
      'A read passed its `timeout` (seconds) and was stopped; nothing was returned. Retry with a larger timeout or a cheaper request.',
  },
  CLOSED: { kind: 'closed', summary: 'The database or collection was closed.' },
  NOT_READY: {
    kind: 'unavailable',
    summary: 'The server is still loading its data directory; retry once `GET /readyz` answers 200.',
  },
  LOG_UNAVAILABLE: {
    kind: 'unavailable',
    summary:
      "The collection's operation log (a NATS JetStream stream) did not acknowledge a write in time; it may still be stored (and is then applied on replay). Retry: a retried upsert is idempotent.",
  },
  SHARD_UNAVAILABLE: {
    kind: 'unavailable',
    summary:
      'No node hosting a shard of the collection answered (cluster mode): its replicas are down, unreachable or still catching up. Retry; more replicas (`replication_factor`) keep reads served while a node is away.',
  },
  LOG_NOT_FOUND: {
    kind: 'not_found',
    summary:
      "No shared operation log (JetStream stream) has this id: a replica can only attach to an existing collection's log.",
  },
  CORRUPTED: {
    kind: 'corrupted',
    summary: 'A stored file failed its checksum or format check; the collection refuses to serve it.',
  },
  IO_ERROR: {
    kind: 'internal',
    summary: 'The file system refused an operation (disk full, read-only, ...).',
  },
  INTERNAL: { kind: 'internal', summary: 'A bug in Quiver; please report it.' },
} as const satisfies Record<string, CodeSpec>

export type ErrorCode = keyof typeof ERROR_CODES

/** Base class of every error Quiver throws on purpose. `details` is JSON-safe context. */
export class QuiverError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorKind
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'QuiverError'
    this.code = code
    this.kind = ERROR_CODES[code].kind
    this.details = details
  }
}

/** Shorthand for the most common error: `throw invalid('limit must be >= 1')`. */
export function invalid(message: string, details?: Record<string, unknown>): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', message, details)
}

export function isQuiverError(err: unknown): err is QuiverError {
  return err instanceof QuiverError
}

/**
 * How messages name the type of a value: `null`, `undefined`, `an array`, `an object` (a plain
 * one), the class of any other object (`a Date`, `a Map`, `a Uint8Array`), else its `typeof`
 * (`a bigint`, `a string`, `a function`).
 * @example typeName(new Date()) // 'a Date'
 */
export function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return 'an array'
  let name: string = typeof value
  if (name === 'object') {
    const proto: unknown = Object.getPrototypeOf(value)
    const ctor =
      proto === null || proto === Object.prototype
        ? undefined
        : (proto as { constructor?: unknown }).constructor
    if (typeof ctor === 'function' && ctor.name !== '') name = ctor.name
  }
  return `${/^[aeio]/i.test(name) ? 'an' : 'a'} ${name}`
}

/**
 * A value as error messages show it: `nothing`, `null`, `an array`, `a Date`, `an object`,
 * `number 3`, `string "abc"` (cut at 40 characters), `bigint 10n`, `NaN`, `Infinity`.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (typeof value === 'object' || typeof value === 'function' || typeof value === 'symbol')
    return typeName(value)
  if (typeof value === 'bigint') return `bigint ${value}n`
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  const s = JSON.stringify(value)
  return `${typeof value} ${s.length > 40 ? `${s.slice(0, 40)}...` : s}`
}

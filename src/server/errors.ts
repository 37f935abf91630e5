// The one table from error kind to HTTP status, and the Qdrant error envelope built from any error.
// Statuses follow Qdrant's own mapping (src/actix/helpers.rs) where Qdrant has the same case.
import { sep } from 'node:path'
import { type ErrorKind, isQuiverError } from '../errors.js'
import { HttpError } from './http-error.js'

/**
 * HTTP status for every error kind. Qdrant: bad input 400, a failed range validation 422, not found 404, already exists 409,
 * timeout 408, insufficient storage 507, unavailable 503, service error 500.
 */
export const HTTP_STATUS_BY_KIND = {
  invalid_argument: 400,
  out_of_range: 422,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  resource_exhausted: 507,
  rate_limited: 429,
  timeout: 408,
  closed: 503,
  unavailable: 503,
  corrupted: 500,
  internal: 500,
} as const satisfies Record<ErrorKind, number>

/** Header that carries the Quiver error code (e.g. `INVALID_VECTOR`) next to Qdrant's envelope. */
export const ERROR_CODE_HEADER = 'x-quiver-error-code'

/** Qdrant's error envelope: `{ status: { error }, time }`, `time` in seconds. */
export interface WireErrorResponse {
  status: { error: string }
  time: number
}

export interface HttpErrorReply {
  statusCode: number
  /** Quiver error code, or an HTTP-layer code (`HttpErrorCode`, src/server/http-error.ts). */
  code: string
  message: string
  /** True when the failure is ours (5xx but 503), so the caller should log it. */
  serverFault: boolean
  /** Seconds for a `Retry-After` header (a rate limit that a wait will clear). */
  retryAfter?: number
}

interface ErrorWithStatus {
  statusCode?: unknown
  code?: unknown
  message?: unknown
}

/**
 * Maps any thrown value to a status, code and message. QuiverErrors go through
 * `HTTP_STATUS_BY_KIND`; Fastify's own 4xx errors (body too large, unsupported media type) keep
 * their status; anything else is a 500 `INTERNAL` whose message hides internals.
 */
export function toHttpError(err: unknown): HttpErrorReply {
  if (isQuiverError(err)) {
    const statusCode = HTTP_STATUS_BY_KIND[err.kind]
    // 503 (loading, closing) is a state, not a fault: probes during a long load must not flood the log
    const retryAfter = err.details?.retryAfterSeconds
    return {
      statusCode,
      code: err.code,
      message: err.message,
      serverFault: statusCode >= 500 && statusCode !== 503,
      ...(typeof retryAfter === 'number' ? { retryAfter } : {}),
    }
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorWithStatus
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      statusCode: e.statusCode,
      code: typeof e.code === 'string' ? e.code : 'INVALID_ARGUMENT',
      message: typeof e.message === 'string' ? e.message : 'Bad request',
      serverFault: false,
    }
  }
  return {
    statusCode: 500,
    code: 'INTERNAL',
    message: 'Service internal error: an unexpected error occurred; see the server log',
    serverFault: true,
  }
}

/** What `frameworkError` needs to know of the request to word its message. */
export interface FrameworkErrorContext {
  /** The request's `content-type` header, if any. */
  contentType?: string | undefined
  /** The server's body limit in bytes. */
  bodyLimit: number
  /** The router's longest path parameter, in characters (`MAX_PARAM_LENGTH`). */
  maxParamLength: number
}

/**
 * Translates an error Fastify raised itself (`FST_ERR_*`: unsupported media type, body too large,
 * bad URL, path parameter too long) into an `HttpError` with Quiver's HTTP-layer code and a message
 * that says what to change. Any other value is returned as it is.
 */
export function frameworkError(err: unknown, ctx: FrameworkErrorContext): unknown {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const given = ctx.contentType === undefined ? 'none' : JSON.stringify(ctx.contentType.slice(0, 100))
      return new HttpError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Unsupported Media Type: the body must be JSON sent with Content-Type application/json, got ${given}`,
      )
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(
        'PAYLOAD_TOO_LARGE',
        `Request body is too large: the server accepts at most ${ctx.bodyLimit} bytes (bodyLimit, --body-limit)`,
      )
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('BAD_REQUEST', 'Bad request: Content-Length does not match the body sent')
    case 'FST_ERR_BAD_URL':
      return new HttpError('BAD_REQUEST', 'Bad request: the URL holds an invalid percent-encoding')
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpError(
        'URI_TOO_LONG',
        `URI too long: a path segment is longer than ${ctx.maxParamLength} characters (no collection or snapshot name is)`,
      )
    default:
      return err
  }
}

/**
 * A server fault's message (5xx: I/O errors, damaged files) as a client may see it: paths under the
 * data directory `dir` become relative to it (`collections/docs/wal/00000001.wal`) and `dir` itself
 * becomes `<data directory>`, so no response reveals where the server keeps its files. Only for
 * messages the engine wrote about its own files: 4xx messages quote the client's input and name no
 * server path. Embedded callers get the absolute paths.
 */
export function redactDataDir(message: string, dir: string | undefined): string {
  if (dir === undefined || dir.length < 2) return message
  const base = dir.endsWith(sep) ? dir.slice(0, -1) : dir
  return message.split(`${base}${sep}`).join('').split(base).join('<data directory>')
}

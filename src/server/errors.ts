// The one table from error kind to HTTP status, and the Qdrant error envelope built from any error.
// Statuses follow Qdrant's own mapping (src/actix/helpers.rs) where Qdrant has the same case.
import { type ErrorKind, isQuiverError } from '../errors.js'

/**
 * HTTP status for every error kind. Qdrant: bad input 400, not found 404, already exists 409,
 * timeout 408, insufficient storage 507, unavailable 503, service error 500.
 */
export const HTTP_STATUS_BY_KIND = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  resource_exhausted: 507,
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
  /** Quiver error code, or a Fastify code (`FST_ERR_*`) for errors raised by the HTTP layer itself. */
  code: string
  message: string
  /** True when the failure is ours (5xx), so the caller should log it. */
  serverFault: boolean
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
    return { statusCode, code: err.code, message: err.message, serverFault: statusCode >= 500 }
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

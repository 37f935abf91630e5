// Errors raised by the HTTP layer itself (authentication, access, origin, media type, request limits,
// malformed requests), before a request reaches the engine: each carries its status and an
// `x-quiver-error-code`, and all of them reach the client in Qdrant's envelope.

/** Codes of HTTP-layer refusals; docs/errors.md ("Errors raised by the HTTP layer") lists them. */
export type HttpErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'REQUEST_TIMEOUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'TOO_MANY_REQUESTS'
  | 'HEADERS_TOO_LARGE'
  | 'LIMIT_EXCEEDED'

/** HTTP status of every HTTP-layer code. */
export const HTTP_ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  HEADERS_TOO_LARGE: 431,
  LIMIT_EXCEEDED: 400,
}

/**
 * A 4xx refusal of the HTTP layer. `toHttpError` (src/server/errors.ts) keeps `statusCode` and
 * `code` of any error with a 4xx `statusCode`, so these reach the client in Qdrant's envelope.
 */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: HttpErrorCode

  constructor(code: HttpErrorCode, message: string) {
    super(message)
    this.name = 'HttpError'
    this.code = code
    this.statusCode = HTTP_ERROR_STATUS[code]
  }
}

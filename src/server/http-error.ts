// Errors raised by the HTTP layer itself (authentication, access, request limits), before a request
// reaches the engine: each carries its status and an `x-quiver-error-code`, as Fastify's own errors do.

/** Codes of HTTP-layer refusals; docs/errors.md ("Errors raised by the HTTP layer") lists them. */
export type HttpErrorCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'TOO_MANY_REQUESTS' | 'LIMIT_EXCEEDED'

const STATUS: Record<HttpErrorCode, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
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
    this.statusCode = STATUS[code]
  }
}

// Structured JSON logs of the server (pino): the process logger, request ids (accepted from
// `x-request-id` or generated) and the one log line per completed request.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { type DestinationStream, type Logger, pino } from 'pino'
import { ERROR_CODE_HEADER } from './errors.js'

/** Header that carries the request id in both directions. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** Key of the request id in every log line of a request. */
export const REQUEST_ID_LOG_LABEL = 'request_id'

/** Route label of requests that matched no route (bounded cardinality: never the raw URL). */
export const UNMATCHED_ROUTE = 'unmatched'

const REQUEST_ID_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/** pino levels accepted by `createLogger` and `quiver serve --log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string
  /** Where JSON lines go. Default stdout (pino's `destination(1)`). */
  destination?: DestinationStream
}

/**
 * The server's pino logger: one JSON object per line with `level` (number), `time` (ISO 8601),
 * `pid`, `hostname`, `msg`, and `request_id` in lines about a request.
 * @example const log = createLogger({ level: 'debug' })
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', timestamp: pino.stdTimeFunctions.isoTime }
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination)
}

/**
 * The id of an incoming request: its `x-request-id` header when that is 1..128 characters of
 * `[A-Za-z0-9._:@/+=-]` (a single value), else a new UUID v4. Used as Fastify's `genReqId`.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID()
}

/** The route pattern of a request (e.g. `/collections/:collection_name`), or `unmatched`. */
export function routeOf(request: FastifyRequest): string {
  return request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE)
}

/**
 * Fastify's request logging, reduced to one line per completed request:
 * `{ request_id, method, route, url, status, duration_ms, code? , msg: 'request completed' }`
 * at `info` (< 400), `warn` (4xx) or `error` (5xx or a failed response); `code` is the Quiver
 * error code of an error reply. The line announcing an incoming request goes to `debug`.
 */
export class RequestLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: REQUEST_ID_LOG_LABEL })
  }

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request')
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const status = reply.statusCode
    const line: Record<string, unknown> = {
      method: request.method,
      route: routeOf(request),
      url: request.url,
      status,
      duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
    }
    const code = reply.getHeader(ERROR_CODE_HEADER)
    if (typeof code === 'string') line.code = code
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else if (status >= 500) reply.log.error(line, 'request completed')
    else if (status >= 400) reply.log.warn(line, 'request completed')
    else reply.log.info(line, 'request completed')
  }
}

/**
 * The Fastify options that give every request an id (see `requestIdOf`), log it as `request_id`
 * and log requests through `RequestLogController`. Spread into `Fastify({...})`.
 */
export function requestLoggingOptions(): {
  requestIdHeader: false
  genReqId: (req: IncomingMessage) => string
  logController: RequestLogController
} {
  return { requestIdHeader: false, genReqId: requestIdOf, logController: new RequestLogController() }
}

/** Echoes the request id in the `x-request-id` header of every reply (errors and 404s included). */
export function registerRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    return payload
  })
}

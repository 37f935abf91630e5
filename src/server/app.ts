// Builds the Fastify application that speaks Qdrant's REST API over a Quiver database: JSON body
// parsing, the one error handler (Qdrant's error envelope), the 404 handler and the route files.
import { realpathSync } from 'node:fs'
import type { Socket } from 'node:net'
import { resolve } from 'node:path'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify'
import { QuiverError } from '../errors.js'
import type { ServerDatabase } from './database.js'
import {
  ERROR_CODE_HEADER,
  frameworkError,
  redactDataDir,
  toHttpError,
  type WireErrorResponse,
} from './errors.js'
import { HTTP_ERROR_STATUS, HttpError, type HttpErrorCode } from './http-error.js'
import { mayHoldUnsafeIntegers, withClientLiterals } from './json-literals.js'
import { checkJsonDepth, registerLimits, resolveLimits, type ServerLimits } from './limits.js'
import { requestLoggingOptions } from './logging.js'
import { registerAliasRoutes } from './routes/aliases.js'
import { registerCollectionRoutes } from './routes/collections.js'
import { registerDiscoverRoutes } from './routes/discover.js'
import { registerFacetRoutes } from './routes/facet.js'
import { registerFieldIndexRoutes } from './routes/field-index.js'
import { registerGroupRoutes } from './routes/groups.js'
import { DEFAULT_HEALTH, type HealthThresholds, registerHealthRoutes } from './routes/health.js'
import { registerIssueRoutes } from './routes/issues.js'
import { registerObservability } from './routes/observability.js'
import { registerOpenApiRoute, trackRoutes } from './routes/openapi.js'
import { registerOptimizationRoutes } from './routes/optimizations.js'
import { registerPointRoutes } from './routes/points.js'
import { registerSearchRoutes } from './routes/search.js'
import { registerServiceRoutes } from './routes/service.js'
import { registerSnapshotRoutes } from './routes/snapshots.js'
import { registerSecurity, type SecurityOptions } from './security.js'

export type { ServerDatabase } from './database.js'

export interface BuildServerOptions {
  db: ServerDatabase
  /** Fastify's logger option (pino): `false` (default) for none, `true` or pino options for one. */
  logger?: FastifyServerOptions['logger']
  /** A ready pino logger to use instead of `logger`. */
  loggerInstance?: FastifyBaseLogger
  /** Largest accepted request body in bytes. Default 32 MiB (Qdrant's `max_request_size_mb`). */
  bodyLimit?: number
  /** API keys, JWT, CORS, TLS (src/server/security.ts). Default: none (open, plain HTTP). */
  security?: SecurityOptions
  /** Request limits (src/server/limits.ts); unset ones take `DEFAULT_LIMITS`. */
  limits?: Partial<ServerLimits>
  /**
   * Hosts that snapshot recovery may fetch an http(s):// location from besides loopback ones: `host`,
   * `host:port` or `*` (any). Default: loopback only (docs/snapshots.md).
   */
  snapshotUrlAllow?: readonly string[]
  /** Thresholds of `GET /health` (routes/health.ts); unset ones take `DEFAULT_HEALTH`. */
  health?: Partial<HealthThresholds>
}

/** Default request body limit: 32 MiB, as Qdrant's `service.max_request_size_mb`. */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024

/**
 * Longest path parameter the router takes, in characters as sent (percent-encoded). Collection
 * names have at most 200 characters and snapshot names 260; 1024 leaves room for clients that
 * percent-encode every character. Longer ones get 414 `URI_TOO_LONG` in Qdrant's envelope.
 */
export const MAX_PARAM_LENGTH = 1024

/**
 * Media types a JSON body may be sent with: `application/json` and any `application/...+json`
 * (parameters such as `charset` allowed). Anything else is 415 `UNSUPPORTED_MEDIA_TYPE`, so a web
 * page on another origin cannot send a body with a CORS-"simple" type (`text/plain`, a form) that
 * the server would act on. A request without a content type and without a body passes.
 */
export const JSON_MEDIA_TYPES: readonly (string | RegExp)[] = [
  'application/json',
  // Fastify tests a RegExp against the whole header, parameters included
  /^application\/[a-z0-9!#$&^_.-]+\+json\s*(;.*)?$/i,
]

const PROTO_KEY_RE =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"/

function hasProtoKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (Array.isArray(v)) return v.some(hasProtoKey)
  if (Object.hasOwn(v, '__proto__')) return true
  return Object.values(v).some(hasProtoKey)
}

/**
 * Parses a JSON body (the parser of `JSON_MEDIA_TYPES`); an empty body is `undefined`. Throws
 * INVALID_ARGUMENT naming the syntax error, or a `__proto__` key;
 * LIMIT_EXCEEDED (400) if arrays/objects nest deeper than `maxDepth` (checked before parsing).
 */
export function parseJsonBody(text: string, maxDepth = 64): unknown {
  if (text.trim().length === 0) return undefined
  checkJsonDepth(text, maxDepth)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new QuiverError('INVALID_ARGUMENT', `Invalid JSON body: ${(err as Error).message}`)
  }
  if (PROTO_KEY_RE.test(text) && hasProtoKey(value))
    throw new QuiverError('INVALID_ARGUMENT', 'Invalid JSON body: the key "__proto__" is not allowed')
  return value
}

/**
 * Builds (does not start) a Fastify server exposing Qdrant's REST API over `db`.
 * Errors become Qdrant's envelope `{ status: { error }, time }` with the status of
 * `HTTP_STATUS_BY_KIND`, and the Quiver error code in the `x-quiver-error-code` header.
 * The caller owns `db` (closing the server does not close it).
 * @example
 * const app = buildServer({ db: await Quiver.open('./data') })
 * await app.listen({ port: 6333 })
 */
export function buildServer(options: BuildServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT
  const limits = resolveLimits(options.limits)
  const tls = options.security?.tls
  const routerOptions = { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH }
  const context = (request: FastifyRequest) => ({
    contentType: request.headers['content-type'],
    bodyLimit,
    maxParamLength: MAX_PARAM_LENGTH,
  })
  // texts of bodies holding integers beyond 2^53 - 1, for error messages (json-literals.ts)
  const bodyTexts = new WeakMap<FastifyRequest, string>()
  const dataDirs = dataDirSpellings(options.db.dir)
  const sendError = (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const e = toHttpError(frameworkError(err, context(request)))
    if (e.serverFault) request.log.error({ err }, 'request failed')
    // a client's mistake quotes the client's own numbers; a server fault never shows where the data lives
    const error =
      e.statusCode < 500
        ? withClientLiterals(e.message, bodyTexts.get(request))
        : dataDirs.reduce((m, dir) => redactDataDir(m, dir), e.message)
    const body: WireErrorResponse = { status: { error }, time: reply.elapsedTime / 1000 }
    // still loading (or closing): a client may retry, as after a 429
    if (e.statusCode === 503) void reply.header('retry-after', '1')
    if (e.retryAfter !== undefined) void reply.header('retry-after', String(e.retryAfter))
    return reply.status(e.statusCode).header(ERROR_CODE_HEADER, e.code).send(body)
  }
  const base = {
    bodyLimit,
    routerOptions,
    requestTimeout: limits.requestTimeoutMs,
    // errors the router meets before a route is found (bad percent-encoding, a too long parameter)
    frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
      sendError(err, request, reply),
    // malformed HTTP, oversized headers, a request timeout: answered on the socket, no route known
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket),
    ...(tls && { https: tls }),
  }
  const app: FastifyInstance =
    options.loggerInstance === undefined
      ? Fastify({ ...base, ...requestLoggingOptions(), logger: options.logger ?? false })
      : Fastify({ ...base, ...requestLoggingOptions(), loggerInstance: options.loggerInstance })

  app.removeAllContentTypeParsers()
  for (const type of JSON_MEDIA_TYPES) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (req, body, done) => {
      try {
        const text = typeof body === 'string' ? body : body.toString('utf8')
        const value = parseJsonBody(text, limits.maxJsonDepth)
        if (mayHoldUnsafeIntegers(text)) bodyTexts.set(req, text)
        done(null, value)
      } catch (err) {
        done(err as Error, undefined)
      }
    })
  }

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply))

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const shown = path.length > 200 ? `${path.slice(0, 200)}...` : path
    return sendError(
      new HttpError('NOT_FOUND', `Not found: no endpoint ${request.method} ${shown}`),
      request,
      reply,
    )
  })

  trackRoutes(app)
  // security first: unauthenticated requests must not take concurrency slots from real clients
  registerSecurity(app, options.security ?? {})
  registerLimits(app, limits)
  registerObservability(app, options.db)
  registerServiceRoutes(app, options.db)
  registerHealthRoutes(app, options.db, { ...DEFAULT_HEALTH, ...options.health })
  registerIssueRoutes(app, options.db)
  registerOpenApiRoute(app)
  registerCollectionRoutes(app, options.db)
  registerOptimizationRoutes(app, options.db)
  registerPointRoutes(app, options.db)
  registerSearchRoutes(app, options.db)
  registerFieldIndexRoutes(app, options.db)
  registerFacetRoutes(app, options.db)
  registerGroupRoutes(app, options.db)
  registerDiscoverRoutes(app, options.db)
  registerSnapshotRoutes(app, options.db, { snapshotUrlAllow: options.snapshotUrlAllow })
  registerAliasRoutes(app, options.db)
  return app
}

/** The data directory as messages may spell it: as given, absolute, and with symlinks resolved. */
function dataDirSpellings(dir: string | undefined): string[] {
  if (dir === undefined) return []
  const out = new Set([resolve(dir)])
  try {
    out.add(realpathSync(dir))
  } catch {
    // not there (yet): the other spellings still apply
  }
  // longest first, so that a spelling inside another is not replaced before it
  return [...out].sort((a, b) => b.length - a.length)
}

const CLIENT_ERRORS: ReadonlyMap<string, [HttpErrorCode, string, string]> = new Map([
  [
    'ERR_HTTP_REQUEST_TIMEOUT',
    ['REQUEST_TIMEOUT', 'Request Timeout', 'the request was not received in time'],
  ],
  [
    'HPE_HEADER_OVERFLOW',
    ['HEADERS_TOO_LARGE', 'Request Header Fields Too Large', 'the headers are too large'],
  ],
])

/**
 * Answers an HTTP-level client error (Node's `clientError`: unparsable request, oversized headers,
 * request timeout) in Qdrant's envelope with an `x-quiver-error-code`, then closes the socket.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [code, reason, why] = CLIENT_ERRORS.get(err.code ?? '') ?? [
    'BAD_REQUEST',
    'Bad Request',
    'the request is not valid HTTP/1.1',
  ]
  const body = JSON.stringify({ status: { error: `${reason}: ${why}` }, time: 0 } satisfies WireErrorResponse)
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${HTTP_ERROR_STATUS[code]} ${reason}\r\nContent-Type: application/json\r\n` +
        `${ERROR_CODE_HEADER}: ${code}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

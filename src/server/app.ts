// Builds the Fastify application that speaks Qdrant's REST API over a Quiver database: JSON body
// parsing, the one error handler (Qdrant's error envelope), the 404 handler and the route files.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { QuiverError } from '../errors.js'
import type { ServerDatabase } from './database.js'
import { ERROR_CODE_HEADER, toHttpError, type WireErrorResponse } from './errors.js'
import { checkJsonDepth, registerLimits, resolveLimits, type ServerLimits } from './limits.js'
import { requestLoggingOptions } from './logging.js'
import { registerCollectionRoutes } from './routes/collections.js'
import { registerFieldIndexRoutes } from './routes/field-index.js'
import { registerObservability } from './routes/observability.js'
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
}

/** Default request body limit: 32 MiB, as Qdrant's `service.max_request_size_mb`. */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024

const PROTO_KEY_RE =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"/

function hasProtoKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (Array.isArray(v)) return v.some(hasProtoKey)
  if (Object.hasOwn(v, '__proto__')) return true
  return Object.values(v).some(hasProtoKey)
}

/**
 * Parses a body as JSON whatever its content type (curl's default form type included); an empty
 * body is `undefined`. Throws INVALID_ARGUMENT naming the syntax error, or a `__proto__` key;
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
  const routerOptions = { ignoreTrailingSlash: true }
  const base = {
    bodyLimit,
    routerOptions,
    requestTimeout: limits.requestTimeoutMs,
    ...(tls && { https: tls }),
  }
  const app: FastifyInstance =
    options.loggerInstance === undefined
      ? Fastify({ ...base, ...requestLoggingOptions(), logger: options.logger ?? false })
      : Fastify({ ...base, ...requestLoggingOptions(), loggerInstance: options.loggerInstance })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8'), limits.maxJsonDepth))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err)
    if (e.serverFault) request.log.error({ err }, 'request failed')
    const body: WireErrorResponse = { status: { error: e.message }, time: reply.elapsedTime / 1000 }
    return reply.status(e.statusCode).header(ERROR_CODE_HEADER, e.code).send(body)
  })

  app.setNotFoundHandler((request, reply) => {
    const body: WireErrorResponse = {
      status: { error: `Not found: no endpoint ${request.method} ${request.url.split('?')[0]}` },
      time: reply.elapsedTime / 1000,
    }
    return reply.status(404).header(ERROR_CODE_HEADER, 'NOT_FOUND').send(body)
  })

  // security first: unauthenticated requests must not take concurrency slots from real clients
  registerSecurity(app, options.security ?? {})
  registerLimits(app, limits)
  registerObservability(app, options.db)
  registerServiceRoutes(app, options.db)
  registerCollectionRoutes(app, options.db)
  registerPointRoutes(app, options.db)
  registerSearchRoutes(app, options.db)
  registerFieldIndexRoutes(app, options.db)
  registerSnapshotRoutes(app, options.db)
  return app
}

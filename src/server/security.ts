// Authentication and access control of the HTTP server, as Qdrant's: API keys (read-write and
// read-only), JWT with collection-level access claims (`jwt_rbac`), the one route -> access table,
// CORS, and the TLS options handed to Fastify.
import { createHash, timingSafeEqual } from 'node:crypto'
import { hostname } from 'node:os'
import cors from '@fastify/cors'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errors as joseErrors, jwtVerify } from 'jose'
import { bareHost, isLoopbackHost } from './hosts.js'
import { HttpError } from './http-error.js'

/** What an operation needs: read (search, get, list), write (points, payloads, indexes), manage (collections, snapshots). */
export type AccessLevel = 'read' | 'write' | 'manage'

/**
 * Access a route needs. `collection`: the route names one collection (`{name}` param), so a
 * collection-scoped token for that collection may pass; `global`: only a global key or token;
 * `list`: any valid credential, and a collection-scoped token sees only its collections.
 */
export type RouteAccess = 'open' | { level: AccessLevel; scope: 'collection' | 'global' | 'list' }

const read = { level: 'read', scope: 'collection' } as const
const write = { level: 'write', scope: 'collection' } as const
const manage = { level: 'manage', scope: 'collection' } as const
const globalRead = { level: 'read', scope: 'global' } as const
const globalManage = { level: 'manage', scope: 'global' } as const

/**
 * Access of every route, keyed by `METHOD pattern` with each `:param` written `{}`. A route
 * missing here needs global manage access (the safe default); unmatched paths (404) need any
 * valid credential.
 */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /': 'open',
  'GET /healthz': 'open',
  'GET /livez': 'open',
  'GET /readyz': 'open',
  'GET /openapi.json': 'open',
  'GET /metrics': globalRead,
  'GET /telemetry': globalRead,
  'GET /health': globalRead,
  'GET /cluster': globalRead,
  'GET /issues': globalRead,
  'DELETE /issues': globalManage,
  'GET /collections/{}/optimizations': read,
  'GET /collections': { level: 'read', scope: 'list' },
  'GET /collections/{}': read,
  'GET /collections/{}/exists': read,
  'GET /collections/{}/cluster': read,
  // shard placement changes touch the whole cluster: Qdrant asks global manage access too
  'POST /collections/{}/cluster': globalManage,
  'GET /collections/{}/aliases': read,
  'GET /aliases': { level: 'read', scope: 'list' },
  'POST /collections/aliases': globalManage,
  'PUT /collections/{}': manage,
  'PATCH /collections/{}': manage,
  'DELETE /collections/{}': manage,
  'PUT /collections/{}/index': write,
  'DELETE /collections/{}/index/{}': write,
  'PUT /collections/{}/points': write,
  'POST /collections/{}/points': read,
  'GET /collections/{}/points/{}': read,
  'POST /collections/{}/points/delete': write,
  'POST /collections/{}/points/scroll': read,
  'POST /collections/{}/points/count': read,
  'POST /collections/{}/points/payload': write,
  'PUT /collections/{}/points/payload': write,
  'POST /collections/{}/points/payload/delete': write,
  'POST /collections/{}/points/payload/clear': write,
  'PUT /collections/{}/points/vectors': write,
  'POST /collections/{}/points/vectors/delete': write,
  'POST /collections/{}/points/batch': write,
  'POST /collections/{}/points/query': read,
  'POST /collections/{}/points/query/batch': read,
  'POST /collections/{}/points/recommend': read,
  'POST /collections/{}/points/recommend/batch': read,
  'POST /collections/{}/points/search': read,
  'POST /collections/{}/points/search/batch': read,
  'POST /collections/{}/points/search/matrix/pairs': read,
  'POST /collections/{}/points/search/matrix/offsets': read,
  'POST /collections/{}/facet': read,
  'POST /collections/{}/points/query/groups': read,
  'POST /collections/{}/points/search/groups': read,
  'POST /collections/{}/points/recommend/groups': read,
  'POST /collections/{}/points/discover': read,
  'POST /collections/{}/points/discover/batch': read,
  'GET /collections/{}/snapshots': read,
  'GET /collections/{}/snapshots/{}': read,
  'POST /collections/{}/snapshots': manage,
  'DELETE /collections/{}/snapshots/{}': manage,
  'PUT /collections/{}/snapshots/recover': manage,
  'POST /collections/{}/snapshots/upload': manage,
  'GET /snapshots': globalManage,
  'POST /snapshots': globalManage,
  'GET /snapshots/{}': globalManage,
  'DELETE /snapshots/{}': globalManage,
}

/** Access a route needs; `url` is Fastify's route pattern (`/collections/:collection_name`). */
export function routeAccess(method: string, url: string): RouteAccess {
  const m = method === 'HEAD' ? 'GET' : method
  return ROUTE_ACCESS[`${m} ${url.replace(/:[^/]+/g, '{}')}`] ?? globalManage
}

/** What one credential grants: a global mode (`r` read, `m` everything) or per-collection access. */
export type Grant =
  | { kind: 'global'; mode: 'r' | 'm' }
  | { kind: 'collections'; access: ReadonlyMap<string, 'r' | 'rw'> }

export interface TlsOptions {
  /** PEM certificate chain. */
  cert: string | Buffer
  /** PEM private key. */
  key: string | Buffer
}

export interface SecurityOptions {
  /** Read-write key (`api-key` header or `Authorization: Bearer`); also the HS256 secret of JWTs. */
  apiKey?: string
  /** Key that allows only read operations. */
  readOnlyApiKey?: string
  /** Accept JWTs signed (HS256) with `apiKey`, with Qdrant's `access` claim. Needs `apiKey`. Default false. */
  jwtRbac?: boolean
  /** Origins allowed by CORS (`*` for any); none (default) means no CORS headers at all. */
  corsOrigins?: readonly string[]
  /** Serve HTTPS with this certificate and key. */
  tls?: TlsOptions
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

/** Constant-time equality of two secrets (compares their SHA-256, so lengths leak nothing). */
export function secretEquals(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected)
}

function parseAccessClaim(access: unknown): Grant {
  if (access === 'r' || access === 'm') return { kind: 'global', mode: access }
  if (Array.isArray(access)) {
    const map = new Map<string, 'r' | 'rw'>()
    for (const entry of access) {
      const e = entry as { collection?: unknown; access?: unknown } | null
      if (
        typeof e !== 'object' ||
        e === null ||
        typeof e.collection !== 'string' ||
        (e.access !== 'r' && e.access !== 'rw')
      )
        throw new HttpError(
          'UNAUTHORIZED',
          'Invalid JWT: each "access" entry must be { "collection": string, "access": "r" | "rw" }',
        )
      if (map.get(e.collection) !== 'rw') map.set(e.collection, e.access)
    }
    return { kind: 'collections', access: map }
  }
  throw new HttpError(
    'UNAUTHORIZED',
    'Invalid JWT: the "access" claim must be "r", "m" or a list of { collection, access }',
  )
}

/**
 * Verifies a JWT (HS256 only, signed with `secret`; `exp` checked when present) and returns its
 * grant. Throws UNAUTHORIZED (401) for a bad signature, an expired token or a malformed `access`
 * claim, FORBIDDEN (403) for the `value_exists` claim, which Quiver does not support.
 */
export async function verifyJwt(token: string, secret: Uint8Array): Promise<Grant> {
  let payload: Record<string, unknown>
  try {
    ;({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] }))
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired)
      throw new HttpError('UNAUTHORIZED', 'Invalid JWT: the token expired')
    throw new HttpError('UNAUTHORIZED', 'Invalid API key or JWT')
  }
  if (payload.value_exists !== undefined)
    throw new HttpError('FORBIDDEN', 'Forbidden: the JWT claim "value_exists" is not supported by Quiver')
  return parseAccessClaim(payload.access)
}

function credential(request: FastifyRequest): string | undefined {
  const key = request.headers['api-key']
  if (typeof key === 'string' && key.length > 0) return key
  const auth = request.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    if (m !== null) return m[1]
  }
  return undefined
}

function routeCollection(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined
  const name = params?.collection_name ?? params?.name
  return typeof name === 'string' ? name : undefined
}

/** Whether `grant` allows `need` on `collection` (the route's collection, if it names one). */
export function allows(
  grant: Grant,
  need: Exclude<RouteAccess, 'open'>,
  collection: string | undefined,
): boolean {
  if (grant.kind === 'global') return grant.mode === 'm' || need.level === 'read'
  if (need.scope === 'list') return true
  if (need.level === 'manage' || need.scope === 'global' || collection === undefined) return false
  const access = grant.access.get(collection)
  return access === 'rw' || (access === 'r' && need.level === 'read')
}

/** The credential each authenticated request carries (set in `preParsing` when a key is configured). */
const requestGrants = new WeakMap<FastifyRequest, Grant>()

/**
 * For a route that also reads a collection other than its own (`with_lookup`): throws FORBIDDEN
 * unless the request's credential allows `level` access to `collection`. Without API keys every
 * request is allowed (no grant is recorded).
 */
export function checkCollectionAccess(request: FastifyRequest, level: AccessLevel, collection: string): void {
  const grant = requestGrants.get(request)
  if (grant === undefined) return
  if (!allows(grant, { level, scope: 'collection' }, collection))
    throw new HttpError(
      'FORBIDDEN',
      `Forbidden: ${request.method} ${request.routeOptions.url} also needs ${level} access to collection ${JSON.stringify(collection)}; the credential grants ${describeGrant(grant)}`,
    )
}

function describeGrant(grant: Grant): string {
  if (grant.kind === 'global') return grant.mode === 'm' ? 'full access' : 'read-only access'
  return `access to collections ${[...grant.access.keys()].map((c) => JSON.stringify(c)).join(', ') || '(none)'}`
}

/** Whether any security feature is on (API keys, CORS or TLS). */
export function securityEnabled(options: SecurityOptions): boolean {
  return (
    options.apiKey !== undefined ||
    options.readOnlyApiKey !== undefined ||
    (options.corsOrigins?.length ?? 0) > 0 ||
    options.tls !== undefined
  )
}

/** Methods that never change state; a foreign `Origin` on them is left to CORS (the browser withholds the answer). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

/** `origin` as `scheme://host[:port]` in URL's canonical form, or undefined when it is not one. */
function canonicalOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    return url.origin
  } catch {
    return undefined
  }
}

/**
 * Whether `origin` (an `Origin` header) is the server's own origin as seen on this connection: same
 * scheme, the local port the request arrived on, and as host the local address it arrived on, this
 * machine's host name, or (on a loopback connection) `localhost`. Other loopback addresses are other
 * origins (another process may serve them). The `Host` header is not trusted: a DNS-rebinding page
 * sends its own name in both.
 */
export function isOwnOrigin(
  origin: string,
  scheme: string,
  localAddress: string,
  localPort: number,
): boolean {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (url.protocol !== `${scheme}:`) return false
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port)
  if (port !== localPort) return false
  const host = bareHost(url.hostname)
  const local = bareHost(localAddress)
  if (host === local || host === hostname().toLowerCase()) return true
  return host === 'localhost' && isLoopbackHost(local)
}

/**
 * Refuses (403 FORBIDDEN) every request that can change state (any method but GET, HEAD, OPTIONS)
 * and carries an `Origin` header other than the server's own (`isOwnOrigin`) or one of
 * `corsOrigins` (`*` allows any). Browsers send `Origin` on such requests, so a web page on
 * another site cannot delete points or upload a snapshot through a user's browser, even when the
 * server has no API key. Requests without `Origin` (curl, SDKs) pass. Runs in `onRequest`, before
 * the body is read.
 */
export function registerOriginCheck(app: FastifyInstance, corsOrigins: readonly string[]): void {
  if (corsOrigins.includes('*')) return
  const allowed = new Set(corsOrigins.map((o) => canonicalOrigin(o) ?? o))
  app.addHook('onRequest', async (request) => {
    if (SAFE_METHODS.has(request.method)) return
    const origin = request.headers.origin
    if (origin === undefined) return
    const canonical = canonicalOrigin(origin)
    if (canonical !== undefined && allowed.has(canonical)) return
    const socket = request.socket
    if (
      canonical !== undefined &&
      socket.localAddress !== undefined &&
      socket.localPort !== undefined &&
      isOwnOrigin(canonical, request.protocol, socket.localAddress, socket.localPort)
    )
      return
    const shown = JSON.stringify(origin.length > 200 ? `${origin.slice(0, 200)}...` : origin)
    throw new HttpError(
      'FORBIDDEN',
      `Forbidden: ${request.method} requests from origin ${shown} are refused; only the server's own origin and the origins allowed with --cors-origin may change state (docs/security.md)`,
    )
  })
}

/**
 * Adds the origin check (`registerOriginCheck`), authentication, access control and CORS to `app`. With no key configured every request is
 * allowed (Qdrant's default). With a key, every route except `/`, `/healthz`, `/livez`, `/readyz`,
 * `/openapi.json`
 * (and CORS preflights) needs a credential in the `api-key` header or `Authorization: Bearer`:
 * missing or wrong -> 401 UNAUTHORIZED; too little access for the route (`ROUTE_ACCESS`) -> 403
 * FORBIDDEN. Checked in `preParsing`, so a refused request's body is never read.
 * Throws TypeError if `jwtRbac` is set without `apiKey`, or a key is empty.
 */
export function registerSecurity(app: FastifyInstance, options: SecurityOptions): void {
  const origins = options.corsOrigins ?? []
  registerOriginCheck(app, origins)
  if (origins.length > 0)
    void app.register(cors, {
      origin: origins.includes('*') ? '*' : [...origins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['api-key', 'authorization', 'content-type'],
      exposedHeaders: ['x-quiver-error-code', 'retry-after'],
    })

  const { apiKey, readOnlyApiKey } = options
  if (apiKey === '' || readOnlyApiKey === '') throw new TypeError('an API key must not be empty')
  if (options.jwtRbac === true && apiKey === undefined)
    throw new TypeError('jwtRbac needs apiKey: JWTs are verified with the read-write API key')
  if (apiKey === undefined && readOnlyApiKey === undefined) return

  const rwDigest = apiKey === undefined ? undefined : digest(apiKey)
  const roDigest = readOnlyApiKey === undefined ? undefined : digest(readOnlyApiKey)
  const jwtSecret =
    options.jwtRbac === true && apiKey !== undefined ? new TextEncoder().encode(apiKey) : undefined
  const grants = requestGrants

  const authenticate = async (given: string): Promise<Grant> => {
    if (rwDigest !== undefined && secretEquals(given, rwDigest)) return { kind: 'global', mode: 'm' }
    if (roDigest !== undefined && secretEquals(given, roDigest)) return { kind: 'global', mode: 'r' }
    if (jwtSecret !== undefined && given.split('.').length === 3) return verifyJwt(given, jwtSecret)
    throw new HttpError('UNAUTHORIZED', 'Invalid API key or JWT')
  }

  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.method === 'OPTIONS') return payload
    const url = request.routeOptions.url
    const need = url === undefined ? undefined : routeAccess(request.method, url)
    if (need === 'open') return payload
    const given = credential(request)
    if (given === undefined)
      throw new HttpError('UNAUTHORIZED', 'Must provide an API key or an Authorization bearer token')
    const grant = await authenticate(given)
    grants.set(request, grant)
    if (need === undefined) return payload
    const collection = need.scope === 'collection' ? routeCollection(request) : undefined
    if (!allows(grant, need, collection)) {
      const target = collection === undefined ? '' : ` to collection ${JSON.stringify(collection)}`
      throw new HttpError(
        'FORBIDDEN',
        `Forbidden: ${request.method} ${url} needs ${need.scope === 'global' ? 'global ' : ''}${need.level} access${target}; the credential grants ${describeGrant(grant)}`,
      )
    }
    return payload
  })

  app.addHook('preSerialization', async (request, _reply, payload: unknown) => {
    const grant = grants.get(request)
    if (grant?.kind !== 'collections') return payload
    const url = request.routeOptions.url
    if (url === '/aliases' || url === '/collections/:collection_name/aliases') {
      // as Qdrant: a collection-scoped token sees the aliases whose name and collection it may read
      const body = payload as { result?: { aliases?: { alias_name: string; collection_name: string }[] } }
      const aliases = body.result?.aliases
      if (!Array.isArray(aliases)) return payload
      const visible = aliases.filter(
        (a) => grant.access.has(a.alias_name) && grant.access.has(a.collection_name),
      )
      return { ...body, result: { ...body.result, aliases: visible } }
    }
    if (url !== '/collections') return payload
    const body = payload as { result?: { collections?: { name: string }[] } }
    const list = body.result?.collections
    if (!Array.isArray(list)) return payload
    return { ...body, result: { ...body.result, collections: list.filter((c) => grant.access.has(c.name)) } }
  })
}

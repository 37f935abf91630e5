// Builds the OpenAPI 3.1 document of Quiver's REST API (served at GET /openapi.json) from the route
// schemas of this folder: named schemas become `components.schemas`, Quiver's own routes, parameters
// and fields carry `x-quiver-extension: true`.
import type { TSchema } from '@sinclair/typebox'
import { ALIAS_ROUTES } from './aliases.js'
import { COLLECTION_ROUTES } from './collections.js'
import { componentName, ErrorResponse, namedSchema, type RouteSchema } from './common.js'
import { DISCOVER_ROUTES } from './discover.js'
import { FACET_ROUTES } from './facet.js'
import { FIELD_INDEX_ROUTES } from './field-index.js'
import { GROUP_ROUTES } from './groups.js'
import { OBSERVABILITY_ROUTES } from './observability.js'
import { POINT_ROUTES } from './points.js'
import { SEARCH_ROUTES } from './search.js'
import { SERVICE_ROUTES } from './service.js'
import { SNAPSHOT_ROUTES } from './snapshots.js'

/** Every route Quiver serves, as declared (one entry per method + fastify path). */
export const ROUTE_SCHEMAS: readonly RouteSchema[] = [
  ...SERVICE_ROUTES,
  ...OBSERVABILITY_ROUTES,
  ...COLLECTION_ROUTES,
  ...POINT_ROUTES,
  ...SEARCH_ROUTES,
  ...GROUP_ROUTES,
  ...DISCOVER_ROUTES,
  ...FACET_ROUTES,
  ...FIELD_INDEX_ROUTES,
  ...SNAPSHOT_ROUTES,
  ...ALIAS_ROUTES,
]

/**
 * Declared routes whose feature is not registered yet (they are checked against Qdrant's spec but
 * not served in the document): move them into ROUTE_SCHEMAS when their routes land.
 */
export const PENDING_ROUTE_SCHEMAS: readonly RouteSchema[] = []

/** `/collections/:collection_name` -> `/collections/{collection_name}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** The declared route of `method` + fastify `url`, if any. */
export function routeSchema(method: string, url: string): RouteSchema | undefined {
  return ROUTE_SCHEMAS.find((r) => r.method === method && r.url === url)
}

export interface OpenApiOptions {
  /** `info.version`: Quiver's version. */
  version: string
  /** The Qdrant API version Quiver emulates (`x-qdrant-api-version`). */
  qdrantApiVersion: string
  /** The routes to describe; default ROUTE_SCHEMAS (what the server registers). */
  routes?: readonly RouteSchema[]
}

/**
 * The OpenAPI 3.1 document: `paths` keyed by OpenAPI paths (`{param}`), each operation with Qdrant's
 * operationId, its query and path parameters, its request body and its 200 answer (other statuses
 * answer Qdrant's `ErrorResponse`). A plain JSON value: no TypeBox symbols, every component once.
 */
export function buildOpenApiDocument(options: OpenApiOptions): { [key: string]: Json } {
  const components = new Map<string, Json>()
  const convert = (value: unknown, root?: object): Json => {
    if (value === null || typeof value !== 'object') return value as Json
    if (Array.isArray(value)) return value.map((v) => convert(v))
    const name = componentName(value)
    if (name !== undefined && value !== root) {
      if (!components.has(name)) {
        components.set(name, null) // recursion guard: a reference inside resolves to the same name
        components.set(name, convert(value, value))
      }
      return { $ref: `#/components/schemas/${name}` }
    }
    const out: { [key: string]: Json } = Object.create(null)
    for (const [k, v] of Object.entries(value)) out[k] = convert(v)
    return { ...out }
  }
  const paths = new Map<string, Map<string, Json>>()
  for (const r of options.routes ?? ROUTE_SCHEMAS) {
    const path = openApiPath(r.url)
    let item = paths.get(path)
    if (item === undefined) {
      item = new Map()
      paths.set(path, item)
    }
    item.set(r.method.toLowerCase(), operation(r, convert))
  }
  const error = convert(ErrorResponse)
  // components reached only through `ref(name)` (recursive shapes such as Prefetch)
  for (let missing = refsWithout(components); missing.length > 0; missing = refsWithout(components))
    for (const name of missing) {
      const schema = namedSchema(name)
      if (schema === undefined) throw new Error(`schema/: ref(${JSON.stringify(name)}) names no component`)
      convert(schema)
    }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Quiver REST API',
      description:
        "Qdrant's REST API as Quiver serves it. Paths, parameters and fields that Qdrant does not have are marked `x-quiver-extension: true`; `deprecated` marks Qdrant's legacy search endpoints (gone from Qdrant's 1.19 spec, still served).",
      version: options.version,
      'x-qdrant-api-version': options.qdrantApiVersion,
    },
    paths: Object.fromEntries(
      [...paths].map(([path, ops]) => [
        path,
        Object.fromEntries([...ops].map(([method, op]) => [method, withError(op, error)])),
      ]),
    ),
    components: { schemas: Object.fromEntries([...components].sort(([a], [b]) => (a < b ? -1 : 1))) },
  }
}

function refsWithout(components: ReadonlyMap<string, Json>): string[] {
  const text = JSON.stringify([...components.values()])
  const names = new Set([...text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!))
  return [...names].filter((n) => !components.has(n))
}

function withError(op: Json, error: Json): Json {
  const o = op as { [key: string]: Json }
  const responses = o.responses as { [key: string]: Json }
  return {
    ...o,
    responses: {
      ...responses,
      default: { description: 'error', content: { 'application/json': { schema: error } } },
    },
  }
}

function operation(r: RouteSchema, convert: (v: unknown) => Json): Json {
  const parameters: Json[] = []
  for (const m of r.url.matchAll(/:([A-Za-z0-9_]+)/g))
    parameters.push({ name: m[1]!, in: 'path', required: true, schema: { type: 'string' } })
  for (const q of r.query ?? [])
    parameters.push({
      name: q.name,
      in: 'query',
      required: false,
      description: q.description,
      schema: convert(q.schema),
      ...(q.extension ? { 'x-quiver-extension': true } : {}),
    })
  const out: { [key: string]: Json } = {
    operationId: r.operationId,
    summary: r.summary,
    tags: [...r.tags],
    parameters,
  }
  if (r.deprecated) out.deprecated = true
  if (r.extension) out['x-quiver-extension'] = true
  if (r.body !== undefined)
    out.requestBody = {
      required: r.bodyOptional !== true,
      content: { 'application/json': { schema: convert(r.body) } },
    }
  if (r.multipartFile !== undefined)
    out.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: [r.multipartFile],
            properties: { [r.multipartFile]: { type: 'string', format: 'binary' } },
          },
        },
      },
    }
  const [mediaType, schema] = isMedia(r.response)
    ? [r.response.mediaType, r.response.schema]
    : ['application/json', r.response]
  const responses: { [key: string]: Json } = {
    '200': { description: 'successful operation', content: { [mediaType]: { schema: convert(schema) } } },
  }
  for (const [status, description] of Object.entries(r.statuses ?? {})) {
    const answer = r.statusSchemas?.[status]
    responses[status] =
      answer === undefined
        ? { description }
        : { description, content: { 'application/json': { schema: convert(answer) } } }
  }
  out.responses = responses
  return out
}

function isMedia(r: RouteSchema['response']): r is { mediaType: string; schema: TSchema } {
  return 'mediaType' in r && typeof (r as { mediaType?: unknown }).mediaType === 'string'
}

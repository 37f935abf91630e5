// GET /openapi.json: the OpenAPI 3.1 document of the REST API (schema/document.ts), built once per
// server; and the record of the routes an app registers, which tests compare with the document.
import type { FastifyInstance } from 'fastify'
import { buildOpenApiDocument } from '../schema/document.js'
import { QDRANT_API_VERSION, quiverVersion } from './service.js'

const ROUTES = new WeakMap<FastifyInstance, { method: string; url: string }[]>()

/**
 * Records every route registered on `app` from now on (call before any route is registered;
 * child scopes inherit the hook). Fastify's automatic HEAD routes are recorded as `HEAD`.
 */
export function trackRoutes(app: FastifyInstance): void {
  const list: { method: string; url: string }[] = []
  ROUTES.set(app, list)
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) list.push({ method, url: route.url })
  })
}

/** The routes `app` registered since `trackRoutes(app)`: method and fastify path (`:param`). */
export function registeredRoutes(app: FastifyInstance): readonly { method: string; url: string }[] {
  return ROUTES.get(app) ?? []
}

/** Serves the document unenveloped (as `GET /` is), `application/json`. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  const text = JSON.stringify(
    buildOpenApiDocument({ version: quiverVersion(), qdrantApiVersion: QDRANT_API_VERSION }),
  )
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(text))
}

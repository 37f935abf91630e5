// GET /openapi.json: the OpenAPI 3.1 document of the REST API (schema/document.ts), built once per server.
import type { FastifyInstance } from 'fastify'
import { buildOpenApiDocument } from '../schema/document.js'
import { QDRANT_API_VERSION, quiverVersion } from './service.js'

/** Serves the document unenveloped (as `GET /` is), `application/json`. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  const text = JSON.stringify(
    buildOpenApiDocument({ version: quiverVersion(), qdrantApiVersion: QDRANT_API_VERSION }),
  )
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(text))
}

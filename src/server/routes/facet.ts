// Facet counts (Qdrant's `POST /collections/{name}/facet`) and the distance matrix of a sample
// (`POST .../points/search/matrix/pairs` and `/offsets`), over the embedded facet and searchMatrix.
import type { FastifyInstance } from 'fastify'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseFacet, parseSearchMatrix, toWireMatrixOffsets, toWireMatrixPairs } from '../wire/facet.js'
import { parseReadParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

export function registerFacetRoutes(app: FastifyInstance, db: ServerDatabase): void {
  app.post<Route>('/collections/:collection_name/facet', async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { hits } = await collection.facet({ ...parseFacet(req.body), ...read })
    return sendOk(reply, { hits: hits.map((h) => ({ value: h.value, count: h.count })) })
  })

  const matrix = '/collections/:collection_name/points/search/matrix'
  app.post<Route>(`${matrix}/pairs`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const options = { ...parseSearchMatrix(req.body), ...read }
    return sendOk(reply, toWireMatrixPairs(await collection.searchMatrix(options)))
  })

  app.post<Route>(`${matrix}/offsets`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const options = { ...parseSearchMatrix(req.body), ...read }
    return sendOk(reply, toWireMatrixOffsets(await collection.searchMatrix(options)))
  })
}

// Search endpoints: universal `points/query` (+ `query/batch`) with a nearest-vector query, and the
// legacy `points/search` and `points/search/batch` that @qdrant/js-client-rest still calls.
import type { FastifyInstance } from 'fastify'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseQuery, parseQueryBatch, parseSearch, parseSearchBatch, toWireScoredPoint } from '../wire.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

export function registerSearchRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/points'

  app.post<Route>(`${base}/query`, async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const { request, payload } = parseQuery(req.body, collection.config.dimension)
    const { vector, ...options } = request
    const hits = await collection.search(vector, options)
    return sendOk(reply, { points: hits.map((h) => toWireScoredPoint(h, payload)) })
  })

  app.post<Route>(`${base}/query/batch`, async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const searches = parseQueryBatch(req.body, collection.config.dimension)
    const results = await collection.searchBatch(searches.map((s) => s.request))
    return sendOk(
      reply,
      results.map((hits, i) => ({ points: hits.map((h) => toWireScoredPoint(h, searches[i]!.payload)) })),
    )
  })

  app.post<Route>(`${base}/search`, async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const { request, payload } = parseSearch(req.body, collection.config.dimension)
    const { vector, ...options } = request
    const hits = await collection.search(vector, options)
    return sendOk(
      reply,
      hits.map((h) => toWireScoredPoint(h, payload)),
    )
  })

  app.post<Route>(`${base}/search/batch`, async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const searches = parseSearchBatch(req.body, collection.config.dimension)
    const results = await collection.searchBatch(searches.map((s) => s.request))
    return sendOk(
      reply,
      results.map((hits, i) => hits.map((h) => toWireScoredPoint(h, searches[i]!.payload))),
    )
  })
}

// Search endpoints: universal `points/query` (+ `query/batch`, Qdrant's Query API over
// `collection.query`), and the legacy `points/search`, `points/recommend` and their batches.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Prefetch } from '../../types.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { checkCollectionAccess } from '../security.js'
import { unnamedDimension } from '../wire/common.js'
import { toWireScoredPoint } from '../wire/records.js'
import {
  lookupCollections,
  parseQuery,
  parseQueryBatch,
  parseRecommend,
  parseRecommendBatch,
  parseSearch,
  parseSearchBatch,
} from '../wire/search.js'
import { parseReadParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

export function registerSearchRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/points'

  app.post<Route>(`${base}/query`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { request } = parseQuery(req.body, unnamedDimension(collection.config))
    checkLookups(req, [request])
    const { points } = await collection.query({ ...request, ...read })
    return sendOk(reply, { points: points.map((h) => toWireScoredPoint(h)) })
  })

  app.post<Route>(`${base}/query/batch`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const queries = parseQueryBatch(req.body, unnamedDimension(collection.config))
    checkLookups(
      req,
      queries.map((q) => q.request),
    )
    const results = await collection.queryBatch(
      queries.map((q) => q.request),
      read,
    )
    return sendOk(
      reply,
      results.map((r, _i) => ({ points: r.points.map((h) => toWireScoredPoint(h)) })),
    )
  })

  app.post<Route>(`${base}/recommend`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { request } = parseRecommend(req.body, unnamedDimension(collection.config))
    checkLookups(req, [request])
    const { points } = await collection.query({ ...request, ...read })
    return sendOk(
      reply,
      points.map((h) => toWireScoredPoint(h)),
    )
  })

  app.post<Route>(`${base}/recommend/batch`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const queries = parseRecommendBatch(req.body, unnamedDimension(collection.config))
    checkLookups(
      req,
      queries.map((q) => q.request),
    )
    const results = await collection.queryBatch(
      queries.map((q) => q.request),
      read,
    )
    return sendOk(
      reply,
      results.map((r, _i) => r.points.map((h) => toWireScoredPoint(h))),
    )
  })

  app.post<Route>(`${base}/search`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { request } = parseSearch(req.body, unnamedDimension(collection.config))
    const { vector, ...options } = request
    const hits = await collection.search(vector as ArrayLike<number>, { ...options, ...read })
    return sendOk(
      reply,
      hits.map((h) => toWireScoredPoint(h)),
    )
  })

  app.post<Route>(`${base}/search/batch`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const searches = parseSearchBatch(req.body, unnamedDimension(collection.config))
    const results = await collection.searchBatch(
      searches.map((s) => s.request),
      read,
    )
    return sendOk(
      reply,
      results.map((hits, _i) => hits.map((h) => toWireScoredPoint(h))),
    )
  })
}

/** The caller must be allowed to read every collection the requests look example ids up in (`lookup_from`). */
function checkLookups(req: FastifyRequest, requests: readonly Prefetch[]): void {
  for (const r of requests) for (const c of lookupCollections(r)) checkCollectionAccess(req, 'read', c)
}

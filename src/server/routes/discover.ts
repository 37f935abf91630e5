// Legacy discovery endpoints (Qdrant's `points/discover` and `points/discover/batch`): a target with
// context pairs, or context pairs alone, as `discover` / `context` queries of `collection.query`.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Prefetch } from '../../types.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { checkCollectionAccess } from '../security.js'
import { unnamedDimension } from '../wire/common.js'
import { parseDiscover, parseDiscoverBatch } from '../wire/discover.js'
import { toWireScoredPoint } from '../wire/records.js'
import { lookupCollections } from '../wire/search.js'
import { parseReadParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

export function registerDiscoverRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/points/discover'

  app.post<Route>(base, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { request } = parseDiscover(req.body, unnamedDimension(collection.config))
    checkLookups(req, [request])
    const { points } = await collection.query({ ...request, ...read })
    return sendOk(
      reply,
      points.map((h) => toWireScoredPoint(h)),
    )
  })

  app.post<Route>(`${base}/batch`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const searches = parseDiscoverBatch(req.body, unnamedDimension(collection.config))
    checkLookups(
      req,
      searches.map((q) => q.request),
    )
    const results = await collection.queryBatch(
      searches.map((s) => s.request),
      read,
    )
    return sendOk(
      reply,
      results.map((r, _i) => r.points.map((h) => toWireScoredPoint(h))),
    )
  })
}

/** The caller must be allowed to read every collection the requests look example ids up in (`lookup_from`). */
function checkLookups(req: FastifyRequest, requests: readonly Prefetch[]): void {
  for (const r of requests) for (const c of lookupCollections(r)) checkCollectionAccess(req, 'read', c)
}

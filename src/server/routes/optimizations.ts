// `GET /collections/{name}/optimizations`: the running, queued and completed optimizations of a
// collection (Qdrant's optimization progress).
import type { FastifyInstance } from 'fastify'
import { QuiverError } from '../../errors.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseOptimizationsQuery, toWireOptimizations } from '../wire/optimizations.js'

interface Route {
  Params: { collection_name: string }
  Querystring: unknown
}

export function registerOptimizationRoutes(app: FastifyInstance, db: ServerDatabase): void {
  app.get<Route>('/collections/:collection_name/optimizations', async (req, reply) => {
    const options = parseOptimizationsQuery(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    if (collection.optimizations === undefined)
      throw new QuiverError('INTERNAL', 'this collection does not report optimizations')
    return sendOk(reply, toWireOptimizations(collection.optimizations(options)))
  })
}

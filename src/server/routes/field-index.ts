// Payload index endpoints: create (or replace) and delete the index of one payload field (Qdrant's
// `/collections/{name}/index` resource). The index is durable before the reply.
import type { FastifyInstance } from 'fastify'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseCreateFieldIndex } from '../wire/field-index.js'
import { toWireUpdateResult } from '../wire/records.js'
import { parseWriteParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

interface FieldRoute {
  Params: { collection_name: string; field_name: string }
  Querystring: unknown
}

export function registerFieldIndexRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/index'

  app.put<Route>(base, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const { field, schema } = parseCreateFieldIndex(req.body)
    return sendOk(reply, toWireUpdateResult(await collection.createPayloadIndex(field, schema, write)))
  })

  app.delete<FieldRoute>(`${base}/:field_name`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    return sendOk(
      reply,
      toWireUpdateResult(await collection.deletePayloadIndex(req.params.field_name, write)),
    )
  })
}

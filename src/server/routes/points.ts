// Point endpoints: upsert, retrieve (by list and by id), delete, scroll, count and the four payload
// operations (Qdrant's `/collections/{name}/points` resource). Writes are durable before the reply
// (`wait=false`: `acknowledged` once durable; otherwise `completed` once visible).
import type { FastifyInstance } from 'fastify'
import { QuiverError } from '../../errors.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parsePathPointId } from '../wire/common.js'
import {
  parseBatchUpdate,
  parseCount,
  parseDeletePayload,
  parseDeleteVectors,
  parsePointsSelector,
  parseRetrieve,
  parseScroll,
  parseSetPayload,
  parseUpdateVectors,
  parseUpsert,
} from '../wire/points.js'
import { toWireRecord, toWireScrollResult, toWireUpdateResult } from '../wire/records.js'
import { parseReadParams, parseWriteParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

interface PointRoute {
  Params: { collection_name: string; id: string }
  Querystring: unknown
}

export function registerPointRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/points'

  app.put<Route>(base, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const points = parseUpsert(req.body)
    return sendOk(reply, toWireUpdateResult(await collection.upsert(points, write)))
  })

  app.put<Route>(`${base}/vectors`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const points = parseUpdateVectors(req.body)
    return sendOk(reply, toWireUpdateResult(await collection.updateVectors(points, write)))
  })

  app.post<Route>(`${base}/batch`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const operations = parseBatchUpdate(req.body)
    try {
      // Qdrant answers one UpdateResult per operation (applied as one WAL record: one operation id)
      const result = toWireUpdateResult(await collection.batchUpdate(operations, write))
      return sendOk(
        reply,
        operations.map(() => result),
      )
    } catch (err) {
      // the engine names operations in camelCase; the wire's names are Qdrant's
      if (err instanceof QuiverError)
        throw new QuiverError(err.code, snakeBatchPath(err.message), err.details, err)
      throw err
    }
  })

  app.post<Route>(`${base}/vectors/delete`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const { names, selector } = parseDeleteVectors(req.body)
    return sendOk(reply, toWireUpdateResult(await collection.deleteVectors(names, selector, write)))
  })

  app.post<Route>(base, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { ids, options } = parseRetrieve(req.body)
    const records = await collection.get(ids, { ...options, ...read })
    return sendOk(
      reply,
      records.map((r) => toWireRecord(r)),
    )
  })

  app.get<PointRoute>(`${base}/:id`, async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const id = parsePathPointId(req.params.id)
    const [record] = await collection.get([id], { withPayload: true, withVector: true })
    if (record === undefined)
      throw new QuiverError(
        'POINT_NOT_FOUND',
        `Not found: point with id ${JSON.stringify(id)} does not exist`,
        { id },
      )
    return sendOk(reply, toWireRecord(record))
  })

  app.post<Route>(`${base}/delete`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    return sendOk(reply, toWireUpdateResult(await collection.delete(parsePointsSelector(req.body), write)))
  })

  app.post<Route>(`${base}/scroll`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    const { options } = parseScroll(req.body)
    return sendOk(reply, toWireScrollResult(await collection.scroll({ ...options, ...read })))
  })

  app.post<Route>(`${base}/count`, async (req, reply) => {
    const read = parseReadParams(req.query, req.headers)
    const collection = await db.getCollection(req.params.collection_name)
    return sendOk(reply, { count: await collection.count({ ...parseCount(req.body), ...read }) })
  })

  app.post<Route>(`${base}/payload`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const { payload, selector, key } = parseSetPayload(req.body, true)
    const result = await collection.setPayload(
      payload,
      selector,
      key === undefined ? write : { ...write, key },
    )
    return sendOk(reply, toWireUpdateResult(result))
  })

  app.put<Route>(`${base}/payload`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const { payload, selector } = parseSetPayload(req.body, false)
    return sendOk(reply, toWireUpdateResult(await collection.overwritePayload(payload, selector, write)))
  })

  app.post<Route>(`${base}/payload/delete`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    const { keys, selector } = parseDeletePayload(req.body)
    return sendOk(reply, toWireUpdateResult(await collection.deletePayload(keys, selector, write)))
  })

  app.post<Route>(`${base}/payload/clear`, async (req, reply) => {
    const write = parseWriteParams(req.query)
    const collection = await db.getCollection(req.params.collection_name)
    return sendOk(
      reply,
      toWireUpdateResult(await collection.clearPayload(parsePointsSelector(req.body), write)),
    )
  })
}

const BATCH_KINDS: ReadonlyMap<string, string> = new Map([
  ['setPayload', 'set_payload'],
  ['overwritePayload', 'overwrite_payload'],
  ['deletePayload', 'delete_payload'],
  ['clearPayload', 'clear_payload'],
  ['updateVectors', 'update_vectors'],
  ['deleteVectors', 'delete_vectors'],
])

/** `operations[1].updateVectors.points[0]...` -> `operations[1].update_vectors.points[0]...`. */
function snakeBatchPath(message: string): string {
  return message.replace(/operations\[(\d+)\]\.([A-Za-z]+)/g, (m, i, kind) => {
    const wire = BATCH_KINDS.get(kind)
    return wire === undefined ? m : `operations[${i}].${wire}`
  })
}

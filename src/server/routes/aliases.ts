// Alias endpoints (Qdrant's "Aliases" tag): change aliases atomically, list all, list one collection's.
import type { FastifyInstance } from 'fastify'
import type { AliasDatabase, ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseChangeAliases, toWireAliases } from '../wire/aliases.js'

interface CollectionParams {
  Params: { collection_name: string }
}

function isAliasDatabase(db: ServerDatabase): db is ServerDatabase & AliasDatabase {
  return (
    typeof db.updateAliases === 'function' &&
    typeof db.listAliases === 'function' &&
    typeof db.collectionAliases === 'function'
  )
}

/**
 * Registers nothing for a database without the alias methods (a test's fake). Otherwise
 * `POST /collections/aliases` (`updateCollectionAliases`; `?timeout=` accepted: the change is
 * applied and durable before the reply), `GET /aliases` (`getAliases`) and
 * `GET /collections/{name}/aliases` (`getCollectionAliases`; the aliases naming exactly that
 * collection, empty for an unknown name, as Qdrant).
 */
export function registerAliasRoutes(app: FastifyInstance, db: ServerDatabase): void {
  if (!isAliasDatabase(db)) return
  app.post('/collections/aliases', async (req, reply) => {
    const actions = parseChangeAliases(req.body)
    return sendOk(reply, await db.updateAliases(actions))
  })

  // cluster mode: the cluster's aliases, as the catalog has them now (syncCatalog)
  app.get('/aliases', async (_req, reply) => {
    await db.syncCatalog?.()
    return sendOk(reply, toWireAliases(db.listAliases()))
  })

  app.get<CollectionParams>('/collections/:collection_name/aliases', async (req, reply) => {
    await db.syncCatalog?.()
    return sendOk(reply, toWireAliases(db.collectionAliases(req.params.collection_name)))
  })
}

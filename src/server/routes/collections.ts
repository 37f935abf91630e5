// Collection endpoints: list, info, create, update (live reconfiguration), delete, exists, cluster info (Qdrant's `/collections` resource).
import type { FastifyInstance } from 'fastify'
import { QuiverError } from '../../errors.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { parseClusterOperation } from '../wire/cluster.js'
import {
  parseCreateCollection,
  parseUpdateCollection,
  toWireClusterInfo,
  toWireCollectionInfo,
} from '../wire/collections.js'
import { checkWait } from '../wire/common.js'

interface CollectionParams {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

export function registerCollectionRoutes(app: FastifyInstance, db: ServerDatabase): void {
  app.get('/collections', async (_req, reply) => {
    // cluster mode: the cluster's list, created and dropped through any node
    await db.syncCatalog?.()
    return sendOk(reply, { collections: db.listCollections().map((name) => ({ name })) })
  })

  app.get<CollectionParams>('/collections/:collection_name', async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    return sendOk(reply, toWireCollectionInfo(await collection.info()))
  })

  app.get<CollectionParams>('/collections/:collection_name/exists', async (req, reply) => {
    const name = req.params.collection_name
    // cluster mode: created or dropped through another node a moment ago, it is so here too
    await db.syncCatalog?.()
    return sendOk(reply, { exists: db.hasCollection(name) })
  })

  // Qdrant's collection cluster info; a collection without shards reports itself as shard 0
  app.get<CollectionParams>('/collections/:collection_name/cluster', async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const info = collection.clusterInfo
      ? await collection.clusterInfo()
      : {
          shardCount: 1,
          localShards: [
            { shardId: 0, pointsCount: (await collection.info()).pointsCount, state: 'Active' as const },
          ],
          remoteShards: [],
        }
    const cluster = await db.clusterStatus?.()
    if (cluster === undefined) return sendOk(reply, toWireClusterInfo(info))
    const placement = await db.shardPlacement?.(collection.name)
    const self = cluster.self.nodeId
    // placed collections (created with replication_factor): each shard's other replicas, live or
    // not, as the collection reports them; otherwise every live node holds a replica of every
    // shard (docs/cluster.md "Nodes")
    const remoteShards =
      placement !== undefined
        ? info.remoteShards
        : cluster.peers
            .filter((p) => p.nodeId !== self)
            .flatMap((p) =>
              info.localShards.map((s) => ({
                shardId: s.shardId,
                peerId: p.peerId,
                state: 'Active' as const,
              })),
            )
    return sendOk(reply, toWireClusterInfo({ ...info, remoteShards }, cluster.self.peerId))
  })

  // Qdrant's shard operations (move_shard, replicate_shard, drop_replica); cluster mode only
  app.post<CollectionParams>('/collections/:collection_name/cluster', async (req, reply) => {
    const operation = parseClusterOperation(req.body)
    if (db.updateCollectionCluster === undefined)
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'cluster operations need cluster mode (quiver serve --cluster)',
      )
    return sendOk(reply, await db.updateCollectionCluster(req.params.collection_name, operation))
  })

  app.put<CollectionParams>('/collections/:collection_name', async (req, reply) => {
    const options = parseCreateCollection(req.body)
    await db.createCollection(req.params.collection_name, options)
    return sendOk(reply, true)
  })

  app.patch<CollectionParams>('/collections/:collection_name', async (req, reply) => {
    const collection = await db.getCollection(req.params.collection_name)
    const update = parseUpdateCollection(req.body, collection.config)
    if (db.updateCollection !== undefined) await db.updateCollection(req.params.collection_name, update)
    else await collection.updateConfig(update)
    return sendOk(reply, true)
  })

  app.delete<CollectionParams>('/collections/:collection_name', async (req, reply) => {
    checkWait(req.query)
    return sendOk(reply, await db.deleteCollection(req.params.collection_name))
  })
}

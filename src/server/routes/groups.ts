// Grouped search (Qdrant's `points/query/groups` and the legacy `points/search/groups`,
// `points/recommend/groups`) over `collection.queryGroups`, with `with_lookup` in another collection
// (which the credential must be allowed to read as well).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { lookupGroups } from '../../collection/groups.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { checkCollectionAccess } from '../security.js'
import { unnamedDimension } from '../wire/common.js'
import {
  type ParsedGroups,
  parseQueryGroups,
  parseRecommendGroups,
  parseSearchGroups,
  toWireGroups,
} from '../wire/groups.js'
import { lookupCollections } from '../wire/search.js'
import { parseReadParams } from '../wire/write-params.js'

interface Route {
  Params: { collection_name: string }
  Body: unknown
  Querystring: unknown
}

type Parser = (body: unknown, dimension: number) => ParsedGroups

export function registerGroupRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const base = '/collections/:collection_name/points'
  const route = (path: string, parse: Parser) =>
    app.post<Route>(`${base}/${path}`, async (req, reply) => {
      const read = parseReadParams(req.query, req.headers)
      const collection = await db.getCollection(req.params.collection_name)
      const { request, lookup } = parse(req.body, unnamedDimension(collection.config))
      for (const c of lookupCollections(request)) checkCollectionAccess(req, 'read', c)
      // the lookup collection is checked before the search runs, so a refused request does no work
      const other = lookup === undefined ? undefined : await lookupCollection(req, db, lookup.collection)
      const result = await collection.queryGroups({ ...request, ...read })
      if (other !== undefined && lookup !== undefined)
        await lookupGroups(result.groups, other, {
          withPayload: lookup.withPayload,
          withVector: lookup.withVector,
        })
      return sendOk(reply, toWireGroups(result))
    })
  route('query/groups', parseQueryGroups)
  route('search/groups', parseSearchGroups)
  route('recommend/groups', parseRecommendGroups)
}

async function lookupCollection(req: FastifyRequest, db: ServerDatabase, name: string) {
  checkCollectionAccess(req, 'read', name)
  return db.getCollection(name)
}

// Schemas of the legacy discovery endpoints (routes/discover.ts): `points/discover` and its batch.
import { Type } from '@sinclair/typebox'
import {
  named,
  Ok,
  OptionalFilter,
  READ_QUERY,
  type RouteSchema,
  ScoredPoint,
  SearchParams,
  WithPayloadInterface,
  WithVector,
} from './common.js'
import { VectorInput } from './search.js'

const DiscoverRequest = named(
  'DiscoverRequest',
  Type.Object({
    target: Type.Optional(Type.Union([VectorInput, Type.Null()])),
    context: Type.Optional(
      Type.Union([Type.Array(Type.Object({ positive: VectorInput, negative: VectorInput })), Type.Null()]),
    ),
    filter: OptionalFilter,
    params: Type.Optional(Type.Union([SearchParams, Type.Null()])),
    limit: Type.Integer({ minimum: 1 }),
    offset: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
    with_vector: Type.Optional(Type.Union([WithVector, Type.Null()])),
    using: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    lookup_from: Type.Optional(
      Type.Union([
        Type.Object({
          collection: Type.String(),
          vector: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        }),
        Type.Null(),
      ]),
    ),
    shard_key: Type.Optional(Type.Null()),
  }),
)

const TAGS = ['Search'] as const
const base = '/collections/:collection_name/points/discover'

export const DISCOVER_ROUTES: readonly RouteSchema[] = [
  {
    method: 'POST',
    url: base,
    operationId: 'discover_points',
    summary: 'Legacy discovery: a target and context pairs',
    tags: TAGS,
    body: DiscoverRequest,
    query: READ_QUERY,
    response: Ok(Type.Array(ScoredPoint)),
    deprecated: true,
  },
  {
    method: 'POST',
    url: `${base}/batch`,
    operationId: 'discover_batch_points',
    summary: 'Legacy discoveries',
    tags: TAGS,
    body: named('DiscoverRequestBatch', Type.Object({ searches: Type.Array(DiscoverRequest) })),
    query: READ_QUERY,
    response: Ok(Type.Array(Type.Array(ScoredPoint))),
    deprecated: true,
  },
]

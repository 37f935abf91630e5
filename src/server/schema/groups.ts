// Schemas of grouped search (routes/groups.ts): `points/query/groups` and the legacy
// `points/search/groups` and `points/recommend/groups`.
import { type TSchema, Type } from '@sinclair/typebox'
import {
  named,
  Ok,
  quiverOnly,
  READ_QUERY,
  RecordSchema,
  type RouteSchema,
  ScoredPoint,
  WithPayloadInterface,
  WithVector,
} from './common.js'
import { QUERY_FIELDS, RECOMMEND_FIELDS, SEARCH_FIELDS } from './search.js'

const WithLookup = Type.Union([
  Type.String({ description: 'the collection to look group ids up in' }),
  Type.Object({
    collection: Type.String(),
    with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
    with_vectors: Type.Optional(Type.Union([WithVector, Type.Null()])),
    with_vector: Type.Optional(quiverOnly(Type.Union([WithVector, Type.Null()]), 'an alias of with_vectors')),
  }),
])

const groupFields = (required: boolean) => ({
  group_by: Type.String({ minLength: 1, description: 'payload key path whose values name the groups' }),
  group_size: required
    ? Type.Integer({ minimum: 1 })
    : Type.Optional(Type.Union([Type.Integer({ minimum: 1, description: 'default 3' }), Type.Null()])),
  limit: required
    ? Type.Integer({ minimum: 1 })
    : Type.Optional(Type.Union([Type.Integer({ minimum: 1, description: 'default 10' }), Type.Null()])),
  with_lookup: Type.Optional(Type.Union([WithLookup, Type.Null()])),
})

const { limit: _l, ...queryNoLimit } = QUERY_FIELDS
const QueryGroupsRequest = named(
  'QueryGroupsRequest',
  Type.Object({ ...queryNoLimit, ...groupFields(false) }),
)
const SearchGroupsRequest = named(
  'SearchGroupsRequest',
  Type.Object({ ...SEARCH_FIELDS, ...groupFields(true) }),
)
const RecommendGroupsRequest = named(
  'RecommendGroupsRequest',
  Type.Object({ ...RECOMMEND_FIELDS, ...groupFields(true) }),
)

const GroupsResult = named(
  'GroupsResult',
  Type.Object({
    groups: Type.Array(
      named(
        'PointGroup',
        Type.Object({
          id: Type.Union([Type.String(), Type.Integer()]),
          hits: Type.Array(ScoredPoint),
          lookup: Type.Optional(Type.Union([RecordSchema, Type.Null()])),
        }),
      ),
    ),
  }),
)

const TAGS = ['Search'] as const
const base = '/collections/:collection_name/points'
const route = (
  path: string,
  operationId: string,
  summary: string,
  body: TSchema,
  deprecated: boolean,
): RouteSchema => ({
  method: 'POST',
  url: `${base}/${path}`,
  operationId,
  summary,
  tags: TAGS,
  body,
  query: READ_QUERY,
  response: Ok(GroupsResult),
  ...(deprecated ? { deprecated } : {}),
})

export const GROUP_ROUTES: readonly RouteSchema[] = [
  route(
    'query/groups',
    'query_points_groups',
    'Universal query, grouped by a payload field',
    QueryGroupsRequest,
    false,
  ),
  route('search/groups', 'search_point_groups', 'Legacy search, grouped', SearchGroupsRequest, true),
  route(
    'recommend/groups',
    'recommend_point_groups',
    'Legacy recommendation, grouped',
    RecommendGroupsRequest,
    true,
  ),
]

// Schemas of facet counts and the distance matrix (routes/facet.ts).
import { Type } from '@sinclair/typebox'
import { ExtendedPointId, named, Ok, OptionalFilter, READ_QUERY, type RouteSchema } from './common.js'

const FacetRequest = named(
  'FacetRequest',
  Type.Object({
    key: Type.String({ minLength: 1 }),
    limit: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, description: 'default 10; 0 is 422' }), Type.Null()]),
    ),
    filter: OptionalFilter,
    exact: Type.Optional(
      Type.Union([Type.Boolean({ description: 'accepted; facets are exact' }), Type.Null()]),
    ),
    shard_key: Type.Optional(Type.Null()),
  }),
)

const FacetResponse = named(
  'FacetResponse',
  Type.Object({
    hits: Type.Array(
      named(
        'FacetValueHit',
        Type.Object({
          value: Type.Union([Type.String(), Type.Integer(), Type.Boolean()]),
          count: Type.Integer({ minimum: 0 }),
        }),
      ),
    ),
  }),
)

const SearchMatrixRequest = named(
  'SearchMatrixRequest',
  Type.Object({
    filter: OptionalFilter,
    sample: Type.Optional(Type.Union([Type.Integer({ minimum: 2, description: 'default 10' }), Type.Null()])),
    limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1, description: 'default 3' }), Type.Null()])),
    using: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    shard_key: Type.Optional(Type.Null()),
  }),
)

const TAGS = ['Points'] as const
const matrix = '/collections/:collection_name/points/search/matrix'

export const FACET_ROUTES: readonly RouteSchema[] = [
  {
    method: 'POST',
    url: '/collections/:collection_name/facet',
    operationId: 'facet',
    summary: 'Count points per value of a payload field',
    tags: TAGS,
    body: FacetRequest,
    query: READ_QUERY,
    response: Ok(FacetResponse),
  },
  {
    method: 'POST',
    url: `${matrix}/pairs`,
    operationId: 'search_matrix_pairs',
    summary: 'Distance matrix of a sample, as pairs',
    tags: TAGS,
    body: SearchMatrixRequest,
    bodyOptional: true,
    query: READ_QUERY,
    response: Ok(
      named(
        'SearchMatrixPairsResponse',
        Type.Object({
          pairs: Type.Array(
            named(
              'SearchMatrixPair',
              Type.Object({ a: ExtendedPointId, b: ExtendedPointId, score: Type.Number() }),
            ),
          ),
        }),
      ),
    ),
  },
  {
    method: 'POST',
    url: `${matrix}/offsets`,
    operationId: 'search_matrix_offsets',
    summary: 'Distance matrix of a sample, as offsets into ids',
    tags: TAGS,
    body: SearchMatrixRequest,
    bodyOptional: true,
    query: READ_QUERY,
    response: Ok(
      named(
        'SearchMatrixOffsetsResponse',
        Type.Object({
          offsets_row: Type.Array(Type.Integer({ minimum: 0 })),
          offsets_col: Type.Array(Type.Integer({ minimum: 0 })),
          scores: Type.Array(Type.Number()),
          ids: Type.Array(ExtendedPointId),
        }),
      ),
    ),
  },
]

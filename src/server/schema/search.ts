// Schemas of the search endpoints (routes/search.ts): the Query API (`points/query`, `query/batch`)
// and the legacy `points/search`, `points/recommend` and their batches (gone from Qdrant's 1.19 spec).
import { type TSchema, Type } from '@sinclair/typebox'
import {
  Document,
  ExtendedPointId,
  named,
  Ok,
  OptionalFilter,
  quiverOnly,
  READ_QUERY,
  type RouteSchema,
  ref,
  ScoredPoint,
  SearchParams,
  SparseVector,
  WithPayloadInterface,
  WithVector,
} from './common.js'
import { OrderByInterface } from './points.js'

const NoShardKey = Type.Optional(Type.Null({ description: 'custom sharding is not supported' }))

/** Qdrant's `VectorInput`: a dense, sparse or multi vector, a point id, or a document. */
export const VectorInput = named(
  'VectorInput',
  Type.Union([
    Type.Array(Type.Number()),
    SparseVector,
    Type.Array(Type.Array(Type.Number())),
    ExtendedPointId,
    Document,
  ]),
)

const ContextPair = named('ContextPair', Type.Object({ positive: VectorInput, negative: VectorInput }))
const ContextInput = Type.Union([Type.Array(ContextPair), ContextPair, Type.Null()])
const RecommendStrategy = named(
  'RecommendStrategy',
  Type.Union([Type.Literal('average_vector'), Type.Literal('best_score'), Type.Literal('sum_scores')]),
)

const RecommendInput = Type.Object({
  positive: Type.Optional(Type.Union([Type.Array(VectorInput), Type.Null()])),
  negative: Type.Optional(Type.Union([Type.Array(VectorInput), Type.Null()])),
  strategy: Type.Optional(Type.Union([RecommendStrategy, Type.Null()])),
})

/** Qdrant's `FormulaQuery` (docs/rest-api.md "Query kind formula"): an expression tree over `$score`, payload keys and conditions. */
const FormulaQuery = named(
  'FormulaQuery',
  Type.Object({
    formula: Type.Unknown({
      description: "Qdrant's Expression: a number, a key, a condition or one operator object",
    }),
    defaults: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
)

/** Qdrant's `QueryInterface`: a vector input (nearest) or one query kind object. */
export const QueryInterface = named(
  'QueryInterface',
  Type.Union([
    VectorInput,
    Type.Object({
      nearest: VectorInput,
      mmr: Type.Optional(
        Type.Object({
          diversity: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
          candidates_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
        }),
      ),
    }),
    Type.Object({ recommend: RecommendInput }),
    Type.Object({ discover: Type.Object({ target: VectorInput, context: ContextInput }) }),
    Type.Object({ context: ContextInput }),
    Type.Object({ order_by: OrderByInterface }),
    Type.Object({ fusion: Type.Union([Type.Literal('rrf'), Type.Literal('dbsf')]) }),
    Type.Object({
      rrf: Type.Union([
        Type.Object({
          k: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
          weights: Type.Optional(Type.Union([Type.Array(Type.Number()), Type.Null()])),
        }),
        Type.Null(),
      ]),
    }),
    FormulaQuery,
    Type.Object({ sample: Type.Literal('random') }),
  ]),
)

const LookupLocation = named(
  'LookupLocation',
  Type.Object({
    collection: Type.String(),
    vector: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    shard_key: NoShardKey,
  }),
)

const stageFields = {
  prefetch: Type.Optional(Type.Union([ref('Prefetch'), Type.Array(ref('Prefetch')), Type.Null()])),
  query: Type.Optional(Type.Union([QueryInterface, Type.Null()])),
  using: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  filter: OptionalFilter,
  params: Type.Optional(Type.Union([SearchParams, Type.Null()])),
  score_threshold: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  lookup_from: Type.Optional(Type.Union([LookupLocation, Type.Null()])),
}

/** Qdrant's `Prefetch` (recursive). */
export const Prefetch = named('Prefetch', Type.Object(stageFields))

const queryFields = {
  ...stageFields,
  shard_key: NoShardKey,
  with_vector: Type.Optional(Type.Union([WithVector, Type.Null()])),
  with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
}

/** Qdrant's `QueryRequest`. */
export const QueryRequest = named(
  'QueryRequest',
  Type.Object({
    ...queryFields,
    offset: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  }),
)

/** The fields of a `QueryGroupsRequest` that are a query's (no `offset`). */
export const QUERY_FIELDS = queryFields

const NamedVector = Type.Object({
  name: Type.String(),
  vector: Type.Union([Type.Array(Type.Number()), SparseVector]),
})

const legacyFields = {
  filter: OptionalFilter,
  params: Type.Optional(Type.Union([SearchParams, Type.Null()])),
  with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
  with_vector: Type.Optional(Type.Union([WithVector, Type.Null()])),
  score_threshold: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  shard_key: NoShardKey,
}

/** The fields of legacy `SearchRequest` besides `limit` and `offset`. */
export const SEARCH_FIELDS = {
  vector: Type.Union([Type.Array(Type.Number()), NamedVector], {
    description: 'a dense vector, or { name, vector } (NamedVector / NamedSparseVector)',
  }),
  ...legacyFields,
}

/** The fields of legacy `RecommendRequest` besides `limit` and `offset`. */
export const RECOMMEND_FIELDS = {
  positive: Type.Optional(Type.Array(VectorInput)),
  negative: Type.Optional(Type.Array(VectorInput)),
  strategy: Type.Optional(Type.Union([RecommendStrategy, Type.Null()])),
  using: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  lookup_from: Type.Optional(Type.Union([LookupLocation, Type.Null()])),
  ...legacyFields,
}

const pageFields = {
  limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1, description: 'default 10' }), Type.Null()])),
  offset: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  top: Type.Optional(quiverOnly(Type.Integer({ minimum: 1 }), 'an alias of limit (older Qdrant clients)')),
}

const SearchRequest = named('SearchRequest', Type.Object({ ...SEARCH_FIELDS, ...pageFields }))
const RecommendRequest = named('RecommendRequest', Type.Object({ ...RECOMMEND_FIELDS, ...pageFields }))

const batchOf = (name: string, item: TSchema) => named(name, Type.Object({ searches: Type.Array(item) }))

export const QueryResponse = named('QueryResponse', Type.Object({ points: Type.Array(ScoredPoint) }))
/** A list of hits. */
export const Hits = Type.Array(ScoredPoint)

const TAGS = ['Search'] as const
const base = '/collections/:collection_name/points'
const read = (
  url: string,
  operationId: string,
  summary: string,
  body: TSchema,
  result: TSchema,
  deprecated = false,
): RouteSchema => ({
  method: 'POST',
  url,
  operationId,
  summary,
  tags: TAGS,
  body,
  query: READ_QUERY,
  response: Ok(result),
  ...(deprecated ? { deprecated } : {}),
})

export const SEARCH_ROUTES: readonly RouteSchema[] = [
  read(`${base}/query`, 'query_points', 'Universal query', QueryRequest, QueryResponse),
  read(
    `${base}/query/batch`,
    'query_batch_points',
    'Several queries',
    batchOf('QueryRequestBatch', QueryRequest),
    Type.Array(QueryResponse),
  ),
  read(`${base}/search`, 'search_points', 'Legacy nearest search', SearchRequest, Hits, true),
  read(
    `${base}/search/batch`,
    'search_batch_points',
    'Legacy nearest searches',
    batchOf('SearchRequestBatch', SearchRequest),
    Type.Array(Hits),
    true,
  ),
  read(`${base}/recommend`, 'recommend_points', 'Legacy recommendation', RecommendRequest, Hits, true),
  read(
    `${base}/recommend/batch`,
    'recommend_batch_points',
    'Legacy recommendations',
    batchOf('RecommendRequestBatch', RecommendRequest),
    Type.Array(Hits),
    true,
  ),
]

// Schemas of the `/collections/{name}/points` resource (routes/points.ts): upsert, retrieve, delete,
// scroll, count, vectors and payload operations, and the batch of them.
import { Type } from '@sinclair/typebox'
import {
  CONSISTENCY,
  ExtendedPointId,
  named,
  Ok,
  OptionalFilter,
  Payload,
  PointsSelector,
  READ_QUERY,
  RecordSchema,
  type RouteSchema,
  UpdateResult,
  VectorStruct,
  WithPayloadInterface,
  WithVector,
  WRITE_QUERY,
} from './common.js'

const NoShardKey = Type.Optional(Type.Null({ description: 'custom sharding is not supported' }))

const PointStruct = named(
  'PointStruct',
  Type.Object({
    id: ExtendedPointId,
    vector: Type.Optional(VectorStruct),
    payload: Type.Optional(Type.Union([Payload, Type.Null()])),
  }),
)

const Batch = named(
  'Batch',
  Type.Object({
    ids: Type.Array(ExtendedPointId),
    vectors: Type.Union([
      Type.Array(Type.Union([Type.Array(Type.Number()), Type.Array(Type.Array(Type.Number()))])),
      Type.Record(Type.String(), Type.Array(Type.Unknown())),
    ]),
    payloads: Type.Optional(Type.Union([Type.Array(Type.Union([Payload, Type.Null()])), Type.Null()])),
  }),
)

/** Qdrant's `PointInsertOperations`: `{ points }` (PointsList) or `{ batch }` (PointsBatch). */
const PointInsertOperations = named(
  'PointInsertOperations',
  Type.Union([
    named(
      'PointsList',
      Type.Object({
        points: Type.Array(PointStruct),
        shard_key: NoShardKey,
        update_mode: Type.Optional(Type.Union([Type.Literal('upsert'), Type.Null()])),
      }),
    ),
    named(
      'PointsBatch',
      Type.Object({
        batch: Batch,
        shard_key: NoShardKey,
        update_mode: Type.Optional(Type.Union([Type.Literal('upsert'), Type.Null()])),
      }),
    ),
  ]),
)

const UpdateVectors = named(
  'UpdateVectors',
  Type.Object({
    points: Type.Array(named('PointVectors', Type.Object({ id: ExtendedPointId, vector: VectorStruct }))),
    shard_key: NoShardKey,
  }),
)

const DeleteVectors = named(
  'DeleteVectors',
  Type.Object({
    points: Type.Optional(Type.Array(ExtendedPointId)),
    filter: OptionalFilter,
    vector: Type.Array(Type.String(), { description: 'names of the vectors to delete' }),
    shard_key: NoShardKey,
  }),
)

const PointRequest = named(
  'PointRequest',
  Type.Object({
    ids: Type.Array(ExtendedPointId),
    with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
    with_vector: Type.Optional(WithVector),
    shard_key: NoShardKey,
  }),
)

const SetPayload = named(
  'SetPayload',
  Type.Object({
    payload: Payload,
    points: Type.Optional(Type.Union([Type.Array(ExtendedPointId), Type.Null()])),
    filter: OptionalFilter,
    key: Type.Optional(
      Type.Union([Type.String({ description: 'set under this key path (POST only)' }), Type.Null()]),
    ),
    shard_key: NoShardKey,
  }),
)

const DeletePayload = named(
  'DeletePayload',
  Type.Object({
    keys: Type.Array(Type.String()),
    points: Type.Optional(Type.Union([Type.Array(ExtendedPointId), Type.Null()])),
    filter: OptionalFilter,
    shard_key: NoShardKey,
  }),
)

/** Qdrant's `OrderByInterface`: a payload key or `{ key, direction?, start_from? }`. */
export const OrderByInterface = named(
  'OrderByInterface',
  Type.Union([
    Type.String({ minLength: 1 }),
    Type.Object({
      key: Type.String({ minLength: 1 }),
      direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc'), Type.Null()])),
      start_from: Type.Optional(
        Type.Union([Type.Number(), Type.String({ description: 'RFC 3339 datetime' }), Type.Null()]),
      ),
    }),
  ]),
)

const ScrollRequest = named(
  'ScrollRequest',
  Type.Object({
    offset: Type.Optional(Type.Union([ExtendedPointId, Type.Null()])),
    limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    filter: OptionalFilter,
    with_payload: Type.Optional(Type.Union([WithPayloadInterface, Type.Null()])),
    with_vector: Type.Optional(WithVector),
    order_by: Type.Optional(Type.Union([OrderByInterface, Type.Null()])),
    shard_key: NoShardKey,
  }),
)

const CountRequest = named(
  'CountRequest',
  Type.Object({
    filter: OptionalFilter,
    exact: Type.Optional(Type.Boolean({ description: 'accepted; counts are always exact' })),
    shard_key: NoShardKey,
  }),
)

const op = (name: string, body: Parameters<typeof Type.Object>[0][string]) => Type.Object({ [name]: body })

/** Qdrant's `UpdateOperations`: `{ operations: [one operation each] }`, applied as one WAL record. */
const UpdateOperations = named(
  'UpdateOperations',
  Type.Object({
    operations: Type.Array(
      named(
        'UpdateOperation',
        Type.Union([
          op('upsert', PointInsertOperations),
          op('delete', PointsSelector),
          op('set_payload', SetPayload),
          op('overwrite_payload', SetPayload),
          op('delete_payload', DeletePayload),
          op('clear_payload', PointsSelector),
          op('update_vectors', UpdateVectors),
          op('delete_vectors', DeleteVectors),
        ]),
      ),
    ),
  }),
)

const TAGS = ['Points'] as const
const base = '/collections/:collection_name/points'

const write = (
  method: 'PUT' | 'POST',
  url: string,
  operationId: string,
  summary: string,
  body: Parameters<typeof Ok>[0],
): RouteSchema => ({
  method,
  url,
  operationId,
  summary,
  tags: TAGS,
  body,
  query: WRITE_QUERY,
  response: Ok(UpdateResult),
})

export const POINT_ROUTES: readonly RouteSchema[] = [
  write('PUT', base, 'upsert_points', 'Upsert points', PointInsertOperations),
  write('PUT', `${base}/vectors`, 'update_vectors', 'Update vectors of existing points', UpdateVectors),
  write('POST', `${base}/vectors/delete`, 'delete_vectors', 'Delete named vectors of points', DeleteVectors),
  write('POST', `${base}/delete`, 'delete_points', 'Delete points', PointsSelector),
  write('POST', `${base}/payload`, 'set_payload', 'Set payload keys', SetPayload),
  write('PUT', `${base}/payload`, 'overwrite_payload', 'Overwrite the payload', SetPayload),
  write('POST', `${base}/payload/delete`, 'delete_payload', 'Delete payload keys', DeletePayload),
  write('POST', `${base}/payload/clear`, 'clear_payload', 'Clear the payload', PointsSelector),
  {
    method: 'POST',
    url: `${base}/batch`,
    operationId: 'batch_update',
    summary: 'Several update operations applied as one',
    tags: TAGS,
    body: UpdateOperations,
    query: WRITE_QUERY,
    response: Ok(Type.Array(UpdateResult)),
  },
  {
    method: 'POST',
    url: base,
    operationId: 'get_points',
    summary: 'Retrieve points by id',
    tags: TAGS,
    body: PointRequest,
    query: READ_QUERY,
    response: Ok(Type.Array(RecordSchema)),
  },
  {
    method: 'GET',
    url: `${base}/:id`,
    operationId: 'get_point',
    summary: 'Retrieve one point (with payload and vectors)',
    tags: TAGS,
    query: [CONSISTENCY],
    response: Ok(RecordSchema),
  },
  {
    method: 'POST',
    url: `${base}/scroll`,
    operationId: 'scroll_points',
    summary: 'Page through points by id or by a payload field',
    tags: TAGS,
    body: ScrollRequest,
    bodyOptional: true,
    query: READ_QUERY,
    response: Ok(
      named(
        'ScrollResult',
        Type.Object({
          points: Type.Array(RecordSchema),
          next_page_offset: Type.Optional(Type.Union([ExtendedPointId, Type.Null()])),
        }),
      ),
    ),
  },
  {
    method: 'POST',
    url: `${base}/count`,
    operationId: 'count_points',
    summary: 'Count points (exact)',
    tags: TAGS,
    body: CountRequest,
    bodyOptional: true,
    query: READ_QUERY,
    response: Ok(named('CountResult', Type.Object({ count: Type.Integer({ minimum: 0 }) }))),
  },
]

// Shared wire schemas (TypeBox, JSON Schema 2020-12 / OpenAPI 3.1): Qdrant's envelopes, point ids,
// vectors, payloads, filters, selectors, and the `RouteSchema` record each resource file exports.
// Names given with `named()` become `components.schemas` entries of GET /openapi.json (Qdrant's names).
import { type ObjectOptions, type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox'

const NAMES = new Map<object, string>()
const BY_NAME = new Map<string, TSchema>()

/** Registers `schema` as the component `name` (Qdrant's component name where Qdrant has one). */
export function named<T extends TSchema>(name: string, schema: T): T {
  NAMES.set(schema, name)
  BY_NAME.set(name, schema)
  return schema
}

/** The schema registered as `name` (the target of a `ref(name)`). */
export function namedSchema(name: string): TSchema | undefined {
  return BY_NAME.get(name)
}

/** The component name `schema` was registered under, if any. */
export function componentName(schema: object): string | undefined {
  return NAMES.get(schema)
}

/** Marks a schema (a property, a request, a response) as Quiver's own: `x-quiver-extension: true`. */
export function quiverOnly<T extends TSchema>(schema: T, description?: string): T {
  return {
    ...schema,
    'x-quiver-extension': true,
    ...(description === undefined ? {} : { description }),
  }
}

/** A `$ref` to a component declared elsewhere (for recursive shapes such as `Filter`). */
export function ref(name: string): TSchema {
  return Type.Unsafe({ $ref: `#/components/schemas/${name}` })
}

/** One route as declared: what fastify registers (`url` in fastify syntax) and its OpenAPI operation. */
export interface RouteSchema {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'
  /** Fastify path, `:param` for parameters. */
  url: string
  /** Qdrant's operationId where Qdrant has the route. */
  operationId: string
  summary: string
  tags: readonly string[]
  /** The JSON request body, when the route takes one. */
  body?: TSchema
  /** A body may be absent (`{}` semantics). */
  bodyOptional?: boolean
  /** A `multipart/form-data` body with one file field of this name (instead of JSON). */
  multipartFile?: string
  /** Query string parameters (each an optional string-valued parameter unless `required`). */
  query?: readonly QueryParam[]
  /** The 200 answer: a JSON schema (`application/json`) or a non-JSON media type. */
  response: TSchema | { mediaType: string; schema: TSchema }
  /** Not in Qdrant's API. */
  extension?: boolean
  /** Deprecated in Qdrant (present in 1.18, gone from the 1.19 spec). */
  deprecated?: boolean
  /** Other documented statuses besides 200 and the default error. */
  statuses?: Readonly<Record<string, string>>
  /** JSON answers of some of those `statuses` (e.g. 202 `{ status: "accepted" }`). */
  statusSchemas?: Readonly<Record<string, TSchema>>
}

export interface QueryParam {
  name: string
  schema: TSchema
  description: string
  extension?: boolean
}

// ---- envelopes ----

/** Qdrant's success envelope `{ result, status: "ok", time }`; `time` in seconds. */
export function Ok(result: TSchema): TSchema {
  return Type.Object({
    result,
    status: Type.Literal('ok'),
    time: Type.Number({ description: 'seconds spent on the request' }),
  })
}

/** Qdrant's `ErrorResponse`: `{ status: { error }, time }`. */
export const ErrorResponse = named(
  'ErrorResponse',
  Type.Object({
    status: Type.Object({ error: Type.String({ description: 'what went wrong, naming the field' }) }),
    time: Type.Number({ description: 'seconds spent on the request' }),
  }),
)

// ---- query parameters ----

const BOOL_TEXT = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('')])

export const WAIT: QueryParam = {
  name: 'wait',
  schema: BOOL_TEXT,
  description:
    'true (default in Quiver, empty = true): answer once the write is visible (`completed`); false: once it is durable in the WAL (`acknowledged`)',
}
export const ORDERING: QueryParam = {
  name: 'ordering',
  schema: Type.Union([Type.Literal('weak'), Type.Literal('medium'), Type.Literal('strong')]),
  description: 'accepted; one node applies writes in one order',
}
export const TIMEOUT: QueryParam = {
  name: 'timeout',
  schema: Type.String({ pattern: '^0*[1-9][0-9]*$' }),
  description:
    'seconds >= 1; a write with wait=true answers `wait_timeout` past it, a read stops and answers 408',
}
export const CONSISTENCY: QueryParam = {
  name: 'consistency',
  schema: Type.String({ pattern: '^([1-9][0-9]*|majority|quorum|all)$' }),
  description: 'an integer >= 1 or majority | quorum | all; accepted (one node holds one replica)',
}
export const WRITE_QUERY: readonly QueryParam[] = [WAIT, ORDERING, TIMEOUT]
export const READ_QUERY: readonly QueryParam[] = [CONSISTENCY, TIMEOUT]

// ---- points ----

export const ExtendedPointId = named(
  'ExtendedPointId',
  Type.Union([
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    Type.String({ format: 'uuid', description: 'a UUID (any of its spellings)' }),
  ]),
)

export const Payload = named('Payload', Type.Record(Type.String(), Type.Unknown()))

export const SparseVector = named(
  'SparseVector',
  Type.Object({ indices: Type.Array(Type.Integer({ minimum: 0 })), values: Type.Array(Type.Number()) }),
)

export const DenseVector = Type.Array(Type.Number())
export const MultiDenseVector = Type.Array(Type.Array(Type.Number()))

/** Qdrant's `Document`: a text turned into a sparse vector by a model (`qdrant/bm25`). */
export const Document = named(
  'Document',
  Type.Object({
    text: Type.String(),
    model: Type.String(),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
)

export const Vector = named('Vector', Type.Union([DenseVector, SparseVector, MultiDenseVector, Document]))

/** Qdrant's `VectorStruct`: the unnamed dense vector, or `{ name: vector }`. */
export const VectorStruct = named(
  'VectorStruct',
  Type.Union([DenseVector, MultiDenseVector, Type.Record(Type.String(), Vector)]),
)

/** Qdrant's `VectorStructOutput`: as stored, components printed as the float32 values they are. */
export const VectorStructOutput = named(
  'VectorStructOutput',
  Type.Union([
    DenseVector,
    MultiDenseVector,
    Type.Record(Type.String(), Type.Union([DenseVector, SparseVector, MultiDenseVector])),
  ]),
)

/** Qdrant's `WithPayloadInterface`: a bool, a list of keys, or `{ include }` / `{ exclude }`. */
export const WithPayloadInterface = named(
  'WithPayloadInterface',
  Type.Union([
    Type.Boolean(),
    Type.Array(Type.String()),
    Type.Object({ include: Type.Array(Type.String()) }),
    Type.Object({ exclude: Type.Array(Type.String()) }),
  ]),
)

/** Qdrant's `WithVector`: a bool or the names of the vectors to return. */
export const WithVector = named('WithVector', Type.Union([Type.Boolean(), Type.Array(Type.String())]))

/** Qdrant's `Record`; `payload` and `vector` only when asked for. */
export const RecordSchema = named(
  'Record',
  Type.Object({
    id: ExtendedPointId,
    payload: Type.Optional(Type.Union([Payload, Type.Null()])),
    vector: Type.Optional(Type.Union([VectorStructOutput, Type.Null()])),
    shard_key: Type.Optional(Type.Union([Type.String(), Type.Integer(), Type.Null()])),
    order_value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  }),
)

/** Qdrant's `ScoredPoint`; `version` is the WAL seq of the point's last write. */
export const ScoredPoint = named(
  'ScoredPoint',
  Type.Object({
    id: ExtendedPointId,
    version: Type.Integer({ minimum: 0 }),
    score: Type.Number({ description: 'finite; printed as the float32 value it is' }),
    payload: Type.Optional(Type.Union([Payload, Type.Null()])),
    vector: Type.Optional(Type.Union([VectorStructOutput, Type.Null()])),
    shard_key: Type.Optional(Type.Union([Type.String(), Type.Integer(), Type.Null()])),
    order_value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  }),
)

/**
 * Qdrant's `UpdateResult`: `completed` (durable and visible), `acknowledged` (`wait=false`: durable
 * in the WAL, applied later), `wait_timeout` (`wait=true` and `timeout` passed before it was visible).
 */
export const UpdateResult = named(
  'UpdateResult',
  Type.Object({
    operation_id: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    status: named(
      'UpdateStatus',
      Type.Union([Type.Literal('acknowledged'), Type.Literal('completed'), Type.Literal('wait_timeout')]),
    ),
  }),
)

// ---- filters ----
// Quiver's filter parser refuses unknown keys (filter/parse.ts), so these objects are closed.

function StrictObject<T extends TProperties>(properties: T, options: ObjectOptions = {}): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, ...options })
}

const MatchValue = Type.Union([Type.String(), Type.Integer(), Type.Boolean()])

export const Match = named(
  'Match',
  Type.Union([
    StrictObject({ value: MatchValue }),
    StrictObject({ text: Type.String() }),
    StrictObject({ text_any: Type.String() }),
    StrictObject({ phrase: Type.String() }),
    StrictObject({ prefix: Type.String() }),
    StrictObject({ any: Type.Union([Type.Array(Type.String()), Type.Array(Type.Integer())]) }),
    StrictObject({ except: Type.Union([Type.Array(Type.String()), Type.Array(Type.Integer())]) }),
  ]),
)

const RangeBound = Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Null()]))
export const Range = named(
  'Range',
  StrictObject(
    { lt: RangeBound, gt: RangeBound, gte: RangeBound, lte: RangeBound },
    {
      description: "numbers, or RFC 3339 datetimes (Qdrant's DatetimeRange)",
    },
  ),
)

const GeoPoint = named('GeoPoint', StrictObject({ lon: Type.Number(), lat: Type.Number() }))

export const FieldCondition = named(
  'FieldCondition',
  StrictObject({
    key: Type.String({ description: 'payload key path: a.b, a[].c' }),
    match: Type.Optional(Type.Union([Match, Type.Null()])),
    range: Type.Optional(Type.Union([Range, Type.Null()])),
    geo_bounding_box: Type.Optional(
      Type.Union([StrictObject({ top_left: GeoPoint, bottom_right: GeoPoint }), Type.Null()]),
    ),
    geo_radius: Type.Optional(
      Type.Union([StrictObject({ center: GeoPoint, radius: Type.Number() }), Type.Null()]),
    ),
    geo_polygon: Type.Optional(
      Type.Union([
        StrictObject({
          exterior: StrictObject({ points: Type.Array(GeoPoint) }),
          interiors: Type.Optional(
            Type.Union([Type.Array(StrictObject({ points: Type.Array(GeoPoint) })), Type.Null()]),
          ),
        }),
        Type.Null(),
      ]),
    ),
    values_count: Type.Optional(
      Type.Union([
        StrictObject({
          lt: Type.Optional(Type.Integer()),
          gt: Type.Optional(Type.Integer()),
          gte: Type.Optional(Type.Integer()),
          lte: Type.Optional(Type.Integer()),
        }),
        Type.Null(),
      ]),
    ),
    is_empty: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    is_null: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }),
)

export const Condition = named(
  'Condition',
  Type.Union([
    FieldCondition,
    StrictObject({ is_empty: StrictObject({ key: Type.String() }) }),
    StrictObject({ is_null: StrictObject({ key: Type.String() }) }),
    StrictObject({ has_id: Type.Array(ExtendedPointId) }),
    StrictObject({ has_vector: Type.String() }),
    StrictObject({
      slice: StrictObject({
        total: Type.Integer({ minimum: 1, maximum: 0xffffffff }),
        index: Type.Integer({ minimum: 0, description: 'less than total' }),
      }),
    }),
    StrictObject({ nested: StrictObject({ key: Type.String(), filter: ref('Filter') }) }),
    ref('Filter'),
  ]),
)

const Conditions = Type.Optional(Type.Union([Condition, Type.Array(Condition), Type.Null()]))

/** Qdrant's `Filter` (recursive through `Condition`). */
export const Filter = named(
  'Filter',
  StrictObject({
    should: Conditions,
    min_should: Type.Optional(
      Type.Union([
        StrictObject({ conditions: Type.Array(Condition), min_count: Type.Integer({ minimum: 0 }) }),
        Type.Null(),
      ]),
    ),
    must: Conditions,
    must_not: Conditions,
  }),
)

export const OptionalFilter = Type.Optional(Type.Union([Filter, Type.Null()]))

/** Qdrant's `PointsSelector`: `{ points: [ids] }` and/or `{ filter }` (both: the listed points that match). */
export const PointsSelector = named(
  'PointsSelector',
  Type.Object({
    points: Type.Optional(Type.Array(ExtendedPointId)),
    filter: OptionalFilter,
    shard_key: Type.Optional(Type.Null({ description: 'custom sharding is not supported' })),
  }),
)

/** Qdrant's `SearchParams`; `nprobe` is Quiver's (IVF). */
export const SearchParams = named(
  'SearchParams',
  Type.Object({
    hnsw_ef: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    exact: Type.Optional(Type.Boolean()),
    quantization: Type.Optional(
      Type.Union([
        Type.Object({
          ignore: Type.Optional(Type.Boolean()),
          rescore: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
          oversampling: Type.Optional(Type.Union([Type.Number({ minimum: 1 }), Type.Null()])),
        }),
        Type.Null(),
      ]),
    ),
    indexed_only: Type.Optional(Type.Boolean()),
    target_recall: Type.Optional(
      quiverOnly(
        Type.Union([Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), Type.Null()]),
        'the recall@10 to reach instead of hnsw_ef: Quiver chooses hnsw_ef from its calibration (docs/recall.md)',
      ),
    ),
    nprobe: Type.Optional(
      quiverOnly(Type.Integer({ minimum: 1 }), "IVF lists to probe (Quiver's IVF index)"),
    ),
  }),
)

export const collectionParam = { collection_name: Type.String({ description: 'a collection name' }) }

// Schemas of the observability endpoints (routes/observability.ts): Prometheus metrics and telemetry.
import { Type } from '@sinclair/typebox'
import { named, Ok, type QueryParam, quiverOnly, type RouteSchema, TIMEOUT } from './common.js'

const bool = Type.Union([Type.Literal('true'), Type.Literal('false')])
const ANONYMIZE: QueryParam = { name: 'anonymize', schema: bool, description: 'hash collection names' }
const PER_COLLECTION: QueryParam = {
  name: 'per_collection',
  schema: bool,
  description: 'accepted; request statistics are not split by collection',
}

/** The subset of Qdrant's `TelemetryData` Quiver fills (docs/observability.md). */
const TelemetryData = named(
  'TelemetryData',
  Type.Object({
    id: Type.String(),
    app: Type.Object({
      name: Type.String(),
      version: Type.String(),
      startup: Type.String({ description: 'RFC 3339' }),
      features: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
      system: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
    collections: Type.Object({
      number_of_collections: Type.Integer({ minimum: 0 }),
      collections: Type.Optional(
        Type.Array(
          Type.Object(
            {
              quiver: Type.Optional(
                quiverOnly(Type.Record(Type.String(), Type.Unknown()), 'engine statistics'),
              ),
            },
            { additionalProperties: true },
          ),
        ),
      ),
    }),
    cluster: Type.Optional(
      named('ClusterTelemetry', Type.Object({ enabled: Type.Boolean({ description: 'always false' }) })),
    ),
    requests: Type.Optional(
      Type.Object({
        rest: Type.Object({
          responses: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
        }),
        grpc: Type.Object({ responses: Type.Record(Type.String(), Type.Unknown()) }),
      }),
    ),
  }),
)

/** Qdrant's `IssueRecord` (`solution`: Qdrant's externally tagged `Solution`; Quiver's is `refactor`). */
const IssueRecord = named(
  'IssueRecord',
  Type.Object({
    id: Type.String({ description: '`UNINDEXED_FIELD/<collection>/<field>`' }),
    description: Type.String(),
    solution: Type.Object({ refactor: Type.String() }),
    timestamp: Type.String({ description: 'when this server first saw the issue (RFC 3339)' }),
    related_collection: Type.Union([Type.String(), Type.Null()]),
  }),
)

/** Qdrant's issues report (its spec declares a free-form object). */
const IssuesReport = named('IssuesReport', Type.Object({ issues: Type.Array(IssueRecord) }))

const TAGS = ['Service'] as const

export const OBSERVABILITY_ROUTES: readonly RouteSchema[] = [
  {
    method: 'GET',
    url: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    tags: TAGS,
    query: [ANONYMIZE, PER_COLLECTION, TIMEOUT],
    response: { mediaType: 'text/plain', schema: Type.String() },
  },
  {
    method: 'GET',
    url: '/telemetry',
    operationId: 'telemetry',
    summary: "Telemetry (Qdrant's shape, the fields Quiver can fill)",
    tags: TAGS,
    query: [
      ANONYMIZE,
      {
        name: 'details_level',
        schema: Type.String({ pattern: '^[0-9]+$' }),
        description: '0: counts, 1: aggregated, >= 2: per collection',
      },
      PER_COLLECTION,
      TIMEOUT,
    ],
    response: Ok(TelemetryData),
  },
  {
    method: 'GET',
    url: '/issues',
    operationId: 'get_issues',
    summary: 'Configuration suggestions: fields filtered on without a payload index',
    tags: ['Beta'],
    response: Ok(IssuesReport),
  },
  {
    method: 'DELETE',
    url: '/issues',
    operationId: 'clear_issues',
    summary: 'Clear the issues reported so far (one comes back when its cause happens again)',
    tags: ['Beta'],
    response: Ok(Type.Boolean()),
  },
]

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
]

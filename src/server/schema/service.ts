// Schemas of the service endpoints (routes/service.ts) and GET /openapi.json (routes/openapi.ts).
import { Type } from '@sinclair/typebox'
import { named, Ok, type RouteSchema } from './common.js'

const TEXT = (example: string) => ({ mediaType: 'text/plain', schema: Type.String({ examples: [example] }) })
const TAGS = ['Service'] as const

export const SERVICE_ROUTES: readonly RouteSchema[] = [
  {
    method: 'GET',
    url: '/',
    operationId: 'root',
    summary: 'Title and the Qdrant API version Quiver speaks (not enveloped)',
    tags: TAGS,
    response: named(
      'VersionInfo',
      Type.Object({
        title: Type.String(),
        version: Type.String({ description: 'the Qdrant API version emulated' }),
        commit: Type.Optional(
          Type.Union([Type.String({ description: 'the git commit Quiver was built from' }), Type.Null()]),
        ),
      }),
    ),
  },
  {
    method: 'GET',
    url: '/cluster',
    operationId: 'cluster_status',
    summary:
      'Cluster status: disabled on one node; in cluster mode the live nodes and the controller (docs/cluster.md)',
    tags: ['Distributed'],
    response: Ok(
      named(
        'ClusterStatus',
        Type.Union([
          Type.Object({ status: Type.Literal('disabled') }),
          Type.Object({
            status: Type.Literal('enabled'),
            peer_id: Type.Integer({ minimum: 0, description: "this node's peer id (from its node id)" }),
            peers: Type.Record(Type.String(), Type.Object({ uri: Type.String() }), {
              description: 'the live nodes by peer id (heartbeat in the last 3 intervals)',
            }),
            raft_info: Type.Object({
              term: Type.Integer({ minimum: 0, description: 'times the controller lease changed hands' }),
              commit: Type.Integer({ minimum: 0 }),
              pending_operations: Type.Integer({ minimum: 0 }),
              leader: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
                description: 'the peer holding the controller lease',
              }),
              role: Type.Union([Type.Literal('Leader'), Type.Literal('Follower'), Type.Null()]),
              is_voter: Type.Boolean(),
            }),
            consensus_thread_status: Type.Object({
              consensus_thread_status: Type.Literal('working'),
              last_update: Type.String({ format: 'date-time' }),
            }),
            message_send_failures: Type.Record(Type.String(), Type.Unknown()),
          }),
        ]),
      ),
    ),
  },
  {
    method: 'GET',
    url: '/healthz',
    operationId: 'healthz',
    summary: 'Kubernetes healthz probe',
    tags: TAGS,
    response: TEXT('healthz check passed'),
  },
  {
    method: 'GET',
    url: '/health',
    operationId: 'health',
    summary:
      'Search-quality check: live recall estimates below the threshold and search p99 above it (always 200; docs/recall.md)',
    tags: TAGS,
    response: named(
      'HealthReport',
      Type.Object({
        status: Type.Union([Type.Literal('ok'), Type.Literal('warning')]),
        thresholds: Type.Object({ min_recall: Type.Number(), max_p99_ms: Type.Number() }),
        warnings: Type.Array(
          Type.Object(
            {
              collection: Type.String(),
              check: Type.Union([Type.Literal('recall'), Type.Literal('latency')]),
              value: Type.Number({ description: 'the recall estimate, or the p99 in milliseconds' }),
              threshold: Type.Number(),
              message: Type.String(),
            },
            { additionalProperties: true },
          ),
        ),
      }),
    ),
    extension: true,
  },
  {
    method: 'GET',
    url: '/livez',
    operationId: 'livez',
    summary: 'Kubernetes livez probe',
    tags: TAGS,
    response: TEXT('healthz check passed'),
  },
  {
    method: 'GET',
    url: '/readyz',
    operationId: 'readyz',
    summary: 'Kubernetes readyz probe: 503 until the data directory is loaded',
    tags: TAGS,
    response: TEXT('all shards are ready'),
    statuses: { '503': 'still loading (text, retry-after: 1)' },
  },
  {
    method: 'GET',
    url: '/openapi.json',
    operationId: 'openapi',
    summary: "This OpenAPI 3.1 document (Quiver's extensions marked x-quiver-extension)",
    tags: TAGS,
    response: Type.Object(
      {
        openapi: Type.String(),
        info: Type.Object({ title: Type.String(), version: Type.String() }, { additionalProperties: true }),
        paths: Type.Record(Type.String(), Type.Unknown()),
        components: Type.Object({ schemas: Type.Record(Type.String(), Type.Unknown()) }),
      },
      { additionalProperties: true },
    ),
    extension: true,
  },
]

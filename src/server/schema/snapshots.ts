// Schemas of the snapshot endpoints (routes/snapshots.ts): collection and full-store snapshots.
import { Type } from '@sinclair/typebox'
import { named, Ok, type QueryParam, type RouteSchema, WAIT } from './common.js'

const SnapshotDescription = named(
  'SnapshotDescription',
  Type.Object({
    name: Type.String(),
    creation_time: Type.Union([Type.String(), Type.Null()]),
    size: Type.Integer({ minimum: 0, description: 'bytes' }),
    checksum: Type.Optional(Type.Union([Type.String({ description: 'SHA-256, hex' }), Type.Null()])),
  }),
)

const Priority = Type.Union([Type.Literal('no_sync'), Type.Literal('snapshot'), Type.Literal('replica')])
const PRIORITY: QueryParam = {
  name: 'priority',
  schema: Priority,
  description: 'checked and ignored (one node)',
}
const CHECKSUM: QueryParam = {
  name: 'checksum',
  schema: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
  description: 'SHA-256 the upload must have',
}

const SnapshotRecover = named(
  'SnapshotRecover',
  Type.Object({
    location: Type.String({
      minLength: 1,
      description: 'file:// or http(s):// URL, or a path under the snapshots directory',
    }),
    priority: Type.Optional(Type.Union([Priority, Type.Null()])),
    checksum: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{64}$' }), Type.Null()])),
    api_key: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
)

const ARCHIVE = { mediaType: 'application/octet-stream', schema: Type.String({ format: 'binary' }) }
const TAGS = ['Snapshots'] as const
const col = '/collections/:collection_name/snapshots'

const DECLARED: readonly RouteSchema[] = [
  {
    method: 'POST',
    url: col,
    operationId: 'create_snapshot',
    summary: 'Create a collection snapshot',
    tags: TAGS,
    query: [WAIT],
    response: Ok(SnapshotDescription),
  },
  {
    method: 'GET',
    url: col,
    operationId: 'list_snapshots',
    summary: 'List collection snapshots',
    tags: TAGS,
    response: Ok(Type.Array(SnapshotDescription)),
  },
  {
    method: 'GET',
    url: `${col}/:snapshot_name`,
    operationId: 'get_snapshot',
    summary: 'Download a collection snapshot (tar)',
    tags: TAGS,
    response: ARCHIVE,
  },
  {
    method: 'DELETE',
    url: `${col}/:snapshot_name`,
    operationId: 'delete_snapshot',
    summary: 'Delete a collection snapshot',
    tags: TAGS,
    query: [WAIT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'PUT',
    url: `${col}/recover`,
    operationId: 'recover_from_snapshot',
    summary: 'Recover a collection from a snapshot location',
    tags: TAGS,
    body: SnapshotRecover,
    query: [WAIT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'POST',
    url: `${col}/upload`,
    operationId: 'recover_from_uploaded_snapshot',
    summary: 'Recover a collection from an uploaded snapshot (multipart field "snapshot")',
    tags: TAGS,
    multipartFile: 'snapshot',
    query: [WAIT, PRIORITY, CHECKSUM],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'POST',
    url: '/snapshots',
    operationId: 'create_full_snapshot',
    summary: 'Create a snapshot of the whole store',
    tags: TAGS,
    query: [WAIT],
    response: Ok(SnapshotDescription),
  },
  {
    method: 'GET',
    url: '/snapshots',
    operationId: 'list_full_snapshots',
    summary: 'List full snapshots',
    tags: TAGS,
    response: Ok(Type.Array(SnapshotDescription)),
  },
  {
    method: 'GET',
    url: '/snapshots/:snapshot_name',
    operationId: 'get_full_snapshot',
    summary: 'Download a full snapshot (tar)',
    tags: TAGS,
    response: ARCHIVE,
  },
  {
    method: 'DELETE',
    url: '/snapshots/:snapshot_name',
    operationId: 'delete_full_snapshot',
    summary: 'Delete a full snapshot',
    tags: TAGS,
    query: [WAIT],
    response: Ok(Type.Boolean()),
  },
]

/** Qdrant's answer to `wait=false`: the work goes on in the background (a failure is only logged). */
const Accepted = Type.Object({
  status: Type.Literal('accepted'),
  time: Type.Number({ description: 'seconds spent on the request' }),
})

/** Every snapshot write with `?wait=false` answers 202 `{ status: "accepted", time }` at once. */
export const SNAPSHOT_ROUTES: readonly RouteSchema[] = DECLARED.map((r) =>
  r.query?.includes(WAIT)
    ? {
        ...r,
        statuses: { ...r.statuses, '202': 'wait=false: accepted, done in the background' },
        statusSchemas: { '202': Accepted },
      }
    : r,
)

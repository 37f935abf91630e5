// Schemas of the payload index endpoints (routes/field-index.ts).
import { type TSchema, Type } from '@sinclair/typebox'
import { named, Ok, type RouteSchema, UpdateResult, WRITE_QUERY } from './common.js'

const Optional = (s: TSchema) => Type.Optional(Type.Union([s, Type.Null()]))

const PayloadSchemaType = named(
  'PayloadSchemaType',
  Type.Union(
    ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'].map((t) => Type.Literal(t)),
  ),
)

const CreateFieldIndex = named(
  'CreateFieldIndex',
  Type.Object({
    field_name: Type.String({ minLength: 1 }),
    field_schema: Type.Union(
      [
        PayloadSchemaType,
        named(
          'PayloadSchemaParams',
          Type.Object(
            { type: PayloadSchemaType },
            { additionalProperties: true, description: 'type-specific parameters (checked by the engine)' },
          ),
        ),
      ],
      { description: 'required in Quiver (no type inference)' },
    ),
  }),
)

const TAGS = ['Indexes'] as const

export const FIELD_INDEX_ROUTES: readonly RouteSchema[] = [
  {
    method: 'PUT',
    url: '/collections/:collection_name/index',
    operationId: 'create_field_index',
    summary: 'Create (or replace) a payload index',
    tags: TAGS,
    body: CreateFieldIndex,
    query: WRITE_QUERY,
    response: Ok(UpdateResult),
  },
  {
    method: 'DELETE',
    url: '/collections/:collection_name/index/:field_name',
    operationId: 'delete_field_index',
    summary: 'Delete a payload index',
    tags: TAGS,
    query: WRITE_QUERY,
    response: Ok(UpdateResult),
  },
]

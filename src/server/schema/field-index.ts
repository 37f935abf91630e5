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
            {
              type: PayloadSchemaType,
              // keyword / integer / uuid
              is_tenant: Optional(Type.Boolean()),
              lookup: Optional(Type.Boolean()),
              range: Optional(Type.Boolean()),
              is_principal: Optional(Type.Boolean({ description: 'accepted and ignored' })),
              // text
              tokenizer: Optional(
                Type.Union(['word', 'whitespace', 'prefix', 'multilingual'].map((t) => Type.Literal(t))),
              ),
              min_token_len: Optional(Type.Integer({ minimum: 0 })),
              max_token_len: Optional(Type.Integer({ minimum: 0 })),
              lowercase: Optional(Type.Boolean()),
              phrase_matching: Optional(Type.Boolean()),
              stopwords: Optional(Type.Unknown({ description: 'a language or { languages, custom }' })),
              stemmer: Optional(
                Type.Unknown({ description: '{ type: "snowball", language } or { type: "none" }' }),
              ),
              ascii_folding: Optional(Type.Boolean()),
              // accepted and ignored: every index lives in memory
              on_disk: Optional(Type.Boolean()),
              memory: Optional(Type.Unknown()),
              enable_hnsw: Optional(Type.Boolean()),
            },
            {
              description: 'type-specific parameters, checked by the engine (filter/payload-index/schema.ts)',
            },
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

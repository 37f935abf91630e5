// Schemas of the alias endpoints (Qdrant's `update_aliases`, `get_collections_aliases`,
// `get_collection_aliases`), served by routes/aliases.ts.
import { Type } from '@sinclair/typebox'
import { named, Ok, type RouteSchema, TIMEOUT } from './common.js'

const AliasOperations = named(
  'AliasOperations',
  Type.Union([
    named(
      'CreateAliasOperation',
      Type.Object({
        create_alias: named(
          'CreateAlias',
          Type.Object({ collection_name: Type.String(), alias_name: Type.String() }),
        ),
      }),
    ),
    named(
      'DeleteAliasOperation',
      Type.Object({ delete_alias: named('DeleteAlias', Type.Object({ alias_name: Type.String() })) }),
    ),
    named(
      'RenameAliasOperation',
      Type.Object({
        rename_alias: named(
          'RenameAlias',
          Type.Object({ old_alias_name: Type.String(), new_alias_name: Type.String() }),
        ),
      }),
    ),
  ]),
)

/** `POST /collections/aliases`: the actions, applied atomically as one change. */
const ChangeAliasesOperation = named(
  'ChangeAliasesOperation',
  Type.Object({ actions: Type.Array(AliasOperations) }),
)

const CollectionsAliasesResponse = named(
  'CollectionsAliasesResponse',
  Type.Object({
    aliases: Type.Array(
      named('AliasDescription', Type.Object({ alias_name: Type.String(), collection_name: Type.String() })),
    ),
  }),
)

const TAGS = ['Aliases'] as const

export const ALIAS_ROUTES: readonly RouteSchema[] = [
  {
    method: 'POST',
    url: '/collections/aliases',
    operationId: 'update_aliases',
    summary: 'Create, delete and rename aliases in one atomic change',
    tags: TAGS,
    body: ChangeAliasesOperation,
    query: [TIMEOUT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'GET',
    url: '/aliases',
    operationId: 'get_collections_aliases',
    summary: 'Every alias',
    tags: TAGS,
    response: Ok(CollectionsAliasesResponse),
  },
  {
    method: 'GET',
    url: '/collections/:collection_name/aliases',
    operationId: 'get_collection_aliases',
    summary: "A collection's aliases",
    tags: TAGS,
    response: Ok(CollectionsAliasesResponse),
  },
]

// Wire format of aliases: Qdrant's `ChangeAliasesOperation` in (`POST /collections/aliases`) and
// `CollectionsAliasesResponse` out (`GET /aliases`, `GET /collections/{name}/aliases`).
import type { AliasAction, AliasDescription } from '../../db/aliases.js'
import {
  describe,
  fail,
  isPlainObject,
  join,
  type Obj,
  onlyKeys,
  reqArray,
  reqString,
} from '../../json-input.js'
import { bodyObject } from './common.js'

/** Qdrant's `AliasDescription`. */
export interface WireAliasDescription {
  alias_name: string
  collection_name: string
}

/** Qdrant's `CollectionsAliasesResponse`. */
export interface WireAliases {
  aliases: WireAliasDescription[]
}

const ACTIONS = ['create_alias', 'delete_alias', 'rename_alias'] as const

/**
 * Parses `{ actions: [{ create_alias: { collection_name, alias_name } } | { delete_alias: { alias_name } }
 * | { rename_alias: { old_alias_name, new_alias_name } }] }`. Throws INVALID_ARGUMENT naming the JSON
 * path (`actions[1].create_alias.alias_name: expected a string, got number 3`); an action must hold
 * exactly one of the three keys, and unknown keys are refused.
 */
export function parseChangeAliases(body: unknown): AliasAction[] {
  const o = bodyObject(body)
  onlyKeys(o, ['actions'], '')
  return reqArray(o, 'actions', '').map((v, i) => parseAction(v, `actions[${i}]`))
}

function parseAction(v: unknown, path: string): AliasAction {
  const keys = isPlainObject(v) ? Object.keys(v) : []
  if (!isPlainObject(v) || keys.length !== 1 || !ACTIONS.includes(keys[0] as (typeof ACTIONS)[number])) {
    const got = isPlainObject(v)
      ? `an object with ${keys.length === 0 ? 'no keys' : `keys ${keys.map((k) => JSON.stringify(k)).join(', ')}`}`
      : describe(v)
    fail(path, `expected one of { "create_alias" }, { "delete_alias" }, { "rename_alias" }, got ${got}`)
  }
  const kind = keys[0] as (typeof ACTIONS)[number]
  const at = join(path, kind)
  const inner = v[kind]
  if (!isPlainObject(inner)) fail(at, `expected an object, got ${describe(inner)}`)
  const a: Obj = inner
  switch (kind) {
    case 'create_alias':
      onlyKeys(a, ['collection_name', 'alias_name'], at)
      return {
        createAlias: {
          collectionName: reqString(a, 'collection_name', at),
          aliasName: reqString(a, 'alias_name', at),
        },
      }
    case 'delete_alias':
      onlyKeys(a, ['alias_name'], at)
      return { deleteAlias: { aliasName: reqString(a, 'alias_name', at) } }
    case 'rename_alias':
      onlyKeys(a, ['old_alias_name', 'new_alias_name'], at)
      return {
        renameAlias: {
          oldAliasName: reqString(a, 'old_alias_name', at),
          newAliasName: reqString(a, 'new_alias_name', at),
        },
      }
  }
}

/** Engine aliases -> Qdrant's `CollectionsAliasesResponse`. */
export function toWireAliases(aliases: readonly AliasDescription[]): WireAliases {
  return { aliases: aliases.map((a) => ({ alias_name: a.aliasName, collection_name: a.collectionName })) }
}

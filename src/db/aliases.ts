// The alias catalog of a data directory (Qdrant's collection aliases): alias name -> collection name,
// kept in memory and persisted as `<data>/aliases.json`, replaced atomically as a whole on every change.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { checkCollectionName } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import { describe, isPlainObject } from '../json-input.js'
import { ioError, readFileIfExists, removeFileIfExists, writeFileAtomic } from '../storage/files.js'

/** The file holding the aliases of a data directory, beside `collections/`. */
export const ALIASES_FILE = 'aliases.json'
const FORMAT = 1

/** One alias as Qdrant's `AliasDescription` describes it, in engine terms. */
export interface AliasDescription {
  readonly aliasName: string
  readonly collectionName: string
}

/**
 * One change of `Quiver.updateAliases` (Qdrant's `AliasOperations`, camelCase):
 * - `createAlias`: `aliasName` now names collection `collectionName` (which must exist); an existing
 *   alias of that name is re-pointed;
 * - `deleteAlias`: removes the alias (nothing happens when there is none, as in Qdrant);
 * - `renameAlias`: the alias `oldAliasName` (which must exist) is now called `newAliasName`; an
 *   existing alias of the new name is replaced.
 */
export type AliasAction =
  | { readonly createAlias: { readonly collectionName: string; readonly aliasName: string } }
  | { readonly deleteAlias: { readonly aliasName: string } }
  | { readonly renameAlias: { readonly oldAliasName: string; readonly newAliasName: string } }

/** What the catalog needs to know of the collections when it checks a batch of actions. */
export interface CollectionNames {
  /** A collection of this name exists (loaded or unavailable). */
  exists(name: string): boolean
  /** The name is taken by a collection, or reserved by one being created, dropped or recovered. */
  taken(name: string): boolean
}

/** Alias name -> collection name. */
export type AliasMap = ReadonlyMap<string, string>

/**
 * Applies `actions` in order to a copy of `current` and returns it; `current` is left unchanged.
 * Throws (and so changes nothing) on the first invalid action, naming it as `actions[i]`:
 * INVALID_ARGUMENT (not an action), INVALID_COLLECTION_NAME (an alias name that is not a valid
 * collection name), COLLECTION_NOT_FOUND (`createAlias` of a collection that does not exist),
 * COLLECTION_EXISTS (an alias name that is a collection's), ALIAS_NOT_FOUND (`renameAlias` of an
 * alias that does not exist). Messages carry Qdrant's wording.
 * @example planAliases(new Map(), [{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }], names)
 */
export function planAliases(
  current: AliasMap,
  actions: readonly AliasAction[],
  names: CollectionNames,
): Map<string, string> {
  if (!Array.isArray(actions))
    throw new QuiverError('INVALID_ARGUMENT', `actions: expected an array, got ${describe(actions)}`)
  const next = new Map(current)
  for (const [i, action] of actions.entries()) {
    const at = `actions[${i}]`
    const op = readAction(action, at)
    switch (op.kind) {
      case 'create': {
        if (!names.exists(op.collection)) {
          const hint = next.has(op.collection)
            ? ` (${op.collection} is an alias; an alias names a collection)`
            : ''
          throw new QuiverError(
            'COLLECTION_NOT_FOUND',
            `Not found: Collection \`${op.collection}\` doesn't exist!${hint} (${at})`,
            { name: op.collection, action: i },
          )
        }
        aliasName(op.alias, `${at}.createAlias.aliasName`, names, i)
        next.set(op.alias, op.collection)
        break
      }
      case 'delete':
        next.delete(op.alias)
        break
      case 'rename': {
        const target = next.get(op.from)
        if (target === undefined) {
          throw new QuiverError('ALIAS_NOT_FOUND', `Not found: Alias ${op.from} does not exists! (${at})`, {
            alias: op.from,
            action: i,
          })
        }
        aliasName(op.to, `${at}.renameAlias.newAliasName`, names, i)
        next.delete(op.from)
        next.set(op.to, target)
        break
      }
    }
  }
  return next
}

type ParsedAction =
  | { kind: 'create'; alias: string; collection: string }
  | { kind: 'delete'; alias: string }
  | { kind: 'rename'; from: string; to: string }

/** Checks the shape of one embedded action (the wire checks its own first). Throws INVALID_ARGUMENT. */
function readAction(action: unknown, at: string): ParsedAction {
  const keys = isPlainObject(action) ? Object.keys(action) : []
  const bad = (why: string): never => {
    throw new QuiverError('INVALID_ARGUMENT', `${at}: ${why}`, { path: at })
  }
  if (!isPlainObject(action) || keys.length !== 1)
    bad(`expected one of { createAlias }, { deleteAlias }, { renameAlias }, got ${describe(action)}`)
  const a = action as Record<string, unknown>
  const str = (o: unknown, key: string, path: string): string => {
    const v = isPlainObject(o) ? o[key] : undefined
    if (!isPlainObject(o)) bad(`${path}: expected an object, got ${describe(o)}`)
    if (typeof v !== 'string') bad(`${path}.${key}: expected a string, got ${describe(v)}`)
    return v as string
  }
  if ('createAlias' in a) {
    return {
      kind: 'create',
      alias: str(a['createAlias'], 'aliasName', 'createAlias'),
      collection: str(a['createAlias'], 'collectionName', 'createAlias'),
    }
  }
  if ('deleteAlias' in a) return { kind: 'delete', alias: str(a['deleteAlias'], 'aliasName', 'deleteAlias') }
  if ('renameAlias' in a) {
    return {
      kind: 'rename',
      from: str(a['renameAlias'], 'oldAliasName', 'renameAlias'),
      to: str(a['renameAlias'], 'newAliasName', 'renameAlias'),
    }
  }
  return bad(`unknown action ${JSON.stringify(keys[0])} (expected createAlias, deleteAlias or renameAlias)`)
}

/** Checks a new alias name: a valid collection name that no collection has or reserves. */
function aliasName(name: string, path: string, names: CollectionNames, action: number): void {
  try {
    checkCollectionName(name)
  } catch (err) {
    const e = err as QuiverError
    throw new QuiverError(
      e.code,
      `${path}: alias ${e.message.replace(/^collection /, '')}`,
      { path, action },
      err,
    )
  }
  if (names.taken(name)) {
    throw new QuiverError(
      'COLLECTION_EXISTS',
      `Wrong input: Collection \`${name}\` already exists! (${path}: an alias cannot take a collection's name)`,
      { name, action },
    )
  }
}

/** `map` as a sorted list. */
export function describeAliases(map: AliasMap): AliasDescription[] {
  return [...map]
    .map(([aliasName, collectionName]) => ({ aliasName, collectionName }))
    .sort((a, b) => (a.aliasName < b.aliasName ? -1 : a.aliasName > b.aliasName ? 1 : 0))
}

/**
 * The aliases of one data directory. Reads are served from memory; every change goes through
 * `exclusive` (one at a time, in call order) and `commit`, which replaces `aliases.json` atomically
 * and durably before the new map becomes visible, so after a crash the file holds the last
 * committed map or the one before it, never a mix.
 */
export class AliasCatalog {
  private map: AliasMap
  private tail: Promise<unknown> = Promise.resolve()
  private readonly path: string

  private constructor(path: string, map: AliasMap) {
    this.path = path
    this.map = map
  }

  /**
   * Loads `<dir>/aliases.json` (none: no aliases) and removes temp files a crashed write left.
   * Throws CORRUPTED naming the file when it is not a valid alias file, IO_ERROR.
   */
  static async load(dir: string): Promise<AliasCatalog> {
    const path = join(dir, ALIASES_FILE)
    await removeTempFiles(dir)
    const bytes = await readFileIfExists(path)
    return new AliasCatalog(path, bytes === undefined ? new Map() : decodeAliases(bytes, path))
  }

  /** The collection alias `name` points at, or undefined when `name` is no alias. */
  resolve(name: string): string | undefined {
    return this.map.get(name)
  }

  /** The current map (a read-only view; it is replaced, never changed, by a commit). */
  get current(): AliasMap {
    return this.map
  }

  /**
   * Runs `fn` after every earlier `exclusive` call has finished (whatever its outcome), alone.
   * Changes run inside it, so a check and the commit it leads to see no other change in between.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => undefined)
    return run
  }

  /** Resolves once every `exclusive` call made so far has finished. */
  async idle(): Promise<void> {
    await this.tail
  }

  /**
   * Makes `next` the alias map: writes it to `aliases.json` (atomic replace, fsynced), then swaps it
   * in. On failure (IO_ERROR) nothing changes. Call inside `exclusive`.
   */
  async commit(next: AliasMap): Promise<void> {
    if (sameMap(next, this.map)) return
    await writeFileAtomic(this.path, encodeAliases(next))
    this.map = new Map(next)
  }

  /**
   * Drops from memory (not from the file) aliases whose collection is not in `known`, returning
   * them: the next commit writes the cleaned map.
   */
  forgetDangling(known: (name: string) => boolean): AliasDescription[] {
    const dangling = describeAliases(this.map).filter((a) => !known(a.collectionName))
    if (dangling.length > 0) {
      const next = new Map(this.map)
      for (const a of dangling) next.delete(a.aliasName)
      this.map = next
    }
    return dangling
  }
}

function sameMap(a: AliasMap, b: AliasMap): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

/** The file's JSON: `{ "format": 1, "aliases": [{ "alias": "docs", "collection": "docs_v1" }, ...] }`, sorted. */
export function encodeAliases(map: AliasMap): string {
  const aliases = describeAliases(map).map((a) => ({ alias: a.aliasName, collection: a.collectionName }))
  return `${JSON.stringify({ format: FORMAT, aliases }, null, 1)}\n`
}

/**
 * Reads an alias list as `encodeAliases` writes it (also the `aliases` of a full snapshot's
 * metadata): every name valid, no alias twice. Throws CORRUPTED naming `source`.
 */
export function decodeAliasList(list: unknown, source: string): Map<string, string> {
  const corrupted = (why: string): never => {
    throw new QuiverError('CORRUPTED', `${source}: ${why}`, { source })
  }
  if (!Array.isArray(list)) corrupted(`expected an array of aliases, got ${describe(list)}`)
  const map = new Map<string, string>()
  for (const [i, e] of (list as unknown[]).entries()) {
    const alias = isPlainObject(e) ? e['alias'] : undefined
    const collection = isPlainObject(e) ? e['collection'] : undefined
    if (typeof alias !== 'string' || typeof collection !== 'string')
      corrupted(`aliases[${i}] is not { alias, collection }`)
    for (const name of [alias, collection] as string[]) {
      try {
        checkCollectionName(name)
      } catch {
        corrupted(`aliases[${i}] holds an invalid name ${JSON.stringify(name)}`)
      }
    }
    if (map.has(alias as string)) corrupted(`alias ${alias} is listed twice`)
    map.set(alias as string, collection as string)
  }
  return map
}

function decodeAliases(bytes: Uint8Array, path: string): Map<string, string> {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (err) {
    throw new QuiverError(
      'CORRUPTED',
      `${path} is not valid JSON (${(err as Error).message}); restore it from a backup, or delete it to open without aliases`,
      { path },
    )
  }
  if (!isPlainObject(doc) || doc['format'] !== FORMAT) {
    throw new QuiverError(
      'CORRUPTED',
      `${path} is not a Quiver alias file of format ${FORMAT}; restore it from a backup, or delete it to open without aliases`,
      { path },
    )
  }
  return decodeAliasList(doc['aliases'], path)
}

/** Removes `.aliases.json.tmp-*` files (`writeFileAtomic` temp files of a write a crash cut short). */
async function removeTempFiles(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw ioError('list', dir, err)
  }
  for (const name of names) {
    if (name.startsWith(`.${ALIASES_FILE}.tmp-`)) await removeFileIfExists(join(dir, name))
  }
}

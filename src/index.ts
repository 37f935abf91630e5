// Public API of the `quiver` package (re-exports only).
export { type CollectionOpenOptions, EmbeddedCollection } from './collection/collection.js'
export type { AliasAction, AliasDescription } from './db/aliases.js'
export { type OpenOptions, type OpenProgress, Quiver } from './db/quiver.js'
export * from './errors.js'
export { comparePointIds, parsePointId } from './point-id.js'
export type { HostedCollection } from './shards/shard-set.js'
export type * from './types.js'

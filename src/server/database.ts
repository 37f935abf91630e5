// The part of `Quiver` (src/db/quiver.ts) the server uses, so routes depend on an interface, not the class.
import type { Collection, CreateCollectionOptions } from '../types.js'

/** Structurally satisfied by `Quiver`; tests may pass a fake. */
export interface ServerDatabase {
  createCollection(name: string, options: CreateCollectionOptions): Promise<Collection>
  getCollection(name: string): Promise<Collection>
  hasCollection(name: string): boolean
  listCollections(): string[]
  deleteCollection(name: string): Promise<boolean>
  /** Collections that failed their checks at open, with the reason (read by /metrics and /telemetry). */
  unavailableCollections?(): ReadonlyMap<string, Error>
}

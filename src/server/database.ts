// The part of `Quiver` (src/db/quiver.ts) the server uses, so routes depend on an interface, not the class.

import type { QueryCacheStats } from '../collection/query-cache.js'
import type { AliasAction, AliasDescription } from '../db/aliases.js'
import type { RecoverOptions, SnapshotInfo } from '../db/snapshots.js'
import type { CatalogStatus } from '../storage/catalog.js'
import type { ClusterOperation, Collection, CollectionUpdate, CreateCollectionOptions } from '../types.js'

/** Snapshot operations of `Quiver` (src/db/quiver.ts) the snapshot routes use; see there for errors. */
export interface SnapshotDatabase {
  createSnapshot(collection: string): Promise<SnapshotInfo>
  listSnapshots(collection: string): Promise<SnapshotInfo[]>
  snapshotPath(collection: string, name: string): Promise<string>
  deleteSnapshot(collection: string, name: string): Promise<true>
  recoverSnapshot(collection: string, source: string, options?: RecoverOptions): Promise<void>
  createFullSnapshot(): Promise<SnapshotInfo>
  listFullSnapshots(): Promise<SnapshotInfo[]>
  fullSnapshotPath(name: string): Promise<string>
  deleteFullSnapshot(name: string): Promise<true>
  /** A fresh temp path for a snapshot being received; the caller removes it. */
  incomingSnapshotPath(): Promise<string>
  /** Directory whose files `file://` recover locations may name. */
  readonly snapshotsDir: string
}

/** Alias operations of `Quiver` (src/db/quiver.ts) the alias routes use; see there for errors. */
export interface AliasDatabase {
  updateAliases(actions: readonly AliasAction[]): Promise<true>
  listAliases(): AliasDescription[]
  collectionAliases(name: string): AliasDescription[]
}

/** Whether a database serves yet; `reason` says what it is still doing (`/readyz` answers it with 503). */
export type Readiness = { ready: true } | { ready: false; reason: string }

/**
 * Structurally satisfied by `Quiver`; tests may pass a fake (without the snapshot or alias methods,
 * whose routes are then not registered). `getCollection` and `hasCollection` resolve aliases.
 */
export interface ServerDatabase extends Partial<SnapshotDatabase>, Partial<AliasDatabase> {
  createCollection(name: string, options: CreateCollectionOptions): Promise<Collection>
  getCollection(name: string): Promise<Collection>
  hasCollection(name: string): boolean
  listCollections(): string[]
  deleteCollection(name: string): Promise<boolean>
  /** Collections that failed their checks at open, with the reason (read by /metrics and /telemetry). */
  unavailableCollections?(): ReadonlyMap<string, Error>
  /**
   * The data directory (absolute). Error messages sent to clients name files relative to it and
   * never show it (`redactDataDir`).
   */
  readonly dir?: string
  /** The query-result cache's budget, holdings and evictions (Quiver.queryCacheStats); absent: no cache metrics. */
  queryCacheStats?(): QueryCacheStats | undefined
  /** Absent: always ready (an open `Quiver`). `serve` passes a database that is not ready while it loads. */
  readiness?(): Readiness
  /** Cluster mode: the live nodes and the controller (Quiver.clusterStatus); undefined or absent: one node. */
  clusterStatus?(): Promise<CatalogStatus | undefined>
  /** Cluster mode: settles once this node holds every collection the cluster had when called (Quiver.syncCatalog). */
  syncCatalog?(): Promise<void>
  /** Changes a collection's parameters (Quiver.updateCollection, which checks them against the cluster's placement); absent: the collection's own `updateConfig`. */
  updateCollection?(name: string, update: CollectionUpdate): Promise<unknown>
  /** Cluster mode: replicates, moves or drops a replica of a shard (Quiver.updateCollectionCluster). */
  updateCollectionCluster?(name: string, operation: ClusterOperation): Promise<true>
  /** Cluster mode: the nodes hosting each shard of a collection (Quiver.shardPlacement); undefined: every node hosts every shard. */
  shardPlacement?(name: string): Promise<readonly (readonly string[])[] | undefined>
}

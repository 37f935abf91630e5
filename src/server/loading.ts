// The database of a server that listens before its data directory is loaded (`serve`): until
// `resolve(db)` every call throws NOT_READY (503) and `/readyz` says why; afterwards it delegates.
import type { QueryCacheStats } from '../collection/query-cache.js'
import type { AliasAction, AliasDescription } from '../db/aliases.js'
import type { OpenProgress, Quiver } from '../db/quiver.js'
import { fullSnapshotsDir, type RecoverOptions, type SnapshotInfo } from '../db/snapshots.js'
import { QuiverError } from '../errors.js'
import type { CatalogStatus } from '../storage/catalog.js'
import type { ClusterOperation, Collection, CollectionUpdate, CreateCollectionOptions } from '../types.js'
import type { AliasDatabase, Readiness, ServerDatabase, SnapshotDatabase } from './database.js'

export class LoadingDatabase implements ServerDatabase, SnapshotDatabase, AliasDatabase {
  private db: Quiver | undefined
  private progress: OpenProgress | undefined
  /** Where the snapshot routes may read `file://` recover locations: `<dataDir>/snapshots`. */
  readonly snapshotsDir: string
  /** The data directory being loaded (absolute). */
  readonly dir: string

  constructor(dataDir: string) {
    this.dir = dataDir
    this.snapshotsDir = fullSnapshotsDir(dataDir)
  }

  /** Records `Quiver.open`'s progress for `/readyz` and the NOT_READY message. */
  setProgress(progress: OpenProgress): void {
    this.progress = progress
  }

  /** The database is loaded: from now on every call goes to it. */
  resolve(db: Quiver): void {
    this.db = db
  }

  /** What is still loading, e.g. `loading data directory: 3/10 collections`. */
  loadingStatus(): string {
    const p = this.progress
    return p === undefined
      ? 'loading data directory'
      : `loading data directory: ${p.loaded}/${p.total} collections`
  }

  readiness(): Readiness {
    return this.db === undefined ? { ready: false, reason: this.loadingStatus() } : { ready: true }
  }

  /** The loaded database; throws NOT_READY while loading. */
  private get loaded(): Quiver {
    if (this.db !== undefined) return this.db
    throw new QuiverError(
      'NOT_READY',
      `the server is ${this.loadingStatus()}; retry once GET /readyz answers 200`,
      this.progress === undefined ? {} : { loaded: this.progress.loaded, total: this.progress.total },
    )
  }

  async createCollection(name: string, options: CreateCollectionOptions): Promise<Collection> {
    return this.loaded.createCollection(name, options)
  }
  async getCollection(name: string): Promise<Collection> {
    return this.loaded.getCollection(name)
  }
  hasCollection(name: string): boolean {
    return this.loaded.hasCollection(name)
  }
  listCollections(): string[] {
    return this.loaded.listCollections()
  }
  async deleteCollection(name: string): Promise<boolean> {
    return this.loaded.deleteCollection(name)
  }
  unavailableCollections(): ReadonlyMap<string, Error> {
    return this.loaded.unavailableCollections()
  }
  async clusterStatus(): Promise<CatalogStatus | undefined> {
    return this.loaded.clusterStatus()
  }
  async syncCatalog(): Promise<void> {
    return this.loaded.syncCatalog()
  }
  async updateCollection(name: string, update: CollectionUpdate): Promise<unknown> {
    return this.loaded.updateCollection(name, update)
  }
  async updateCollectionCluster(name: string, operation: ClusterOperation): Promise<true> {
    return this.loaded.updateCollectionCluster(name, operation)
  }
  async shardPlacement(name: string): Promise<readonly (readonly string[])[] | undefined> {
    return this.loaded.shardPlacement(name)
  }
  /** While loading: undefined (no cache yet to report). */
  queryCacheStats(): QueryCacheStats | undefined {
    return this.db?.queryCacheStats()
  }
  async updateAliases(actions: readonly AliasAction[]): Promise<true> {
    return this.loaded.updateAliases(actions)
  }
  listAliases(): AliasDescription[] {
    return this.loaded.listAliases()
  }
  collectionAliases(name: string): AliasDescription[] {
    return this.loaded.collectionAliases(name)
  }
  async createSnapshot(collection: string): Promise<SnapshotInfo> {
    return this.loaded.createSnapshot(collection)
  }
  async listSnapshots(collection: string): Promise<SnapshotInfo[]> {
    return this.loaded.listSnapshots(collection)
  }
  async snapshotPath(collection: string, name: string): Promise<string> {
    return this.loaded.snapshotPath(collection, name)
  }
  async deleteSnapshot(collection: string, name: string): Promise<true> {
    return this.loaded.deleteSnapshot(collection, name)
  }
  async recoverSnapshot(collection: string, source: string, options?: RecoverOptions): Promise<void> {
    return this.loaded.recoverSnapshot(collection, source, options)
  }
  async createFullSnapshot(): Promise<SnapshotInfo> {
    return this.loaded.createFullSnapshot()
  }
  async listFullSnapshots(): Promise<SnapshotInfo[]> {
    return this.loaded.listFullSnapshots()
  }
  async fullSnapshotPath(name: string): Promise<string> {
    return this.loaded.fullSnapshotPath(name)
  }
  async deleteFullSnapshot(name: string): Promise<true> {
    return this.loaded.deleteFullSnapshot(name)
  }
  async incomingSnapshotPath(): Promise<string> {
    return this.loaded.incomingSnapshotPath()
  }
}

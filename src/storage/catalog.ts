// The cluster catalog seam (docs/cluster.md "Nodes"): which collections the cluster has, which
// nodes are alive, which of them is the controller. `Quiver` uses it when opened with one
// (`OpenOptions.catalog`); the implementation lives above (src/cluster/catalog.ts, a JetStream KV
// bucket), so the database layer does not depend on NATS.
import { createHash } from 'node:crypto'

/** Qdrant's numeric peer id of a node: 48 bits of SHA-256 of its id (stable; never 0). */
export function peerIdOf(nodeId: string): number {
  const h = createHash('sha256').update(nodeId).digest()
  return h.readUIntBE(0, 6) || 1
}

/** A collection as the catalog records it. */
export interface CatalogEntry {
  /** The ids of its shards' shared logs, shard 0 first. */
  readonly logIds: readonly string[]
  /**
   * The nodes hosting each shard (`placement[i]`: shard i's replicas, node ids), as chosen at
   * create from the live nodes and `replication_factor`; absent: every node hosts every shard
   * (a collection created without `replication_factor`, or by a release before placement).
   */
  readonly placement?: readonly (readonly string[])[]
}

/** A node of the cluster as its latest heartbeat described it. */
export interface CatalogPeer {
  /** The node id it was started with (`--node-id`). */
  readonly nodeId: string
  /** Qdrant's numeric peer id, derived from `nodeId` (stable across restarts). */
  readonly peerId: number
  /** Where its REST API listens (`http://host:port`), if it serves one. */
  readonly uri: string | undefined
  /** Milliseconds since its last heartbeat. */
  readonly seenAgoMs: number
  /**
   * False while it still loads its data directory: it is alive (its replicas are not re-placed)
   * but takes no new replicas and no controller lease. Absent (older nodes): ready.
   */
  readonly ready?: boolean
}

/** What `ClusterCatalog.status` reports. */
export interface CatalogStatus {
  /** This node. */
  readonly self: CatalogPeer
  /** Every node whose heartbeat is recent (this one included), by node id. */
  readonly peers: readonly CatalogPeer[]
  /** The node holding the controller lease, if any does. */
  readonly controller: string | undefined
  /** The lease's term: how many times it changed hands. */
  readonly term: number
}

/** The catalog of a cluster, as one node sees it. */
export interface ClusterCatalog {
  /** This node's id. */
  readonly nodeId: string
  /** The live nodes that have loaded their data and take replicas (as of the last heartbeat round); absent: every live node. */
  readyNodes?(): ReadonlySet<string>
  /** Records `name`; throws COLLECTION_EXISTS if the catalog has it already (atomic: one creator wins). */
  register(name: string, entry: CatalogEntry): Promise<void>
  /** Removes `name`; resolves false if the catalog did not have it. */
  unregister(name: string): Promise<boolean>
  /**
   * Replaces the entry of `name` with `change(current)`, atomically (compare-and-set on the entry
   * as read; redone on a concurrent change). Throws COLLECTION_NOT_FOUND, what `change` throws,
   * LOG_UNAVAILABLE.
   */
  update(name: string, change: (entry: CatalogEntry) => CatalogEntry): Promise<CatalogEntry>
  /** The entry of `name` now, undefined if the catalog has none. */
  get(name: string): Promise<CatalogEntry | undefined>
  /** Every collection the catalog has now. */
  list(): Promise<Map<string, CatalogEntry>>
  /**
   * Calls `onChange(name)` for every later change to a collection's entry (created, dropped,
   * replaced), in order, awaiting each call, until the catalog closes. The caller reads the current
   * entry itself (`get`), so a missed or merged change does no harm. Resolves once watching: a
   * change made after that is reported.
   */
  watch(onChange: (name: string) => Promise<void>): Promise<void>
  /** The cluster's aliases (alias name -> collection name); undefined while none were ever recorded. */
  aliases(): Promise<ReadonlyMap<string, string> | undefined>
  /**
   * Replaces the aliases with `change(current)` (empty when none were recorded), atomically
   * (compare-and-set; redone on a concurrent change), and resolves with them. Throws what `change`
   * throws, LOG_UNAVAILABLE.
   */
  updateAliases(
    change: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string>,
  ): Promise<ReadonlyMap<string, string>>
  /** Calls `onChange()` after every later change of the aliases, awaiting each, until the catalog closes. */
  watchAliases(onChange: () => Promise<void>): Promise<void>
  /** The live nodes and the controller. */
  status(): Promise<CatalogStatus>
  /** The live nodes (this one included) as of the last heartbeat round: no request, never stale by more than a heartbeat. */
  liveNodes(): ReadonlySet<string>
  /** Stops the watch and the heartbeats (the node leaves the peer list once its heartbeat ages). */
  close(): Promise<void>
}

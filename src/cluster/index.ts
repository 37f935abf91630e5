// Public API of `quiver/cluster` (re-exports only): the distributed mode's pieces (docs/cluster.md).

export type {
  CatalogEntry,
  CatalogPeer,
  CatalogStatus,
  ClusterCatalog,
} from '../storage/catalog.js'
export type {
  LogRecord,
  OpenOperationLog,
  OperationLog,
  OperationLogOptions,
} from '../storage/operation-log.js'
export type { LogState, ShardSnapshotInfo, ShardSnapshotStore } from '../storage/shard-snapshots.js'
export type { Served, ShardTransport, TransportFailure } from '../storage/transport.js'
export { TransportError } from '../storage/transport.js'
export { type CatalogOptions, type NodeCatalog, openCatalog, peerIdOf } from './catalog.js'
export {
  connectJetStreamLogs,
  type JetStreamLogOptions,
  type JetStreamLogs,
} from './jetstream-log.js'
export { openSnapshotStore, type SnapshotStoreOptions } from './snapshot-store.js'
export { natsTransport } from './transport.js'

// Public API of `quiver/cluster` (re-exports only): the distributed mode's pieces (docs/cluster.md).

export type {
  LogRecord,
  OpenOperationLog,
  OperationLog,
  OperationLogOptions,
} from '../storage/operation-log.js'
export {
  connectJetStreamLogs,
  type JetStreamLogOptions,
  type JetStreamLogs,
} from './jetstream-log.js'

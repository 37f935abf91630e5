// Helpers of the cluster suites: `quiver serve --cluster` processes driven with the Qdrant client,
// and cluster nodes opened in the test's own process.
import type { QdrantClient } from '@qdrant/js-client-rest'
import { type NodeCatalog, openCatalog } from '../../src/cluster/catalog.js'
import { connectJetStreamLogs, type JetStreamLogs } from '../../src/cluster/jetstream-log.js'
import { openSnapshotStore } from '../../src/cluster/snapshot-store.js'
import { natsTransport } from '../../src/cluster/transport.js'
import type { QuiverLogger } from '../../src/collection/collection.js'
import type { ShardSnapshotPolicy } from '../../src/db/shard-snapshots.js'
import { Quiver } from '../../src/index.js'
import type { ShardSnapshotStore } from '../../src/storage/shard-snapshots.js'
import type { CliProcess } from './cli.js'

/** A `quiver serve --cluster` child process and a Qdrant client on it. */
export interface QuiverNode {
  nodeId: string
  dir: string
  proc: CliProcess
  url: string
  client: QdrantClient
}

/** A deterministic vector in [-1, 1)^dim for `seed` (`salt` separates the suites' data). */
export function seededVector(seed: number, dim: number, salt: number): number[] {
  let s = (seed * 2654435761 + salt) % 2147483648
  return Array.from({ length: dim }, () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * 2 - 1
  })
}

/** Every point id collection `name` holds on `node` (scrolled in pages of 1000). */
export async function idsOn(node: QuiverNode, name: string): Promise<Set<number>> {
  const out = new Set<number>()
  let offset: number | string | null | undefined
  do {
    const page = await node.client.scroll(name, {
      limit: 1000,
      with_payload: false,
      ...(offset == null ? {} : { offset }),
    })
    for (const p of page.points) out.add(p.id as number)
    offset = page.next_page_offset as number | string | null | undefined
  } while (offset != null)
  return out
}

/** A `Quiver` cluster node in this process: its database over shared JetStream logs, catalog and (optionally) transport. */
export interface InProcessNode {
  id: string
  dir: string
  db: Quiver
  logs: JetStreamLogs
  catalog: NodeCatalog
  /** The shard snapshot store (undefined with `snapshots: false`). */
  snapshots: ShardSnapshotStore | undefined
  /** Closes the database, then the catalog and the NATS connection; idempotent. */
  close(): Promise<void>
}

/**
 * Opens node `id` on `dir` against nats-server `natsUrl` (heartbeats every 200 ms). `transport`:
 * give it a NATS transport (placed collections; default true); `rebalance`: its controller
 * (default false, so a suite's placements stay as it made them); `snapshots`: a shard snapshot
 * store in the Object Store (default true, as `quiver serve --cluster`), taking snapshots by
 * `shardSnapshots`; `logger`: the database's.
 */
export async function openInProcessNode(
  natsUrl: string,
  id: string,
  dir: string,
  {
    transport = true,
    rebalance = false,
    snapshots: withSnapshots = true,
    shardSnapshots,
    logger,
  }: {
    transport?: boolean
    rebalance?: boolean
    snapshots?: boolean
    shardSnapshots?: ShardSnapshotPolicy
    logger?: QuiverLogger
  } = {},
): Promise<InProcessNode> {
  const logs = await connectJetStreamLogs({ servers: [natsUrl], shared: true })
  const catalog = await openCatalog(logs, { nodeId: id, uri: `http://127.0.0.1/${id}`, heartbeatMs: 200 })
  const snapshots = withSnapshots ? await openSnapshotStore(logs) : undefined
  const db = await Quiver.open(dir, {
    openLog: logs.openLog,
    catalog,
    threads: 0,
    rebalance,
    ...(transport ? { transport: natsTransport(logs.connection, catalog) } : {}),
    ...(snapshots === undefined ? {} : { snapshots }),
    ...(shardSnapshots === undefined ? {} : { shardSnapshots }),
    ...(logger === undefined ? {} : { logger }),
  })
  let closed = false
  return {
    id,
    dir,
    db,
    logs,
    catalog,
    snapshots,
    close: async () => {
      if (closed) return
      closed = true
      await db.close()
      await catalog.close()
      await logs.close()
    },
  }
}

// `quiver serve`: runs the HTTP server (Qdrant REST API) until SIGINT / SIGTERM.
import { resolve } from 'node:path'
import { UsageError } from './args.js'
import { type ServeSecurityFlags, serveSecurityOptions } from './serve-security.js'

export interface ServeCommandOptions extends ServeSecurityFlags {
  data: string
  host: string
  port: number
  logLevel: string
  /** Worker threads of the core pool (0: none); default one per CPU or QUIVER_THREADS. */
  threads?: number
  /** Query-result cache budget in MiB (0: off); default QUIVER__QUERY_CACHE_MB, else 32. */
  queryCacheMb?: number
  /** Fraction of searches re-run exactly for the recall estimate; default 0.01. */
  recallSampleRate?: number
  /** GET /health thresholds; defaults 0.9 and 100 ms. */
  healthMinRecall?: number
  healthMaxP99Ms?: number
  /** Cluster mode: comma-separated NATS URLs (else QUIVER__CLUSTER__URL). */
  cluster?: string
  /** Cluster mode: this node's id (else QUIVER__CLUSTER__NODE_ID). */
  nodeId?: string
  /** Cluster mode: copies NATS keeps of each stream (1, 3, 5; else QUIVER__CLUSTER__REPLICAS). */
  clusterReplicas?: number
  /** Cluster mode: the read barrier's longest wait in ms (0: off). Default 1000. */
  readBarrierMs?: number
  /** Cluster mode: false (`--no-rebalance`): this node's controller moves no shards. Default true. */
  rebalance?: boolean
  /** Cluster mode: log records between two shard snapshots (0: none, the logs keep every record). Default 10000. */
  shardSnapshotRecords?: number
}

/** The environment variables the cluster flags fall back to. */
export const CLUSTER_URL_ENV = 'QUIVER__CLUSTER__URL'
export const CLUSTER_NODE_ID_ENV = 'QUIVER__CLUSTER__NODE_ID'
export const CLUSTER_REPLICAS_ENV = 'QUIVER__CLUSTER__REPLICAS'

/**
 * `--cluster` / `--node-id` / `--cluster-replicas`, else their environment variables, as
 * `serve`'s cluster options; undefined without a cluster URL. Throws UsageError for a bad value.
 */
export function clusterOptions(
  opts: Pick<
    ServeCommandOptions,
    'cluster' | 'nodeId' | 'clusterReplicas' | 'readBarrierMs' | 'rebalance' | 'shardSnapshotRecords'
  >,
  env: NodeJS.ProcessEnv = process.env,
):
  | {
      servers: string[]
      nodeId: string
      replicas?: number
      readBarrierMs?: number
      rebalance?: boolean
      shardSnapshotRecords?: number
    }
  | undefined {
  const url = opts.cluster ?? (env[CLUSTER_URL_ENV] || undefined)
  const nodeId = opts.nodeId ?? (env[CLUSTER_NODE_ID_ENV] || undefined)
  if (url === undefined) {
    if (
      opts.nodeId !== undefined ||
      opts.clusterReplicas !== undefined ||
      opts.readBarrierMs !== undefined ||
      opts.rebalance === false ||
      opts.shardSnapshotRecords !== undefined
    )
      throw new UsageError(
        `--node-id, --cluster-replicas, --read-barrier-ms, --no-rebalance and --shard-snapshot-records need --cluster (or ${CLUSTER_URL_ENV})`,
      )
    return undefined
  }
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (servers.length === 0)
    throw new UsageError('--cluster needs at least one NATS URL, e.g. nats://127.0.0.1:4222')
  for (const s of servers)
    if (!/^(nats|tls|wss?):\/\/[^\s/]+$|^[^\s:/]+:\d+$/.test(s))
      throw new UsageError(`--cluster: ${JSON.stringify(s)} is not a NATS URL (nats://host:port)`)
  if (nodeId === undefined)
    throw new UsageError(`--cluster needs --node-id <id> (or ${CLUSTER_NODE_ID_ENV}), unique in the cluster`)
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId))
    throw new UsageError(`--node-id must be 1..64 letters, digits, _ or -, got ${JSON.stringify(nodeId)}`)
  let replicas = opts.clusterReplicas
  const envReplicas = env[CLUSTER_REPLICAS_ENV]
  if (replicas === undefined && envReplicas !== undefined && envReplicas !== '')
    replicas = Number(envReplicas)
  if (replicas !== undefined && ![1, 3, 5].includes(replicas))
    throw new UsageError(`--cluster-replicas must be 1, 3 or 5, got ${replicas}`)
  if (opts.readBarrierMs !== undefined && opts.readBarrierMs > 60_000)
    throw new UsageError(`--read-barrier-ms ${opts.readBarrierMs} is out of range (0..60000)`)
  return {
    servers,
    nodeId,
    ...(replicas === undefined ? {} : { replicas }),
    ...(opts.readBarrierMs === undefined ? {} : { readBarrierMs: opts.readBarrierMs }),
    ...(opts.rebalance === false ? { rebalance: false } : {}),
    ...(opts.shardSnapshotRecords === undefined ? {} : { shardSnapshotRecords: opts.shardSnapshotRecords }),
  }
}

/** The environment variable `--query-cache-mb` falls back to. */
export const QUERY_CACHE_ENV = 'QUIVER__QUERY_CACHE_MB'

/** `--query-cache-mb`, else QUIVER__QUERY_CACHE_MB, in bytes; undefined: the default. Throws UsageError for a bad value. */
export function queryCacheBytes(
  flag: number | undefined,
  env = process.env[QUERY_CACHE_ENV],
): number | undefined {
  let mb = flag
  if (mb === undefined && env !== undefined && env !== '') {
    if (!/^\d{1,7}$/.test(env.trim()))
      throw new UsageError(`${QUERY_CACHE_ENV} must be a whole number of MiB (0 = off), got "${env}"`)
    mb = Number(env.trim())
  }
  if (mb === undefined) return undefined
  if (mb > 1_048_576)
    throw new UsageError(
      `${flag === undefined ? QUERY_CACHE_ENV : '--query-cache-mb'} ${mb} is out of range (0..1048576)`,
    )
  return mb * 1024 * 1024
}

/**
 * Starts the server on `host:port` over the data directory and resolves once it has shut down
 * after SIGINT or SIGTERM (a second signal exits at once with code 130).
 * Throws what `serve` throws (DIRECTORY_LOCKED, the listen error such as EADDRINUSE, ...).
 */
export async function runServe(
  opts: ServeCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const { serve } = await import('../server/index.js')

  const dataDir = resolve(opts.data)
  const cacheBytes = queryCacheBytes(opts.queryCacheMb)
  const cluster = clusterOptions(opts)
  const server = await serve({
    ...serveSecurityOptions(opts),
    dataDir,
    host: opts.host,
    port: opts.port,
    logLevel: opts.logLevel,
    handleSignals: false,
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    ...(cacheBytes === undefined ? {} : { queryCacheBytes: cacheBytes }),
    ...(opts.recallSampleRate === undefined ? {} : { recallSampleRate: opts.recallSampleRate }),
    ...(cluster === undefined ? {} : { cluster }),
    health: {
      ...(opts.healthMinRecall === undefined ? {} : { minRecall: opts.healthMinRecall }),
      ...(opts.healthMaxP99Ms === undefined ? {} : { maxP99Ms: opts.healthMaxP99Ms }),
    },
  })
  out.write(
    `Quiver listening on ${server.address} (data: ${dataDir}${cluster === undefined ? '' : `; cluster node ${cluster.nodeId} over ${cluster.servers.join(',')}`})\n`,
  )
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGINT', () => done('SIGINT'))
    process.once('SIGTERM', () => done('SIGTERM'))
  })
  const again = (): void => process.exit(130)
  process.once('SIGINT', again)
  process.once('SIGTERM', again)
  out.write(`${signal}: shutting down\n`)
  await server.close()
  process.off('SIGINT', again)
  process.off('SIGTERM', again)
}

// Public entry of `quiver/server`: `buildServer` (a Fastify app over an open database) and `serve`
// (open a data directory, listen, close everything on SIGINT/SIGTERM or `close()`).
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { type NodeCatalog, openCatalog } from '../cluster/catalog.js'
import { connectJetStreamLogs, type JetStreamLogs } from '../cluster/jetstream-log.js'
import { openSnapshotStore } from '../cluster/snapshot-store.js'
import { natsTransport } from '../cluster/transport.js'
import { type OpenOptions, type OpenProgress, Quiver } from '../db/quiver.js'
import type { ShardSnapshotStore } from '../storage/shard-snapshots.js'
import { buildServer } from './app.js'
import type { ServerLimits } from './limits.js'
import { LoadingDatabase } from './loading.js'
import { createLogger } from './logging.js'
import type { HealthThresholds } from './routes/health.js'
import type { SecurityOptions } from './security.js'
import { snapshotUrlPolicy } from './snapshot-url.js'

export { type BuildServerOptions, buildServer, DEFAULT_BODY_LIMIT, type ServerDatabase } from './app.js'
export type { Readiness } from './database.js'
export { ERROR_CODE_HEADER, HTTP_STATUS_BY_KIND } from './errors.js'
export { DEFAULT_LIMITS, type ServerLimits } from './limits.js'
export { createLogger, REQUEST_ID_HEADER } from './logging.js'
export { ServerMetrics } from './metrics.js'
export { QDRANT_API_VERSION } from './routes/service.js'
export type { SecurityOptions, TlsOptions } from './security.js'

export interface ServeOptions {
  /** Data directory; created if missing. Loaded after the server listens (see `serve`). */
  dataDir: string
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string
  /** TCP port; 0 picks a free one. Default 6333 (Qdrant's). */
  port?: number
  /** pino level: `fatal` | `error` | `warn` | `info` | `debug` | `trace` | `silent`. Default `info`. */
  logLevel?: string
  /** Largest accepted request body in bytes. Default 32 MiB. */
  bodyLimit?: number
  /** API keys, JWT, CORS, TLS (with `tls` the URL is `https://`). Default: none. */
  security?: SecurityOptions
  /** Request limits; unset ones take `DEFAULT_LIMITS`. */
  limits?: Partial<ServerLimits>
  /** Where the JSON log lines go (pino destination). Default stdout. */
  logDestination?: DestinationStream
  /**
   * Install SIGINT/SIGTERM handlers that close the server and the database (the process then
   * exits once nothing else keeps it alive). Default true.
   */
  handleSignals?: boolean
  /** Worker threads of the core pool (`Quiver.open`'s `threads`); default one per CPU. */
  threads?: number
  /** Query-result cache budget in bytes (`Quiver.open`'s `queryCacheBytes`; 0 = off). Default 32 MiB. */
  queryCacheBytes?: number
  /** Fraction of searches re-run exactly for the live recall estimate (`Quiver.open`'s `recallSampleRate`). Default 0.01. */
  recallSampleRate?: number
  /** Share of one core the recall estimate's exact re-runs may take (`Quiver.open`'s `recallCpuShare`). Default 0.05. */
  recallCpuShare?: number
  /** Thresholds of `GET /health`: recall estimate below `minRecall` (0.9), search p99 above `maxP99Ms` (100). */
  health?: Partial<HealthThresholds>
  /** Hosts snapshot recovery may fetch from besides loopback (`buildServer`'s `snapshotUrlAllow`). */
  snapshotUrlAllow?: readonly string[]
  /**
   * Called while the data directory loads (the server already listens): with `loaded: 0` once the
   * collections are counted, then after each one. Awaited: the load goes on when it returns.
   */
  onLoadProgress?: (progress: OpenProgress) => void | Promise<void>
  /**
   * Cluster mode (docs/cluster.md "Nodes"): this node's NATS servers and id. Its collections' logs
   * are shared JetStream streams and the cluster catalog a KV bucket there, so every node serves
   * every collection. Absent: the single-node server (local WALs).
   */
  cluster?: ClusterServeOptions
}

/** `ServeOptions.cluster`. */
export interface ClusterServeOptions {
  /** NATS URLs, e.g. `['nats://127.0.0.1:4222']`. */
  servers: readonly string[]
  /** This node's id (1..64 letters, digits, `_`, `-`), unique in the cluster and kept across restarts. */
  nodeId: string
  /** Copies NATS keeps of each stream and of the catalog: 1, 3 or 5 (nats-servers in the cluster). Default 1. */
  replicas?: number
  /** Milliseconds between heartbeats; a node is dead after three missed ones. Default 1000. */
  heartbeatMs?: number
  /** The longest a read waits to catch up with the logs (`Quiver.open`'s `readBarrierMs`). Default 1000. */
  readBarrierMs?: number
  /** false: this node's controller moves no shards (`Quiver.open`'s `rebalance`). Default true. */
  rebalance?: boolean
  /** Log records between two shard snapshots (`Quiver.open`'s `shardSnapshots.everyRecords`); 0: no snapshots. Default 10000. */
  shardSnapshotRecords?: number
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:6333`. */
  url: string
  /** Same as `url`. */
  address: string
  /** The bound port (useful with `port: 0`). */
  port: number
  app: FastifyInstance
  db: Quiver
  /** Stops accepting requests, waits for in-flight ones, then closes the database. Idempotent. */
  close(): Promise<void>
}

/** Progress lines while a data directory loads: the first after this long, then at most one per interval (ms). */
const LOAD_PROGRESS_INTERVAL_MS = 1000

/**
 * Takes the lock of `dataDir`, listens on `host:port`, then loads the directory (`Quiver.open`) and
 * resolves once it is loaded. While it loads, `/healthz` and `/livez` answer 200, `/readyz` answers 503, every other
 * endpoint 503 `NOT_READY`, and a load that takes more than a second is logged about once a second
 * (collections loaded / total). The database is closed when the server closes (SIGINT/SIGTERM or
 * `close()`). Throws the listen error (EADDRINUSE), or what `Quiver.open` throws (DIRECTORY_LOCKED
 * if another process holds the directory, CORRUPTED, IO_ERROR) after closing the server again.
 * @example
 * const server = await serve({ dataDir: './data', port: 6333 })
 * // ... later
 * await server.close()
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  // one logger for the database (from its first line at open: corrupt collections) and the server
  const logger = createLogger({
    level: options.logLevel ?? 'info',
    ...(options.logDestination && { destination: options.logDestination }),
  })
  // a bad entry fails before the data directory is locked
  snapshotUrlPolicy(options.snapshotUrlAllow)
  const dataDir = resolve(options.dataDir)
  const loading = new LoadingDatabase(dataDir)
  const buildOptions: Parameters<typeof buildServer>[0] = { db: loading, loggerInstance: logger }
  if (options.bodyLimit !== undefined) buildOptions.bodyLimit = options.bodyLimit
  if (options.security !== undefined) buildOptions.security = options.security
  if (options.limits !== undefined) buildOptions.limits = options.limits
  if (options.snapshotUrlAllow !== undefined) buildOptions.snapshotUrlAllow = options.snapshotUrlAllow
  if (options.health !== undefined) buildOptions.health = options.health
  const app = buildServer(buildOptions)
  let db: Quiver | undefined
  let cluster:
    | { logs: JetStreamLogs; catalog: NodeCatalog; snapshots: ShardSnapshotStore | undefined }
    | undefined
  let advertised: string | undefined
  app.addHook('onClose', async () => {
    // every step runs whatever the one before did (NATS away: the connection must still close,
    // or its reconnecting keeps the process alive); the first failure is reported
    let failed: unknown
    const step = async (f: () => Promise<void> | undefined) => {
      try {
        await f()
      } catch (err) {
        failed ??= err
      }
    }
    await step(() => db?.close())
    await step(() => cluster?.catalog.close())
    await step(() => cluster?.logs.close())
    if (failed !== undefined) throw failed
  })
  if (options.cluster !== undefined) {
    const c = options.cluster
    const logs = await connectJetStreamLogs({
      servers: c.servers,
      shared: true,
      ...(c.replicas === undefined ? {} : { replicas: c.replicas }),
    }).catch(async (err: unknown) => {
      await app.close()
      throw err
    })
    try {
      const catalog = await openCatalog(logs, {
        nodeId: c.nodeId,
        uri: () => advertised,
        // alive from the start, taking replicas once its data directory is loaded
        ready: () => db !== undefined,
        ...(c.heartbeatMs === undefined ? {} : { heartbeatMs: c.heartbeatMs }),
        ...(c.replicas === undefined ? {} : { replicas: c.replicas }),
      })
      const snapshots =
        c.shardSnapshotRecords === 0
          ? undefined
          : await openSnapshotStore(logs, c.replicas === undefined ? {} : { replicas: c.replicas }).catch(
              async (err: unknown) => {
                await catalog.close()
                throw err
              },
            )
      cluster = { logs, catalog, snapshots }
    } catch (err) {
      await logs.close()
      await app.close()
      throw err
    }
    logger.info(
      { nodeId: c.nodeId, nats: c.servers },
      `cluster mode: node ${c.nodeId} over NATS ${c.servers.join(', ')}`,
    )
  }
  const scheme = options.security?.tls === undefined ? 'http' : 'https'
  const listen = async (): Promise<void> => {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 6333 })
    const a = app.server.address()
    // a wildcard address is where it listens, not where peers reach it: the machine's name then
    const bound = options.host ?? '127.0.0.1'
    const h = bound === '0.0.0.0' || bound === '::' || bound === '' ? hostname() : bound
    if (typeof a === 'object' && a !== null)
      advertised = `${scheme}://${h.includes(':') ? `[${h}]` : h}:${a.port}`
    // peers learn where this node listens at once, not at the next heartbeat
    await cluster?.catalog.announce()
  }
  const clusterOpen =
    cluster === undefined
      ? {}
      : {
          openLog: cluster.logs.openLog,
          catalog: cluster.catalog,
          transport: natsTransport(cluster.logs.connection, cluster.catalog),
          ...(options.cluster?.rebalance === false ? { rebalance: false } : {}),
          ...(cluster.snapshots === undefined
            ? {}
            : {
                snapshots: cluster.snapshots,
                ...(options.cluster?.shardSnapshotRecords === undefined
                  ? {}
                  : { shardSnapshots: { everyRecords: options.cluster.shardSnapshotRecords } }),
              }),
          ...(options.cluster?.readBarrierMs === undefined
            ? {}
            : { readBarrierMs: options.cluster.readBarrierMs }),
        }
  db = await loadDatabase(dataDir, loading, logger, { ...options, ...clusterOpen }, listen).catch(
    async (err: unknown) => {
      await app.close()
      throw err
    },
  )
  // peers learn at once that it takes replicas now (else at the next heartbeat)
  await cluster?.catalog.announce().catch(() => undefined)
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 6333)
  const host = options.host ?? '127.0.0.1'
  const urlHost = host.includes(':') ? `[${host}]` : host

  let closing: Promise<void> | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    app.log.info({ signal }, 'shutting down')
    close().catch((err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exitCode = 1
    })
  }
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await app.close()
    })()
    return closing
  }
  if (options.handleSignals ?? true) {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  const url = `${scheme}://${urlHost}:${port}`
  return { url, address: url, port, app, db, close }
}

/**
 * `Quiver.open` for a server: `listen` runs once the lock is held, then one line says the directory
 * is loading; progress goes to `loading` (for `/readyz`) and, from the first second on, to the log
 * once per second (lines with `elapsedMs`); `ready` is logged with the time taken.
 */
async function loadDatabase(
  dataDir: string,
  loading: LoadingDatabase,
  logger: FastifyBaseLogger,
  options: Pick<
    ServeOptions,
    'threads' | 'onLoadProgress' | 'queryCacheBytes' | 'recallSampleRate' | 'recallCpuShare'
  > &
    Pick<OpenOptions, 'openLog' | 'catalog' | 'readBarrierMs' | 'transport' | 'rebalance'>,
  listen: () => Promise<void>,
): Promise<Quiver> {
  let started = performance.now()
  let progress: OpenProgress | undefined
  let tick: NodeJS.Timeout | undefined
  const report = (): void => {
    const elapsedMs = Math.round(performance.now() - started)
    logger.info(
      { dataDir, loaded: progress?.loaded, total: progress?.total, elapsedMs },
      `${loading.loadingStatus()} (${dataDir}, ${(elapsedMs / 1000).toFixed(1)} s so far)`,
    )
  }
  try {
    // searches run on the core pool: the event loop keeps serving while both cores search
    const db = await Quiver.open(dataDir, {
      logger,
      searchThreads: true,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.queryCacheBytes === undefined ? {} : { queryCacheBytes: options.queryCacheBytes }),
      ...(options.recallSampleRate === undefined ? {} : { recallSampleRate: options.recallSampleRate }),
      ...(options.recallCpuShare === undefined ? {} : { recallCpuShare: options.recallCpuShare }),
      ...(options.openLog === undefined ? {} : { openLog: options.openLog }),
      ...(options.catalog === undefined ? {} : { catalog: options.catalog }),
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.readBarrierMs === undefined ? {} : { readBarrierMs: options.readBarrierMs }),
      ...(options.rebalance === false ? { rebalance: false } : {}),
      // listen once the directory is ours (a locked one fails before the port is bound)
      onLocked: async () => {
        await listen()
        logger.info({ dataDir }, `loading data directory ${dataDir}; /readyz answers 503 until it is loaded`)
        started = performance.now()
        tick = setInterval(report, LOAD_PROGRESS_INTERVAL_MS)
        tick.unref()
      },
      onProgress: async (p) => {
        progress = p
        loading.setProgress(p)
        await options.onLoadProgress?.(p)
      },
    })
    loading.resolve(db)
    const ms = Math.round(performance.now() - started)
    const collections = progress?.total ?? 0
    logger.info(
      { dataDir, collections, ms },
      `ready: loaded ${collections} collections from ${dataDir} in ${ms} ms`,
    )
    return db
  } finally {
    clearInterval(tick)
  }
}

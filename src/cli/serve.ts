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
    health: {
      ...(opts.healthMinRecall === undefined ? {} : { minRecall: opts.healthMinRecall }),
      ...(opts.healthMaxP99Ms === undefined ? {} : { maxP99Ms: opts.healthMaxP99Ms }),
    },
  })
  out.write(`Quiver listening on ${server.address} (data: ${dataDir})\n`)
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

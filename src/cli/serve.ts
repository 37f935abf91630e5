// `quiver serve`: runs the HTTP server (Qdrant REST API) until SIGINT / SIGTERM.
import { resolve } from 'node:path'
import { type ServeSecurityFlags, serveSecurityOptions } from './serve-security.js'

export interface ServeCommandOptions extends ServeSecurityFlags {
  data: string
  host: string
  port: number
  logLevel: string
  /** Worker threads of the core pool (0: none); default one per CPU or QUIVER_THREADS. */
  threads?: number
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
  const server = await serve({
    ...serveSecurityOptions(opts),
    dataDir,
    host: opts.host,
    port: opts.port,
    logLevel: opts.logLevel,
    handleSignals: false,
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
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

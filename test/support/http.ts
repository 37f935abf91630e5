// Tiny HTTP servers on 127.0.0.1 for tests that make Quiver fetch something (snapshot recovery from a
// URL): one answering with a handler and counting its requests, and a port where nothing listens.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface LocalHttpServer {
  /** `http://127.0.0.1:<port>` */
  url: string
  port: number
  /** Paths requested so far, in order. */
  readonly requests: string[]
  close(): Promise<void>
}

/** Starts an HTTP server on 127.0.0.1 (a free port) answering every request with `handler`. */
export async function startHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LocalHttpServer> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    handler(req, res)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

/** A port on 127.0.0.1 that was free a moment ago and is closed now (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await startHttpServer((_req, res) => res.end())
  await s.close()
  return s.port
}

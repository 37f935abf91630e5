// Shared setup of the server integration suites: a real server on 127.0.0.1 with a free port over a
// fresh data directory, and a raw JSON caller for checking envelopes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RunningServer, type ServeOptions, serve } from '../src/server/index.js'

export interface TestServer {
  url: string
  dir: string
  server: RunningServer
  close(): Promise<void>
}

/** `options` are added to (and override) the defaults: a fresh data directory, port 0, no logs, no signal handlers. */
export async function startTestServer(options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-server-test-'))
  const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false, ...options })
  return {
    url: server.url,
    dir,
    server,
    close: async () => {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export interface RawReply {
  status: number
  /** Parsed JSON body, or the text when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: replies are checked by shape in the tests
  body: any
  /** `x-quiver-error-code` header, or null. */
  code: string | null
  headers: Headers
}

/**
 * Sends `body` (a value to JSON-encode, or a raw string sent as is) with `headers` and parses the
 * reply. A body goes with `content-type: application/json` unless `headers` names another.
 */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    init.headers = { 'content-type': 'application/json', ...headers }
  }
  const res = await fetch(`${base}${path}`, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return {
    status: res.status,
    body: parsed,
    code: res.headers.get('x-quiver-error-code'),
    headers: res.headers,
  }
}

export { rng } from './support/random.js'

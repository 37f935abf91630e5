// Service endpoints: `GET /` (title, version and commit, read by the Qdrant client's compatibility
// check), `GET /cluster` (distributed mode is disabled) and the Kubernetes probes `/healthz`,
// `/livez`, `/readyz`.
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { ServerDatabase } from '../database.js'
import { ERROR_CODE_HEADER } from '../errors.js'
import { sendOk } from '../reply.js'

/**
 * The Qdrant REST API version Quiver speaks, answered as `version` by `GET /`. The official
 * clients warn unless the server's major.minor is within one minor of theirs; this is the
 * version of the @qdrant/js-client-rest release the server is tested against.
 */
export const QDRANT_API_VERSION = '1.18.0'

/** Quiver's version from package.json, or `unknown`. */
export function quiverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      name?: unknown
      version?: unknown
    }
    return pkg.name === 'quiver' && typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * The git commit Quiver was built from: `dist/build-info.json`, written by `npm run build`
 * (tools/build-info.mjs) and shipped in the package, so an installed Quiver knows it without git;
 * else npm's `gitHead` in package.json; else undefined. Read once per call (at server start).
 */
export function quiverCommit(): string | undefined {
  const read = (url: URL, key: string): string | undefined => {
    try {
      const v = (JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>)[key]
      return typeof v === 'string' && /^[0-9a-f]{7,40}$/.test(v) ? v : undefined
    } catch {
      return undefined
    }
  }
  return (
    // dist/server/routes -> dist/build-info.json; src/server/routes (tests) -> the built one beside
    read(new URL('../../build-info.json', import.meta.url), 'commit') ??
    read(new URL('../../../dist/build-info.json', import.meta.url), 'commit') ??
    read(new URL('../../../package.json', import.meta.url), 'gitHead')
  )
}

/** Qdrant's `VersionInfo`: `{ title, version, commit? }`, not enveloped. */
export interface WireVersionInfo {
  title: string
  version: string
  /** The git commit of the build; absent when unknown (Qdrant's field is nullable). */
  commit?: string
}

/**
 * `/healthz` and `/livez` answer 200 while the process runs (loading included); `/readyz` answers
 * 503 (text, as Qdrant, with the `NOT_READY` code header and `retry-after`) until `db` is ready.
 */
export function registerServiceRoutes(
  app: FastifyInstance,
  db?: Pick<ServerDatabase, 'readiness' | 'clusterStatus'>,
): void {
  const commit = quiverCommit()
  const info: WireVersionInfo = {
    title: `quiver ${quiverVersion()} - vector search engine`,
    version: QDRANT_API_VERSION,
    ...(commit === undefined ? {} : { commit }),
  }
  app.get('/', async () => info)
  // Qdrant's ClusterStatus: `{ status: 'disabled' }` on a single node; in cluster mode the live
  // nodes, with the controller lease as Raft's leader (docs/cluster.md "Nodes")
  app.get('/cluster', async (_req, reply) => {
    const cluster = await db?.clusterStatus?.()
    if (cluster === undefined) return sendOk(reply, { status: 'disabled' })
    const leader = cluster.peers.find((p) => p.nodeId === cluster.controller)
    return sendOk(reply, {
      status: 'enabled',
      peer_id: cluster.self.peerId,
      peers: Object.fromEntries(cluster.peers.map((p) => [String(p.peerId), { uri: p.uri ?? '' }])),
      raft_info: {
        term: cluster.term,
        commit: cluster.term,
        pending_operations: 0,
        leader: leader?.peerId ?? null,
        role: leader === undefined ? null : leader.nodeId === cluster.self.nodeId ? 'Leader' : 'Follower',
        is_voter: true,
      },
      consensus_thread_status: { consensus_thread_status: 'working', last_update: new Date().toISOString() },
      message_send_failures: {},
    })
  })
  const probe = async (): Promise<string> => 'healthz check passed'
  app.get('/healthz', probe)
  app.get('/livez', probe)
  app.get('/readyz', async (_req, reply) => {
    const state = db?.readiness?.() ?? { ready: true }
    if (state.ready) return 'all shards are ready'
    return reply
      .status(503)
      .header(ERROR_CODE_HEADER, 'NOT_READY')
      .header('retry-after', '1')
      .type('text/plain; charset=utf-8')
      .send(`some shards are not ready: ${state.reason}`)
  })
}

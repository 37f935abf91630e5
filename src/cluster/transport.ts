// Node-to-node requests over NATS (issue 14; the ShardTransport seam of src/storage/transport.ts):
// node `n` serves topic `t` on subject `<prefix>.rpc.<n>.<t>` (core NATS request/reply, no
// JetStream), so a request reaches exactly the node it names, and a node that is gone answers at
// once with "no responders" rather than after a timeout. Liveness comes from the catalog's heartbeats.
import type { NatsConnection, Subscription } from '@nats-io/transport-node'
import { errors } from '@nats-io/transport-node'
import { QuiverError } from '../errors.js'
import { type Served, type ShardTransport, TransportError } from '../storage/transport.js'
import type { NodeCatalog } from './catalog.js'

const TOKEN = /^[A-Za-z0-9_-]{1,200}$/

/**
 * The transport of node `catalog.nodeId` over `connection` (the logs' NATS connection:
 * `connectJetStreamLogs(...).connection`). `prefix`: the subjects' first token, as the logs'
 * stream prefix (default `QUIVER`). Throws INVALID_ARGUMENT for a bad prefix.
 * @example const transport = natsTransport(logs.connection, catalog)
 */
export function natsTransport(
  connection: NatsConnection,
  catalog: Pick<NodeCatalog, 'nodeId' | 'liveNodes'>,
  prefix = 'QUIVER',
): ShardTransport {
  if (!TOKEN.test(prefix))
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `prefix must hold only letters, digits, _ and -, got ${JSON.stringify(prefix)}`,
    )
  const subject = (node: string, topic: string): string => {
    if (!TOKEN.test(node) || !TOKEN.test(topic))
      throw new QuiverError('INVALID_ARGUMENT', `not a node id or topic: ${JSON.stringify([node, topic])}`)
    return `${prefix}.rpc.${node}.${topic}`
  }
  return {
    nodeId: catalog.nodeId,
    get maxBodyBytes() {
      return connection.info?.max_payload ?? 1024 * 1024
    },
    liveNodes: () => catalog.liveNodes(),
    async request(node, topic, body, timeoutMs) {
      const max = connection.info?.max_payload ?? 1024 * 1024
      if (body.byteLength > max)
        throw new TransportError(
          'too_large',
          `a request of ${body.byteLength} bytes is over NATS max_payload (${max})`,
        )
      try {
        const m = await connection.request(subject(node, topic), body, { timeout: timeoutMs })
        return m.data
      } catch (err) {
        if (err instanceof QuiverError) throw err
        const cause = (err as { cause?: unknown }).cause
        if (
          err instanceof errors.NoRespondersError ||
          cause instanceof errors.NoRespondersError ||
          (err instanceof errors.RequestError && err.isNoResponders())
        )
          throw new TransportError('no_responders', `node ${node} does not serve ${topic} now`, err)
        if (err instanceof errors.TimeoutError || cause instanceof errors.TimeoutError)
          throw new TransportError('timeout', `node ${node} did not answer within ${timeoutMs} ms`, err)
        throw new TransportError('unavailable', `cannot reach node ${node}: ${(err as Error).message}`, err)
      }
    },
    serve(topic, handler): Served {
      const sub: Subscription = connection.subscribe(subject(catalog.nodeId, topic), {
        callback: (err, m) => {
          if (err !== null) return
          void handler(m.data).then(
            (answer) => {
              try {
                m.respond(answer)
              } catch {
                // the connection closed meanwhile: the asker times out
              }
            },
            () => undefined,
          )
        },
      })
      return {
        stop: async () => {
          sub.unsubscribe()
        },
      }
    },
  }
}

// The node-to-node request seam of the cluster mode (docs/cluster.md "Shard placement"): a node
// serves the shards it hosts under a topic per shard (the shard's log id) and asks a node that
// hosts a shard for what it lacks. `Quiver` uses it when opened with one (`OpenOptions.transport`);
// the implementation lives above (src/cluster/transport.ts: NATS request/reply), so the database
// and shard layers do not depend on NATS.

/** Why `ShardTransport.request` failed without an answer. */
export type TransportFailure = 'no_responders' | 'timeout' | 'too_large' | 'unavailable'

/** A request that got no answer; `failure` says whether the handler may have run (`timeout`). */
export class TransportError extends Error {
  constructor(
    readonly failure: TransportFailure,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'TransportError'
  }
}

/** A handler's registration; `stop` ends it (requests already running finish). */
export interface Served {
  stop(): Promise<void>
}

/** Requests to other nodes of the cluster and the handlers this node serves. */
export interface ShardTransport {
  /** This node's id (the catalog's `nodeId`). */
  readonly nodeId: string
  /** The largest request or answer body, bytes (NATS `max_payload`). */
  readonly maxBodyBytes: number
  /**
   * Sends `body` to the handler of `topic` on node `nodeId` and resolves with its answer. Rejects
   * with a TransportError: `no_responders` (that node does not serve `topic` now: it never saw the
   * request), `timeout` (no answer within `timeoutMs`; the handler may have run), `too_large`
   * (`body` is over `maxBodyBytes`), `unavailable` (NATS is away).
   */
  request(nodeId: string, topic: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array>
  /**
   * Serves `topic` on this node: each request's body goes to `handler` and what it resolves with
   * is the answer (a handler should not throw: an exception answers nothing, and the asker times out).
   */
  serve(topic: string, handler: (body: Uint8Array) => Promise<Uint8Array>): Served
  /** The nodes alive now (recent heartbeats), this one included. */
  liveNodes(): ReadonlySet<string>
}

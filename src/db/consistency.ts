// Qdrant's `write_consistency_factor` and `consistency` read parameter in cluster mode (issue 14,
// docs/cluster.md "Consistency"). A write is durable once its shard's log (a replicated JetStream
// stream) holds it, and every read through any node already waits for the writes acknowledged
// before it (the read barrier); what these add is how many replicas must have applied the log:
// a `wait=true` write with `write_consistency_factor` W returns once W replicas of every shard
// applied it, and a read with `consistency` N is answered once N replicas of every shard caught up
// with the log. Fewer replicas able to say so within CONFIRM_TIMEOUT_MS: SHARD_UNAVAILABLE.
//
// A replica says so on the node-level transport topic CATCH_UP_TOPIC: the request is
// `v8.serialize(logIds)`, the answer `v8.serialize([[logId, appliedSeq], ...])` for each of those
// logs whose shard it hosts and caught up within the timeout.
import { deserialize, serialize } from 'node:v8'
import { QuiverError } from '../errors.js'
import { localShards } from '../shards/open.js'
import type { HostedCollection } from '../shards/shard-set.js'
import type { ShardTransport } from '../storage/transport.js'
import type { ReadConsistency } from '../types.js'

/** The node-level topic a replica answers once it caught up with the logs asked about. */
export const CATCH_UP_TOPIC = 'catchup'
/** Milliseconds the replicas have to confirm, and a replica to catch up. */
export const CONFIRM_TIMEOUT_MS = 5000
/** The most log ids one catch-up request names. */
const MAX_LOGS = 1024

/**
 * The replicas a read with `consistency` needs of a shard with `replicas` replicas: a number as
 * given (at most `replicas`: more throws INVALID_ARGUMENT), `majority` and `quorum` more than half,
 * `all` every one. Undefined or 1: one (the read barrier of the answering node).
 */
export function replicasNeeded(consistency: ReadConsistency | undefined, replicas: number): number {
  if (consistency === undefined) return 1
  if (consistency === 'all') return replicas
  if (consistency === 'majority' || consistency === 'quorum') return Math.floor(replicas / 2) + 1
  if (consistency > replicas)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `consistency ${consistency} asks for more replicas than a shard has (${replicas})`,
      { consistency, replicas },
    )
  return consistency
}

/** Checks a ReadOptions.consistency value; throws INVALID_ARGUMENT. */
export function checkConsistency(value: unknown): ReadConsistency | undefined {
  if (value === undefined) return undefined
  if (value === 'majority' || value === 'quorum' || value === 'all') return value
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value
  throw new QuiverError(
    'INVALID_ARGUMENT',
    `consistency must be an integer >= 1 or one of majority, quorum, all, got ${JSON.stringify(value)}`,
  )
}

/** The `consistency` of a read's arguments (the first top-level options object that has one). */
export function consistencyOf(args: readonly unknown[]): ReadConsistency | undefined {
  for (const a of args) {
    if (typeof a === 'object' && a !== null && !Array.isArray(a) && 'consistency' in a)
      return checkConsistency((a as { consistency?: unknown }).consistency)
  }
  return undefined
}

/** This node's answer on CATCH_UP_TOPIC (see the file comment); never throws. */
export async function catchUpAnswer(
  collections: Iterable<HostedCollection>,
  body: Uint8Array,
): Promise<Uint8Array> {
  let asked: unknown
  try {
    asked = deserialize(body)
  } catch {
    return serialize([])
  }
  if (!Array.isArray(asked) || asked.length > MAX_LOGS || !asked.every((x) => typeof x === 'string'))
    return serialize([])
  const wanted = new Set(asked as string[])
  const shards = [...collections].flatMap((c) =>
    localShards(c).filter(({ shard }) => shard.logIds.length === 1 && wanted.has(shard.logIds[0]!)),
  )
  const out: [string, number][] = []
  await Promise.all(
    shards.map(async ({ shard }) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), CONFIRM_TIMEOUT_MS)
      })
      const done = await Promise.race([
        shard.catchUp().then(
          () => true,
          () => false,
        ),
        late,
      ])
      clearTimeout(timer)
      if (done) out.push([shard.logIds[0]!, shard.stats().appliedSeq])
    }),
  )
  return serialize(out)
}

/**
 * Resolves once `needed(replicas)` replicas of every shard of `c` applied its log as of now: this
 * node counts for the shards it hosts (`hereCaughtUp`: it did already), every other live replica
 * (`placement[i]`, or every live node for a collection held whole) is asked on CATCH_UP_TOPIC.
 * Throws SHARD_UNAVAILABLE naming the shards that fell short within CONFIRM_TIMEOUT_MS.
 */
export async function confirmReplicas(
  c: HostedCollection,
  transport: ShardTransport,
  placement: readonly (readonly string[])[] | undefined,
  needed: (replicas: number) => number,
  what: string,
): Promise<void> {
  const live = transport.liveNodes()
  const self = transport.nodeId
  const here = new Set(localShards(c).map((s) => s.shardId))
  const everyone = [...live].sort()
  const shards = c.logIds.map((logId, shardId) => {
    const replicas = placement?.[shardId] ?? everyone
    return {
      shardId,
      logId,
      replicas,
      need: needed(replicas.length),
      have: here.has(shardId) ? 1 : 0,
    }
  })
  const short = () => shards.filter((s) => s.have < s.need)
  if (short().length === 0) return
  const asks = new Map<string, string[]>()
  for (const s of short())
    for (const n of s.replicas) if (n !== self && live.has(n)) asks.set(n, [...(asks.get(n) ?? []), s.logId])
  await new Promise<void>((resolve) => {
    let pending = asks.size
    if (pending === 0) resolve()
    for (const [node, logIds] of asks) {
      transport
        .request(node, CATCH_UP_TOPIC, serialize(logIds), CONFIRM_TIMEOUT_MS + 1000)
        .then((answer) => {
          const pairs = deserialize(answer) as unknown
          if (!Array.isArray(pairs)) return
          const caught = new Set(
            pairs.flatMap((p) => (Array.isArray(p) && typeof p[0] === 'string' ? [p[0]] : [])),
          )
          for (const s of shards) if (caught.has(s.logId) && s.replicas.includes(node)) s.have++
        })
        .catch(() => undefined)
        .finally(() => {
          pending--
          if (pending === 0 || short().length === 0) resolve()
        })
    }
  })
  const missing = short()
  if (missing.length === 0) return
  throw new QuiverError(
    'SHARD_UNAVAILABLE',
    `collection ${c.name}: ${what} needs ${missing
      .map(
        (s) => `${s.need} replicas of shard ${s.shardId} (${s.have} confirmed of ${s.replicas.join(', ')})`,
      )
      .join('; ')} caught up within ${CONFIRM_TIMEOUT_MS} ms`,
    { shards: missing.map((s) => ({ shardId: s.shardId, needed: s.need, confirmed: s.have })) },
  )
}

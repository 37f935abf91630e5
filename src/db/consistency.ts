// Qdrant's `write_consistency_factor` and `consistency` read parameter in cluster mode (issue 14,
// docs/cluster.md "Consistency"). A write is durable once its shard's log (a replicated JetStream
// stream) holds it, and every read through any node already waits for the writes acknowledged
// before it (the read barrier); what these add is how many replicas must have applied the log:
// a `wait=true` write with `write_consistency_factor` W returns once W replicas of every shard
// applied it, and a read with `consistency` N is answered once N replicas of every shard caught up
// with the log. Fewer replicas able to say so within CONFIRM_TIMEOUT_MS: SHARD_UNAVAILABLE.
//
// A replica says so on the node-level transport topic CATCH_UP_TOPIC: the request is
// `v8.serialize({ logIds, ms })` (or the bare array of log ids: CONFIRM_TIMEOUT_MS), the answer
// `v8.serialize([[logId, appliedSeq], ...])` for each of those logs whose shard it hosts and
// caught up within `ms` (at most CONFIRM_TIMEOUT_MS); the asker waits ANSWER_MARGIN_MS longer.
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

/** How much longer than the budget it sends an asker waits for the answer (the network, the answerer's queue). */
const ANSWER_MARGIN_MS = 1000

/** Resolves true once `c` caught up with its log (`catchUp`), false after `ms` or when catching up fails. */
export async function catchUpWithin(c: { catchUp(): Promise<void> }, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      c.catchUp().then(
        () => true,
        () => false,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** This node's answer on CATCH_UP_TOPIC (see the file comment); never throws. */
export async function catchUpAnswer(
  collections: Iterable<HostedCollection>,
  body: Uint8Array,
): Promise<Uint8Array> {
  let asked: unknown
  // the asker's budget: it waits that long plus a margin for the answer
  let within = CONFIRM_TIMEOUT_MS
  try {
    asked = deserialize(body)
  } catch {
    return serialize([])
  }
  if (asked !== null && typeof asked === 'object' && !Array.isArray(asked)) {
    const { logIds, ms } = asked as { logIds?: unknown; ms?: unknown }
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) within = Math.min(ms, CONFIRM_TIMEOUT_MS)
    asked = logIds
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
      const done = await catchUpWithin(shard, within)
      try {
        if (done) out.push([shard.logIds[0]!, shard.stats().appliedSeq])
      } catch {
        // closed meanwhile (re-placed, dropped): not caught up here
      }
    }),
  )
  return serialize(out)
}

/**
 * The shards of `c` a write touches: those of its points' ids when it names them (`upsert`,
 * `updateVectors`, a selector `{ ids }`), else undefined (every shard: a filter, a batch).
 */
export function touchedShards(
  c: HostedCollection,
  method: string,
  args: readonly unknown[],
): Set<number> | undefined {
  const shardOf = (c as { shardOf?: (id: unknown) => number }).shardOf
  if (typeof shardOf !== 'function') return undefined
  let ids: unknown[] | undefined
  const first = args[0]
  if ((method === 'upsert' || method === 'updateVectors') && Array.isArray(first))
    ids = first.map((p) => (p as { id?: unknown } | null)?.id)
  else {
    const at = SELECTOR_AT.get(method)
    const selector = at === undefined ? undefined : (args[at] as { ids?: unknown } | null | undefined)
    if (selector !== null && typeof selector === 'object' && Array.isArray(selector.ids)) ids = selector.ids
  }
  if (ids === undefined) return undefined
  try {
    return new Set(ids.map((id) => shardOf.call(c, id)))
  } catch {
    return undefined
  }
}

/** Where each write that takes a point selector has it among its arguments. */
const SELECTOR_AT: ReadonlyMap<string, number> = new Map([
  ['delete', 0],
  ['clearPayload', 0],
  ['deleteVectors', 1],
  ['setPayload', 1],
  ['overwritePayload', 1],
  ['deletePayload', 1],
])

/**
 * Resolves once `needed(replicas)` replicas of each shard of `c` (of those in `only`, when given)
 * applied its log as of now: this node counts for the shards it hosts (it caught up already),
 * every other live replica (`placement[i]`, or every live node for a collection held whole) is
 * asked on CATCH_UP_TOPIC. Throws SHARD_UNAVAILABLE naming the shards that fell short: at once when
 * too few of their replicas are live, else after at most `timeoutMs` (default CONFIRM_TIMEOUT_MS).
 */
export async function confirmReplicas(
  c: HostedCollection,
  transport: ShardTransport,
  placement: readonly (readonly string[])[] | undefined,
  needed: (replicas: number) => number,
  what: string,
  { only, timeoutMs = CONFIRM_TIMEOUT_MS }: { only?: ReadonlySet<number>; timeoutMs?: number } = {},
): Promise<void> {
  const live = transport.liveNodes()
  const self = transport.nodeId
  const here = new Set(localShards(c).map((s) => s.shardId))
  const everyone = [...live].sort()
  const shards = c.logIds
    .map((logId, shardId) => {
      const replicas = placement?.[shardId] ?? everyone
      return { shardId, logId, replicas, need: needed(replicas.length), have: here.has(shardId) ? 1 : 0 }
    })
    .filter((s) => only === undefined || only.has(s.shardId))
  const short = () => shards.filter((s) => s.have < s.need)
  const fail = (why: string): never => {
    const missing = short()
    throw new QuiverError(
      'SHARD_UNAVAILABLE',
      `collection ${c.name}: ${what} needs ${missing
        .map(
          (s) => `${s.need} replicas of shard ${s.shardId} (${s.have} confirmed of ${s.replicas.join(', ')})`,
        )
        .join('; ')} caught up ${why}`,
      { shards: missing.map((s) => ({ shardId: s.shardId, needed: s.need, confirmed: s.have })) },
    )
  }
  if (short().length === 0) return
  // too few live replicas to ever confirm: no need to ask
  for (const s of short())
    if (s.have + s.replicas.filter((n) => n !== self && live.has(n)).length < s.need)
      fail('(too few of its replicas are alive)')
  const asks = new Map<string, string[]>()
  for (const s of short())
    for (const n of s.replicas) if (n !== self && live.has(n)) asks.set(n, [...(asks.get(n) ?? []), s.logId])
  await new Promise<void>((resolve) => {
    let pending = asks.size
    if (pending === 0) resolve()
    for (const [node, logIds] of asks) {
      transport
        .request(
          node,
          CATCH_UP_TOPIC,
          serialize({ logIds, ms: timeoutMs }),
          Math.max(100, timeoutMs) + ANSWER_MARGIN_MS,
        )
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
  if (short().length > 0) fail(`within ${timeoutMs} ms`)
}

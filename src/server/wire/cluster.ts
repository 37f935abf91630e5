// Wire format of Qdrant's `POST /collections/{c}/cluster` (`ClusterOperations`): `move_shard`,
// `replicate_shard` and `drop_replica` in; Quiver's `ClusterOperation` out. The other operations
// (`abort_transfer`, sharding keys, resharding, ...) are refused by name.
import { describe, fail, isPlainObject, join, onlyKeys, reqInt } from '../../json-input.js'
import type { ClusterOperation } from '../../types.js'
import { bodyObject } from './common.js'

const SUPPORTED = ['move_shard', 'replicate_shard', 'drop_replica'] as const
const KNOWN = [
  'abort_transfer',
  'create_sharding_key',
  'drop_sharding_key',
  'restart_transfer',
  'start_resharding',
  'abort_resharding',
  'replicate_points',
]

/**
 * Parses `{ move_shard | replicate_shard: { shard_id, from_peer_id, to_peer_id, method? } }` or
 * `{ drop_replica: { shard_id, peer_id } }`. Throws INVALID_ARGUMENT naming the JSON path; Qdrant's
 * other operations are refused as not supported. `method` (a transfer method) is accepted and
 * ignored: a new replica always catches up from the shard's log.
 */
export function parseClusterOperation(body: unknown): ClusterOperation {
  const o = bodyObject(body)
  const keys = Object.keys(o)
  const kind = keys[0]
  if (keys.length === 1 && kind !== undefined && KNOWN.includes(kind))
    fail(kind, `${kind} is not supported by Quiver; supported: ${SUPPORTED.join(', ')}`)
  if (keys.length !== 1 || !SUPPORTED.includes(kind as (typeof SUPPORTED)[number]))
    fail(
      '',
      `expected one of { "move_shard" }, { "replicate_shard" }, { "drop_replica" }, got ${keys.length === 0 ? 'an object with no keys' : `keys ${keys.map((k) => JSON.stringify(k)).join(', ')}`}`,
    )
  const at = kind!
  const inner = o[at]
  if (!isPlainObject(inner)) fail(at, `expected an object, got ${describe(inner)}`)
  if (at === 'drop_replica') {
    onlyKeys(inner, ['shard_id', 'peer_id'], at)
    return {
      dropReplica: { shardId: reqInt(inner, 'shard_id', at, 0), peerId: reqInt(inner, 'peer_id', at, 0) },
    }
  }
  onlyKeys(inner, ['shard_id', 'from_peer_id', 'to_peer_id', 'method'], at)
  const method = inner.method
  if (method !== undefined && method !== null && typeof method !== 'string' && !isPlainObject(method))
    fail(join(at, 'method'), `expected a transfer method, got ${describe(method)}`)
  const move = {
    shardId: reqInt(inner, 'shard_id', at, 0),
    fromPeerId: reqInt(inner, 'from_peer_id', at, 0),
    toPeerId: reqInt(inner, 'to_peer_id', at, 0),
  }
  return at === 'move_shard' ? { moveShard: move } : { replicateShard: move }
}

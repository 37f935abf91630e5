// Which shard holds a point: a stable function of the point id alone, the same in every process
// and every version (it decides where data lives on disk and, in a cluster, on which nodes), so it
// is spelled out here and pinned by a test: CRC32C (Castagnoli) of the id's canonical bytes, modulo
// the shard count. Integer ids hash as 8 bytes little-endian, UUIDs as their 16 bytes.
import { crc32c } from '../storage/crc32c.js'
import type { PointId } from '../types.js'

const scratch = new Uint8Array(16)
const view = new DataView(scratch.buffer)

/**
 * The shard (0 .. `shards` - 1) of point `id` (a normalised id: a safe unsigned integer, or a
 * lower-case hyphenated UUID as `parsePointId` returns). Deterministic across processes.
 * @example shardOf(42, 3) // always the same shard of 3
 */
export function shardOf(id: PointId, shards: number): number {
  if (shards <= 1) return 0
  let bytes: Uint8Array
  if (typeof id === 'number') {
    view.setUint32(0, id % 0x1_0000_0000, true)
    view.setUint32(4, Math.floor(id / 0x1_0000_0000), true)
    bytes = scratch.subarray(0, 8)
  } else {
    const hex = id.replace(/-/g, '')
    for (let i = 0; i < 16; i++) scratch[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
    bytes = scratch
  }
  return crc32c(bytes) % shards
}

/**
 * Which nodes host each of `shards` shards with `replicationFactor` replicas (capped at the node
 * count), chosen among `nodes` (node ids; order does not matter): shard i on the nodes that follow
 * position `start + i` in the sorted list, `start` a hash of `salt` (the collection name), so
 * shards and collections spread over the nodes. `placement[i]` lists shard i's nodes, no repeats.
 * @example placeShards(3, 2, ['n1', 'n2', 'n3'], 'docs') // e.g. [['n2','n3'], ['n3','n1'], ['n1','n2']]
 */
export function placeShards(
  shards: number,
  replicationFactor: number,
  nodes: Iterable<string>,
  salt: string,
): string[][] {
  const sorted = [...new Set(nodes)].sort()
  if (sorted.length === 0) return Array.from({ length: shards }, () => [])
  const r = Math.max(1, Math.min(replicationFactor, sorted.length))
  const start = crc32c(new TextEncoder().encode(salt)) % sorted.length
  return Array.from({ length: shards }, (_, i) =>
    Array.from({ length: r }, (_, j) => sorted[(start + i + j) % sorted.length]!),
  )
}

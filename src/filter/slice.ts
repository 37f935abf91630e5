// Qdrant's `slice` condition: a point belongs to slice `index` of `total` when
// siphash24(id) % total == index, SipHash-2-4 (Aumasson & Bernstein 2012) with a zero key over the
// id's canonical bytes (8 little-endian bytes for an integer id, the 16 RFC 4122 bytes for a UUID),
// Qdrant's `slice_point_id_hash` — a public contract, so clients can predict membership.
import type { PointId } from '../types.js'

const MASK = (1n << 64n) - 1n

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & MASK
}

/** SipHash-2-4 of `bytes` with the 128-bit key `k0`, `k1` (u64 each), as an unsigned 64-bit bigint. */
export function siphash24(bytes: Uint8Array, k0 = 0n, k1 = 0n): bigint {
  let v0 = 0x736f6d6570736575n ^ k0
  let v1 = 0x646f72616e646f6dn ^ k1
  let v2 = 0x6c7967656e657261n ^ k0
  let v3 = 0x7465646279746573n ^ k1
  const round = () => {
    v0 = (v0 + v1) & MASK
    v1 = rotl(v1, 13n) ^ v0
    v0 = rotl(v0, 32n)
    v2 = (v2 + v3) & MASK
    v3 = rotl(v3, 16n) ^ v2
    v0 = (v0 + v3) & MASK
    v3 = rotl(v3, 21n) ^ v0
    v2 = (v2 + v1) & MASK
    v1 = rotl(v1, 17n) ^ v2
    v2 = rotl(v2, 32n)
  }
  const n = bytes.length
  const end = n - (n % 8)
  for (let i = 0; i < end; i += 8) {
    let m = 0n
    for (let j = 7; j >= 0; j--) m = (m << 8n) | BigInt(bytes[i + j]!)
    v3 ^= m
    round()
    round()
    v0 ^= m
  }
  let last = BigInt(n & 0xff) << 56n
  for (let j = n - end - 1; j >= 0; j--) last |= BigInt(bytes[end + j]!) << BigInt(8 * j)
  v3 ^= last
  round()
  round()
  v0 ^= last
  v2 ^= 0xffn
  round()
  round()
  round()
  round()
  return (v0 ^ v1 ^ v2 ^ v3) & MASK
}

/** The canonical bytes of a point id (ids as parsePointId normalised them). */
function idBytes(id: PointId): Uint8Array {
  if (typeof id === 'number') {
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, BigInt(id), true)
    return out
  }
  const hex = id.replace(/-/g, '')
  const out = new Uint8Array(16)
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Qdrant's slice hash of a point id. */
export function sliceHash(id: PointId): bigint {
  return siphash24(idBytes(id))
}

/** True when point `id` is in slice `index` of `total`. */
export function inSlice(id: PointId, total: number, index: number): boolean {
  return sliceHash(id) % BigInt(total) === BigInt(index)
}

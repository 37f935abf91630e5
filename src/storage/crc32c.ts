// CRC-32C (Castagnoli), the checksum of WAL records and stored files. Pure, no I/O.
// Slicing-by-8 table lookup (Kounavis & Berry, "Novel Table Lookup-Based Algorithms for High-Performance CRC Generation", 2008).

const POLY = 0x82f63b78

const TABLES: readonly Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  const t0 = t[0]!
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t0[i] = c >>> 0
  }
  for (let s = 1; s < 8; s++) {
    const prev = t[s - 1]!
    const cur = t[s]!
    for (let i = 0; i < 256; i++) cur[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!
  }
  return t
})()

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
]

/**
 * CRC-32C of `data` (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), as an
 * unsigned 32-bit number. Pass a previous result as `crc` to continue over concatenated input:
 * `crc32c(b, crc32c(a)) === crc32c(a ++ b)`.
 *
 * @example crc32c(new TextEncoder().encode('123456789')) // 0xe3069283
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0
  let i = 0
  const n = data.length
  const end8 = n - (n % 8)
  while (i < end8) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[data[i + 4]!]! ^
      T2[data[i + 5]!]! ^
      T1[data[i + 6]!]! ^
      T0[data[i + 7]!]!
    i += 8
  }
  while (i < n) c = T0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

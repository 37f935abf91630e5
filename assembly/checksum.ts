// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF) over bytes of
// this instance's memory: the checksum of segment files, computed where their largest parts already
// sit (vectors and links read into or written from a core's chunks), about 2-3x the speed of the
// JavaScript table lookup of src/storage/crc32c.ts, which computes the same function.
// Slicing-by-8: Kounavis & Berry, "Novel Table Lookup-Based Algorithms for High-Performance CRC
// Generation", IEEE Trans. Computers 2008.

const POLY: u32 = 0x82f63b78
let tables: usize = 0 // 8 x 256 u32

function initTables(): void {
  tables = heap.alloc(8 * 256 * 4)
  for (let i: u32 = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    store<u32>(tables + (<usize>i << 2), c)
  }
  for (let s: usize = 1; s < 8; s++) {
    for (let i: usize = 0; i < 256; i++) {
      const prev = load<u32>(tables + (((s - 1) << 8) + i) * 4)
      store<u32>(tables + ((s << 8) + i) * 4, (prev >>> 8) ^ load<u32>(tables + (<usize>(prev & 0xff) << 2)))
    }
  }
}

@inline function t(s: usize, x: u32): u32 {
  return load<u32>(tables + (((s << 8) + <usize>x) << 2))
}

/**
 * CRC-32C of the `len` bytes at `ptr`, continuing from `crc` (0 to start): crc32c(b, crc32c(a)) is
 * the checksum of a followed by b. Owner instance only (the first call allocates its tables).
 */
export function crc32c(ptr: usize, len: usize, crc: u32): u32 {
  if (tables == 0) initTables()
  let c = ~crc
  let p = ptr
  const end8 = ptr + (len & ~(<usize>7))
  while (p < end8) {
    const lo = load<u32>(p) ^ c
    const hi = load<u32>(p, 4)
    c =
      t(7, lo & 0xff) ^
      t(6, (lo >>> 8) & 0xff) ^
      t(5, (lo >>> 16) & 0xff) ^
      t(4, lo >>> 24) ^
      t(3, hi & 0xff) ^
      t(2, (hi >>> 8) & 0xff) ^
      t(1, (hi >>> 16) & 0xff) ^
      t(0, hi >>> 24)
    p += 8
  }
  const end = ptr + len
  while (p < end) {
    c = t(0, (c ^ <u32>load<u8>(p)) & 0xff) ^ (c >>> 8)
    p++
  }
  return ~c
}

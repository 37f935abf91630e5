import { describe, expect, it } from 'vitest'
import { crc32c } from './crc32c.js'

function bitwise(data: Uint8Array): number {
  let c = 0xffffffff
  for (const b of data) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

describe('crc32c', () => {
  it('matches the standard check values (RFC 3720 B.4, iSCSI)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283)
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c)
    expect(crc32c(new Uint8Array(0))).toBe(0)
  })

  it('agrees with a bit-at-a-time reference at every length and alignment', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff)
    for (let start = 0; start < 9; start++)
      for (let len = 0; len <= 64; len++) {
        const slice = data.subarray(start, start + len)
        expect(crc32c(slice)).toBe(bitwise(slice))
      }
  })

  it('continues over concatenated input', () => {
    const data = new TextEncoder().encode('the quick brown fox jumps over the lazy dog')
    for (const cut of [0, 1, 7, 8, 13, data.length]) {
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crc32c(data))
    }
  })
})

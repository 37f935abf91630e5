// The core's chunked per-offset storage, its checksum kernel and the streamed restore of an HNSW
// file, against independent references: rows stay where they were written while the core grows by
// whole chunks, chunk runs tile the offsets exactly, the WebAssembly CRC-32C equals the JavaScript
// one (src/storage/crc32c.ts), and an index read in pieces equals the one written.
import { describe, expect, it } from 'vitest'
import { chunkRuns, coreCrc32c, instantiateCore, joinParts } from '../src/engine/wasm.js'
import { HnswIndex } from '../src/index/hnsw.js'
import { crc32c } from '../src/storage/crc32c.js'
import { rng } from './support/random.js'

describe('core storage layout', () => {
  it('rows never move as the core grows; chunk runs tile the offsets in order', () => {
    const core = instantiateCore()
    core.init(8, 1, 0, 4, 16, 1)
    const per = core.chunkPoints()
    expect(per).toBeGreaterThan(1)
    expect(per & (per - 1)).toBe(0) // a power of two
    core.reserve(10)
    const first = core.vectorPtr(3)
    const n = per * 3 + 5
    core.reserve(n)
    expect(core.vectorPtr(3)).toBe(first) // growing copied nothing
    // rows inside one chunk are contiguous, across chunks they need not be
    expect(core.vectorPtr(1) - core.vectorPtr(0)).toBe(8 * 4)
    const runs: [number, number, number][] = []
    chunkRuns(core, core.vectorPtr, 2, n, (ptr, from, rows) => runs.push([ptr, from, rows]))
    expect(runs.map((r) => r[1])).toEqual([2, per, 2 * per, 3 * per])
    expect(runs.reduce((s, r) => s + r[2], 0)).toBe(n - 2)
    for (const [ptr, from] of runs) expect(ptr).toBe(core.vectorPtr(from))
  })

  it('the WebAssembly CRC-32C equals the JavaScript one at any length, offset and continuation', () => {
    const core = instantiateCore()
    core.init(4, 1, 0, 0, 1, 1)
    core.reserve(70_000)
    const r = rng(7)
    const ptr = core.vectorPtr(0)
    const bytes = new Uint8Array(core.memory.buffer, ptr, 65_536)
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256)
    // the check value of CRC-32C
    const check = new TextEncoder().encode('123456789')
    new Uint8Array(core.memory.buffer, ptr + 70_000, 9).set(check)
    expect(core.crc32c(ptr + 70_000, 9, 0) >>> 0).toBe(0xe3069283)
    for (const [off, len] of [
      [0, 0],
      [0, 1],
      [1, 7],
      [3, 8],
      [5, 9],
      [13, 1000],
      [0, 65_536],
    ] as const) {
      const view = bytes.subarray(off, off + len)
      expect(core.crc32c(ptr + off, len, 0) >>> 0).toBe(crc32c(view))
      // outside the core's memory, through the scratch block
      expect(coreCrc32c(core, view.slice())).toBe(crc32c(view))
    }
    const whole = crc32c(bytes)
    expect(core.crc32c(ptr + 100, bytes.length - 100, crc32c(bytes.subarray(0, 100))) >>> 0).toBe(whole)
    expect(coreCrc32c(core, bytes.slice(100), core.crc32c(ptr, 100, 0) >>> 0)).toBe(whole)
    expect(joinParts([bytes.subarray(0, 10), bytes.subarray(10)])).toEqual(bytes.slice())
  })

  it('restoreFrom reads a stored file in pieces into several chunks, checking its size and CRC-32C', async () => {
    // dimension 600: a chunk holds few offsets, so 2000 vectors span several chunks
    const r = rng(9)
    const vectors = Array.from({ length: 2000 }, () => Float32Array.from({ length: 600 }, () => r() * 2 - 1))
    const index = HnswIndex.create({ dimension: 600, metric: 'l2', m: 8, efConstruct: 40 })
    for (const v of vectors) index.add(v)
    index.markDeleted(11)
    expect(index.coreExports.chunkPoints()).toBeLessThan(2000)
    const file = index.serializeParts()
    const bytes = index.serialize()
    expect(file.bytes).toBe(bytes.byteLength)
    expect(file.crc32c).toBe(crc32c(bytes))
    let reads = 0
    const source = (data: Uint8Array, crc: number) => ({
      bytes: data.byteLength,
      crc32c: crc,
      async read(into: Uint8Array, position: number) {
        reads++
        if (position + into.byteLength > data.byteLength) throw new Error('past the end')
        into.set(data.subarray(position, position + into.byteLength))
      },
    })
    const restored = await HnswIndex.restoreFrom(index.params, source(bytes, file.crc32c))
    expect(reads).toBeGreaterThan(4) // in pieces, not one read
    expect(Buffer.compare(restored.serialize(), bytes)).toBe(0) // toEqual on megabytes is slow
    expect(restored.isDeleted(11)).toBe(true)
    const q = vectors[321]!
    expect(Array.from(restored.search(q, 10, 64).offsets)).toEqual(
      Array.from(index.search(q, 10, 64).offsets),
    )
    // one flipped bit anywhere: CORRUPTED with both checksums
    const flipped = bytes.slice()
    flipped[Math.floor(bytes.byteLength * 0.6)]! ^= 4
    const err = await HnswIndex.restoreFrom(index.params, source(flipped, file.crc32c)).catch((e) => e)
    expect(err).toMatchObject({
      code: 'CORRUPTED',
      details: { expected: file.crc32c, actual: crc32c(flipped) },
    })
    // a file shorter than its header says
    await expect(
      HnswIndex.restoreFrom(index.params, source(bytes.subarray(0, bytes.byteLength - 4), file.crc32c)),
    ).rejects.toThrow(/size/)
  })
})

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
    ).rejects.toThrow(/size|CRC32C mismatch/)
  })

  it('memory a chunk reuses (not zero-filled) never reaches vectors or files: padding and link slots are written before use', async () => {
    // dimension 6: padded to 8, so every row has two padding floats the kernels read
    const r = rng(3)
    const data = Float32Array.from({ length: 3000 * 6 }, () => r())
    const build = async (dirty: boolean, batch: boolean) => {
      const index = HnswIndex.create({ dimension: 6, metric: 'l2', m: 6, efConstruct: 32, seed: 5 })
      index.reserve(3000)
      const c = index.coreExports
      if (dirty) {
        // what a reused block may hold: NaN in every row and link slot not yet stored
        for (let o = 0; o < 3000; o++) {
          new Float32Array(c.memory.buffer, c.vectorPtr(o), 8).fill(Number.NaN)
          new Uint32Array(c.memory.buffer, c.links0At(o), 13).fill(0xdeadbeef)
        }
      }
      if (batch)
        await index.addBatch(data) // on the pool's threads when it runs (not deterministic)
      else for (let i = 0; i < 3000; i++) index.add(data.subarray(i * 6, (i + 1) * 6))
      return index
    }
    // one by one: deterministic, so the files must be identical byte for byte
    const clean = await build(false, false)
    expect(Buffer.compare((await build(true, false)).serialize(), clean.serialize())).toBe(0)
    // a batch: every row's padding and every link slot past its degree is zero
    const batched = await build(true, true)
    const c = batched.coreExports
    for (let o = 0; o < 3000; o++) {
      const row = new Float32Array(c.memory.buffer, c.vectorPtr(o), 8)
      expect([row[6], row[7]]).toEqual([0, 0])
      const links = new Uint32Array(c.memory.buffer, c.links0At(o), 13)
      // past the degree: zero, or a neighbour a pruned list dropped; never what the block held
      for (let j = 1 + links[0]!; j < 13; j++) expect(links[j]).toBeLessThan(3000)
    }
    const hits = batched.search(data.subarray(6 * 77, 6 * 78), 5, 64)
    expect(hits.offsets[0]).toBe(77)
    expect(hits.distances[0]).toBe(0)
    for (const d of hits.distances) expect(Number.isFinite(d)).toBe(true)
  })

  it('an index without a graph (m = 0) persists and restores, in pieces or whole', async () => {
    const index = HnswIndex.create({ dimension: 16, metric: 'l2', m: 0, efConstruct: 16 })
    const r = rng(4)
    const vectors = Array.from({ length: 5000 }, () => Float32Array.from({ length: 16 }, () => r()))
    for (const v of vectors) index.add(v)
    const file = index.serializeParts()
    const bytes = index.serialize()
    expect(file.crc32c).toBe(crc32c(bytes))
    const source = {
      bytes: bytes.byteLength,
      crc32c: file.crc32c,
      read: async (into: Uint8Array, position: number) =>
        into.set(bytes.subarray(position, position + into.byteLength)),
    }
    for (const restored of [
      HnswIndex.restore(index.params, bytes),
      await HnswIndex.restoreFrom(index.params, source),
    ]) {
      expect(Buffer.compare(restored.serialize(), bytes)).toBe(0)
      const exact = restored.searchExact(vectors[4321]!, 3)
      expect(exact.offsets[0]).toBe(4321)
      // the restored core still allocates soundly (a restore into address 0 would have broken it)
      for (const v of vectors.slice(0, 500)) restored.add(v)
      expect(restored.size).toBe(5500)
      expect(restored.searchExact(vectors[10]!, 2).distances[0]).toBe(0)
    }
  })
})

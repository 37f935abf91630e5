// An HNSW index whose float32 vectors moved to a vector file (on_disk): the same answers as the
// index that holds them in memory (code traversal, rescoring, exact scans, filters, deletions),
// every row checked when read (a flipped bit or a torn file is CORRUPTED, never a wrong answer),
// and the graph file without vectors (format version 2) restores against the vector file.
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { joinParts } from '../src/engine/wasm.js'
import { bitsToOffsets } from '../src/index/core-index.js'
import { HnswIndex, type HnswParams } from '../src/index/hnsw.js'
import { createQuantizer, restoreQuantizer } from '../src/quantization/index.js'
import { openForSyncReads } from '../src/storage/files.js'
import { rng } from './support/random.js'

const N = 3000
const DIM = 30 // padded to 32: the padding floats are part of every row

function vectors(seed: number, n: number): Float32Array {
  const r = rng(seed)
  const out = new Float32Array(n * DIM)
  for (let i = 0; i < out.length; i++) out[i] = r() * 2 - 1
  return out
}

async function build(params: HnswParams, data: Float32Array) {
  const index = HnswIndex.create(params)
  for (let i = 0; i < N; i++) index.add(data.subarray(i * DIM, (i + 1) * DIM))
  const q = createQuantizer({ scalar: { type: 'int8' } }, DIM, params.metric)
  q.train(index.coreExports, N)
  expect(q.trained).toBe(true)
  return { index, q }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-disk-vectors-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function toDisk(index: HnswIndex, q: ReturnType<typeof createQuantizer>, name: string) {
  const path = join(dir, name)
  await writeFile(path, joinParts(index.vectorFileParts().parts))
  const file = openForSyncReads(path)!
  const moved = await index.moveVectorsToDisk({ file, name })
  restoreQuantizer(
    moved.coreExports,
    q.config,
    DIM,
    index.params.metric,
    q.serialize(index.coreExports, N),
    N,
  )
  return { moved, path }
}

describe.each(['l2', 'cosine'] as const)('vectors on disk (%s)', (metric) => {
  const params: HnswParams = { dimension: DIM, metric, m: 8, efConstruct: 64, seed: 5 }
  const data = vectors(11, N)
  const queries = vectors(12, 20)
  const query = (i: number) => queries.subarray(i * DIM, (i + 1) * DIM)

  it('answers like the index holding the vectors: rescored code search, exact scans, filters', async () => {
    const { index, q } = await build(params, data)
    const { moved } = await toDisk(index, q, `a-${metric}.vectors.bin`)
    expect(moved.vectorsOnDisk).toBe(true)
    expect(index.vectorsOnDisk).toBe(false)
    // the new core holds no vectors: far less memory than the one that does
    expect(moved.coreExports.memory.buffer.byteLength).toBeLessThan(
      index.coreExports.memory.buffer.byteLength,
    )
    const allow = new Uint32Array((N + 31) >>> 5)
    for (let o = 0; o < N; o += 3) allow[o >>> 5]! |= 1 << (o & 31)
    const listed = Uint32Array.from({ length: 400 }, (_, i) => i * 7)
    for (let i = 0; i < 20; i++) {
      const codes = { rescore: true, candidates: 40 }
      const a = index.search(query(i), 10, 64, undefined, codes)
      const b = moved.search(query(i), 10, 64, undefined, codes)
      expect([...b.offsets]).toEqual([...a.offsets])
      expect([...b.distances]).toEqual([...a.distances])
      const fa = index.search(query(i), 10, 64, { allow, twoHop: false }, codes)
      const fb = moved.search(query(i), 10, 64, { allow, twoHop: false }, codes)
      expect([...fb.offsets]).toEqual([...fa.offsets])
      // codes only (no rescoring): code distances, the same as in memory
      const ca = index.search(query(i), 10, 64, undefined, { rescore: false, candidates: 10 })
      const cb = moved.search(query(i), 10, 64, undefined, { rescore: false, candidates: 10 })
      expect([...cb.offsets]).toEqual([...ca.offsets])
      // exact float32 scans read the file: identical to the scan of memory
      const ea = index.searchExact(query(i), 10)
      const eb = moved.searchExact(query(i), 10)
      expect([...eb.offsets]).toEqual([...ea.offsets])
      expect([...eb.distances]).toEqual([...ea.distances])
      const la = index.searchExact(query(i), 10, listed)
      const lb = moved.searchExact(query(i), 10, listed)
      expect([...lb.offsets]).toEqual([...la.offsets])
      const xa = index.searchExact(query(i), 10, undefined, codes)
      const xb = moved.searchExact(query(i), 10, undefined, codes)
      expect([...xb.offsets]).toEqual([...xa.offsets])
    }
    const batch = await moved.searchBatch(queries, 10, 64, undefined, { rescore: true, candidates: 40 })
    for (let i = 0; i < 20; i++)
      expect([...batch[i]!.offsets]).toEqual([
        ...index.search(query(i), 10, 64, undefined, { rescore: true, candidates: 40 }).offsets,
      ])
    // exact batches read the file on the libuv pool, block by block
    const exact = await moved.searchBatch(queries, 10, 10, undefined, undefined, true)
    for (let i = 0; i < 20; i++) {
      expect([...exact[i]!.offsets]).toEqual([...index.searchExact(query(i), 10).offsets])
      expect([...exact[i]!.distances]).toEqual([...index.searchExact(query(i), 10).distances])
    }
    const filtered = await moved.searchBatch(queries, 10, 10, { allow, twoHop: false }, undefined, true)
    for (let i = 0; i < 20; i++)
      expect([...filtered[i]!.offsets]).toEqual([
        ...index.searchExact(query(i), 10, bitsToOffsets(allow, N)).offsets,
      ])
    for (const o of [0, 1, 1234, N - 1]) expect([...moved.vector(o)]).toEqual([...index.vector(o)])
    // deletions apply to the on-disk index like any other
    const nearest = index.searchExact(query(0), 1).offsets[0]!
    moved.markDeleted(nearest)
    index.markDeleted(nearest)
    expect(moved.searchExact(query(0), 5).offsets).not.toContain(nearest)
    expect([...moved.searchExact(query(0), 5).offsets]).toEqual([...index.searchExact(query(0), 5).offsets])
    expect(() => moved.add(query(0))).toThrow(/on disk takes no new vectors/)
    expect(() => moved.search(query(0), 10, 64)).toThrow(/must run on codes/)
    moved.close()
  })

  it('its graph file (version 2, no vectors) restores against the vector file', async () => {
    const { index, q } = await build(params, data)
    const { moved, path } = await toDisk(index, q, `b-${metric}.vectors.bin`)
    const graph = moved.serializeParts()
    expect(graph.bytes).toBeLessThan(index.serializeParts().bytes - N * 32 * 4 + 1)
    const bytes = joinParts(graph.parts)
    const source = {
      bytes: bytes.byteLength,
      crc32c: graph.crc32c,
      read: async (into: Uint8Array, pos: number) => into.set(bytes.subarray(pos, pos + into.byteLength)),
    }
    await expect(HnswIndex.restoreFrom(params, source)).rejects.toThrow(/vector file/)
    expect(() => HnswIndex.restore(params, bytes)).toThrow(/vector file/)
    const again = await HnswIndex.restoreFrom(params, source, { file: openForSyncReads(path)!, name: 'b' })
    restoreQuantizer(again.coreExports, q.config, DIM, metric, q.serialize(index.coreExports, N), N)
    for (let i = 0; i < 5; i++)
      expect([
        ...again.search(query(i), 10, 64, undefined, { rescore: true, candidates: 30 }).offsets,
      ]).toEqual([...index.search(query(i), 10, 64, undefined, { rescore: true, candidates: 30 }).offsets])
    again.close()
    moved.close()
  })

  it('a flipped bit in a row, the checksums or the header, or a torn file, is CORRUPTED', async () => {
    const { index, q } = await build(params, data)
    const path = join(dir, `c-${metric}.vectors.bin`)
    const good = joinParts(index.vectorFileParts().parts)
    const open = async (bytes: Uint8Array) => {
      await writeFile(path, bytes)
      return index.moveVectorsToDisk({ file: openForSyncReads(path)!, name: 'c.vectors.bin' })
    }
    const rowBytes = 32 * 4
    // row 77, one bit of its 3rd float: opens (rows are checked when read), fails when read
    const row = good.slice()
    row[64 + 77 * rowBytes + 9]! ^= 0x10
    const moved = await open(row)
    restoreQuantizer(moved.coreExports, q.config, DIM, metric, q.serialize(index.coreExports, N), N)
    expect(() => moved.vector(77)).toThrow(/c\.vectors\.bin: row 77 fails its CRC32C check/)
    expect(() => moved.searchExact(query(0), 10)).toThrow(/row 77 fails/)
    expect([...moved.vector(78)]).toEqual([...index.vector(78)])
    moved.close()
    const crcs = good.slice()
    crcs[64 + N * rowBytes + 40]! ^= 1
    await expect(open(crcs)).rejects.toThrow(/row checksums fail/)
    const head = good.slice()
    head[8]! ^= 1 // the dimension
    await expect(open(head)).rejects.toThrow(/header fails its CRC32C check/)
    await writeFile(path, good)
    await truncate(path, good.byteLength - 100)
    await expect(index.moveVectorsToDisk({ file: openForSyncReads(path)!, name: 'c' })).rejects.toThrow(
      /size .*expected/,
    )
    expect((await readFile(path)).byteLength).toBe(good.byteLength - 100)
  })
})

describe('float16 vector files', () => {
  it('the core converts float32 to float16 as the JavaScript reference rounds (ties to even, subnormals)', async () => {
    const { instantiateCore } = await import('../src/engine/wasm.js')
    const { roundFloat16 } = await import('../src/collection/validate.js')
    const core = instantiateCore()
    core.init(4, 1, 0, 0, 1, 1)
    const n = 20_000
    const r = rng(77)
    const values = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      const kind = i % 5
      values[i] =
        kind === 0
          ? (r() - 0.5) * 2 // everyday values
          : kind === 1
            ? (r() - 0.5) * 1e-6 // float16 subnormals (below 6.1e-5) and zero
            : kind === 2
              ? (r() - 0.5) * 120_000 // overflow past 65504 -> infinity
              : kind === 3
                ? Math.round((r() - 0.5) * 4096) / 2048 + 1 / 4096 // exact ties between float16 values
                : (r() - 0.5) * 1000
    }
    const src = core.allocBlock(n * 4)
    const half = core.allocBlock(n * 2)
    const back = core.allocBlock(n * 4)
    new Float32Array(core.memory.buffer, src, n).set(values)
    core.toFloat16(src, half, n)
    core.fromFloat16(half, back, n)
    const got = new Float32Array(core.memory.buffer, back, n)
    for (let i = 0; i < n; i++) {
      const want = roundFloat16(values[i]!)
      if (!(got[i] === want || (Number.isNaN(got[i]!) && Number.isNaN(want))))
        throw new Error(`value ${values[i]}: core ${got[i]}, reference ${want}`)
    }
  })

  it('an l2 index of float16 values answers from a half-size file exactly as from memory', async () => {
    const params: HnswParams = { dimension: DIM, metric: 'l2', m: 8, efConstruct: 64, seed: 9 }
    const { roundFloat16 } = await import('../src/collection/validate.js')
    const data = vectors(21, N).map(roundFloat16) // what datatype float16 stores
    const queries = vectors(22, 10)
    const { index, q } = await build(params, data)
    const path = join(dir, 'f16.vectors.bin')
    const parts = index.vectorFileParts('float16')
    expect(parts.bytes).toBe(64 + N * (32 * 2 + 4) + 4) // rows of 32 halves
    await writeFile(path, joinParts(parts.parts))
    const moved = await index.moveVectorsToDisk({ file: openForSyncReads(path)!, name: 'f16' })
    restoreQuantizer(moved.coreExports, q.config, DIM, 'l2', q.serialize(index.coreExports, N), N)
    for (let i = 0; i < 10; i++) {
      const qv = queries.subarray(i * DIM, (i + 1) * DIM)
      const codes = { rescore: true, candidates: 40 }
      expect([...moved.search(qv, 10, 64, undefined, codes).distances]).toEqual([
        ...index.search(qv, 10, 64, undefined, codes).distances,
      ])
      expect([...moved.searchExact(qv, 10).offsets]).toEqual([...index.searchExact(qv, 10).offsets])
    }
    for (const o of [0, 5, N - 1]) expect([...moved.vector(o)]).toEqual([...index.vector(o)])
    moved.close()
  })
})

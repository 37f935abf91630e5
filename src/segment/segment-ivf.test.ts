// A segment with an IVF index: when its lists train (fixed and automatic nlist), which planner
// paths a search takes, nprobe widening for filters, and index.bin restored by fromFiles.
import { describe, expect, it } from 'vitest'
import { singleVector, unnamed } from '../../test/support/configs.js'
import { rng } from '../../test/support/random.js'
import { parseFilter } from '../filter/index.js'
import { parseFieldSchema } from '../filter/payload-index/index.js'
import type { CollectionConfig } from '../types.js'
import { Segment } from './segment.js'

const DIM = 8
const RAW = {
  dimension: DIM,
  metric: 'Euclid',
  hnsw: { m: 8, efConstruct: 64, fullScanThreshold: 1, ef: 64 },
  optimizers: {
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1000,
    defaultSegmentNumber: 2,
    maxSegmentSize: 262144,
  },
  index: { type: 'ivf', nlist: 10, nprobe: 2 },
} as const satisfies Parameters<typeof singleVector>[0]
const CONFIG: CollectionConfig = singleVector(RAW)

async function filled(
  n: number,
  config: CollectionConfig = CONFIG,
): Promise<{ segment: Segment; vectors: Float32Array[] }> {
  const r = rng(5)
  const segment = Segment.create(config)
  segment.createFieldIndex(parseFieldSchema('even', 'bool'))
  const vectors = Array.from({ length: n }, () => Float32Array.from({ length: DIM }, () => r() * 2 - 1))
  await segment.upsertMany(
    vectors.map((vector, i) => ({ id: i, vectors: unnamed(vector), payload: { even: i % 2 === 0 } })),
    1,
  )
  return { segment, vectors }
}

const BASE = { k: 5, ef: 32, exact: false, filter: null }

describe('segment with an IVF index', () => {
  it('scans until it holds 39 x nlist live points, then probes its lists', async () => {
    const { segment, vectors } = await filled(389)
    expect(segment.trainIndex()).toBe(false)
    expect(segment.ivfLists).toBe(0)
    const q = vectors[3]!
    expect(segment.search('', q, BASE)).toMatchObject({ plan: 'exact' })
    await segment.upsertMany([{ id: 389, vectors: unnamed(vectors[0]!), payload: undefined }], 2)
    expect(segment.trainIndex()).toBe(true)
    expect(segment.trainIndex()).toBe(false)
    expect(segment.ivfLists).toBe(10)
    const hits = segment.search('', q, BASE)
    expect(hits.plan).toBe('ivf')
    expect(hits.offsets[0]).toBe(3)
    expect(segment.search('', q, { ...BASE, exact: true }).plan).toBe('exact')
    expect(segment.search('', q, { ...BASE, nprobe: 10 })).toMatchObject({
      offsets: segment.search('', q, { ...BASE, exact: true }).offsets,
    })
    expect(segment.index.checkIntegrity()).toEqual({ ok: true })
  })

  it('filtered: scans few matches, probes lists (widened) for many, returns only matches', async () => {
    const { segment, vectors } = await filled(1000)
    expect(segment.trainIndex()).toBe(true)
    const q = vectors[10]!
    const even = parseFilter({ must: [{ key: 'even', match: { value: true } }] }, 'filter')
    const hits = segment.search('', q, { ...BASE, filter: even })
    expect(hits.plan).toBe('ivf-filtered')
    for (const o of hits.offsets) expect(o % 2).toBe(0)
    const few = parseFilter({ must: [{ has_id: [1, 2, 3] }] }, 'filter')
    expect(segment.search('', q, { ...BASE, filter: few }).plan).toBe('exact-filtered')
    const none = parseFilter({ must: [{ has_id: [5000] }] }, 'filter')
    expect(segment.search('', q, { ...BASE, filter: none }).plan).toBe('empty')
    // 2% match (20 points, scanned below 1 KiB: lower the threshold): nprobe 1 is widened to
    // max(4 (x 1/sqrt(0.02), at most x 4), 5 (2k = 10 expected matches at 2 per list)) lists
    segment.planner = { ...segment.planner, fullScanThreshold: 0 }
    const sparse = parseFilter(
      { must: [{ has_id: vectors.map((_, i) => i).filter((i) => i % 50 === 0) }] },
      'filter',
    )
    const exact = segment.search('', q, { ...BASE, filter: sparse, exact: true })
    const probed = segment.search('', q, { ...BASE, filter: sparse, nprobe: 1 })
    expect(probed.plan).toBe('ivf-filtered')
    expect(probed.offsets.length).toBe(5)
    for (const o of probed.offsets) expect(o % 50).toBe(0)
    expect(segment.search('', q, { ...BASE, filter: sparse, nprobe: 10 }).offsets).toEqual(exact.offsets)
  })

  it('with an automatic nlist trains at 1024 points and retrains at twice the lists', async () => {
    const config: CollectionConfig = singleVector({
      ...RAW,
      index: { type: 'ivf', nlist: null, nprobe: null },
    })
    const { segment } = await filled(1000, config)
    expect(segment.trainIndex()).toBe(false)
    const r = rng(9)
    const more = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: from + i,
        vectors: unnamed(Float32Array.from({ length: DIM }, () => r() * 2 - 1)),
        payload: undefined,
      }))
    await segment.upsertMany(more(1000, 100), 2)
    expect(segment.trainIndex()).toBe(true)
    expect(segment.ivfLists).toBe(28) // floor(1100 / 39)
    await segment.upsertMany(more(1100, 1000), 3)
    expect(segment.trainIndex()).toBe(false) // 53 lists wanted < 2 x 28
    await segment.upsertMany(more(2100, 100), 4)
    expect(segment.trainIndex()).toBe(true)
    expect(segment.ivfLists).toBe(56) // floor(2200 / 39)
    expect(segment.index.checkIntegrity()).toEqual({ ok: true })
  })

  it('restores its lists from index.bin without retraining', async () => {
    const { segment, vectors } = await filled(1000)
    segment.trainIndex()
    segment.delete(7)
    const copy = Segment.fromFiles(CONFIG, segment.toFiles())
    expect(copy.ivfLists).toBe(10)
    expect(copy.trainIndex()).toBe(false)
    for (const q of vectors.slice(0, 10)) {
      expect(copy.search('', q, { ...BASE, nprobe: 1 })).toEqual(
        segment.search('', q, { ...BASE, nprobe: 1 }),
      )
    }
    const { index: _index, ...rest } = RAW
    const hnsw: CollectionConfig = singleVector(rest)
    expect(() => Segment.fromFiles(hnsw, segment.toFiles())).toThrow(
      expect.objectContaining({ code: 'CORRUPTED' }),
    )
  })
})

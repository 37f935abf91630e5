// A segment with a quantizer: when it trains, which planner paths use codes, and its quantization.bin
// file (written once trained, restored by fromFiles, absent in old directories).
import { describe, expect, it } from 'vitest'
import { singleVector, unnamed } from '../../test/support/configs.js'
import { rng } from '../../test/support/random.js'
import { parseFilter } from '../filter/index.js'
import { parseFieldSchema } from '../filter/payload-index/index.js'
import { bodyBytes } from '../storage/files.js'
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
  quantization: { scalar: { type: 'int8' } },
} as const satisfies Parameters<typeof singleVector>[0]
const CONFIG: CollectionConfig = singleVector(RAW)

function filled(n: number, config: CollectionConfig = CONFIG): { segment: Segment; vectors: Float32Array[] } {
  const r = rng(3)
  const segment = Segment.create(config)
  segment.createFieldIndex(parseFieldSchema('even', 'bool'))
  const vectors: Float32Array[] = []
  for (let i = 0; i < n; i++) {
    const v = Float32Array.from({ length: DIM }, () => r() * 2 - 1)
    vectors.push(v)
    segment.upsert(i, unnamed(v), { even: i % 2 === 0 }, i + 1)
  }
  return { segment, vectors }
}

const BASE = { k: 5, ef: 32, exact: false, filter: null }

describe('segment quantization', () => {
  it('trains only from its minimum stored count, once, and then searches on codes', () => {
    const { segment, vectors } = filled(100)
    expect(segment.trainQuantizer()).toBe(false)
    expect(segment.quantized).toBe(false)
    expect(segment.search('', vectors[0]!, BASE)).toMatchObject({ plan: 'hnsw', quantized: false })
    const more = filled(400)
    expect(more.segment.trainQuantizer()).toBe(true)
    expect(more.segment.trainQuantizer()).toBe(false)
    expect(more.segment.quantizationBytes).toBe(16 * 400)
    const q = more.vectors[3]!
    expect(more.segment.search('', q, BASE)).toMatchObject({ plan: 'hnsw', quantized: true })
    expect(more.segment.search('', q, { ...BASE, exact: true })).toMatchObject({
      plan: 'exact',
      quantized: false,
    })
    expect(more.segment.search('', q, { ...BASE, quantization: { ignore: true } }).quantized).toBe(false)
    const even = parseFilter({ must: [{ key: 'even', match: { value: true } }] }, 'filter')
    // fullScanThreshold 1 KiB: 200 matches x 32 bytes is above it, so the graph is traversed on codes
    expect(more.segment.search('', q, { ...BASE, filter: even })).toMatchObject({ quantized: true })
    const few = parseFilter({ must: [{ has_id: [1, 2, 3] }] }, 'filter')
    expect(more.segment.search('', q, { ...BASE, filter: few })).toMatchObject({
      plan: 'exact-filtered',
      quantized: false,
    })
    // a point added after training is encoded as it is stored, and found on codes
    more.segment.upsert(9999, unnamed(q), undefined, 999)
    const hits = more.segment.search('', q, { ...BASE, k: 2, quantization: { rescore: false } })
    expect([...hits.offsets].map((o) => more.segment.idAt(o))).toContain(9999)
  })

  it('writes quantization.bin once trained and restores it; directories without it open untrained', () => {
    const { segment, vectors } = filled(400)
    expect(filled(100).segment.toFiles()['quantization.bin']).toBeUndefined()
    const before = segment.mutations
    segment.trainQuantizer()
    expect(segment.mutations).toBeGreaterThan(before)
    const files = segment.toFiles()
    expect(bodyBytes(files['quantization.bin'] ?? [])).toBeGreaterThan(16 * 400)
    const restored = Segment.fromFiles(CONFIG, files)
    expect(restored.quantized).toBe(true)
    const opts = { ...BASE, quantization: { rescore: false } }
    const a = segment.search('', vectors[7]!, opts)
    const b = restored.search('', vectors[7]!, opts)
    expect([...b.offsets]).toEqual([...a.offsets])
    expect([...b.distances]).toEqual([...a.distances])
    const { 'quantization.bin': _codes, ...old } = files
    const untrained = Segment.fromFiles(CONFIG, old)
    expect(untrained.quantized).toBe(false)
    expect(untrained.trainQuantizer()).toBe(true)
    const { quantization: _q, ...plainRaw } = RAW
    const plain = singleVector(plainRaw)
    expect(Segment.fromFiles(plain, files).quantized).toBe(false)
  })
})

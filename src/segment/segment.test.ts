import { describe, expect, it } from 'vitest'
import { singleVector, unnamed } from '../../test/support/configs.js'
import { rng } from '../../test/support/random.js'
import { compileFilter, type FilterNode, parseFilter } from '../filter/index.js'
import { parseFieldSchema } from '../filter/payload-index/index.js'
import type { CollectionConfig, Filter, Payload } from '../types.js'
import { Segment } from './segment.js'

const DIM = 8
const RAW = {
  dimension: DIM,
  metric: 'Euclid',
  hnsw: { m: 8, efConstruct: 64, fullScanThreshold: 10000, ef: 64 },
  optimizers: {
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1000,
    defaultSegmentNumber: 2,
    maxSegmentSize: 262144,
  },
} as const satisfies Parameters<typeof singleVector>[0]
const CONFIG: CollectionConfig = singleVector(RAW)
const CATS = ['a', 'b', 'c', 'd', 'e']
const WORDS = ['red', 'green', 'blue', 'fast', 'slow', 'big']

function randomPayload(r: () => number): Payload | undefined {
  if (r() < 0.05) return undefined
  const p: Payload = {}
  if (r() < 0.9) p['cat'] = CATS[Math.floor(r() * CATS.length)]!
  if (r() < 0.9) p['n'] = r() < 0.1 ? 2.5 : Math.floor(r() * 100)
  if (r() < 0.8) p['f'] = r() * 10
  if (r() < 0.7) p['flag'] = r() < 0.5
  if (r() < 0.6) p['tags'] = Array.from({ length: Math.floor(r() * 3) }, () => CATS[Math.floor(r() * 5)]!)
  if (r() < 0.5)
    p['text'] = Array.from({ length: 1 + Math.floor(r() * 4) }, () => WORDS[Math.floor(r() * 6)]).join(' ')
  if (r() < 0.05) p['cat'] = 7 // type mismatch
  if (r() < 0.05) p['n'] = null
  return p
}

function randomCondition(r: () => number): Filter | object {
  switch (Math.floor(r() * 7)) {
    case 0:
      return { key: 'cat', match: { value: CATS[Math.floor(r() * 5)] } }
    case 1:
      return { key: 'n', range: { gte: Math.floor(r() * 50), lt: 50 + Math.floor(r() * 50) } }
    case 2:
      return { key: 'f', range: { lte: r() * 10 } }
    case 3:
      return { key: 'flag', match: { value: r() < 0.5 } }
    case 4:
      return { key: 'tags', match: { any: [CATS[Math.floor(r() * 5)], CATS[Math.floor(r() * 5)]] } }
    case 5:
      return { key: 'n', match: { value: Math.floor(r() * 100) } }
    default:
      return { key: 'text', match: { text: WORDS[Math.floor(r() * 6)] } }
  }
}

function randomFilter(r: () => number, depth = 0): Filter {
  const list = () =>
    Array.from({ length: 1 + Math.floor(r() * 2) }, () =>
      depth < 1 && r() < 0.3 ? randomFilter(r, depth + 1) : randomCondition(r),
    )
  const f: Filter = {}
  if (r() < 0.8) f.must = list() as Filter[]
  if (r() < 0.35) f.should = list() as Filter[]
  if (r() < 0.3) f.must_not = list() as Filter[]
  if (!f.must && !f.should && !f.must_not) f.must = list() as Filter[]
  return f
}

const TEXT_INDEX = { type: 'text', tokenizer: 'word', lowercase: true } as const

interface Fixture {
  segment: Segment
  vectors: Map<number, Float32Array>
  payloads: Map<number, Payload | undefined>
}

/** A segment with random points, churned by replacements, deletes and payload rewrites. */
function fixture(seed: number, n: number, indexed: readonly string[]): Fixture {
  const r = rng(seed)
  const segment = Segment.create(CONFIG)
  const schemas: Record<string, unknown> = {
    cat: 'keyword',
    n: 'integer',
    f: 'float',
    flag: 'bool',
    tags: 'keyword',
    text: TEXT_INDEX,
  }
  // half the indexes exist before the points, half are built over existing points
  const early = indexed.filter((_, i) => i % 2 === 0)
  for (const field of early) segment.createFieldIndex(parseFieldSchema(field, schemas[field]))
  const vectors = new Map<number, Float32Array>()
  const payloads = new Map<number, Payload | undefined>()
  let version = 1
  const put = (id: number) => {
    const v = Float32Array.from({ length: DIM }, () => r() * 2 - 1)
    const p = randomPayload(r)
    segment.upsert(id, unnamed(v), p, version++)
    vectors.set(id, v)
    payloads.set(id, p)
  }
  for (let id = 0; id < n; id++) put(id)
  for (const field of indexed.filter((_, i) => i % 2 === 1))
    segment.createFieldIndex(parseFieldSchema(field, schemas[field]))
  for (let i = 0; i < n / 10; i++) put(Math.floor(r() * n)) // replace
  for (let i = 0; i < n / 10; i++) {
    const id = Math.floor(r() * n)
    if (segment.delete(id)) {
      vectors.delete(id)
      payloads.delete(id)
    }
  }
  for (let i = 0; i < n / 10; i++) {
    const id = Math.floor(r() * n)
    if (!segment.has(id)) continue
    const p = randomPayload(r)
    segment.replacePayload(id, p, version++)
    payloads.set(id, p)
  }
  return { segment, vectors, payloads }
}

function reference(f: Fixture, node: FilterNode): Set<number> {
  const textIndexes = new Map()
  const text = f.segment.payloadIndexes.get('text')
  if (text)
    textIndexes.set('text', {
      tokenizer: 'word',
      minTokenLen: null,
      maxTokenLen: null,
      lowercase: true,
      phraseMatching: false,
    })
  const pred = compileFilter(node, { textIndexes })
  const out = new Set<number>()
  for (const [id, p] of f.payloads) if (pred(id, p)) out.add(id)
  return out
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s
}

describe('Segment filters with payload indexes', () => {
  const layouts: [string, string[]][] = [
    ['no indexes', []],
    ['some indexes', ['cat', 'f', 'text']],
    ['all indexes', ['cat', 'n', 'f', 'flag', 'tags', 'text']],
  ]
  for (const [name, indexed] of layouts) {
    it(`count, matchingIds and exact filtered search agree with the reference evaluator (${name})`, () => {
      const f = fixture(7, 600, indexed)
      const r = rng(99)
      for (let t = 0; t < 150; t++) {
        const node = parseFilter(randomFilter(r))
        const truth = reference(f, node)
        expect(f.segment.count(node)).toBe(truth.size)
        expect(new Set(f.segment.matchingIds(node))).toEqual(truth)
        const q = Float32Array.from({ length: DIM }, () => r() * 2 - 1)
        const hits = f.segment.search('', q, { k: 5, ef: 32, exact: true, filter: node })
        const expected = [...truth]
          .map((id) => l2(q, f.vectors.get(id)!))
          .sort((a, b) => a - b)
          .slice(0, 5)
        expect(hits.distances.length).toBe(expected.length)
        for (let i = 0; i < expected.length; i++) expect(hits.distances[i]!).toBeCloseTo(expected[i]!, 4)
        const approx = f.segment.search('', q, { k: 5, ef: 64, exact: false, filter: node })
        for (const o of approx.offsets) expect(truth.has(f.segment.idAt(o) as number)).toBe(true)
      }
    })
  }

  it('keeps indexes through toFiles / fromFiles', () => {
    const f = fixture(8, 400, ['cat', 'n', 'f', 'flag', 'tags', 'text'])
    const restored = Segment.fromFiles(CONFIG, f.segment.toFiles())
    expect([...restored.payloadIndexes.keys()].sort()).toEqual(['cat', 'f', 'flag', 'n', 'tags', 'text'])
    const r = rng(5)
    for (let t = 0; t < 50; t++) {
      const node = parseFilter(randomFilter(r))
      expect(restored.count(node)).toBe(reference(f, node).size)
    }
  })

  it('reports the fields it evaluated point by point', () => {
    const f = fixture(9, 200, ['cat'])
    const unindexed = new Set<string>()
    f.segment.count(
      parseFilter({
        must: [
          { key: 'cat', match: { value: 'a' } },
          { key: 'n', range: { gt: 3 } },
        ],
      }),
      unindexed,
    )
    expect([...unindexed]).toEqual(['n'])
  })
})

describe('Segment search planner', () => {
  const n = 3000
  function planFixture() {
    const r = rng(21)
    const segment = Segment.create(CONFIG)
    segment.createFieldIndex(parseFieldSchema('bucket', 'integer'))
    for (let id = 0; id < n; id++) {
      const v = Float32Array.from({ length: DIM }, () => r() * 2 - 1)
      segment.upsert(id, unnamed(v), { bucket: id % 1000, raw: id % 1000 }, id + 1)
    }
    segment.planner = { fullScanThreshold: 1, twoHopThreshold: 0.3, postFilterThreshold: 0.9 }
    return segment
  }
  const q = Float32Array.from({ length: DIM }, (_, i) => (i % 2 ? 0.3 : -0.2))
  const plan = (segment: Segment, filter: Filter) =>
    segment.search('', q, { k: 10, ef: 64, exact: false, filter: parseFilter(filter) }).plan

  it('scans few matches exactly, traverses sparse ones two-hop, dense ones with waypoints', () => {
    const segment = planFixture()
    expect(plan(segment, { must: [{ key: 'bucket', range: { lt: 5 } }] })).toBe('exact-filtered') // 15 points: 0.06 KiB... under 1 KiB
    expect(plan(segment, { must: [{ key: 'bucket', range: { lt: 100 } }] })).toBe('hnsw-two-hop')
    expect(plan(segment, { must: [{ key: 'bucket', range: { lt: 600 } }] })).toBe('hnsw-filtered')
  })

  it('post-filters an unindexed filter that matches nearly everything, and falls back when too few pass', () => {
    const segment = planFixture()
    expect(plan(segment, { must_not: [{ key: 'raw', match: { value: 3 } }] })).toBe('hnsw-postfiltered')
    // indexed: materialised instead
    expect(plan(segment, { must_not: [{ key: 'bucket', match: { value: 3 } }] })).toBe('hnsw-filtered')
    // unindexed and selective: materialised
    expect(plan(segment, { must: [{ key: 'raw', match: { value: 3 } }] })).toBe('exact-filtered')
  })
})

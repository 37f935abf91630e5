// The pure parts of `quiver eval`: sampling, the queries file, recall, the selectivity filters and
// the recommendation; and the exclusion of a query's own point, against a target that records
// what it is asked.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { PointId } from '../../types.js'
import {
  exactTruth,
  latencyStats,
  measureSetting,
  readQueriesFile,
  recallOf,
  recommend,
  reservoir,
  rng,
  type SweepRow,
  selectivityBucket,
  selectivityFilters,
} from './measure.js'
import { canonicalId } from './run.js'
import type { EvalCollection, EvalSearch, EvalTarget } from './target.js'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe('sampling', () => {
  it('rng is deterministic per seed and in [0, 1)', () => {
    const a = rng(7)
    const b = rng(7)
    const xs = Array.from({ length: 1000 }, () => a())
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()))
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(rng(8)()).not.toBe(xs[0])
  })

  it('reservoir keeps n distinct items, each item about equally likely', () => {
    const hits = new Array<number>(100).fill(0)
    const random = rng(3)
    for (let run = 0; run < 2000; run++) {
      const r = reservoir<number>(10, random)
      for (let i = 0; i < 100; i++) r.add(i)
      expect(new Set(r.items).size).toBe(10)
      for (const x of r.items) hits[x]!++
    }
    // each of 100 items is in 10% of the samples: 200 of 2000, the first and last alike
    for (const h of hits) expect(Math.abs(h - 200)).toBeLessThan(70)
    const small = reservoir<number>(10, random)
    for (let i = 0; i < 4; i++) small.add(i)
    expect(small.items).toEqual([0, 1, 2, 3])
  })
})

describe('the queries file', () => {
  async function file(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-eval-q-'))
    dirs.push(dir)
    const path = join(dir, 'q.jsonl')
    await writeFile(path, text)
    return path
  }

  it('reads vectors, objects with vector or id, and filters; skips blank lines', async () => {
    const path = await file(
      '[1, 2]\n\n{"vector": [3, 4], "filter": {"must": [{"key": "a", "match": {"value": 1}}]}}\n{"id": 7}\n{"id": "2f1e0a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"}\n',
    )
    const read = await readQueriesFile(path)
    expect(read.map((q) => q.where)).toEqual([1, 3, 4, 5].map((n) => `${path}:${n}`))
    expect(read.map(({ where: _, ...q }) => q)).toEqual([
      { vector: [1, 2] },
      { vector: [3, 4], filter: { must: [{ key: 'a', match: { value: 1 } }] } },
      { id: 7 },
      { id: '2f1e0a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b' },
    ])
  })

  it.each([
    ['[1, 2]\nnot json\n', /q\.jsonl:2: not JSON/],
    ['[]\n', /q\.jsonl:1: a vector must be a non-empty array of finite numbers/],
    ['["a"]\n', /q\.jsonl:1: a vector must be/],
    ['{"vector": [1], "id": 3}\n', /q\.jsonl:1: give "vector" or "id", not both/],
    ['{"id": -1}\n', /q\.jsonl:1: expected "vector"/],
    ['{"id": 1.5}\n', /q\.jsonl:1: expected "vector"/],
    ['{"vector": [1], "filter": [1]}\n', /q\.jsonl:1: "filter" must be an object/],
    ['7\n', /q\.jsonl:1: expected a vector/],
    ['\n\n', /holds no queries/],
  ])('refuses %j naming the line', async (text, message) => {
    await expect(readQueriesFile(await file(text))).rejects.toThrow(message)
  })

  it('names a file it cannot read', async () => {
    await expect(readQueriesFile('/nonexistent/q.jsonl')).rejects.toThrow(
      /cannot read --queries \/nonexistent/,
    )
  })
})

describe('recall and latency', () => {
  it('recall@k counts the truth found, and is undefined for an empty truth', () => {
    expect(recallOf([1, 2, 3], [3, 4, 1, 5])).toBe(0.5)
    expect(recallOf([1, 1, 1], [1, 2])).toBe(0.5)
    expect(recallOf(['a', 2], ['a', '2'])).toBe(0.5)
    expect(recallOf([1], [])).toBeUndefined()
  })

  it('latency percentiles are nearest-rank, QPS over the wall time', () => {
    const times = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(latencyStats(times, 2000)).toEqual({ qps: 50, p50_ms: 50, p95_ms: 95, p99_ms: 99 })
  })
})

/** A target over fixed answers: each search returns `answer(s)` and records the request. */
function fakeTarget(answer: (s: EvalSearch) => PointId[]): { target: EvalTarget; asked: EvalSearch[] } {
  const asked: EvalSearch[] = []
  const no = () => Promise.reject(new Error('not in this test'))
  return {
    asked,
    target: {
      label: 'fake',
      server: 'fake',
      version: '0',
      targetRecall: false,
      describe: no,
      scrollIds: no,
      retrieve: no,
      count: no,
      createScratch: no,
      upsert: no,
      drop: no,
      coldStart: no,
      close: async () => {},
      async search(_c, s) {
        asked.push(s)
        return answer(s)
      },
    },
  }
}

const C: EvalCollection = { name: 'c', points: 100, vector: '', dimension: 2, distance: 'Euclid' }

describe('a query made from a stored point', () => {
  it('is left out of both the truth and the results: one more is asked, its id dropped', async () => {
    // the store answers the query's own point first, as a search for a stored vector does
    const { target, asked } = fakeTarget((s) =>
      (s.exact === true ? [5, 1, 2, 3] : [5, 1, 9, 2]).slice(0, s.limit),
    )
    const queries = [{ vector: [0, 0], exclude: 5 as PointId }, { vector: [1, 1] }]
    const truth = await exactTruth(target, C, queries, 3)
    expect(truth).toEqual([
      [1, 2, 3],
      [5, 1, 2],
    ])
    expect(asked.map((s) => s.limit)).toEqual([4, 3])
    const r = await measureSetting(target, C, queries, truth, 3, { ef: 32 })
    // query 1: [1, 9, 2] against [1, 2, 3]; query 2: [5, 1, 9] against [5, 1, 2]
    expect(r.recall).toBeCloseTo((2 / 3 + 2 / 3) / 2, 10)
    expect(asked.slice(2).map((s) => [s.limit, s.ef])).toEqual([
      [4, 32],
      [3, 32],
    ])
    expect(r.times).toHaveLength(2)
  })

  it('the setting’s filter replaces a query’s own, and warm-up searches are not measured', async () => {
    const { target, asked } = fakeTarget(() => [1])
    const queries = [{ vector: [0, 0], filter: { must: [] } }, { vector: [1, 1] }]
    const f = { must: [{ key: 'k', match: { value: 1 } }] }
    const r = await measureSetting(target, C, queries, [[1], [1]], 1, { filter: f }, undefined, 1)
    expect(asked).toHaveLength(3)
    expect(asked.every((s) => s.filter === f)).toBe(true)
    expect(r.times).toHaveLength(2)
    expect(r.recall).toBe(1)
  })
})

describe('selectivity filters', () => {
  const fraction = (filter: Record<string, unknown>, values: readonly unknown[]): number => {
    const cond = (filter as { must: Record<string, unknown>[] }).must[0]!
    const match = (v: unknown): boolean => {
      const all = Array.isArray(v) ? v : [v]
      if ('range' in cond)
        return all.some((x) => typeof x === 'number' && x <= (cond.range as { lte: number }).lte)
      const m = cond.match as { any?: unknown[]; value?: unknown }
      return all.some((x) => (m.any !== undefined ? m.any.includes(x) : x === m.value))
    }
    return values.filter(match).length / values.length
  }

  it('numbers: ranges matching about each target, with arrays matching on any element', () => {
    const random = rng(5)
    const values = Array.from({ length: 2000 }, () => Math.floor(random() * 1e6))
    const out = selectivityFilters('n', values)
    expect(out.map((x) => x.target)).toEqual([0.001, 0.01, 0.1, 0.5, 0.9])
    for (const { target, filter } of out) {
      expect((filter as { must: { key: string }[] }).must[0]!.key).toBe('n')
      const got = fraction(filter, values)
      expect(got).toBeGreaterThanOrEqual(target)
      expect(got).toBeLessThan(target + 0.002)
    }
    const arrays = values.map((v, i) => (i % 2 === 0 ? [v, 2e6] : v))
    for (const { target, filter } of selectivityFilters('n', arrays))
      expect(fraction(filter, arrays)).toBeGreaterThanOrEqual(target)
  })

  it('strings: sets of whole values near each target, least frequent first, deduplicated', () => {
    // value v_i held by i+1 points of 55 (i = 0..9)
    const values = Array.from({ length: 10 }, (_, i) => Array.from({ length: i + 1 }, () => `v${i}`)).flat()
    const out = selectivityFilters('cat', values)
    const got = out.map((x) => fraction(x.filter, values))
    expect(new Set(out.map((x) => JSON.stringify(x.filter))).size).toBe(out.length)
    // 0.1% and 1% are both one point (v0): one filter for both
    expect((out[0]!.filter as { must: { match: { any: string[] } }[] }).must[0]!.match.any).toEqual(['v0'])
    expect(out.length).toBeLessThan(5)
    expect(Math.abs(got.at(-1)! - 0.9)).toBeLessThan(0.1)
  })

  it('a field mixing strings and booleans gets filters of strings only (match.any takes no booleans)', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? `s${i % 10}` : i % 3 === 0))
    for (const { filter } of selectivityFilters('mixed', values)) {
      const any = (filter as { must: { match: { any?: unknown[] } }[] }).must[0]!.match.any
      expect(any?.every((v) => typeof v === 'string')).toBe(true)
    }
  })

  it('booleans match one value; fields without usable values give no filters', () => {
    const values = Array.from({ length: 100 }, (_, i) => i < 10)
    const out = selectivityFilters('flag', values)
    expect(out.map((x) => (x.filter as { must: { match: unknown }[] }).must[0]!.match)).toEqual([
      { value: true },
      { value: false },
    ])
    expect(selectivityFilters('x', [])).toEqual([])
    expect(selectivityFilters('x', [null, { a: 1 }, undefined])).toEqual([])
  })

  it('buckets follow the live recall estimate’s', () => {
    expect([0.001, 0.01, 0.1, 0.5, 0.9].map(selectivityBucket)).toEqual([
      'lt_1pct',
      '1_10pct',
      '10_50pct',
      '10_50pct',
      'gt_50pct',
    ])
  })
})

describe('the recommendation', () => {
  const row = (ef: number, recall: number, p99: number): SweepRow => ({
    ef,
    recall,
    qps: 1000 / p99,
    p50_ms: p99 / 2,
    p95_ms: p99,
    p99_ms: p99,
  })
  const sweep = [
    row(16, 0.9, 1),
    row(32, 0.951, 2),
    row(64, 0.991, 4),
    row(128, 0.992, 8),
    row(256, 0.999, 16),
  ]

  it('is the best recall within the budget, the cheapest ef among near ties', () => {
    expect(recommend(sweep, 10)).toMatchObject({ ef: 64, recall: 0.991, target_recall: null, p99_ms: 4 })
    expect(recommend(sweep, 3)).toMatchObject({ ef: 32 })
    expect(recommend(sweep, 100)).toMatchObject({ ef: 256 })
    expect(recommend([row(16, 0.85, 1)], 10)).toMatchObject({ ef: 16, target_recall: null })
  })

  it('recommends the highest target_recall measured that reached its target within the budget', () => {
    const targets = [
      { target_recall: 0.9, recall: 0.93, p99_ms: 1 },
      { target_recall: 0.95, recall: 0.96, p99_ms: 3 },
      { target_recall: 0.99, recall: 0.985, p99_ms: 6 }, // missed its target
    ]
    expect(recommend(sweep, 10, targets)).toMatchObject({ ef: 64, target_recall: 0.95 })
    expect(recommend(sweep, 2, targets)).toMatchObject({ target_recall: 0.9 })
    expect(recommend(sweep, 10, targets).reason).toContain('target_recall 0.95 reached 0.9600')
    expect(recommend(sweep, 0.5, targets)).toMatchObject({ ef: null, target_recall: null })
    // a server without target_recall (Qdrant): none
    expect(recommend(sweep, 10, null).target_recall).toBeNull()
  })

  it('says so when nothing is within the budget', () => {
    const r = recommend(sweep, 0.5)
    expect(r).toMatchObject({ ef: null, recall: null, target_recall: null })
    expect(r.reason).toContain('the fastest, ef 16, has p99 1.00 ms')
  })
})

describe('point ids', () => {
  it('UUIDs take their canonical spelling, integers and other strings stay', () => {
    const want = '2f1e0a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b'
    for (const id of [want, want.toUpperCase(), want.replaceAll('-', ''), `{${want}}`, `urn:uuid:${want}`])
      expect(canonicalId(id)).toBe(want)
    expect(canonicalId(42)).toBe(42)
    expect(canonicalId('not-a-uuid')).toBe('not-a-uuid')
  })
})

// The `discover` and `context` query kinds against a brute-force model of Qdrant's scores, over
// several segments after deletes and a reopen, for Cosine and Euclid: random targets and context
// pairs (vectors and point ids), filters, prefetches; properties (an empty context ranks as nearest,
// the pairs' rank dominates the target); and the refusals.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ContextPair, type Distance, type Filter, type HostedCollection, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 5
const N = 240

interface Model {
  id: number
  v: Float64Array
  odd: boolean
}

/** Qdrant's raw similarity: dot for Cosine (normalised vectors), minus squared L2 for Euclid. */
function sim(metric: Distance, a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += metric === 'Euclid' ? -((a[i]! - b[i]!) ** 2) : a[i]! * b[i]!
  return s
}

function norm(metric: Distance, v: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(Float32Array.from(v))
  if (metric !== 'Cosine') return out
  const n = Math.hypot(...out)
  return out.map((x) => Math.fround(x / n))
}

const fastSigmoid = (x: number) => x / (1 + Math.abs(x))
const scaledSigmoid = (x: number) => 0.5 * (fastSigmoid(x) + 1)

describe.each(['Cosine', 'Euclid'] as const)('discover and context (%s)', (metric) => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  let model: Model[]
  const r = rng(metric === 'Cosine' ? 31 : 32)
  const byId = (id: number) => model.find((m) => m.id === id)!
  const randomVector = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  type Example = number | number[]
  const resolve = (e: Example) => (typeof e === 'number' ? byId(e).v : norm(metric, e))
  const randomExample = (): Example =>
    r() < 0.5 ? model[Math.floor(r() * model.length)]!.id : randomVector()

  function discoverScore(
    m: Model,
    target: Example,
    pairs: { positive: Example; negative: Example }[],
  ): number {
    let rank = 0
    for (const p of pairs)
      rank += Math.sign(sim(metric, resolve(p.positive), m.v) - sim(metric, resolve(p.negative), m.v))
    return rank + scaledSigmoid(sim(metric, resolve(target), m.v))
  }

  function contextScore(m: Model, pairs: { positive: Example; negative: Example }[]): number {
    let s = 0
    for (const p of pairs) {
      const d = sim(metric, resolve(p.positive), m.v) - sim(metric, resolve(p.negative), m.v)
      s += fastSigmoid(Math.min(d - 1.1920929e-7, 0))
    }
    return s
  }

  /**
   * The hits are a correct top-k under `score`: each score is the model's for that point, scores do
   * not increase, and no point outside the hits scores clearly better than the last hit.
   */
  function expectTopK(
    hits: { id: string | number; score: number }[],
    candidates: Model[],
    score: (m: Model) => number,
    k: number,
  ): void {
    expect(hits).toHaveLength(Math.min(k, candidates.length))
    const got = new Set(hits.map((h) => h.id))
    for (const h of hits) expect(h.score).toBeCloseTo(score(byId(h.id as number)), 5)
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score)
    const last = hits[hits.length - 1]!.score
    for (const m of candidates) if (!got.has(m.id)) expect(score(m)).toBeLessThanOrEqual(last + 1e-5)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-discover-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('d', {
      dimension: DIM,
      metric,
      optimizers: { maxSegmentSize: 2, defaultSegmentNumber: 8 },
    })
    const points = Array.from({ length: N }, (_, id) => ({
      id,
      vector: randomVector(),
      payload: { odd: id % 2 === 1 },
    }))
    for (let i = 0; i < N; i += 40) await c.upsert(points.slice(i, i + 40))
    const deleted = new Set(points.filter((p) => p.id % 11 === 4).map((p) => p.id))
    await c.delete({ ids: [...deleted] })
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('d')
    model = points
      .filter((p) => !deleted.has(p.id))
      .map((p) => ({ id: p.id, v: norm(metric, p.vector), odd: p.payload.odd }))
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
  })

  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  const randomPairs = (n: number) =>
    Array.from({ length: n }, () => ({ positive: randomExample(), negative: randomExample() }))
  const ids = (pairs: { positive: Example; negative: Example }[], target?: Example) =>
    new Set(
      [target, ...pairs.flatMap((p) => [p.positive, p.negative])].filter(
        (e): e is number => typeof e === 'number',
      ),
    )

  it('discover equals brute force for random targets and pairs (ids excluded as examples)', async () => {
    for (let t = 0; t < 10; t++) {
      const target = randomExample()
      const pairs = randomPairs(1 + (t % 3))
      const used = ids(pairs, target)
      const filtered = t % 2 === 0
      const candidates = model.filter((m) => !used.has(m.id) && (!filtered || m.odd))
      const filter: Filter = { must: [{ key: 'odd', match: { value: true } }] }
      const { points } = await c.query({
        query: { discover: { target, context: pairs as ContextPair[] } },
        limit: 12,
        ...(filtered ? { filter } : {}),
      })
      expectTopK(points, candidates, (m) => discoverScore(m, target, pairs), 12)
    }
  })

  it('context equals brute force: scores at most 0, 0 for points on the positive side of every pair', async () => {
    for (let t = 0; t < 10; t++) {
      const pairs = randomPairs(1 + (t % 3))
      const used = ids(pairs)
      const candidates = model.filter((m) => !used.has(m.id))
      const single = t === 0 ? (pairs[0] as ContextPair) : (pairs as ContextPair[])
      const { points } = await c.query({ query: { context: single }, limit: 15 })
      expectTopK(points, candidates, (m) => contextScore(m, pairs), 15)
      for (const p of points) expect(p.score).toBeLessThanOrEqual(0)
    }
  })

  it('properties: an empty context ranks as nearest to the target; the pairs dominate the target', async () => {
    const q = randomVector()
    const near = await c.query({ query: q, limit: 10, params: { exact: true } })
    const disc = await c.query({ query: { discover: { target: q, context: [] } }, limit: 10 })
    expect(disc.points.map((p) => p.id)).toEqual(near.points.map((p) => p.id))
    for (const p of disc.points) expect(p.score > 0 && p.score < 1).toBe(true)

    // a point better on the pairs ranks above any point worse on them, however near the target
    const pairs = randomPairs(3)
    const { points } = await c.query({
      query: { discover: { target: q, context: pairs as ContextPair[] } },
      limit: 60,
    })
    const ranks = points.map((p) => Math.floor(p.score))
    for (let i = 1; i < ranks.length; i++) expect(ranks[i]!).toBeLessThanOrEqual(ranks[i - 1]!)
  })

  it('rescoring prefetched candidates, with score_threshold and offset', async () => {
    const q = randomVector()
    const pairs = randomPairs(2)
    const pre = await c.query({ query: q, limit: 40, params: { exact: true } })
    const preIds = new Set(pre.points.map((p) => p.id))
    const used = ids(pairs)
    const candidates = model.filter((m) => preIds.has(m.id) && !used.has(m.id))
    const { points } = await c.query({
      prefetch: { query: q, limit: 40, params: { exact: true } },
      query: { discover: { target: q, context: pairs as ContextPair[] } },
      limit: 10,
    })
    for (const p of points) expect(preIds.has(p.id)).toBe(true)
    // the prefetch may have dropped example ids (it excludes them too), so only check the ranking
    expectTopK(points, candidates, (m) => discoverScore(m, q, pairs), 10)

    const all = await c.query({ query: { context: pairs as ContextPair[] }, limit: 30 })
    const threshold = all.points[9]!.score
    const cut = await c.query({
      query: { context: pairs as ContextPair[] },
      limit: 30,
      scoreThreshold: threshold,
    })
    expect(cut.points.every((p) => p.score >= threshold)).toBe(true)
    const paged = await c.query({ query: { context: pairs as ContextPair[] }, limit: 5, offset: 5 })
    expect(paged.points).toEqual(all.points.slice(5, 10))
  })

  it('refuses malformed discover and context queries, naming the field', async () => {
    const v = randomVector()
    await expectError(
      c.query({ query: { discover: { context: [] } as never } }),
      'INVALID_ARGUMENT',
      /query\.discover\.target: required/,
    )
    await expectError(
      c.query({ query: { context: [{ positive: v } as never] } }),
      'INVALID_ARGUMENT',
      /query\.context\[0\]\.negative: required/,
    )
    await expectError(
      c.query({ query: { context: { positive: v, negative: v, extra: 1 } as never } }),
      'INVALID_ARGUMENT',
      /query\.context\.extra: unknown field/,
    )
    await expectError(c.query({ query: { discover: { target: [1, 2], context: null } } }), 'INVALID_VECTOR')
    await expectError(c.query({ query: { context: { positive: 100_000, negative: v } } }), 'POINT_NOT_FOUND')
  })
})

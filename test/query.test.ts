// collection.query against a brute-force model kept in the test: random data over several segments
// (small maxSegmentSize), after deletes and a reopen; every query kind, prefetch + fusion, recommend
// strategies, MMR, offset / score_threshold, query by id, and request validation.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Distance, type Filter, type HostedCollection, type PointId, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

/** A hit without its version (the WAL seq of the point's write), for comparing rankings. */
const idScore = (h: { id: unknown; score: number }) => ({ id: h.id, score: h.score })

const DIM = 6
const N = 400

interface Model {
  id: number
  v: Float64Array
  group: string
}

/** Raw similarity, higher is more similar (Qdrant's internal score). */
function sim(metric: Distance, a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) {
    if (metric === 'Euclid') s -= (a[i]! - b[i]!) ** 2
    else s += a[i]! * b[i]!
  }
  return s
}

function userScore(metric: Distance, s: number): number {
  return metric === 'Euclid' ? Math.sqrt(-s) : s
}

function norm(metric: Distance, v: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(Float32Array.from(v))
  if (metric !== 'Cosine') return out
  const n = Math.hypot(...out)
  return out.map((x) => Math.fround(x / n))
}

/** The reference ranking: every live point matching `keep`, by similarity to `q`. */
function brute(
  metric: Distance,
  model: Model[],
  q: Float64Array,
  keep: (m: Model) => boolean,
): { id: number; score: number }[] {
  return model
    .filter(keep)
    .map((m) => ({ id: m.id, s: sim(metric, q, m.v) }))
    .sort((a, b) => b.s - a.s)
    .map((h) => ({ id: h.id, score: userScore(metric, h.s) }))
}

function expectHits(got: { id: PointId; score: number }[], want: { id: number; score: number }[]): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id))
  got.forEach((h, i) => {
    expect(h.score).toBeCloseTo(want[i]!.score, 4)
  })
}

const sigmoid = (x: number) => 0.5 * (x / (1 + Math.abs(x)) + 1)

/** Reference MMR, written as the paper states it: argmax λ·rel − (1−λ)·max sim to the selected. */
function referenceMmr(
  metric: Distance,
  cands: Model[],
  q: Float64Array,
  lambda: number,
  k: number,
): number[] {
  const chosen: Model[] = []
  const rest = [...cands]
  while (chosen.length < k && rest.length > 0) {
    let best = 0
    let bestScore = -Infinity
    rest.forEach((c, i) => {
      const rel = sim(metric, q, c.v)
      const red = chosen.length === 0 ? 0 : Math.max(...chosen.map((s) => sim(metric, s.v, c.v)))
      const score = chosen.length === 0 ? rel : lambda * rel - (1 - lambda) * red
      if (score > bestScore) {
        bestScore = score
        best = i
      }
    })
    chosen.push(rest.splice(best, 1)[0]!)
  }
  return chosen.map((c) => c.id)
}

for (const metric of ['Cosine', 'Euclid'] as const) {
  describe(`query (${metric}, several segments, after deletes and a reopen)`, () => {
    let dir: string
    let db: Quiver
    let c: HostedCollection
    let model: Model[]
    const r = rng(metric === 'Cosine' ? 7 : 8)
    const exact = { exact: true }
    const higher = metric === 'Cosine'
    const byId = (id: number) => model.find((m) => m.id === id)!

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'quiver-query-'))
      db = await Quiver.open(dir)
      c = await db.createCollection('q', {
        dimension: DIM,
        metric,
        optimizers: { maxSegmentSize: 2, defaultSegmentNumber: 8 },
      })
      const points = Array.from({ length: N }, (_, id) => ({
        id,
        vector: Array.from({ length: DIM }, () => r() * 2 - 1),
        payload: { group: id % 3 === 0 ? 'a' : 'b' },
      }))
      for (let i = 0; i < N; i += 50) await c.upsert(points.slice(i, i + 50))
      const deleted = new Set(points.filter((p) => p.id % 7 === 3).map((p) => p.id))
      await c.delete({ ids: [...deleted] })
      await db.close()
      db = await Quiver.open(dir)
      c = await db.getCollection('q')
      model = points
        .filter((p) => !deleted.has(p.id))
        .map((p) => ({ id: p.id, v: norm(metric, p.vector), group: p.payload.group }))
      expect((await c.info()).segmentsCount).toBeGreaterThan(1)
    })

    afterAll(async () => {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    })

    const randomQuery = () => Array.from({ length: DIM }, () => r() * 2 - 1)
    const groupA: Filter = { must: [{ key: 'group', match: { value: 'a' } }] }

    it('nearest by vector equals brute force, with filter, offset and score_threshold', async () => {
      for (let t = 0; t < 5; t++) {
        const q = randomQuery()
        const all = brute(metric, model, norm(metric, q), () => true)
        expectHits((await c.query({ query: q, limit: 7, params: exact })).points, all.slice(0, 7))
        const a = brute(metric, model, norm(metric, q), (m) => m.group === 'a')
        expectHits(
          (await c.query({ query: { nearest: q }, filter: groupA, limit: 5, offset: 3, params: exact }))
            .points,
          a.slice(3, 8),
        )
        const threshold = (all[4]!.score + all[5]!.score) / 2
        const got = (await c.query({ query: q, limit: 20, scoreThreshold: threshold, params: exact })).points
        expectHits(
          got,
          all.slice(0, 20).filter((h) => (higher ? h.score >= threshold : h.score <= threshold)),
        )
        // the plain nearest query is the search call
        expect(got).toEqual(await c.search(q, { limit: 20, scoreThreshold: threshold, exact: true }))
      }
    })

    it('query by id uses the stored vector and excludes that point', async () => {
      const id = model[10]!.id
      const want = brute(metric, model, byId(id).v, (m) => m.id !== id).slice(0, 6)
      expectHits((await c.query({ query: id, limit: 6, params: exact })).points, want)
      expectHits((await c.query({ query: { nearest: id }, limit: 6, params: exact })).points, want)
      await expectError(c.query({ query: 3 }), 'POINT_NOT_FOUND')
    })

    it('recommend: average_vector, best_score and sum_scores', async () => {
      const pos = [model[1]!.id, model[2]!.id]
      const negVec = randomQuery()
      const neg = norm(metric, negVec)
      const examples = new Set(pos)
      const keep = (m: Model) => !examples.has(m.id)
      // average_vector: 2 * mean(pos) - neg, normalised for Cosine
      const avg = byId(pos[0]!).v.map((x, i) => x + byId(pos[1]!).v[i]! - neg[i]!)
      const avgQ = norm(metric, avg)
      expectHits(
        (
          await c.query({
            query: { recommend: { positive: pos, negative: [negVec] } },
            limit: 5,
            params: exact,
          })
        ).points,
        brute(metric, model, avgQ, keep).slice(0, 5),
      )
      const sum = model
        .filter(keep)
        .map((m) => ({
          id: m.id,
          score: pos.reduce((s, p) => s + sim(metric, byId(p).v, m.v), 0) - sim(metric, neg, m.v),
        }))
        .sort((a, b) => b.score - a.score)
      expectHits(
        (
          await c.query({
            query: { recommend: { positive: pos, negative: [negVec], strategy: 'sum_scores' } },
            limit: 5,
          })
        ).points,
        sum.slice(0, 5),
      )
      const best = model
        .filter(keep)
        .map((m) => {
          const p = Math.max(...pos.map((x) => sim(metric, byId(x).v, m.v)))
          const n = sim(metric, neg, m.v)
          return { id: m.id, score: p > n ? sigmoid(p) : -sigmoid(n) }
        })
        .sort((a, b) => b.score - a.score)
      expectHits(
        (
          await c.query({
            query: { recommend: { positive: pos, negative: [negVec], strategy: 'best_score' } },
            limit: 5,
          })
        ).points,
        best.slice(0, 5),
      )
      // negative only: best_score ranks the points least like the negatives
      const onlyNeg = (
        await c.query({ query: { recommend: { negative: [negVec], strategy: 'best_score' } }, limit: 3 })
      ).points
      expect(onlyNeg.every((h) => h.score < 0)).toBe(true)
    })

    it('prefetch + rrf, weighted rrf and dbsf equal the reference fusion', async () => {
      const q1 = randomQuery()
      const q2 = randomQuery()
      const l1 = brute(metric, model, norm(metric, q1), () => true).slice(0, 20)
      const l2 = brute(metric, model, norm(metric, q2), (m) => m.group === 'b').slice(0, 15)
      const prefetch = [
        { query: q1, limit: 20, params: exact },
        { query: q2, limit: 15, filter: { must: [{ key: 'group', match: { value: 'b' } }] }, params: exact },
      ]
      const fuse = (score: (list: number, rank: number, s: number) => number, lists = [l1, l2]) => {
        const m = new Map<number, number>()
        lists.forEach((l, li) => {
          l.forEach((h, rank) => {
            m.set(h.id, (m.get(h.id) ?? 0) + score(li, rank, h.score))
          })
        })
        return [...m].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score)
      }
      const rrfWant = fuse((_, rank) => 1 / (rank + 2))
      const rrfGot = (await c.query({ prefetch, query: { fusion: 'rrf' }, limit: 8 })).points
      expect(rrfGot.map((h) => h.score)).toEqual(rrfWant.slice(0, 8).map((h) => expect.closeTo(h.score, 6)))
      const weights = [3, 1]
      const wWant = fuse((li, rank) => 1 / ((rank + 1) / weights[li]! + 5 - 1))
      const wGot = (await c.query({ prefetch, query: { rrf: { k: 5, weights } }, limit: 8 })).points
      expect(wGot.map((h) => h.score)).toEqual(wWant.slice(0, 8).map((h) => expect.closeTo(h.score, 6)))
      const stats = [l1, l2].map((l) => {
        const xs = l.map((h) => (higher ? h.score : -h.score))
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
        return { mean, sd }
      })
      const dWant = fuse((li, _, s) => {
        const { mean, sd } = stats[li]!
        return ((higher ? s : -s) - (mean - 3 * sd)) / (6 * sd)
      })
      const dGot = (await c.query({ prefetch, query: { fusion: 'dbsf' }, limit: 8, offset: 2 })).points
      expect(dGot.map((h) => h.score)).toEqual(dWant.slice(2, 10).map((h) => expect.closeTo(h.score, 4)))
      // the top-level filter reaches the prefetches
      const filtered = (await c.query({ prefetch, query: { fusion: 'rrf' }, filter: groupA, limit: 30 }))
        .points
      expect(filtered.length).toBeGreaterThan(0)
      expect(filtered.every((h) => byId(h.id as number).group === 'a')).toBe(true)
    })

    it('a vector query rescores prefetched candidates exactly', async () => {
      const q1 = randomQuery()
      const q2 = randomQuery()
      const cands = new Set(
        brute(metric, model, norm(metric, q1), () => true)
          .slice(0, 30)
          .map((h) => h.id),
      )
      const want = brute(metric, model, norm(metric, q2), (m) => cands.has(m.id)).slice(0, 5)
      expectHits(
        (await c.query({ prefetch: { query: q1, limit: 30, params: exact }, query: q2, limit: 5 })).points,
        want,
      )
    })

    it('MMR selects greedily as the reference and keeps the similarity as the score', async () => {
      for (const diversity of [0, 0.3, 0.8]) {
        const q = randomQuery()
        const nq = norm(metric, q)
        const ranked = brute(metric, model, nq, () => true)
        const cands = ranked.slice(0, 25).map((h) => byId(h.id))
        const want = referenceMmr(metric, cands, nq, 1 - diversity, 6)
        const got = (
          await c.query({
            query: { nearest: q, mmr: { diversity, candidatesLimit: 25 } },
            limit: 6,
            params: exact,
          })
        ).points
        expect(got.map((h) => h.id)).toEqual(want)
        for (const h of got) expect(h.score).toBeCloseTo(ranked.find((x) => x.id === h.id)!.score, 4)
        if (diversity === 0) expect(got.map((h) => h.id)).toEqual(ranked.slice(0, 6).map((h) => h.id))
      }
    })

    it('no query scrolls in id order with score 0; sample returns distinct matching points', async () => {
      const got = (await c.query({ limit: 5, offset: 2, filter: groupA })).points
      expect(got.map((h) => ({ id: h.id, score: h.score }))).toEqual(
        model
          .filter((m) => m.group === 'a')
          .slice(2, 7)
          .map((m) => ({ id: m.id, score: 0 })),
      )
      const s = (await c.query({ query: { sample: 'random' }, limit: 10, filter: groupA })).points
      expect(new Set(s.map((h) => h.id)).size).toBe(10)
      expect(s.every((h) => h.score === 0 && byId(h.id as number).group === 'a')).toBe(true)
    })

    it('rejects bad requests before searching, naming the path', async () => {
      const v = randomQuery()
      await expectError(
        c.query({ query: { recommend: { positive: [1, 2, [1, 2]] } } }),
        'INVALID_VECTOR',
        /query\.recommend\.positive\[2\]/,
      )
      await expectError(
        c.query({ query: { fusion: 'rrf' } }),
        'INVALID_ARGUMENT',
        /query: fusion needs prefetches/,
      )
      await expectError(c.query({ prefetch: [{ query: v }] }), 'INVALID_ARGUMENT', /a query is needed/)
      await expectError(
        c.query({ prefetch: [{ query: v }, { query: v }], query: { rrf: { weights: [1] } } }),
        'INVALID_ARGUMENT',
        /query\.rrf\.weights: expected one weight per prefetch/,
      )
      await expectError(
        c.query({ query: v, using: 'image' }),
        'INVALID_ARGUMENT',
        /using: Wrong input: Not existing vector name error: "image"/,
      )
      await expectError(
        c.query({ query: { nearest: v, mmr: { diversity: 2 } } }),
        'INVALID_ARGUMENT',
        /query\.mmr\.diversity/,
      )
      await expectError(
        c.query({ prefetch: { query: v, limit: 0 }, query: v }),
        'INVALID_ARGUMENT',
        /prefetch\.limit/,
      )
      await expectError(
        c.query({ query: { recommend: { positive: [], strategy: 'average_vector' } } }),
        'INVALID_ARGUMENT',
        /query\.recommend\.positive/,
      )
      await expectError(
        c.query({ query: { recommend: { positive: [1], strategy: 'nope' as 'best_score' } } }),
        'INVALID_ARGUMENT',
        /query\.recommend\.strategy/,
      )
      await expectError(
        c.query({ query: v, using: '' }).then(() => c.query({ query: { nope: 1 } as never })),
        'INVALID_ARGUMENT',
        /query kind "nope"/,
      )
    })
  })
}

describe('query: score-boosting formula over prefetches (several segments)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const r = rng(31)
  const n = 150
  const exact = { exact: true }
  interface P {
    id: number
    vector: number[]
    payload: { tag: string; price?: number; loc: { lat: number; lon: number }; at: string }
  }
  const points: P[] = Array.from({ length: n }, (_, id) => {
    const payload: P['payload'] = {
      tag: id % 4 === 0 ? 'x' : 'y',
      loc: { lat: Math.round(r() * 1000) / 100, lon: Math.round(r() * 1000) / 100 },
      at: new Date(Date.UTC(2025, 0, 1 + (id % 60))).toISOString(),
    }
    if (id % 5 !== 0) payload.price = Math.round(r() * 100) / 100
    return { id, vector: Array.from({ length: DIM }, () => r() * 2 - 1), payload }
  })
  const byId = new Map(points.map((p) => [p.id, p]))
  const tagX: Filter = { must: [{ key: 'tag', match: { value: 'x' } }] }
  const randomQuery = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-formula-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('f', {
      dimension: DIM,
      metric: 'Dot',
      optimizers: { maxSegmentSize: 1, defaultSegmentNumber: 8 },
    })
    for (let i = 0; i < n; i += 30) await c.upsert(points.slice(i, i + 30))
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
  })

  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Reference ranking: `value` of each candidate, higher first, ties in candidate order. */
  const ranked = (ids: number[], value: (id: number) => number) =>
    ids.map((id) => ({ id, score: Math.fround(value(id)) })).sort((a, b) => b.score - a.score)

  it('scores each prefetch candidate by the formula, best first, with limit, offset and score_threshold', async () => {
    const q = randomQuery()
    const base = (await c.query({ query: q, limit: 30, params: exact })).points
    const s0 = new Map(base.map((h) => [h.id as number, h.score]))
    const formula = {
      formula: {
        sum: ['$score', { mult: [0.5, 'price'] }, { mult: [0.25, { key: 'tag', match: { value: 'x' } }] }],
      },
      defaults: { price: 0 },
    }
    const want = ranked([...s0.keys()], (id) => {
      const p = byId.get(id)!.payload
      return s0.get(id)! + 0.5 * (p.price ?? 0) + 0.25 * (p.tag === 'x' ? 1 : 0)
    })
    const prefetch = { query: q, limit: 30, params: exact }
    expect((await c.query({ prefetch, query: formula, limit: 30 })).points.map(idScore)).toEqual(want)
    expect((await c.query({ prefetch, query: formula, limit: 4, offset: 2 })).points.map(idScore)).toEqual(
      want.slice(2, 6),
    )
    const threshold = want[9]!.score
    const cut = (await c.query({ prefetch, query: formula, limit: 30, scoreThreshold: threshold })).points
    expect(cut.map(idScore)).toEqual(want.filter((h) => h.score >= threshold))
  })

  it('$score[i] is the score in prefetch i; a candidate missing from prefetch i gets defaults["$score[i]"] or 0', async () => {
    const [q0, q1] = [randomQuery(), randomQuery()]
    const p0 = (await c.query({ query: q0, limit: 12, params: exact })).points
    const p1 = (await c.query({ query: q1, limit: 12, params: exact, filter: tagX })).points
    const s0 = new Map(p0.map((h) => [h.id as number, h.score]))
    const s1 = new Map(p1.map((h) => [h.id as number, h.score]))
    const union = [...new Set([...s0.keys(), ...s1.keys()])]
    const got = await c.query({
      prefetch: [
        { query: q0, limit: 12, params: exact },
        { query: q1, limit: 12, params: exact, filter: tagX },
      ],
      query: { formula: { sum: ['$score', { mult: [2, '$score[1]'] }] }, defaults: { '$score[1]': -1 } },
      limit: 100,
    })
    expect(got.points.map(idScore)).toEqual(ranked(union, (id) => (s0.get(id) ?? 0) + 2 * (s1.get(id) ?? -1)))
  })

  it("over a scrolled prefetch: payload values, the root filter and score_threshold (as Qdrant's test)", async () => {
    const got = await c.query({
      prefetch: { limit: 1000 },
      query: { formula: 'price', defaults: { price: 0 } },
      filter: tagX,
      scoreThreshold: 0.5,
      limit: 1000,
    })
    const ids = points.filter((p) => p.payload.tag === 'x').map((p) => p.id)
    expect(got.points.map(idScore)).toEqual(
      ranked(ids, (id) => byId.get(id)!.payload.price ?? 0).filter((h) => h.score >= 0.5),
    )
  })

  it('geo_distance and datetime decays rank by closeness and recency', async () => {
    const origin = { lat: 5, lon: 5 }
    const near = await c.query({
      prefetch: { limit: 1000 },
      query: { formula: { gauss_decay: { x: { geo_distance: { origin, to: 'loc' } }, scale: 200_000 } } },
      limit: 10,
    })
    const rad = Math.PI / 180
    const metres = (p: P) => {
      const { lat, lon } = p.payload.loc
      const a =
        Math.sin(((lat - origin.lat) * rad) / 2) ** 2 +
        Math.cos(lat * rad) * Math.cos(origin.lat * rad) * Math.sin(((lon - origin.lon) * rad) / 2) ** 2
      return 2 * 6371008.8 * Math.asin(Math.sqrt(a))
    }
    const closest = [...points].sort((a, b) => metres(a) - metres(b)).slice(0, 10)
    expect(near.points.map((h) => h.id)).toEqual(closest.map((p) => p.id))
    near.points.forEach((h, i) => {
      expect(h.score).toBeCloseTo(0.5 ** ((metres(closest[i]!) / 200_000) ** 2), 5)
    })
    const recent = await c.query({
      prefetch: { limit: 1000 },
      query: {
        formula: {
          exp_decay: {
            x: { datetime_key: 'at' },
            target: { datetime: '2025-03-01T00:00:00Z' },
            scale: 86400,
          },
        },
      },
      limit: 4,
    })
    // ids 59 and 119 are dated 2025-03-01 (score 1), ids 58 and 118 one day = one scale earlier (0.5)
    expect(recent.points.map((h) => h.id)).toEqual([59, 119, 58, 118])
    expect(recent.points.map((h) => h.score)).toEqual([1, 1, Math.fround(0.5), Math.fround(0.5)])
  })

  it('rejects bad formulas before searching and fails evaluation naming the node and the point', async () => {
    const q = randomQuery()
    const prefetch = { query: q, limit: 20 }
    const before = await c.query({ prefetch, query: { formula: { mult: ['$score', 2] } } })
    await expectError(
      c.query({ query: { formula: '$score' } }),
      'INVALID_ARGUMENT',
      /^query: a formula needs prefetches/,
    )
    await expectError(
      c.query({ prefetch, query: { formula: { sum: [1, { nope: 2 }] } } as never }),
      'INVALID_ARGUMENT',
      /^query\.formula\.sum\[1\]: unknown operator "nope"/,
    )
    await expectError(
      c.query({
        prefetch: [{ prefetch, query: { formula: { pow: { base: 2 } } as never } }],
        query: { fusion: 'rrf' },
      }),
      'INVALID_ARGUMENT',
      /^prefetch\[0\]\.query\.formula\.pow\.exponent: required/,
    )
    await expectError(
      c.query({ prefetch, query: { formula: { div: { left: 1, right: { neg: 0 } } } } }),
      'INVALID_ARGUMENT',
      /^query\.formula\.div: point \d+: 1\/0 = -Infinity is not a finite number \(division by zero: set by_zero_default\)/,
    )
    // id 0 has no price: missing without a default
    await expectError(
      c.query({ prefetch: { filter: { must: { has_id: [0, 1] } } }, query: { formula: 'price' } }),
      'INVALID_ARGUMENT',
      /^query\.formula: point 0: expected a number at "price": no value in the payload nor in defaults/,
    )
    await expectError(
      c.query({ prefetch, query: { formula: 'tag' } }),
      'INVALID_ARGUMENT',
      /^query\.formula: point \d+: expected a number at "tag", got string "[xy]"/,
    )
    // the failed queries changed nothing
    expect(await c.query({ prefetch, query: { formula: { mult: ['$score', 2] } } })).toEqual(before)
    for (const h of before.points) expect(h.score).toBeTypeOf('number')
  })
})

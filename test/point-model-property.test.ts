// Property test of the point model: seeded random upserts (some with duplicate ids), updateVectors,
// deleteVectors (by ids and by filter) and deletes on a small collection of one dense, one sparse
// (idf) and one multi vector spread over many tiny segments, checked against an in-memory model
// after every round (stored vectors, versions, has_vector counts, exact searches), with reopens
// (persisted, and replaying the WAL) and optimizer runs in between.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HostedCollection, type PointId, Quiver, type VectorStruct } from '../src/index.js'
import { rng } from './support/random.js'

const DIM = 32
const ROW = 4
const IDS = 40
const ROUNDS = 30
type Name = 'a' | 'm' | 's'
const NAMES: readonly Name[] = ['a', 'm', 's']

interface Point {
  a?: number[]
  m?: number[][]
  s?: { indices: number[]; values: number[] }
  k: number
  version: number
}

describe('point model property: random writes across segments equal an in-memory model', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const model = new Map<number, Point>()
  const r = rng(424242)
  const int = (n: number) => Math.floor(r() * n)
  // values on a grid of 1/8 in [-2, 2): float32-exact, so stored vectors compare exactly
  const val = () => (int(32) - 16) / 8

  function gen(names: readonly Name[]) {
    const input: Record<string, unknown> = {}
    const stored: Partial<Point> = {}
    for (const n of names) {
      if (n === 'a') stored.a = Array.from({ length: DIM }, val)
      else if (n === 'm')
        stored.m = Array.from({ length: 1 + int(3) }, () => Array.from({ length: ROW }, val))
      else {
        const set = new Set<number>()
        const nnz = 1 + int(4)
        while (set.size < nnz) set.add(int(12))
        const indices = [...set].sort((x, y) => x - y)
        stored.s = { indices, values: indices.map(() => (1 + int(16)) / 4) }
      }
      input[n] = stored[n]
    }
    return { input: input as VectorStruct, stored }
  }
  const someNames = (p: number): Name[] => NAMES.filter(() => r() >= p)
  const existing = () => [...model.keys()]
  const pick = <T>(xs: readonly T[], n: number): T[] => {
    const copy = [...xs]
    const out: T[] = []
    while (out.length < n && copy.length > 0) out.push(copy.splice(int(copy.length), 1)[0]!)
    return out
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-point-model-property-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('p', {
      vectors: {
        a: { dimension: DIM, metric: 'Dot' },
        m: { dimension: ROW, metric: 'Euclid', multivector: { comparator: 'max_sim' } },
      },
      sparseVectors: { s: { modifier: 'idf' } },
      // 36 floats (144 bytes) a point: 1 KiB segments hold 7 points
      optimizers: { maxSegmentSize: 1, defaultSegmentNumber: 2, vacuumMinVectorNumber: 2 },
    })
  })
  afterAll(async () => {
    await db?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  async function step(round: number): Promise<string> {
    const kind = int(5)
    if (kind <= 1) {
      // upsert 1..6 points, ids may repeat within the batch (the later one wins)
      const batch = Array.from({ length: 1 + int(6) }, () => ({ id: int(IDS), ...gen(someNames(0.3)) }))
      const res = await c.upsert(batch.map((p) => ({ id: p.id, vector: p.input, payload: { k: round } })))
      for (const p of batch) model.set(p.id, { ...p.stored, k: round, version: res.operationId })
      return `upsert ${batch.map((p) => p.id).join(',')}`
    }
    const ids = existing()
    if (ids.length === 0) return 'skip'
    if (kind === 2) {
      const chosen = pick(ids, 1 + int(4)).map((id) => {
        const names = someNames(0.5)
        return { id, ...gen(names.length === 0 ? ['s'] : names) }
      })
      const res = await c.updateVectors(chosen.map((p) => ({ id: p.id, vector: p.input })))
      for (const p of chosen) model.set(p.id, { ...model.get(p.id)!, ...p.stored, version: res.operationId })
      return `updateVectors ${chosen.map((p) => p.id).join(',')}`
    }
    if (kind === 3) {
      const names = someNames(0.6)
      if (names.length === 0) names.push('a')
      let selected: number[]
      let res: { operationId: number }
      if (r() < 0.5) {
        selected = pick(ids, 1 + int(5))
        res = await c.deleteVectors(names, { ids: selected })
      } else {
        const below = round - int(4)
        selected = ids.filter((id) => model.get(id)!.k < below)
        res = await c.deleteVectors(names, { filter: { must: [{ key: 'k', range: { lt: below } }] } })
      }
      for (const id of selected) {
        const p = { ...model.get(id)!, version: res.operationId }
        for (const n of names) delete p[n]
        model.set(id, p)
      }
      return `deleteVectors ${names.join('+')} of ${selected.join(',')}`
    }
    const gone = [...pick(ids, 1 + int(3)), IDS + 1] // plus an id that never existed
    await c.delete({ ids: gone })
    for (const id of gone) model.delete(id)
    return `delete ${gone.join(',')}`
  }

  /** `got` equals the best `k` of `ref` (ids may differ only among equal scores). */
  function expectTop(
    got: readonly { id: PointId; score: number }[],
    ref: { id: number; score: number }[],
    k: number,
    what: string,
  ) {
    const want = ref.slice(0, k)
    expect(got.length, what).toBe(want.length)
    const truth = new Map(ref.map((h) => [h.id, h.score]))
    got.forEach((h, i) => {
      const tol = 1e-5 * Math.max(1, Math.abs(want[i]!.score))
      expect(Math.abs(h.score - want[i]!.score), `${what}[${i}]`).toBeLessThanOrEqual(tol)
      expect(
        Math.abs(truth.get(h.id as number)! - h.score),
        `${what}[${i}] id ${String(h.id)}`,
      ).toBeLessThanOrEqual(tol)
    })
    expect(new Set(got.map((h) => h.id)).size).toBe(got.length)
  }

  async function verify(what: string): Promise<void> {
    expect(await c.count(), `${what}: count`).toBe(model.size)
    const page = await c.scroll({ limit: 1000, withVector: true })
    const want = [...model.entries()].sort(([x], [y]) => x - y)
    expect(
      page.points.map((p) => ({ id: p.id, payload: p.payload, vector: p.vector })),
      `${what}: stored points`,
    ).toEqual(
      want.map(([id, p]) => ({
        id,
        payload: { k: p.k },
        vector: Object.fromEntries(NAMES.filter((n) => p[n] !== undefined).map((n) => [n, p[n]])),
      })),
    )
    for (const n of NAMES) {
      const holders = want.filter(([, p]) => p[n] !== undefined).length
      expect(await c.count({ filter: { must: [{ has_vector: n }] } }), `${what}: has_vector ${n}`).toBe(
        holders,
      )
    }
    // exact searches on each vector, with versions
    const q = Array.from({ length: DIM }, val)
    const refA = want
      .filter(([, p]) => p.a !== undefined)
      .map(([id, p]) => ({ id, score: p.a!.reduce((s, x, i) => s + x * q[i]!, 0) }))
      .sort((x, y) => y.score - x.score)
    const hits = await c.search(q, { using: 'a', exact: true, limit: 5 })
    expectTop(hits, refA, 5, `${what}: search a`)
    for (const h of hits)
      expect(h.version, `${what}: version of ${String(h.id)}`).toBe(model.get(h.id as number)!.version)
    const qm = [Array.from({ length: ROW }, val), Array.from({ length: ROW }, val)]
    // Qdrant's max_sim on Euclid: the sum of the smallest squared L2 distances; the score is its root
    const l2sq = (x: number[], y: number[]) => x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0)
    const refM = want
      .filter(([, p]) => p.m !== undefined)
      .map(([id, p]) => ({
        id,
        score: Math.sqrt(qm.reduce((s, row) => s + Math.min(...p.m!.map((pr) => l2sq(row, pr))), 0)),
      }))
      .sort((x, y) => x.score - y.score)
    expectTop((await c.query({ query: qm, using: 'm', limit: 5 })).points, refM, 5, `${what}: query m`)
    const qs = { indices: [1, 4, 7], values: [1, 0.5, 2] }
    const holders = want.filter(([, p]) => p.s !== undefined)
    const idf = (t: number) => {
      const df = holders.filter(([, p]) => p.s!.indices.includes(t)).length
      return Math.log((holders.length - df + 0.5) / (df + 0.5) + 1)
    }
    const refS = holders
      .filter(([, p]) => p.s!.indices.some((t) => qs.indices.includes(t)))
      .map(([id, p]) => ({
        id,
        score: p.s!.indices.reduce((s, t, i) => {
          const j = qs.indices.indexOf(t)
          return j < 0 ? s : s + qs.values[j]! * idf(t) * p.s!.values[i]!
        }, 0),
      }))
      .sort((x, y) => y.score - x.score)
    expectTop(await c.search(qs, { using: 's', limit: 5 }), refS, 5, `${what}: search s`)
  }

  it(`${ROUNDS} rounds of random operations`, async () => {
    const log: string[] = []
    let maxSegments = 0
    for (let round = 1; round <= ROUNDS; round++) {
      for (let i = 0; i < 5; i++) log.push(await step(round))
      const what = `round ${round} after ${log.slice(-5).join('; ')}`
      await verify(what)
      maxSegments = Math.max(maxSegments, (await c.info()).segmentsCount)
      if (round % 7 === 0) {
        await c.waitForOptimizers()
        await verify(`${what}, after the optimizers`)
      }
      if (round % 10 === 5) {
        // no persist: the writes since the last one replay from the WAL onto the persisted segments
        const { appliedSeq, persistedSeq } = c.stats()
        expect(appliedSeq).toBeGreaterThan(persistedSeq)
        await c.closeWithoutPersist()
        await db.close()
        db = await Quiver.open(dir)
        c = await db.getCollection('p')
        await verify(`${what}, after a reopen from the WAL`)
      }
      if (round % 10 === 0) {
        await db.close()
        db = await Quiver.open(dir)
        c = await db.getCollection('p')
        await verify(`${what}, after a reopen`)
      }
    }
    expect(maxSegments).toBeGreaterThan(3)
  })
})

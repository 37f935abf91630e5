// Scroll with orderBy, facet and the distance matrix through the embedded API, held against a
// brute-force model over random payloads spread across several segments, after deletes, updates
// and a reopen; plus the refusals (no suitable index, offset with orderBy, bad options).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Filter, type HostedCollection, type Payload, type PointId, Quiver } from '../src/index.js'
import { comparePointIds } from '../src/point-id.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 8
const r = rng(20261202)
const CITIES = ['berlin', 'paris', 'rome', 'oslo']
const UIDS = [
  '00000000-0000-4000-8000-000000000001',
  '00000000-0000-4000-8000-000000000002',
  '00000000-0000-4000-8000-000000000003',
]
const DAY = 86_400_000

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!
}

/** One of: a value, an array of 1-3 values, nothing, or a value of another type. */
function field(make: () => unknown): unknown {
  const u = r()
  if (u < 0.55) return make()
  if (u < 0.8) return Array.from({ length: 1 + Math.floor(r() * 3) }, make)
  if (u < 0.92) return undefined
  return u < 0.96 ? 'other' : 7
}

function randomPayload(): Payload {
  const p: Record<string, unknown> = {
    n: field(() => (r() < 0.9 ? Math.floor(r() * 12) : Math.floor(r() * 12) + 0.5)),
    price: field(() => Math.round(r() * 1000) / 10),
    at: field(() => new Date(Date.UTC(2025, 0, 1) + Math.floor(r() * 30) * DAY).toISOString()),
    city: field(() => pick(CITIES)),
    sold: field(() => r() < 0.5),
    uid: field(() => pick(UIDS)),
    m: field(() => Math.floor(r() * 5)),
    w: Math.floor(r() * 100),
  }
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k]
  return p as Payload
}

function randomVector(): number[] {
  return Array.from({ length: DIM }, () => r() * 2 - 1)
}

type Model = Map<PointId, { vector: number[]; payload: Payload }>

/** The values a condition or index sees at a top-level key: the value, or an array's elements. */
function valuesAt(payload: Payload, key: string): unknown[] {
  const v = payload[key]
  if (v === undefined) return []
  return Array.isArray(v) ? v : [v]
}

function numbersAt(payload: Payload, key: string): number[] {
  const xs = valuesAt(payload, key).flatMap((v) => {
    // strings that are not datetimes ('other') are not in a datetime index
    if (key === 'at')
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? [Date.parse(v) * 1000] : []
    return typeof v === 'number' && Number.isFinite(v) ? [v] : []
  })
  return [...new Set(xs)]
}

const FILTERS: { filter: Filter | undefined; keep: (p: Payload) => boolean }[] = [
  { filter: undefined, keep: () => true },
  {
    filter: { must: [{ key: 'city', match: { value: 'berlin' } }] },
    keep: (p) => valuesAt(p, 'city').includes('berlin'),
  },
  {
    filter: { must_not: [{ key: 'sold', match: { value: true } }] },
    keep: (p) => !valuesAt(p, 'sold').includes(true),
  },
  { filter: { must: [{ key: 'w', range: { lt: 50 } }] }, keep: (p) => (p.w as number) < 50 },
]

function refOrdered(
  model: Model,
  key: string,
  desc: boolean,
  from: number | null,
  limit: number,
  keep: (p: Payload) => boolean,
): { id: PointId; value: number }[] {
  const out: { id: PointId; value: number }[] = []
  for (const [id, p] of model) {
    if (!keep(p.payload)) continue
    for (const value of numbersAt(p.payload, key)) {
      if (from !== null && (desc ? value > from : value < from)) continue
      out.push({ id, value })
    }
  }
  out.sort((a, b) => (a.value - b.value || comparePointIds(a.id, b.id)) * (desc ? -1 : 1))
  return out.slice(0, limit)
}

function refFacet(model: Model, key: string, limit: number, keep: (p: Payload) => boolean) {
  const counts = new Map<unknown, number>()
  for (const p of model.values()) {
    if (!keep(p.payload)) continue
    const held = new Set(
      valuesAt(p.payload, key).filter((v) =>
        key === 'sold'
          ? typeof v === 'boolean'
          : key === 'n' || key === 'm'
            ? Number.isInteger(v)
            : typeof v === 'string',
      ),
    )
    for (const v of held) counts.set(v, (counts.get(v) ?? 0) + 1)
  }
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value! < b.value! ? -1 : a.value! > b.value! ? 1 : 0))
    .slice(0, limit)
}

function euclid(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return Math.sqrt(s)
}

async function expectModel(c: HostedCollection, model: Model): Promise<void> {
  expect(c.stats().segmentsCount).toBeGreaterThanOrEqual(3)
  for (const { filter, keep } of FILTERS) {
    for (const key of ['n', 'price', 'at']) {
      for (const desc of [false, true]) {
        const mid = refOrdered(model, key, desc, null, 40, keep)[20]?.value ?? null
        for (const from of [null, mid]) {
          for (const limit of [7, 5000]) {
            const page = await c.scroll({
              orderBy: { key, direction: desc ? 'desc' : 'asc', startFrom: from },
              limit,
              filter: filter ?? null,
              withPayload: false,
            })
            const want = refOrdered(model, key, desc, from, limit, keep)
            expect(page.points.map((p) => ({ id: p.id, value: p.orderValue }))).toEqual(want)
            expect(page.nextPageOffset).toBeNull()
          }
        }
      }
    }
    for (const key of ['city', 'sold', 'uid', 'n', 'm']) {
      for (const limit of [2, 100]) {
        const { hits } = await c.facet({ key, limit, ...(filter ? { filter } : {}) })
        expect(hits).toEqual(refFacet(model, key, limit, keep))
      }
    }
  }
  // a sample at least as large as the matches is every match: the matrix is the brute-force one
  const { filter, keep } = FILTERS[1]!
  const members = [...model].filter(([, p]) => keep(p.payload)).sort((a, b) => comparePointIds(a[0], b[0]))
  const matrix = await c.searchMatrix({ sample: members.length + 5, limit: 4, filter: filter! })
  expect(matrix.sampleIds).toEqual(members.map(([id]) => id))
  members.forEach(([id, p], i) => {
    const want = members
      .filter(([other]) => other !== id)
      .map(([other, q]) => ({ id: other, score: euclid(p.vector, q.vector) }))
      .sort((a, b) => a.score - b.score)
      .slice(0, 4)
    const got = matrix.nearest[i]!
    expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id))
    got.forEach((h, j) => {
      expect(h.score).toBeCloseTo(want[j]!.score, 4)
    })
  })
}

describe('scroll orderBy, facet and searchMatrix (embedded)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const model: Model = new Map()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-orderby-'))
    db = await Quiver.open(dir)
    // 4 KiB = 128 points of 8 floats per segment
    c = await db.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      optimizers: { maxSegmentSize: 4, defaultSegmentNumber: 8 },
    })
    await c.createPayloadIndex('n', { type: 'integer', lookup: true, range: true })
    await c.createPayloadIndex('price', 'float')
    await c.createPayloadIndex('city', 'keyword')
    await c.createPayloadIndex('sold', 'bool')
    await c.createPayloadIndex('m', { type: 'integer', lookup: true, range: false })
    for (let b = 0; b < 12; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => ({
        id: b * 50 + i,
        vector: randomVector(),
        payload: randomPayload(),
      }))
      await c.upsert(batch)
      for (const p of batch) model.set(p.id, { vector: p.vector, payload: p.payload })
    }
    // the rest are built over stored points
    await c.createPayloadIndex('at', 'datetime')
    await c.createPayloadIndex('uid', 'uuid')
    await c.createPayloadIndex('r', { type: 'integer', lookup: false, range: true })
    await c.waitForOptimizers()
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('match a brute-force model across segments', async () => {
    await expectModel(c, model)
  })

  it('still match after deletes, payload updates and replacements', async () => {
    const gone = [...model.keys()].filter((id) => (id as number) % 7 === 3)
    await c.delete({ ids: gone })
    for (const id of gone) model.delete(id)
    for (const id of [1, 2, 130, 260, 599]) {
      const payload = randomPayload()
      await c.overwritePayload(payload, { ids: [id] })
      model.get(id)!.payload = payload
    }
    for (const id of [5, 140, 300]) {
      const p = { id, vector: randomVector(), payload: randomPayload() }
      await c.upsert([p])
      model.set(id, { vector: p.vector, payload: p.payload })
    }
    await c.setPayload({ city: 'berlin' }, { ids: [8, 9, 11] })
    for (const id of [8, 9, 11]) model.get(id)!.payload = { ...model.get(id)!.payload, city: 'berlin' }
    await expectModel(c, model)
  })

  it('still match after a reopen', async () => {
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('c')
    await expectModel(c, model)
  })

  it('samples distinct matching points for a matrix smaller than the matches', async () => {
    const keep = FILTERS[3]!.keep
    const m = await c.searchMatrix({ sample: 20, limit: 3, filter: FILTERS[3]!.filter! })
    expect(m.sampleIds).toHaveLength(20)
    expect([...m.sampleIds].sort(comparePointIds)).toEqual(m.sampleIds)
    expect(new Set(m.sampleIds).size).toBe(20)
    const sampled = new Set(m.sampleIds)
    m.sampleIds.forEach((id, i) => {
      expect(keep(model.get(id)!.payload)).toBe(true)
      const row = m.nearest[i]!
      expect(row).toHaveLength(3)
      for (const h of row) {
        expect(sampled.has(h.id)).toBe(true)
        expect(h.id).not.toBe(id)
        expect(h.score).toBeCloseTo(euclid(model.get(id)!.vector, model.get(h.id)!.vector), 4)
      }
      expect(row.map((h) => h.score)).toEqual([...row.map((h) => h.score)].sort((a, b) => a - b))
    })
    // defaults: sample 10, limit 3; fewer than 2 matches: empty
    const d = await c.searchMatrix()
    expect(d.sampleIds).toHaveLength(10)
    expect(d.nearest.every((row) => row.length === 3)).toBe(true)
    const none = await c.searchMatrix({ filter: { must: [{ has_id: [0] }] } })
    expect(none).toEqual({ sampleIds: [], nearest: [] })
  })

  it('refuses requests without a suitable index, offset with orderBy and bad options', async () => {
    await expectError(c.scroll({ orderBy: 'w' }), 'INDEX_REQUIRED', /No range index for `order_by` key: `w`/)
    await expectError(c.scroll({ orderBy: 'm' }), 'INDEX_REQUIRED', /PUT \/collections\/c\/index/)
    await expectError(c.scroll({ orderBy: 'city' }), 'INDEX_REQUIRED')
    await expectError(c.scroll({ orderBy: '__proto__' }), 'INDEX_REQUIRED')
    await expectError(
      c.facet({ key: 'price' }),
      'INDEX_REQUIRED',
      /No appropriate index for faceting: `price`/,
    )
    await expectError(c.facet({ key: 'r' }), 'INDEX_REQUIRED')
    await expectError(c.facet({ key: '__proto__' }), 'INDEX_REQUIRED')
    await expectError(c.scroll({ orderBy: 'n', offset: 3 }), 'INVALID_ARGUMENT', /Cannot use an `offset`/)
    await expectError(
      c.scroll({ orderBy: { key: 'n', direction: 'up' as 'asc' } }),
      'INVALID_ARGUMENT',
      /direction/,
    )
    await expectError(c.scroll({ orderBy: { key: 'n', startFrom: 'soon' } }), 'INVALID_ARGUMENT', /startFrom/)
    await expectError(c.scroll({ orderBy: { key: '' } }), 'INVALID_ARGUMENT')
    await expectError(c.facet({ key: 'city', limit: 0 }), 'INVALID_ARGUMENT')
    await expectError(c.searchMatrix({ sample: 1 }), 'INVALID_ARGUMENT', /sample/)
    await expectError(c.searchMatrix({ using: 'image' }), 'INVALID_ARGUMENT', /Not existing vector name/)
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('key')
  })
})

// The `{ orderBy }` query kind through the embedded API, over several segments after deletes: at the
// root it is scroll({ orderBy }) with scores; over prefetches it orders the prefetched candidates.
// Held against a brute-force model; refusals (score_threshold, no range index, bad options).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 4
const N = 120

interface Model {
  id: number
  v: number[]
  prices: number[]
}

/** (value, id) entries of `model` in order: a point once per distinct value, ties by id. */
function ordered(model: Model[], desc: boolean, from: number | null): { id: number; value: number }[] {
  const out: { id: number; value: number }[] = []
  for (const m of model)
    for (const value of new Set(m.prices))
      if (from === null || (desc ? value <= from : value >= from)) out.push({ id: m.id, value })
  out.sort((a, b) => a.value - b.value || a.id - b.id)
  return desc ? out.reverse() : out
}

describe('query { orderBy } (several segments, after deletes and a reopen)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  let model: Model[]
  const r = rng(424242)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-query-order-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('q', {
      dimension: DIM,
      metric: 'Euclid',
      optimizers: { maxSegmentSize: 1, defaultSegmentNumber: 8 },
    })
    await c.createPayloadIndex('price', 'float')
    const points = Array.from({ length: N }, (_, id) => {
      const price = Math.floor(r() * 40) / 4
      const prices = id % 9 === 0 ? [price, price + 3] : id % 11 === 0 ? [] : [price]
      return {
        id,
        vector: Array.from({ length: DIM }, () => Math.floor(r() * 16) / 8 - 1),
        payload: id % 11 === 0 ? { other: 1 } : { price: prices.length === 1 ? prices[0]! : prices },
      }
    })
    for (let i = 0; i < N; i += 20) await c.upsert(points.slice(i, i + 20))
    const deleted = new Set(points.filter((p) => p.id % 7 === 2).map((p) => p.id))
    await c.delete({ ids: [...deleted] })
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('q')
    model = points
      .filter((p) => !deleted.has(p.id))
      .map((p) => ({ id: p.id, v: p.vector, prices: [p.payload.price ?? []].flat() as number[] }))
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
  })

  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('at the root equals scroll({ orderBy }): entries with orderValue, score 1', async () => {
    for (const [orderBy, desc, from] of [
      ['price', false, null],
      [{ key: 'price', direction: 'desc' }, true, null],
      [{ key: 'price', startFrom: 4.5 }, false, 4.5],
      [{ key: 'price', direction: 'desc', startFrom: 6 }, true, 6],
    ] as const) {
      const want = ordered(model, desc, from).slice(0, 15)
      const { points } = await c.query({ query: { orderBy }, limit: 15, withPayload: true })
      expect(points.map((p) => [p.id, p.orderValue])).toEqual(want.map((e) => [e.id, e.value]))
      for (const p of points) expect(p.score).toBe(1)
      const scrolled = await c.scroll({ orderBy, limit: 15 })
      expect(points.map((p) => ({ id: p.id, payload: p.payload, orderValue: p.orderValue }))).toEqual(
        scrolled.points,
      )
    }
  })

  it('with a filter and an offset', async () => {
    const keep = new Set(model.filter((m) => m.id % 2 === 0).map((m) => m.id))
    const want = ordered(
      model.filter((m) => keep.has(m.id)),
      false,
      null,
    ).slice(3, 13)
    const { points } = await c.query({
      query: { orderBy: 'price' },
      filter: { must: [{ has_id: [...keep] }] },
      offset: 3,
      limit: 10,
    })
    expect(points.map((p) => [p.id, p.orderValue])).toEqual(want.map((e) => [e.id, e.value]))
  })

  it('over a prefetch orders only the prefetched candidates', async () => {
    const q = [0.5, -0.25, 0, 0.75]
    const dist = (v: number[]) => v.reduce((s, x, i) => s + (x - q[i]!) ** 2, 0)
    const near = [...model].sort((a, b) => dist(a.v) - dist(b.v) || a.id - b.id).slice(0, 20)
    // ties in distance at the cut make the candidate set ambiguous: the fixture avoids them
    expect(dist(near[19]!.v)).toBeLessThan(dist([...model].sort((a, b) => dist(a.v) - dist(b.v))[20]!.v))
    const want = ordered(near, true, null).slice(0, 8)
    const { points } = await c.query({
      prefetch: { query: q, limit: 20, params: { exact: true } },
      query: { orderBy: { key: 'price', direction: 'desc' } },
      limit: 8,
    })
    expect(points.map((p) => [p.id, p.orderValue])).toEqual(want.map((e) => [e.id, e.value]))
  })

  it('refuses score_threshold, a field without a range index and bad options, changing nothing', async () => {
    await expectError(
      c.query({ query: { orderBy: 'price' }, scoreThreshold: 1 }),
      'INVALID_ARGUMENT',
      /Can't use score_threshold with an order_by query/,
    )
    await expectError(c.query({ query: { orderBy: 'other' } }), 'INDEX_REQUIRED', /No range index/)
    await expectError(
      c.query({ query: { orderBy: { key: 'price', direction: 'up' as never } } }),
      'INVALID_ARGUMENT',
      /query\.orderBy\.direction must be "asc" or "desc"/,
    )
    await expectError(c.query({ query: { orderBy: '' } }), 'INVALID_ARGUMENT', /query\.orderBy\.key/)
    expect(await c.count()).toBe(model.length)
  })
})

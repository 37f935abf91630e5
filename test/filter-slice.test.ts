// Qdrant's `slice` filter: `hash(id) % total == index`, SipHash-2-4 with a zero key over the id's
// canonical bytes. The hash matches the reference vectors of the SipHash paper; slices of one
// `total` are disjoint and cover every point (integer and UUID ids), for filters, counts and
// searches, embedded and over REST; a bad slice is refused naming the field.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { siphash24 } from '../src/filter/slice.js'
import type { Filter, HostedCollection } from '../src/index.js'
import { Quiver } from '../src/index.js'
import { call, startTestServer } from './server-harness.js'
import { expectError } from './support/errors.js'

const slice = (total: number, index: number) => ({ must: [{ slice: { total, index } }] }) as unknown as Filter

describe('slice filter', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const ids: (number | string)[] = [
    ...Array.from({ length: 40 }, (_, i) => i),
    ...Array.from({ length: 40 }, (_, i) => `00000000-0000-0000-0000-${i.toString(16).padStart(12, '0')}`),
  ]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-slice-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('c', { dimension: 2, metric: 'Dot' })
    await c.upsert(ids.map((id, i) => ({ id, vector: [1, i / 100] })))
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('hashes with SipHash-2-4 (the reference vectors of Aumasson & Bernstein 2012)', () => {
    const key = new DataView(Uint8Array.from({ length: 16 }, (_, i) => i).buffer)
    const [k0, k1] = [key.getBigUint64(0, true), key.getBigUint64(8, true)]
    expect(
      siphash24(
        Uint8Array.from({ length: 15 }, (_, i) => i),
        k0,
        k1,
      ),
    ).toBe(0xa129ca6149be45e5n)
    expect(siphash24(new Uint8Array(0), k0, k1)).toBe(0x726fdb47dd0e0e31n)
    expect(
      siphash24(
        Uint8Array.from({ length: 8 }, (_, i) => i),
        k0,
        k1,
      ),
    ).toBe(0x93f5f5799a932462n)
  })

  it('splits the points into disjoint slices that cover all of them, in scroll, count and search', async () => {
    for (const total of [1, 3, 4]) {
      const seen = new Set<unknown>()
      let counted = 0
      for (let index = 0; index < total; index++) {
        const page = await c.scroll({ filter: slice(total, index), limit: 100 })
        for (const p of page.points) {
          expect(seen.has(p.id)).toBe(false)
          seen.add(p.id)
        }
        counted += await c.count({ filter: slice(total, index) })
        const hits = await c.search([1, 0], { filter: slice(total, index), limit: 100 })
        expect(new Set(hits.map((h) => h.id))).toEqual(new Set(page.points.map((p) => p.id)))
      }
      expect(seen.size).toBe(ids.length)
      expect(counted).toBe(ids.length)
    }
    const inverted = await c.count({
      filter: { must_not: [{ slice: { total: 4, index: 0 } }] } as unknown as Filter,
    })
    expect(inverted).toBe(ids.length - (await c.count({ filter: slice(4, 0) })))
  })

  it('refuses an index outside 0..total-1 or a zero total, naming the field', async () => {
    await expectError(c.count({ filter: slice(4, 4) }), 'INVALID_FILTER', /filter\.must\[0\]\.slice\.index/)
    await expectError(c.count({ filter: slice(0, 0) }), 'INVALID_FILTER', /filter\.must\[0\]\.slice\.total/)
  })

  it('works over REST', async () => {
    const srv = await startTestServer()
    try {
      await call(srv.url, 'PUT', '/collections/s', { vectors: { size: 2, distance: 'Dot' } })
      const points = Array.from({ length: 32 }, (_, id) => ({ id, vector: [0.1, 0.2] }))
      await call(srv.url, 'PUT', '/collections/s/points?wait=true', { points })
      let total = 0
      for (let index = 0; index < 4; index++) {
        const r = await call(srv.url, 'POST', '/collections/s/points/count', { filter: slice(4, index) })
        total += r.body.result.count
      }
      expect(total).toBe(32)
      const bad = await call(srv.url, 'POST', '/collections/s/points/count', { filter: slice(2, 5) })
      expect(bad.status).toBe(400)
    } finally {
      await srv.close()
    }
  })
})

// collection.queryGroups against a brute-force model: random payloads whose group field holds a
// keyword, an integer, an array of them, nothing, or a value of another type (a float, a bool: the
// point joins no group, as Qdrant), over several segments after deletes and a reopen. Every case
// compares with grouping the exact ranking; plus lookups and the refusals.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lookupGroups } from '../src/collection/groups.js'
import {
  type GroupId,
  type HostedCollection,
  type JsonValue,
  type Payload,
  type PointGroup,
  Quiver,
} from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 4
const N = 300
const r = rng(99_0101)

interface Model {
  id: number
  v: number[]
  g: unknown
  tag: string
}

function randomGroup(): unknown {
  const u = r()
  if (u < 0.4) return ['a', 'b', 'c', 'd', 'e', 'f'][Math.floor(r() * 6)]
  if (u < 0.6) return Math.floor(r() * 5)
  if (u < 0.75) return [Math.floor(r() * 5), ['a', 'b'][Math.floor(r() * 2)]!, 'a']
  if (u < 0.85) return undefined
  if (u < 0.9) return 2.5
  if (u < 0.95) return true
  return [1, 0.5]
}

/** Group keys as Qdrant reads them; null = the point joins no group. */
function keysOf(g: unknown): GroupId[] | null {
  if (g === undefined) return null
  const values = Array.isArray(g) ? g : [g]
  if (values.length === 0) return null
  const out: GroupId[] = []
  for (const v of values) {
    if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) return null
    if (!out.includes(v)) out.push(v)
  }
  return out
}

/** Groups of an exact ranking (best first): in order of each group's best hit, `size` hits each. */
function groupModel(ranked: Model[], size: number, groups: number): { id: GroupId; hits: number[] }[] {
  const byKey = new Map<GroupId, number[]>()
  for (const m of ranked) {
    for (const k of keysOf(m.g) ?? []) {
      const list = byKey.get(k) ?? []
      if (!byKey.has(k)) byKey.set(k, list)
      if (list.length < size) list.push(m.id)
    }
  }
  return [...byKey].slice(0, groups).map(([id, hits]) => ({ id, hits }))
}

const shape = (gs: PointGroup[]) => gs.map((g) => ({ id: g.id, hits: g.hits.map((h) => h.id) }))

describe('queryGroups (several segments, after deletes and a reopen)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  let model: Model[]
  const dist = (a: number[], b: readonly number[]) => a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0)
  const rankBy = (q: readonly number[], keep: (m: Model) => boolean = () => true) =>
    model.filter(keep).sort((a, b) => dist(a.v, q) - dist(b.v, q) || a.id - b.id)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-groups-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('g', {
      dimension: DIM,
      metric: 'Euclid',
      optimizers: { maxSegmentSize: 2, defaultSegmentNumber: 8 },
    })
    const points = Array.from({ length: N }, (_, id) => {
      const g = randomGroup()
      const payload: Payload = { tag: id % 2 === 0 ? 'even' : 'odd' }
      if (g !== undefined) payload.g = g as JsonValue
      // random floats: distinct distances from the queries below with high probability
      return { id, vector: Array.from({ length: DIM }, () => r() * 2 - 1), payload }
    })
    for (let i = 0; i < N; i += 40) await c.upsert(points.slice(i, i + 40))
    const deleted = new Set(points.filter((p) => p.id % 13 === 5).map((p) => p.id))
    await c.delete({ ids: [...deleted] })
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('g')
    model = points
      .filter((p) => !deleted.has(p.id))
      .map((p) => ({
        id: p.id,
        v: Array.from(Float32Array.from(p.vector)),
        g: p.payload.g,
        tag: p.payload.tag as string,
      }))
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
  })

  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('equals grouping the exact ranking, for random queries, sizes and filters', async () => {
    for (let t = 0; t < 12; t++) {
      const q = Array.from({ length: DIM }, () => r() * 2 - 1)
      const groupSize = 1 + Math.floor(r() * 4)
      const limit = 1 + Math.floor(r() * 8)
      const filtered = t % 3 === 0
      const want = groupModel(rankBy(q, filtered ? (m) => m.tag === 'even' : undefined), groupSize, limit)
      const { groups } = await c.queryGroups({
        query: q,
        groupBy: 'g',
        groupSize,
        limit,
        params: { exact: true },
        ...(filtered ? { filter: { must: [{ key: 'tag', match: { value: 'even' } }] } } : {}),
      })
      expect(shape(groups)).toEqual(want)
      // scores are the query's scores
      for (const g of groups)
        for (const h of g.hits)
          expect(h.score).toBeCloseTo(Math.sqrt(dist(model.find((m) => m.id === h.id)!.v, q)), 4)
    }
  })

  it('fills groups the first ranked page leaves short (the list is widened)', async () => {
    // group 4 (integers) is rare: among the nearest groups*size hits it has fewer than 3 members
    const q = [0.9, 0.9, 0.9, 0.9]
    const want = groupModel(rankBy(q), 3, 6)
    const { groups } = await c.queryGroups({ query: q, groupBy: 'g', limit: 6, params: { exact: true } })
    expect(shape(groups)).toEqual(want)
    expect(groups.every((g) => g.hits.length === 3)).toBe(want.every((g) => g.hits.length === 3))
  })

  it('groups other query kinds: by id (excluded), recommend, and no query (id order)', async () => {
    const id = model[3]!.id
    const byIdWant = groupModel(
      rankBy(model[3]!.v, (m) => m.id !== id),
      2,
      4,
    )
    const byId = await c.queryGroups({
      query: id,
      groupBy: 'g',
      groupSize: 2,
      limit: 4,
      params: { exact: true },
    })
    expect(shape(byId.groups)).toEqual(byIdWant)

    const plain = await c.queryGroups({ groupBy: 'g', groupSize: 2, limit: 3 })
    expect(shape(plain.groups)).toEqual(
      groupModel(
        [...model].sort((a, b) => a.id - b.id),
        2,
        3,
      ),
    )
  })

  it('returns payload and vectors as asked, and looks group ids up in another collection', async () => {
    const authors = await db.createCollection('authors', { dimension: 2, metric: 'Dot' })
    await authors.upsert([
      { id: 1, vector: [1, 0], payload: { name: 'one' } },
      { id: 2, vector: [0, 1], payload: { name: 'two' } },
    ])
    const { groups } = await c.queryGroups({
      query: [0, 0, 0, 0],
      groupBy: 'g',
      limit: 20,
      groupSize: 1,
      withPayload: ['g'],
      withVector: true,
      params: { exact: true },
    })
    for (const g of groups) {
      const hit = g.hits[0]!
      expect(hit.payload).toEqual({ g: model.find((m) => m.id === hit.id)!.g })
      expect(hit.vector).toHaveLength(DIM)
    }
    await lookupGroups(groups, authors, { withPayload: true, withVector: false })
    for (const g of groups) {
      if (g.id === 1 || g.id === 2)
        expect(g.lookup).toEqual({ id: g.id, payload: { name: g.id === 1 ? 'one' : 'two' } })
      else expect(g.lookup).toBeUndefined()
    }
    await db.deleteCollection('authors')
  })

  it('refuses bad grouping options before running anything', async () => {
    await expectError(c.queryGroups({ groupBy: '' }), 'INVALID_ARGUMENT', /groupBy/)
    await expectError(c.queryGroups({ groupBy: 'g', groupSize: 0 }), 'INVALID_ARGUMENT', /groupSize/)
    await expectError(c.queryGroups({ groupBy: 'g', limit: 1.5 }), 'INVALID_ARGUMENT', /limit/)
    await expectError(
      c.queryGroups({ groupBy: 'g', offset: 2 } as never),
      'INVALID_ARGUMENT',
      /offset is not supported with groups/,
    )
    await expectError(c.queryGroups({ groupBy: 'g', query: [1, 2] }), 'INVALID_VECTOR')
    await expectError(c.queryGroups({ groupBy: 'a..b' }), 'INVALID_ARGUMENT')
    expect(await c.count()).toBe(model.length)
  })
})

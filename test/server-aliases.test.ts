// Aliases over REST with the official @qdrant/js-client-rest, unchanged: the alias calls, every kind of
// endpoint resolving an alias, Qdrant's errors and statuses, name clashes, a switch under a concurrent
// query load with zero failed queries, and collection-scoped tokens seeing only their aliases.
import { QdrantClient } from '@qdrant/js-client-rest'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

/** Two collections whose points tell them apart by `payload.v`. */
async function twoVersions(client: QdrantClient): Promise<void> {
  for (const [name, v] of [
    ['docs_v1', 1],
    ['docs_v2', 2],
  ] as const) {
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } })
    await client.upsert(name, {
      wait: true,
      points: [
        { id: 1, vector: [1, 0], payload: { v, tag: 'a' } },
        { id: 2, vector: [0, 1], payload: { v, tag: 'b' } },
      ],
    })
  }
}

describe('aliases over REST (Qdrant JS client)', () => {
  let srv: TestServer
  let client: QdrantClient
  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await twoVersions(client)
  })
  afterAll(async () => {
    await srv.close()
  })

  it('creates, lists, renames and deletes aliases', async () => {
    expect(
      await client.updateCollectionAliases({
        actions: [
          { create_alias: { collection_name: 'docs_v1', alias_name: 'docs' } },
          { create_alias: { collection_name: 'docs_v1', alias_name: 'tmp' } },
        ],
      }),
    ).toBe(true)
    expect(await client.getAliases()).toEqual({
      aliases: [
        { alias_name: 'docs', collection_name: 'docs_v1' },
        { alias_name: 'tmp', collection_name: 'docs_v1' },
      ],
    })
    await client.updateCollectionAliases({
      actions: [{ rename_alias: { old_alias_name: 'tmp', new_alias_name: 'tmp2' } }],
      timeout: 5,
    })
    expect(await client.getCollectionAliases('docs_v1')).toEqual({
      aliases: [
        { alias_name: 'docs', collection_name: 'docs_v1' },
        { alias_name: 'tmp2', collection_name: 'docs_v1' },
      ],
    })
    expect(await client.getCollectionAliases('docs_v2')).toEqual({ aliases: [] })
    await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'tmp2' } }] })
    expect((await client.getAliases()).aliases).toEqual([{ alias_name: 'docs', collection_name: 'docs_v1' }])
  })

  it('resolves an alias on every endpoint that takes a collection name', async () => {
    await client.updateCollectionAliases({
      actions: [{ create_alias: { collection_name: 'docs_v2', alias_name: 'docs' } }],
    })
    expect((await client.collectionExists('docs')).exists).toBe(true)
    expect((await client.getCollection('docs')).points_count).toBe(2)
    const { points } = await client.query('docs', { query: [1, 0], limit: 1, with_payload: true })
    expect(points[0]?.payload).toEqual({ v: 2, tag: 'a' })
    expect((await client.search('docs', { vector: [0, 1], limit: 1 }))[0]?.id).toBe(2)
    expect((await client.retrieve('docs', { ids: [1], with_payload: true }))[0]?.payload?.['v']).toBe(2)
    expect((await client.scroll('docs', { limit: 10 })).points.map((p) => p.id)).toEqual([1, 2])
    expect((await client.count('docs', { exact: true })).count).toBe(2)
    await client.createPayloadIndex('docs', { field_name: 'tag', field_schema: 'keyword', wait: true })
    expect(Object.keys((await client.getCollection('docs_v2')).payload_schema ?? {})).toEqual(['tag'])
    const facet = await client.facet('docs', { key: 'tag', exact: true })
    expect(facet.hits.map((h) => h.value).sort()).toEqual(['a', 'b'])
    // writes through the alias reach the collection it names
    await client.upsert('docs', { wait: true, points: [{ id: 3, vector: [1, 1], payload: { v: 2 } }] })
    expect((await client.count('docs_v2', { exact: true })).count).toBe(3)
    await client.delete('docs', { wait: true, points: [3] })
    const snap = await client.createSnapshot('docs')
    expect(snap?.name.startsWith('docs_v2-')).toBe(true)
    expect((await client.listSnapshots('docs')).map((s) => s.name)).toEqual([snap?.name])
    expect(await client.deleteSnapshot('docs', snap!.name)).toBe(true)
  })

  it("refuses what Qdrant refuses, with Qdrant's statuses, changing nothing", async () => {
    const before = await client.getAliases()
    expect(
      await apiError(
        client.updateCollectionAliases({
          actions: [
            { delete_alias: { alias_name: 'docs' } },
            { create_alias: { collection_name: 'missing', alias_name: 'docs' } },
          ],
        }),
      ),
    ).toEqual({ status: 404, message: "Not found: Collection `missing` doesn't exist! (actions[1])" })
    expect(
      await apiError(
        client.updateCollectionAliases({
          actions: [{ rename_alias: { old_alias_name: 'nope', new_alias_name: 'x' } }],
        }),
      ),
    ).toEqual({ status: 404, message: 'Not found: Alias nope does not exists! (actions[0])' })
    const clash = await apiError(
      client.updateCollectionAliases({
        actions: [{ create_alias: { collection_name: 'docs_v1', alias_name: 'docs_v2' } }],
      }),
    )
    expect(clash.status).toBe(409)
    expect(clash.message).toMatch(/^Wrong input: Collection `docs_v2` already exists!/)
    expect(
      await apiError(client.createCollection('docs', { vectors: { size: 2, distance: 'Dot' } })),
    ).toEqual({
      status: 400,
      message: "Wrong input: Can't create collection with name docs. Alias with the same name already exists",
    })
    expect(await client.getAliases()).toEqual(before)
    expect((await client.getCollections()).collections.map((c) => c.name).sort()).toEqual([
      'docs_v1',
      'docs_v2',
    ])
  })

  it('names the bad field of a malformed body (400)', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /actions: expected an array/],
      [
        { actions: [{ create_alias: { collection_name: 'docs_v1' } }] },
        /actions\[0\]\.create_alias\.alias_name: expected a string/,
      ],
      [
        { actions: [{ drop_alias: { alias_name: 'x' } }] },
        /actions\[0\]: expected one of .*keys "drop_alias"/,
      ],
      [
        {
          actions: [
            { delete_alias: { alias_name: 'x' }, create_alias: { alias_name: 'x', collection_name: 'y' } },
          ],
        },
        /actions\[0\]: expected one of/,
      ],
      [
        { actions: [{ delete_alias: { alias_name: 'x', extra: 1 } }] },
        /actions\[0\]\.delete_alias\.extra: unknown field/,
      ],
      [
        { actions: [{ create_alias: { collection_name: 'docs_v1', alias_name: '../x' } }] },
        /alias name "\.\.\/x" is invalid/,
      ],
    ]
    for (const [body, message] of cases) {
      const r = await call(srv.url, 'POST', '/collections/aliases', body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.status.error).toMatch(message)
    }
    expect((await client.getAliases()).aliases).toEqual([{ alias_name: 'docs', collection_name: 'docs_v2' }])
  })

  it('switches an alias under a concurrent query load with zero failed queries', async () => {
    await client.updateCollectionAliases({
      actions: [{ create_alias: { collection_name: 'docs_v1', alias_name: 'live' } }],
    })
    const SWITCHES = 60
    let switching = true
    let queries = 0
    let failures = 0
    const seen = new Set<unknown>()
    const reader = async (): Promise<void> => {
      while (switching) {
        try {
          const { points } = await client.query('live', { query: [1, 0], limit: 2, with_payload: true })
          // every answer is wholly one collection's
          expect(points.map((p) => p.id)).toEqual([1, 2])
          expect(points[0]?.payload?.['v']).toBe(points[1]?.payload?.['v'])
          seen.add(points[0]?.payload?.['v'])
          queries++
        } catch (err) {
          failures++
          throw err
        }
      }
    }
    const readers = [reader(), reader(), reader(), reader()]
    for (let i = 0; i < SWITCHES; i++) {
      await client.updateCollectionAliases({
        actions: [
          { delete_alias: { alias_name: 'live' } },
          { create_alias: { collection_name: i % 2 === 0 ? 'docs_v2' : 'docs_v1', alias_name: 'live' } },
        ],
      })
    }
    switching = false
    await Promise.all(readers)
    expect(failures).toBe(0)
    expect(queries).toBeGreaterThan(SWITCHES)
    expect([...seen].sort()).toEqual([1, 2])
  })

  it('drops the aliases of a deleted collection', async () => {
    await client.createCollection('scratch', { vectors: { size: 2, distance: 'Dot' } })
    await client.updateCollectionAliases({
      actions: [{ create_alias: { collection_name: 'scratch', alias_name: 'scratch_alias' } }],
    })
    expect(await client.deleteCollection('scratch')).toBe(true)
    expect((await client.getAliases()).aliases.map((a) => a.alias_name)).not.toContain('scratch_alias')
    expect((await apiError(client.getCollection('scratch_alias'))).status).toBe(404)
  })
})

describe('aliases and access control', () => {
  const RW = 'alias-test-key-0123456789'
  let srv: TestServer
  beforeAll(async () => {
    srv = await startTestServer({ security: { apiKey: RW, jwtRbac: true } })
    const admin = new QdrantClient({ url: srv.url, apiKey: RW, checkCompatibility: false })
    for (const name of ['a', 'b'])
      await admin.createCollection(name, { vectors: { size: 2, distance: 'Dot' } })
    await admin.updateCollectionAliases({
      actions: [
        { create_alias: { collection_name: 'a', alias_name: 'a_alias' } },
        { create_alias: { collection_name: 'b', alias_name: 'b_alias' } },
      ],
    })
  })
  afterAll(async () => {
    await srv.close()
  })

  it('lets a collection-scoped token see only its aliases and change none', async () => {
    const token = await new SignJWT({
      access: [
        { collection: 'a', access: 'rw' },
        { collection: 'a_alias', access: 'r' },
      ],
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(RW))
    const scoped = new QdrantClient({ url: srv.url, apiKey: token, checkCompatibility: false })
    expect((await scoped.getAliases()).aliases).toEqual([{ alias_name: 'a_alias', collection_name: 'a' }])
    expect((await scoped.getCollectionAliases('a')).aliases).toEqual([
      { alias_name: 'a_alias', collection_name: 'a' },
    ])
    expect((await apiError(scoped.getCollectionAliases('b'))).status).toBe(403)
    expect(
      (
        await apiError(
          scoped.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'a_alias' } }] }),
        )
      ).status,
    ).toBe(403)
  })
})

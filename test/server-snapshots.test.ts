// Snapshot endpoints on a real server with the official @qdrant/js-client-rest (plus raw fetch for
// download and multipart upload): create, list, download, delete, recover from file:// and upload,
// full snapshots, 404s and refused path-traversal names.
import { createHash } from 'node:crypto'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'

const DIM = 4
const r = rng(11)
const POINTS = Array.from({ length: 200 }, (_, i) => ({
  id: i,
  vector: Array.from({ length: DIM }, () => r()),
  payload: { city: ['Berlin', 'London', 'Paris'][i % 3]!, n: i },
}))
const QUERY = [0.3, 0.1, 0.7, 0.2]

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('snapshot REST API', () => {
  let srv: TestServer
  let client: QdrantClient

  async function results(collection: string): Promise<unknown> {
    const plain = await client.search(collection, { vector: QUERY, limit: 10, with_payload: true })
    const filtered = await client.search(collection, {
      vector: QUERY,
      limit: 10,
      filter: { must: [{ key: 'city', match: { value: 'London' } }] },
    })
    const count = await client.count(collection, { exact: true })
    return { plain, filtered, count }
  }

  async function download(path: string): Promise<Uint8Array> {
    const res = await fetch(`${srv.url}${path}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    return new Uint8Array(await res.arrayBuffer())
  }

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection('docs', { vectors: { size: DIM, distance: 'Cosine' } })
    await client.createPayloadIndex('docs', { field_name: 'city', field_schema: 'keyword', wait: true })
    await client.upsert('docs', { wait: true, points: POINTS })
  })

  afterAll(async () => {
    await srv?.close()
  })

  it('creates, lists, downloads and deletes collection snapshots', async () => {
    const snap = await client.createSnapshot('docs', { wait: true })
    expect(snap).not.toBeNull()
    const s = snap!
    expect(Object.keys(s).sort()).toEqual(['checksum', 'creation_time', 'name', 'size'])
    expect(s.creation_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
    expect(await client.listSnapshots('docs')).toContainEqual(s)

    const bytes = await download(`/collections/docs/snapshots/${s.name}`)
    expect(bytes.length).toBe(s.size)
    expect(sha256(bytes)).toBe(s.checksum)

    expect(await client.deleteSnapshot('docs', s.name)).toBe(true)
    expect((await client.listSnapshots('docs')).map((x) => x.name)).not.toContain(s.name)
    const gone = await call(srv.url, 'GET', `/collections/docs/snapshots/${s.name}`)
    expect(gone.status).toBe(404)
    expect(gone.code).toBe('SNAPSHOT_NOT_FOUND')
    expect(gone.body.status.error).toMatch(/does not exist/)
  })

  it('recovers a collection from a file:// location, replacing its content', async () => {
    const before = await results('docs')
    const s = (await client.createSnapshot('docs'))!
    await client.delete('docs', { wait: true, points: [0, 1, 2, 3, 4] })
    expect(await results('docs')).not.toEqual(before)

    const location = `file://${srv.dir}/snapshots/docs/${s.name}`
    expect(
      await client.recoverSnapshot('docs', { location, priority: 'snapshot', checksum: s.checksum! }),
    ).toBe(true)
    expect(await results('docs')).toEqual(before)

    // into a new collection, which the recovery creates
    expect(await client.recoverSnapshot('copy', { location })).toBe(true)
    expect(await results('copy')).toEqual(before)
    expect((await client.getCollection('copy')).payload_schema).toHaveProperty('city')

    const wrong = await call(srv.url, 'PUT', '/collections/docs/snapshots/recover', {
      location,
      checksum: 'a'.repeat(64),
    })
    expect(wrong.status).toBe(500)
    expect(wrong.code).toBe('CORRUPTED')
    expect(wrong.body.status.error).toMatch(/SHA-256/)
    const outside = await call(srv.url, 'PUT', '/collections/docs/snapshots/recover', {
      location: 'file:///etc/passwd',
    })
    expect(outside.status).toBe(400)
    expect(outside.body.status.error).toMatch(/snapshots directory/)
    const badPriority = await call(srv.url, 'PUT', '/collections/docs/snapshots/recover', {
      location,
      priority: 'x',
    })
    expect(badPriority.status).toBe(400)
    expect(await results('docs')).toEqual(before)
  })

  it('recovers from an http:// location (another server serving the snapshot)', async () => {
    const s = (await client.createSnapshot('docs'))!
    const location = `${srv.url}/collections/docs/snapshots/${s.name}`
    expect(await client.recoverSnapshot('from_http', { location, checksum: s.checksum! })).toBe(true)
    expect(await results('from_http')).toEqual(await results('docs'))
    const missing = await call(srv.url, 'PUT', '/collections/x/snapshots/recover', {
      location: `${srv.url}/collections/docs/snapshots/none.snapshot`,
    })
    expect(missing.status).toBe(400)
    expect(missing.body.status.error).toMatch(/HTTP 404/)
  })

  it('recovers from a multipart upload', async () => {
    const before = await results('docs')
    const s = (await client.createSnapshot('docs'))!
    const bytes = await download(`/collections/docs/snapshots/${s.name}`)

    const form = new FormData()
    form.append('snapshot', new Blob([bytes]), s.name)
    const res = await fetch(
      `${srv.url}/collections/uploaded/snapshots/upload?wait=true&priority=snapshot&checksum=${s.checksum}`,
      {
        method: 'POST',
        body: form,
      },
    )
    expect(res.status).toBe(200)
    expect(((await res.json()) as { result: unknown }).result).toBe(true)
    expect(await results('uploaded')).toEqual(before)

    const damaged = new Uint8Array(bytes)
    damaged[600] = damaged[600]! ^ 1
    const bad = new FormData()
    bad.append('snapshot', new Blob([damaged]), s.name)
    const refused = await fetch(`${srv.url}/collections/uploaded/snapshots/upload`, {
      method: 'POST',
      body: bad,
    })
    // the client sent a damaged archive: its error (400), not the server's
    expect(refused.status).toBe(400)
    expect(refused.headers.get('x-quiver-error-code')).toBe('INVALID_ARGUMENT')
    expect(await results('uploaded')).toEqual(before)

    const wrongField = new FormData()
    wrongField.append('file', new Blob([bytes]), s.name)
    const r400 = await fetch(`${srv.url}/collections/uploaded/snapshots/upload`, {
      method: 'POST',
      body: wrongField,
    })
    expect(r400.status).toBe(400)
    const notMultipart = await call(srv.url, 'POST', '/collections/uploaded/snapshots/upload', { a: 1 })
    expect(notMultipart.status).toBe(400)
  })

  it('creates, lists, downloads and deletes full snapshots', async () => {
    const full = await client.createFullSnapshot({ wait: true })
    expect(full.name).toMatch(/^full-/)
    expect(await client.listFullSnapshots()).toContainEqual(full)
    const bytes = await download(`/snapshots/${full.name}`)
    expect(sha256(bytes)).toBe(full.checksum)
    expect(await client.deleteFullSnapshot(full.name)).toBe(true)
    expect(await client.listFullSnapshots()).toEqual([])
    expect((await call(srv.url, 'DELETE', `/snapshots/${full.name}`)).status).toBe(404)
  })

  it('answers 404 for unknown collections and snapshots, refuses path traversal', async () => {
    expect((await call(srv.url, 'POST', '/collections/nope/snapshots')).code).toBe('COLLECTION_NOT_FOUND')
    expect((await call(srv.url, 'GET', '/collections/nope/snapshots')).status).toBe(404)
    expect((await call(srv.url, 'GET', '/collections/docs/snapshots/missing.snapshot')).status).toBe(404)
    expect((await call(srv.url, 'GET', '/snapshots/full-missing.snapshot')).status).toBe(404)
    // a collection snapshot name is no full snapshot
    const s = (await client.createSnapshot('docs'))!
    expect((await call(srv.url, 'GET', `/snapshots/${s.name}`)).status).toBe(404)
    for (const path of [
      '/collections/docs/snapshots/..%2F..%2Fcollections%2Fdocs%2Fconfig.json',
      '/collections/docs/snapshots/%2E%2E%2Fconfig.json',
      `/collections/docs/snapshots/..%2Fdocs%2F${s.name}`,
      '/snapshots/..%2Fcollections%2Fdocs%2Fconfig.json',
      `/snapshots/..%2Fsnapshots%2Fdocs%2F${s.name}`,
    ]) {
      const res = await call(srv.url, 'GET', path)
      expect([400, 404], path).toContain(res.status)
      expect(typeof res.body === 'object' && res.body !== null && 'status' in res.body, path).toBe(true)
    }
    expect((await call(srv.url, 'DELETE', '/collections/docs/snapshots/..%2F..%2FLOCK')).status).toBe(400)
  })
})

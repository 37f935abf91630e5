// Snapshot endpoints on a real server with the official @qdrant/js-client-rest (plus raw fetch for
// download and multipart upload): create, list, download, delete, recover from file:// and upload,
// full snapshots, 404s and refused path-traversal names; what recovery errors reveal (no server
// paths, one error for every failed fetch) and which hosts recovery fetches from.
import { createHash } from 'node:crypto'
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, type RawReply, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'
import { closedPort, type LocalHttpServer, startHttpServer } from './support/http.js'

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
    // the client named the file and the checksum: its mistake (400), nothing touched
    expect(wrong.status).toBe(400)
    expect(wrong.code).toBe('INVALID_ARGUMENT')
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
    expect(missing.body.status.error).toMatch(/could not fetch a snapshot archive from/)
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
    // named after the uploaded file, not the server's temp file
    const refusedMessage = ((await refused.json()) as { status: { error: string } }).status.error
    expect(refusedMessage).toContain(s.name)
    expect(refusedMessage).not.toContain(srv.dir)
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
    // a multipart type without its boundary is the client's mistake, not a 500
    const noBoundary = await fetch(`${srv.url}/collections/uploaded/snapshots/upload`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: '--x\r\n\r\n--x--\r\n',
    })
    expect(noBoundary.status).toBe(400)
    expect(noBoundary.headers.get('x-quiver-error-code')).toBe('INVALID_ARGUMENT')
    expect(((await noBoundary.json()) as { status: { error: string } }).status.error).toMatch(/multipart/)
    expect(await results('uploaded')).toEqual(before)
  })

  it('answers a directory or a damaged file named under the snapshots directory with 400, changing nothing', async () => {
    const before = await results('docs')
    const s = (await client.createSnapshot('docs'))!
    const dir = await call(srv.url, 'PUT', '/collections/docs/snapshots/recover', { location: 'docs' })
    expect(dir.status, JSON.stringify(dir.body)).toBe(400)
    expect(dir.body.status.error).toMatch(/"docs" is not a file/)
    const damaged = new Uint8Array(await download(`/collections/docs/snapshots/${s.name}`))
    damaged[600] = damaged[600]! ^ 1
    await writeFile(join(srv.dir, 'snapshots', 'docs', 'damaged.snapshot'), damaged)
    const bad = await call(srv.url, 'PUT', '/collections/docs/snapshots/recover', {
      location: 'docs/damaged.snapshot',
    })
    expect(bad.status, JSON.stringify(bad.body)).toBe(400)
    expect(bad.code).toBe('INVALID_ARGUMENT')
    expect(bad.body.status.error).toMatch(/"docs\/damaged\.snapshot" is damaged/)
    expect(bad.body.status.error).not.toContain(srv.dir)
    expect(await results('docs')).toEqual(before)
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

  describe('local locations: the snapshots-directory rule first, never a server path in a message', () => {
    const recover = (location: string, extra: Record<string, unknown> = {}): Promise<RawReply> =>
      call(srv.url, 'PUT', '/collections/docs/snapshots/recover', { location, ...extra })
    /** The message names no absolute path of the server (its data directory, however spelled). */
    async function expectNoServerPath(r: RawReply): Promise<void> {
      const message = r.body.status.error as string
      expect(message).not.toContain(srv.dir)
      expect(message).not.toContain(await realpath(srv.dir))
    }

    it('refuses a location outside the snapshots directory with 400 whether or not the file exists', async () => {
      for (const location of [
        '../../nonexist.txt',
        '../collections/docs/config.json', // exists
        'docs/../../collections/docs/config.json', // exists
        '/etc/passwd',
        '/nonexistent/x.snapshot',
        'file:///etc/passwd',
        '..',
        '.',
      ]) {
        const r = await recover(location)
        expect(r.status, location).toBe(400)
        expect(r.code, location).toBe('INVALID_ARGUMENT')
        expect(r.body.status.error, location).toMatch(/outside the server's snapshots directory/)
        expect(r.body.status.error, location).toContain(JSON.stringify(location))
        await expectNoServerPath(r)
      }
    })

    it('answers 404 for a missing file inside the snapshots directory, naming the location as given', async () => {
      for (const location of ['docs/none.snapshot', 'none.snapshot', 'nodir/none.snapshot']) {
        const r = await recover(location)
        expect(r.status, location).toBe(404)
        expect(r.code, location).toBe('SNAPSHOT_NOT_FOUND')
        expect(r.body.status.error).toBe(`snapshot file ${location} does not exist`)
      }
    })

    it('refuses a symlink in the snapshots directory that leads outside it', async () => {
      await mkdir(join(srv.dir, 'snapshots'), { recursive: true })
      await symlink(
        join(srv.dir, 'collections', 'docs', 'config.json'),
        join(srv.dir, 'snapshots', 'escape.snapshot'),
      )
      const r = await recover('escape.snapshot')
      expect(r.status).toBe(400)
      expect(r.body.status.error).toMatch(/outside the server's snapshots directory/)
      await expectNoServerPath(r)
    })

    it('refuses ftp://, gopher:// and other schemes as unsupported instead of taking them as paths', async () => {
      for (const [location, scheme] of [
        ['ftp://example.com/docs.snapshot', 'ftp'],
        ['gopher://example.com/1/docs.snapshot', 'gopher'],
        ['SMB://host/share/docs.snapshot', 'smb'],
        ['data:application/octet-stream,abc', 'data'],
      ] as const) {
        const r = await recover(location)
        expect(r.status, location).toBe(400)
        expect(r.code, location).toBe('INVALID_ARGUMENT')
        expect(r.body.status.error, location).toMatch(new RegExp(`unsupported scheme ${scheme}\\b`))
      }
    })

    it('recovers from a relative location; a damaged one is named as given (400, no server path)', async () => {
      const s = (await client.createSnapshot('docs'))!
      const location = `docs/${s.name}`
      expect(await client.recoverSnapshot('docs', { location })).toBe(true)
      const wrong = await recover(location, { checksum: 'b'.repeat(64) })
      expect(wrong.status).toBe(400)
      expect(wrong.code).toBe('INVALID_ARGUMENT')
      expect(wrong.body.status.error).toMatch(
        new RegExp(`^the snapshot "${location}" is damaged: snapshot ${location} fails its SHA-256 check`),
      )
      await expectNoServerPath(wrong)
    })
  })
})

describe('snapshot recovery from URLs: loopback and allowed hosts only, one error for every failed fetch', () => {
  let srv: TestServer
  let client: QdrantClient
  /** Serves a real snapshot at /good.snapshot, text at /text, 404 elsewhere, and redirects. */
  let files: LocalHttpServer
  const apiKeys: Array<string | undefined> = []
  let archive: Uint8Array
  let checksum: string
  const recover = (location: string, collection = 'target'): Promise<RawReply> =>
    call(srv.url, 'PUT', `/collections/${collection}/snapshots/recover`, { location })
  /** `http://0.0.0.0:<port>`: not a loopback name, although connecting to it reaches this machine. */
  const unspecified = (path: string): string => `http://0.0.0.0:${files.port}${path}`

  beforeAll(async () => {
    files = await startHttpServer((req, res) => {
      apiKeys.push(req.headers['api-key'] as string | undefined)
      const path = req.url ?? ''
      if (path === '/good.snapshot') res.end(archive)
      else if (path === '/text') res.end('hello, this is not a snapshot archive')
      else if (path === '/redirect-out') res.writeHead(302, { location: unspecified('/good.snapshot') }).end()
      else if (path === '/redirect-in')
        res.writeHead(302, { location: `http://localhost:${files.port}/good.snapshot` }).end()
      else res.writeHead(404).end('not found')
    })
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection('docs', { vectors: { size: DIM, distance: 'Cosine' } })
    await client.upsert('docs', { wait: true, points: POINTS.slice(0, 20) })
    const s = (await client.createSnapshot('docs'))!
    const res = await fetch(`${srv.url}/collections/docs/snapshots/${s.name}`)
    archive = new Uint8Array(await res.arrayBuffer())
    checksum = s.checksum!
  })

  afterAll(async () => {
    await srv?.close()
    await files?.close()
  })

  it('refuses a host that is not loopback before connecting to it: 403 naming --snapshot-url-allow', async () => {
    const before = files.requests.length
    for (const location of [
      unspecified('/good.snapshot'),
      'http://192.0.2.1/x.snapshot',
      'https://example.com/x.snapshot',
    ]) {
      const r = await recover(location)
      expect(r.status, location).toBe(403)
      expect(r.code, location).toBe('FORBIDDEN')
      expect(r.body.status.error, location).toMatch(/--snapshot-url-allow/)
    }
    expect(files.requests.length).toBe(before)
    const viaClient = await apiError(
      client.recoverSnapshot('target', { location: unspecified('/good.snapshot') }),
    )
    expect(viaClient.status).toBe(403)
  })

  it('recovers from a host allowed with snapshotUrlAllow (host:port), and only on that port', async () => {
    const allowing = await startTestServer({ snapshotUrlAllow: [`0.0.0.0:${files.port}`] })
    try {
      const c = new QdrantClient({ url: allowing.url, checkCompatibility: false })
      expect(await c.recoverSnapshot('copy', { location: unspecified('/good.snapshot'), checksum })).toBe(
        true,
      )
      expect((await c.count('copy', { exact: true })).count).toBe(20)
      const other = await call(allowing.url, 'PUT', '/collections/copy/snapshots/recover', {
        location: `http://0.0.0.0:${await closedPort()}/good.snapshot`,
      })
      expect(other.status).toBe(403)
    } finally {
      await allowing.close()
    }
    await expect(startTestServer({ snapshotUrlAllow: ['http://example.com'] })).rejects.toThrow(
      /snapshotUrlAllow: "http:\/\/example.com" is not a host or host:port/,
    )
  })

  it('gives one and the same error for a closed port, a non-archive answer and an HTTP error', async () => {
    const closed = `http://127.0.0.1:${await closedPort()}/x.snapshot`
    const replies = await Promise.all(
      [closed, `${files.url}/text`, `${files.url}/missing.snapshot`].map(async (location) => ({
        location,
        reply: await recover(location),
      })),
    )
    const shapes = replies.map(({ location, reply }) => ({
      status: reply.status,
      code: reply.code,
      message: (reply.body.status.error as string).replace(location, '<location>'),
    }))
    expect(shapes[0]).toEqual({
      status: 400,
      code: 'INVALID_ARGUMENT',
      message:
        'body.location: could not fetch a snapshot archive from <location> (the server log has the cause)',
    })
    expect(shapes[1]).toEqual(shapes[0])
    expect(shapes[2]).toEqual(shapes[0])
  })

  it('does not follow a redirect out of the policy; follows one inside it without forwarding the api key', async () => {
    const hits = () => files.requests.filter((p) => p === '/good.snapshot').length
    const before = hits()
    const out = await recover(`${files.url}/redirect-out`)
    expect(out.status).toBe(400)
    expect(out.body.status.error).toMatch(/could not fetch a snapshot archive/)
    expect(hits()).toBe(before)

    apiKeys.length = 0
    const inside = await call(srv.url, 'PUT', '/collections/redirected/snapshots/recover', {
      location: `${files.url}/redirect-in`,
      api_key: 'secret',
    })
    expect(inside.body.result).toBe(true)
    expect(hits()).toBe(before + 1)
    // sent to the origin named, not to the other origin the redirect led to
    expect(apiKeys).toEqual(['secret', undefined])
  })
})

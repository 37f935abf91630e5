// What a web page on another site can make a browser send to a server on 127.0.0.1: CORS-"simple"
// requests (text/plain, forms, multipart) that need no preflight, with the page's Origin. None of
// them may change anything, whether or not the server has keys; the server's own origin keeps
// working. Also: every error the HTTP layer sends, the framework's own included, uses Qdrant's
// envelope, and every collection name the engine accepts is reachable.

import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, serve } from '../src/server/index.js'
import { call, type RawReply, startTestServer, type TestServer } from './server-harness.js'

const C = 'xsite'
const POINTS = `/collections/${C}/points`

interface Reply {
  status: number
  code: string | undefined
  // biome-ignore lint/suspicious/noExplicitAny: replies are checked by shape
  body: any
}

/** One request with exactly these headers (node:http sends Host and Origin as given). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
) {
  const url = new URL(path, base)
  return new Promise<Reply>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        setHost: !('host' in headers),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {}
          const code = res.headers['x-quiver-error-code']
          resolve({
            status: res.statusCode ?? 0,
            code: typeof code === 'string' ? code : undefined,
            body: parsed,
          })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Raw bytes on a socket; resolves with everything the server sent before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.on('data', (b) => {
      text += b.toString('utf8')
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(text))
  })
}

function expectEnvelope(r: Reply | RawReply, status: number, code: string, fragment?: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.code ?? undefined).toBe(code)
  expect(typeof r.body.status.error).toBe('string')
  expect(typeof r.body.time).toBe('number')
  if (fragment) expect(r.body.status.error).toMatch(fragment)
}

function multipartSnapshot(): { body: Buffer; type: string } {
  const boundary = '----quivertest'
  const body = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="x.snapshot"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\nnot a tar\r\n--${boundary}--\r\n`,
  )
  return { body, type: `multipart/form-data; boundary=${boundary}` }
}

describe('cross-site requests against the default open server', () => {
  let srv: TestServer
  let own: string
  const count = async (): Promise<number> =>
    (await call(srv.url, 'POST', `${POINTS}/count`, {})).body.result.count
  const exists = async (name: string): Promise<boolean> =>
    (await call(srv.url, 'GET', `/collections/${name}/exists`)).body.result.exists

  beforeAll(async () => {
    srv = await startTestServer()
    own = srv.url
    expect(
      (await call(srv.url, 'PUT', `/collections/${C}`, { vectors: { size: 2, distance: 'Dot' } })).status,
    ).toBe(200)
    const points = Array.from({ length: 20 }, (_, id) => ({ id, vector: [id, 1] }))
    expect((await call(srv.url, 'PUT', `${POINTS}?wait=true`, { points })).status).toBe(200)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it.each([
    ['text/plain', '{"filter":{}}'],
    ['text/plain;charset=UTF-8', '{"filter":{}}'],
    ['application/x-www-form-urlencoded', '{"filter":{}}'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="filter"\r\n\r\n{}\r\n--x--\r\n',
    ],
  ])('a %s POST to points/delete is 415 and deletes nothing', async (type, body) => {
    const r = await send(srv.url, 'POST', `${POINTS}/delete?wait=true`, { 'content-type': type }, body)
    expectEnvelope(r, 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/)
    expect(await count()).toBe(20)
  })

  it('a JSON body without a content type is 415; no content type and no body passes where the body is optional', async () => {
    const r = await send(srv.url, 'POST', `${POINTS}/delete?wait=true`, {}, '{"filter":{}}')
    expectEnvelope(r, 415, 'UNSUPPORTED_MEDIA_TYPE', /got none/)
    expect(await count()).toBe(20)
    const scroll = await send(srv.url, 'POST', `${POINTS}/scroll`, {})
    expect(scroll.status, JSON.stringify(scroll.body)).toBe(200)
    expect(scroll.body.result.points).toHaveLength(10)
    const countNoBody = await send(srv.url, 'POST', `${POINTS}/count`, { 'content-length': '0' })
    expect(countNoBody.body.result.count).toBe(20)
  })

  it('refuses a state-changing request from a foreign Origin (403), JSON or not, and changes nothing', async () => {
    const evil = 'http://evil.example'
    const json = { 'content-type': 'application/json', origin: evil }
    expectEnvelope(
      await send(srv.url, 'POST', `${POINTS}/delete?wait=true`, json, '{"filter":{}}'),
      403,
      'FORBIDDEN',
      /evil\.example.*--cors-origin/,
    )
    expectEnvelope(
      await send(srv.url, 'PUT', '/collections/evil', json, '{"vectors":{"size":2,"distance":"Dot"}}'),
      403,
      'FORBIDDEN',
    )
    expectEnvelope(await send(srv.url, 'DELETE', `/collections/${C}`, { origin: evil }), 403, 'FORBIDDEN')
    const upload = multipartSnapshot()
    expectEnvelope(
      await send(
        srv.url,
        'POST',
        '/collections/evil/snapshots/upload',
        { 'content-type': upload.type, origin: evil },
        upload.body,
      ),
      403,
      'FORBIDDEN',
    )
    expectEnvelope(
      await send(
        srv.url,
        'POST',
        `${POINTS}/delete`,
        { 'content-type': 'text/plain', origin: 'null' },
        '{"filter":{}}',
      ),
      403,
      'FORBIDDEN',
    )
    expect(await count()).toBe(20)
    expect(await exists('evil')).toBe(false)
    expect(await exists(C)).toBe(true)
  })

  it('lets reads from a foreign Origin through (CORS keeps their answers from the page)', async () => {
    const r = await send(srv.url, 'GET', `/collections/${C}`, { origin: 'http://evil.example' })
    expect(r.status).toBe(200)
    expect(r.body.result.points_count).toBe(20)
  })

  it('refuses a DNS-rebinding page whose Host and Origin both name the attacker', async () => {
    const port = new URL(srv.url).port
    const r = await send(
      srv.url,
      'POST',
      `${POINTS}/delete?wait=true`,
      {
        host: `rebind.example:${port}`,
        origin: `http://rebind.example:${port}`,
        'content-type': 'application/json',
      },
      '{"filter":{}}',
    )
    expectEnvelope(r, 403, 'FORBIDDEN')
    expect(await count()).toBe(20)
  })

  it("allows the server's own origin (its address or localhost, this port and scheme) and nothing close to it", async () => {
    const port = Number(new URL(own).port)
    const upsert = (origin: string) =>
      send(
        srv.url,
        'PUT',
        `${POINTS}?wait=true`,
        { 'content-type': 'application/json', origin },
        JSON.stringify({ points: [{ id: 100, vector: [1, 1] }] }),
      )
    expect((await upsert(own)).status).toBe(200)
    expect((await upsert(`http://localhost:${port}`)).status).toBe(200)
    expect((await upsert(`http://[::ffff:127.0.0.1]:${port}`)).status).toBe(200)
    expect((await upsert(`HTTP://LOCALHOST:${port}/`)).status).toBe(200)
    // other loopback addresses are other origins: another process may serve a page there
    for (const origin of [
      `http://[::1]:${port}`,
      `http://127.0.0.2:${port}`,
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1.evil.example:${port}`,
      'not a url',
    ])
      expectEnvelope(await upsert(origin), 403, 'FORBIDDEN')
    const del = await send(
      srv.url,
      'POST',
      `${POINTS}/delete?wait=true`,
      { 'content-type': 'application/json', origin: own },
      '{"points":[100]}',
    )
    expect(del.status).toBe(200)
    expect(await count()).toBe(20)
  })
})

describe('the Origin check with keys and with --cors-origin', () => {
  let dir: string
  let server: RunningServer
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-xsite-'))
    server = await serve({
      dataDir: dir,
      port: 0,
      logLevel: 'silent',
      handleSignals: false,
      security: { apiKey: 'secret-key', corsOrigins: ['https://app.example'] },
    })
  })
  afterAll(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a foreign Origin even with a valid key, and allows the configured origin', async () => {
    const body = '{"vectors":{"size":2,"distance":"Dot"}}'
    const headers = { 'content-type': 'application/json', 'api-key': 'secret-key' }
    expectEnvelope(
      await send(server.url, 'PUT', '/collections/a', { ...headers, origin: 'https://evil.example' }, body),
      403,
      'FORBIDDEN',
    )
    const ok = await send(
      server.url,
      'PUT',
      '/collections/a',
      { ...headers, origin: 'https://app.example' },
      body,
    )
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    // the configured origin still needs the key
    expectEnvelope(
      await send(server.url, 'DELETE', '/collections/a', { origin: 'https://app.example' }),
      401,
      'UNAUTHORIZED',
    )
  })
})

describe('framework errors in Qdrant envelope; every valid name reachable', () => {
  let srv: TestServer
  beforeAll(async () => {
    srv = await startTestServer()
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('serves a collection whose name has the maximum 200 characters, through the official client too', async () => {
    const name = `${'n'.repeat(190)}_.-abcdef9`
    expect(name).toHaveLength(200)
    const created = await call(srv.url, 'PUT', `/collections/${name}`, {
      vectors: { size: 2, distance: 'Dot' },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    const client = new QdrantClient({ url: srv.url })
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 2], payload: { a: 1 } }] })
    const { points } = await client.query(name, { query: [1, 2], limit: 1, with_payload: true })
    expect(points[0]).toMatchObject({ id: 1, payload: { a: 1 } })
    expect((await client.getCollection(name)).points_count).toBe(1)
    const snap = await call(srv.url, 'POST', `/collections/${name}/snapshots?wait=true`)
    expect(snap.status, JSON.stringify(snap.body)).toBe(200)
    const snapName = snap.body.result.name as string
    const got = await fetch(`${srv.url}/collections/${name}/snapshots/${encodeURIComponent(snapName)}`)
    expect(got.status).toBe(200)
    await got.arrayBuffer()
    expect(await client.deleteCollection(name)).toBe(true)
  })

  it('answers a 201-character name with the engine error, not the router 414', async () => {
    const r = await call(srv.url, 'PUT', `/collections/${'n'.repeat(201)}`, {
      vectors: { size: 2, distance: 'Dot' },
    })
    expectEnvelope(r, 400, 'INVALID_COLLECTION_NAME', /1-200 characters/)
  })

  it('answers a path segment over the router limit with 414 URI_TOO_LONG in the envelope', async () => {
    const r = await call(srv.url, 'GET', `/collections/${'n'.repeat(2000)}`)
    expectEnvelope(r, 414, 'URI_TOO_LONG', /1024/)
  })

  it('answers a bad percent-encoding, an unknown route and a too large body in the envelope', async () => {
    expectEnvelope(await call(srv.url, 'GET', '/collections/%zz'), 400, 'BAD_REQUEST', /percent-encoding/)
    expectEnvelope(await call(srv.url, 'GET', '/nope'), 404, 'NOT_FOUND', /no endpoint GET \/nope/)
    expectEnvelope(await call(srv.url, 'PATCH', '/collections'), 404, 'NOT_FOUND')
  })

  it('answers malformed HTTP and oversized headers in the envelope on the socket', async () => {
    const port = Number(new URL(srv.url).port)
    const bad = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n')
    expect(bad).toMatch(/^HTTP\/1\.1 400 /)
    expect(bad).toMatch(/x-quiver-error-code: BAD_REQUEST/i)
    expect(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: { error: expect.any(String) },
    })
    const huge = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(huge).toMatch(/^HTTP\/1\.1 431 /)
    expect(huge).toMatch(/x-quiver-error-code: HEADERS_TOO_LARGE/i)
    // the server is still serving
    expect((await call(srv.url, 'GET', '/collections')).status).toBe(200)
  })
})

// Authentication and access control of a real server: API keys (read-write, read-only), JWT with
// global and collection-level access, CORS and TLS; every refused write is checked to write nothing.
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, type ServeOptions, serve } from '../src/server/index.js'
import { type RawReply, call as send } from './server-harness.js'

const RW = 'rw-secret-key'
const RO = 'ro-secret-key'
const VECTORS = { size: 4, distance: 'Dot' } as const

interface Started {
  server: RunningServer
  close(): Promise<void>
}

async function start(extra: Partial<ServeOptions> = {}): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-security-test-'))
  const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false, ...extra })
  return {
    server,
    close: async () => {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** The harness's `call`, with headers before the body. */
function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<RawReply> {
  return send(base, method, path, body, headers)
}

function jwt(
  claims: Record<string, unknown>,
  secret = RW,
  expiresIn: string | number = '1h',
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret))
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (err) {
    return (err as { status?: number }).status ?? -1
  }
}

const point = (id: number) => ({ id, vector: [1, 0, 0, id], payload: { id } })

describe('API keys and JWT', () => {
  let srv: Started
  let url: string
  let admin: QdrantClient
  const count = async (name: string): Promise<number> => (await admin.count(name, { exact: true })).count

  beforeAll(async () => {
    srv = await start({ security: { apiKey: RW, readOnlyApiKey: RO, jwtRbac: true } })
    url = srv.server.url
    admin = new QdrantClient({ url, apiKey: RW, checkCompatibility: false })
    await admin.createCollection('a', { vectors: VECTORS })
    await admin.createCollection('b', { vectors: VECTORS })
    await admin.upsert('a', { wait: true, points: [point(1)] })
    await admin.upsert('b', { wait: true, points: [point(1)] })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('leaves the health endpoints and / open', async () => {
    for (const path of ['/', '/healthz', '/livez', '/readyz'])
      expect((await call(url, 'GET', path)).status).toBe(200)
  })

  it('refuses requests without a key with 401 and writes nothing', async () => {
    const r = await call(url, 'GET', '/collections')
    expect(r.status).toBe(401)
    expect(r.code).toBe('UNAUTHORIZED')
    expect(r.body.status.error).toMatch(/Must provide an API key/)
    const w = await call(url, 'PUT', '/collections/a/points', {}, { points: [point(2)] })
    expect(w.status).toBe(401)
    expect(await count('a')).toBe(1)
    const anon = new QdrantClient({ url, checkCompatibility: false })
    expect(await status(anon.getCollections())).toBe(401)
    expect(await status(anon.upsert('a', { wait: true, points: [point(3)] }))).toBe(401)
    expect(await count('a')).toBe(1)
    // an unknown path needs a credential too (no probing), then is a plain 404
    expect((await call(url, 'GET', '/nope')).status).toBe(401)
    expect((await call(url, 'GET', '/nope', { 'api-key': RO })).status).toBe(404)
  })

  it('refuses a wrong key in either header with 401', async () => {
    for (const headers of [
      { 'api-key': 'wrong' },
      { authorization: 'Bearer wrong' },
      { 'api-key': `${RW}x` },
    ]) {
      const r = await call(url, 'PUT', '/collections/a/points', headers, { points: [point(2)] })
      expect(r.status).toBe(401)
      expect(r.body.status.error).toBe('Invalid API key or JWT')
    }
    const wrong = new QdrantClient({ url, apiKey: 'wrong', checkCompatibility: false })
    expect(await status(wrong.getCollections())).toBe(401)
    expect(await count('a')).toBe(1)
  })

  it('lets the read-only key read but not write, create or delete (403, nothing written)', async () => {
    const ro = new QdrantClient({ url, apiKey: RO, checkCompatibility: false })
    expect((await ro.search('a', { vector: [1, 0, 0, 0], limit: 5 })).map((h) => h.id)).toEqual([1])
    expect((await ro.getCollections()).collections.map((c) => c.name).sort()).toEqual(['a', 'b'])
    expect(await status(ro.upsert('a', { wait: true, points: [point(2)] }))).toBe(403)
    expect(await status(ro.delete('a', { wait: true, points: [1] }))).toBe(403)
    expect(await status(ro.setPayload('a', { wait: true, payload: { x: 1 }, points: [1] }))).toBe(403)
    expect(await status(ro.createCollection('c', { vectors: VECTORS }))).toBe(403)
    expect(await status(ro.deleteCollection('b'))).toBe(403)
    const bearer = await call(
      url,
      'PUT',
      '/collections/a/points',
      { authorization: `Bearer ${RO}` },
      {
        points: [point(2)],
      },
    )
    expect(bearer.status).toBe(403)
    expect(bearer.code).toBe('FORBIDDEN')
    expect(bearer.body.status.error).toMatch(/needs write access to collection "a".*read-only/)
    expect(await count('a')).toBe(1)
    expect((await admin.retrieve('a', { ids: [1] }))[0]?.payload).toEqual({ id: 1 })
    expect((await admin.collectionExists('c')).exists).toBe(false)
    expect((await admin.collectionExists('b')).exists).toBe(true)
  })

  it('lets the read-write key (either header) do everything', async () => {
    const r = await call(
      url,
      'PUT',
      '/collections/c',
      { authorization: `Bearer ${RW}` },
      { vectors: VECTORS },
    )
    expect(r.status).toBe(200)
    await admin.upsert('c', { wait: true, points: [point(1), point(2)] })
    expect(await count('c')).toBe(2)
    expect(await status(admin.deleteCollection('c'))).toBe(200)
    expect((await admin.collectionExists('c')).exists).toBe(false)
  })

  it('accepts JWTs with global r and m access', async () => {
    const r = new QdrantClient({ url, apiKey: await jwt({ access: 'r' }), checkCompatibility: false })
    expect((await r.search('b', { vector: [1, 0, 0, 0], limit: 1 })).length).toBe(1)
    expect(await status(r.upsert('b', { wait: true, points: [point(2)] }))).toBe(403)
    expect(await count('b')).toBe(1)
    const m = new QdrantClient({ url, apiKey: await jwt({ access: 'm' }), checkCompatibility: false })
    await m.createCollection('m1', { vectors: VECTORS })
    expect(await status(m.deleteCollection('m1'))).toBe(200)
  })

  it('applies collection-level JWT access: r, rw, and nothing on other collections', async () => {
    const readA = new QdrantClient({
      url,
      apiKey: await jwt({ access: [{ collection: 'a', access: 'r' }] }),
      checkCompatibility: false,
    })
    expect((await readA.search('a', { vector: [1, 0, 0, 0], limit: 1 })).length).toBe(1)
    expect(await status(readA.upsert('a', { wait: true, points: [point(5)] }))).toBe(403)
    expect(await status(readA.search('b', { vector: [1, 0, 0, 0], limit: 1 }))).toBe(403)
    expect((await readA.getCollections()).collections.map((c) => c.name)).toEqual(['a'])

    const token = await jwt({ access: [{ collection: 'a', access: 'rw' }] })
    const rwA = new QdrantClient({ url, apiKey: token, checkCompatibility: false })
    await rwA.upsert('a', { wait: true, points: [point(6)] })
    expect(await count('a')).toBe(2)
    const other = await call(
      url,
      'PUT',
      '/collections/b/points',
      { authorization: `Bearer ${token}` },
      {
        points: [point(7)],
      },
    )
    expect(other.status).toBe(403)
    expect(other.body.status.error).toMatch(/collection "b".*collections "a"/)
    expect(await status(rwA.deleteCollection('a'))).toBe(403)
    expect(await status(rwA.createCollection('x', { vectors: VECTORS }))).toBe(403)
    expect(await count('b')).toBe(1)
    expect((await admin.collectionExists('a')).exists).toBe(true)
    expect((await admin.collectionExists('x')).exists).toBe(false)
    await admin.delete('a', { wait: true, points: [6] })
  })

  it('refuses expired, badly signed, malformed and value_exists tokens', async () => {
    const put = async (token: string): Promise<RawReply> =>
      call(url, 'PUT', '/collections/a/points', { 'api-key': token }, { points: [point(9)] })
    const expired = await put(await jwt({ access: 'm' }, RW, Math.floor(Date.now() / 1000) - 60))
    expect(expired.status).toBe(401)
    expect(expired.body.status.error).toMatch(/expired/)
    expect((await put(await jwt({ access: 'm' }, 'another-secret'))).status).toBe(401)
    expect((await put(await jwt({ access: 'm' }, RO))).status).toBe(401)
    const bad = await put(await jwt({ access: [{ collection: 'a', access: 'x' }] }))
    expect(bad.status).toBe(401)
    expect(bad.body.status.error).toMatch(/access/)
    expect((await put(await jwt({}))).status).toBe(401)
    const ve = await put(await jwt({ access: 'm', value_exists: { collection: 'a', matches: [] } }))
    expect(ve.status).toBe(403)
    expect(ve.body.status.error).toMatch(/value_exists.*not supported/)
    expect(await count('a')).toBe(1)
  })

  it('sends no CORS headers when no origin is configured', async () => {
    const r = await call(url, 'OPTIONS', '/collections', {
      origin: 'https://app.example',
      'access-control-request-method': 'GET',
    })
    expect(r.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('JWT without jwtRbac', () => {
  it('treats a token as a wrong key when jwtRbac is off', async () => {
    const srv = await start({ security: { apiKey: RW } })
    try {
      const r = await call(srv.server.url, 'GET', '/collections', { 'api-key': await jwt({ access: 'm' }) })
      expect(r.status).toBe(401)
      expect((await call(srv.server.url, 'GET', '/collections', { 'api-key': RW })).status).toBe(200)
    } finally {
      await srv.close()
    }
  })

  it('refuses jwtRbac without an api key at startup', async () => {
    await expect(start({ security: { jwtRbac: true, readOnlyApiKey: RO } })).rejects.toThrow(
      /jwtRbac needs apiKey/,
    )
  })
})

describe('CORS', () => {
  let srv: Started
  beforeAll(async () => {
    srv = await start({ security: { apiKey: RW, corsOrigins: ['https://app.example'] } })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('answers a preflight from an allowed origin without a key', async () => {
    const r = await call(srv.server.url, 'OPTIONS', '/collections/a/points/search', {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'api-key,content-type',
    })
    expect(r.status).toBe(204)
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(r.headers.get('access-control-allow-headers')).toMatch(/api-key/)
    expect(r.headers.get('access-control-allow-methods')).toMatch(/POST/)
  })

  it('adds the origin to real responses, and not for other origins', async () => {
    const ok = await call(srv.server.url, 'GET', '/collections', {
      origin: 'https://app.example',
      'api-key': RW,
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const other = await call(srv.server.url, 'GET', '/collections', {
      origin: 'https://evil.example',
      'api-key': RW,
    })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })
})

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const openssl = hasOpenssl()
const TLS_SUITE = `TLS (self-signed certificate made with the openssl CLI)${openssl ? '' : ' (skipped: no openssl on PATH; install it, e.g. apt-get install openssl)'}`
describe.skipIf(!openssl)(TLS_SUITE, () => {
  let srv: Started
  let cert: Buffer
  let certDir: string

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'quiver-tls-test-'))
    const [keyFile, certFile] = [join(certDir, 'key.pem'), join(certDir, 'cert.pem')]
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile],
        ...['-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ],
      { stdio: 'ignore' },
    )
    cert = await readFile(certFile)
    srv = await start({ security: { apiKey: RW, tls: { cert, key: await readFile(keyFile) } } })
  })
  afterAll(async () => {
    await srv?.close()
    await rm(certDir, { recursive: true, force: true })
  })

  it('serves HTTPS that verifies against the certificate', async () => {
    expect(srv.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const { status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
      const req = httpsRequest(
        `${srv.server.url}/collections`,
        { ca: cert, headers: { 'api-key': RW } },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => {
            text += c
          })
          res.on('end', () => done({ status: res.statusCode ?? 0, body: text }))
        },
      )
      req.on('error', fail)
      req.end()
    })
    expect(status).toBe(200)
    expect(JSON.parse(body).result).toEqual({ collections: [] })
  })

  it('works with the official client over https', async () => {
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    try {
      const client = new QdrantClient({ url: srv.server.url, apiKey: RW, checkCompatibility: false })
      await client.createCollection('t', { vectors: VECTORS })
      await client.upsert('t', { wait: true, points: [point(1)] })
      expect((await client.count('t', { exact: true })).count).toBe(1)
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous
    }
  })

  it('does not answer plain HTTP', async () => {
    await expect(fetch(srv.server.url.replace('https:', 'http:'))).rejects.toThrow()
  })
})

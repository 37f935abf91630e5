import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import type { ServerDatabase } from './app.js'
import { buildServer } from './app.js'
import { allows, type Grant, ROUTE_ACCESS, routeAccess, verifyJwt } from './security.js'

const fakeDb = {} as ServerDatabase

describe('route access table', () => {
  it('names every route the server registers', async () => {
    const app = buildServer({ db: fakeDb })
    await app.ready()
    const routes = collectRoutes(app)
    await app.close()
    expect(routes).toContain('PUT /collections/{}/points')
    expect(routes).toContain('DELETE /collections/{}/index/{}')
    expect(routes).toContain('POST /collections/{}/points/query/batch')
    expect(
      routes.filter((r) => !(r in ROUTE_ACCESS)),
      'add these to ROUTE_ACCESS (src/server/security.ts)',
    ).toEqual([])
  })

  it('defaults unknown routes to global manage and maps HEAD to GET', () => {
    expect(routeAccess('POST', '/collections/:collection_name/something/new')).toEqual({
      level: 'manage',
      scope: 'global',
    })
    expect(routeAccess('HEAD', '/healthz')).toBe('open')
    expect(routeAccess('PUT', '/collections/:name/points')).toEqual({ level: 'write', scope: 'collection' })
  })
})

/** `METHOD /pattern` of every route, from Fastify's printed route tree (4 columns per level). */
function collectRoutes(app: ReturnType<typeof buildServer>): string[] {
  const out: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([\s│├└─]*)(\S+) \(([A-Z, ]+)\)$/.exec(line)
    if (m === null) continue
    const level = m[1]!.length / 4
    stack.length = level
    const segment = m[2]!
    // a child's text continues its parent's (under the root `/`, `metrics`; under `health`, `z`)
    stack.push(segment)
    const path = stack.join('')
    for (const method of m[3]!.split(', '))
      if (method !== 'HEAD') out.push(`${method} ${path.replace(/:[^/]+/g, '{}')}`)
  }
  return out
}

describe('allows', () => {
  const readOnly: Grant = { kind: 'global', mode: 'r' }
  const full: Grant = { kind: 'global', mode: 'm' }
  const scoped: Grant = {
    kind: 'collections',
    access: new Map([
      ['a', 'rw'],
      ['b', 'r'],
    ]),
  }
  const need = (
    level: 'read' | 'write' | 'manage',
    scope: 'collection' | 'global' | 'list' = 'collection',
  ) => ({
    level,
    scope,
  })

  it('follows Qdrant: r reads, m does all, collection grants stay in their collections', () => {
    expect(allows(readOnly, need('read', 'global'), undefined)).toBe(true)
    expect(allows(readOnly, need('write'), 'a')).toBe(false)
    expect(allows(full, need('manage', 'global'), undefined)).toBe(true)
    expect(allows(scoped, need('write'), 'a')).toBe(true)
    expect(allows(scoped, need('write'), 'b')).toBe(false)
    expect(allows(scoped, need('read'), 'b')).toBe(true)
    expect(allows(scoped, need('read'), 'c')).toBe(false)
    expect(allows(scoped, need('manage'), 'a')).toBe(false)
    expect(allows(scoped, need('read', 'global'), undefined)).toBe(false)
    expect(allows(scoped, need('read', 'list'), undefined)).toBe(true)
  })
})

describe('JWT access claims naming prototype members', () => {
  const secret = new TextEncoder().encode('jwt-secret')
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secret)

  it('grants exactly the collections named, __proto__ and constructor included', async () => {
    const token = await sign({
      access: [
        { collection: '__proto__', access: 'rw' },
        { collection: 'constructor', access: 'r' },
      ],
    })
    const grant = await verifyJwt(token, secret)
    const write = { level: 'write', scope: 'collection' } as const
    const read = { level: 'read', scope: 'collection' } as const
    expect(allows(grant, write, '__proto__')).toBe(true)
    expect(allows(grant, read, 'constructor')).toBe(true)
    expect(allows(grant, write, 'constructor')).toBe(false)
    expect(allows(grant, read, 'toString')).toBe(false)
    expect(allows(grant, read, 'hasOwnProperty')).toBe(false)
  })

  it('ignores a __proto__ claim at the top of the token', async () => {
    // JSON text with a literal "__proto__" key, as an attacker holding the secret could sign it
    const header = Buffer.from('{"alg":"HS256"}').toString('base64url')
    const body = Buffer.from('{"access":"r","__proto__":{"polluted":true}}').toString('base64url')
    const { createHmac } = await import('node:crypto')
    const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url')
    const grant = await verifyJwt(`${header}.${body}.${sig}`, secret)
    expect(grant).toEqual({ kind: 'global', mode: 'r' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

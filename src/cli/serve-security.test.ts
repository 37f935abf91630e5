import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { addServeSecurityOptions, type ServeSecurityFlags, serveSecurityOptions } from './serve-security.js'

function parse(args: string[]): ServeSecurityFlags {
  const cmd = addServeSecurityOptions(new Command('serve').exitOverride())
  cmd.parse(args, { from: 'user' })
  return cmd.opts<ServeSecurityFlags>()
}

describe('serve security flags', () => {
  it('maps flags to security options and limits', () => {
    const flags = parse([
      ...['--api-key', 'k1', '--read-only-api-key', 'k2', '--jwt-rbac'],
      ...['--cors-origin', 'https://a.example,https://b.example', '--cors-origin', '*'],
      ...['--max-concurrent-requests', '8', '--max-batch-points', '100', '--max-limit', '50'],
      ...['--request-timeout', '0', '--body-limit', '1024', '--max-filter-depth', '3'],
    ])
    expect(serveSecurityOptions(flags, {})).toEqual({
      security: {
        apiKey: 'k1',
        readOnlyApiKey: 'k2',
        jwtRbac: true,
        corsOrigins: ['https://a.example', 'https://b.example', '*'],
      },
      limits: {
        maxConcurrentRequests: 8,
        maxBatchPoints: 100,
        maxLimit: 50,
        maxFilterDepth: 3,
        requestTimeoutMs: 0,
      },
      bodyLimit: 1024,
    })
    expect(serveSecurityOptions(parse([]), {})).toEqual({ security: {}, limits: {} })
    expect(
      serveSecurityOptions(
        parse(['--snapshot-url-allow', 'a.example:8080,b.example', '--snapshot-url-allow', '*']),
        {},
      ),
    ).toEqual({ security: {}, limits: {}, snapshotUrlAllow: ['a.example:8080', 'b.example', '*'] })
    expect(() => parse(['--max-batch-points', '0'])).toThrow(/integer >= 1/)
  })

  it('reads keys from QUIVER__SERVICE__* when the flags are absent; flags win', () => {
    const env = {
      QUIVER__SERVICE__API_KEY: 'env-rw',
      QUIVER__SERVICE__READ_ONLY_API_KEY: 'env-ro',
      QUIVER__SERVICE__JWT_RBAC: 'true',
    }
    expect(serveSecurityOptions(parse([]), env).security).toEqual({
      apiKey: 'env-rw',
      readOnlyApiKey: 'env-ro',
      jwtRbac: true,
    })
    expect(serveSecurityOptions(parse(['--api-key', 'flag-rw']), env).security.apiKey).toBe('flag-rw')
    expect(() => serveSecurityOptions(parse([]), { QUIVER__SERVICE__JWT_RBAC: 'maybe' })).toThrow(
      /true or false/,
    )
  })

  it('refuses --jwt-rbac without a key and a lone --tls-cert; reads the PEM files', async () => {
    expect(() => serveSecurityOptions(parse(['--jwt-rbac']), {})).toThrow(/--jwt-rbac needs --api-key/)
    expect(() => serveSecurityOptions(parse(['--tls-cert', 'c.pem']), {})).toThrow(/go together/)
    const dir = await mkdtemp(join(tmpdir(), 'quiver-cli-tls-'))
    try {
      await writeFile(join(dir, 'c.pem'), 'CERT')
      await writeFile(join(dir, 'k.pem'), 'KEY')
      const { security } = serveSecurityOptions(
        parse(['--tls-cert', join(dir, 'c.pem'), '--tls-key', join(dir, 'k.pem')]),
        {},
      )
      expect(security.tls?.cert.toString()).toBe('CERT')
      expect(security.tls?.key.toString()).toBe('KEY')
      expect(() =>
        serveSecurityOptions(
          parse(['--tls-cert', join(dir, 'c.pem'), '--tls-key', join(dir, 'missing.pem')]),
          {},
        ),
      ).toThrow(/--tls-key: cannot read/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

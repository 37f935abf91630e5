// Which hosts snapshot recovery fetches from: loopback always, allow-list entries by host and port.
import { describe, expect, it } from 'vitest'
import { isLoopbackHost } from './hosts.js'
import { snapshotUrlPolicy } from './snapshot-url.js'

const host = (url: string): string => new URL(url).hostname

describe('snapshot URL policy', () => {
  it('takes localhost, 127.0.0.0/8 and ::1 (any spelling URL parsing normalises) as loopback, 0.0.0.0 and :: not', () => {
    for (const url of [
      'http://localhost:1/',
      'http://LOCALHOST./',
      'http://127.0.0.1/',
      'http://127.255.3.4/',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://[::1]:6333/',
      'http://[::ffff:127.0.0.1]/',
    ])
      expect(isLoopbackHost(host(url)), url).toBe(true)
    for (const url of [
      'http://0.0.0.0/',
      'http://[::]/',
      'http://10.0.0.1/',
      'http://128.0.0.1/',
      'http://localhost.example.com/',
      'http://127.0.0.1.nip.io/',
      'http://[::2]/',
    ])
      expect(isLoopbackHost(host(url)), url).toBe(false)
  })

  it('allows loopback and the listed hosts, on the listed port only when one is given', () => {
    const policy = snapshotUrlPolicy([
      'backups.internal',
      'Store.Example:8080',
      '[fd00::1]:6333',
      '10.0.0.7:80',
    ])
    const allows = (url: string): boolean => policy.allows(new URL(url))
    expect(allows('http://127.0.0.1:9/')).toBe(true)
    expect(allows('https://backups.internal:1234/a.snapshot')).toBe(true)
    expect(allows('http://store.example:8080/a.snapshot')).toBe(true)
    expect(allows('http://store.example/a.snapshot')).toBe(false)
    expect(allows('http://store.example:8081/a.snapshot')).toBe(false)
    expect(allows('http://[fd00::1]:6333/')).toBe(true)
    expect(allows('http://[fd00::1]:6334/')).toBe(false)
    expect(allows('http://10.0.0.7/')).toBe(true) // port 80 is http's default
    expect(allows('https://10.0.0.7/')).toBe(false) // 443
    expect(allows('http://other.example/')).toBe(false)
    expect(snapshotUrlPolicy().allows(new URL('http://backups.internal/'))).toBe(false)
    expect(snapshotUrlPolicy(['*']).allows(new URL('https://anywhere.example/'))).toBe(true)
  })

  it('refuses entries that are not host or host:port', () => {
    for (const entry of [
      '',
      'http://example.com',
      'example.com/path',
      'a b',
      'user@example.com',
      'example.com:0',
      'example.com:99999',
      '::1',
    ])
      expect(() => snapshotUrlPolicy([entry]), entry).toThrow(/is not a host or host:port/)
  })
})

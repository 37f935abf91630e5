import { describe, expect, it } from 'vitest'
import { bareHost, isLoopbackHost } from './hosts.js'

describe('host spellings', () => {
  it('spells a host one way: case, brackets, trailing dot, IPv4-mapped IPv6', () => {
    expect(bareHost('LocalHost.')).toBe('localhost')
    expect(bareHost('[::1]')).toBe('::1')
    expect(bareHost('[::ffff:7f00:1]')).toBe('127.0.0.1')
    expect(bareHost('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(bareHost('[::ffff:c0a8:101]')).toBe('192.168.1.1')
    expect(bareHost('example.com')).toBe('example.com')
  })

  it('knows loopback in every spelling and nothing else', () => {
    for (const h of ['localhost', '127.0.0.1', '127.9.9.9', '[::1]', '[::ffff:7f00:1]'])
      expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['0.0.0.0', '[::]', '10.0.0.1', 'localhost.example', '128.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false)
  })
})

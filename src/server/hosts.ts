// Host names and addresses as the server judges them (the Origin check, snapshot URL policy): one
// definition of "loopback" for both.
import { BlockList, isIP } from 'node:net'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/
const MAPPED_DOTTED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/

/**
 * A host name or address in one spelling: lower-case, without the brackets of IPv6 and a trailing
 * dot (`localhost.`), IPv4-mapped IPv6 as IPv4 (`[::ffff:7f00:1]` and `::ffff:127.0.0.1` are
 * `127.0.0.1`), so that a URL's hostname and a socket's address compare equal.
 */
export function bareHost(hostname: string): string {
  let h = hostname.toLowerCase().replace(/\.$/, '')
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  const dotted = MAPPED_DOTTED.exec(h)
  if (dotted !== null) return dotted[1]!
  const hex = MAPPED_HEX.exec(h)
  if (hex !== null) {
    const hi = Number.parseInt(hex[1]!, 16)
    const lo = Number.parseInt(hex[2]!, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return h
}

/**
 * Whether `hostname` (as `URL.hostname` spells it) names this machine's loopback interface:
 * `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped forms. `0.0.0.0` and `::` are not loopback
 * (although connecting to them reaches this machine on Linux) and need an explicit entry.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = bareHost(hostname)
  if (h === 'localhost') return true
  const family = isIP(h)
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6')
}

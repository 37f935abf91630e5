// Snapshot recovery from an http(s):// location: which hosts the server may fetch from (loopback and
// the `snapshotUrlAllow` list, redirects included) and the download, which fails with one message.
import { createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream } from 'node:stream/web'
import type { FastifyBaseLogger } from 'fastify'
import { invalid, QuiverError } from '../errors.js'
import { bareHost, isLoopbackHost } from './hosts.js'
import { HttpError } from './http-error.js'

/** Redirects followed per download; each target is checked against the policy before it is fetched. */
export const MAX_SNAPSHOT_REDIRECTS = 5

/** `host` or `host:port`; IPv6 in brackets. */
const ENTRY_RE = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/?#@\s]+)(?::(\d{1,5}))?$/

interface AllowEntry {
  host: string
  /** undefined: any port */
  port: string | undefined
}

/** Which http(s) URLs the server fetches snapshots from. */
export interface SnapshotUrlPolicy {
  /** The entries as configured, for messages. */
  readonly entries: readonly string[]
  allows(url: URL): boolean
}

function defaultPort(url: URL): string {
  return url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
}

/**
 * Builds the policy: loopback hosts on any port, plus each entry of `allow`: `host` (any port),
 * `host:port` (`[v6]:port` for IPv6), or `*` (any host, as Qdrant, which fetches wherever the caller
 * says). Throws INVALID_ARGUMENT for an entry that is not one of these.
 * @example snapshotUrlPolicy(['backups.internal:8080']).allows(new URL('http://backups.internal:8080/a.snapshot')) // true
 */
export function snapshotUrlPolicy(allow: readonly string[] = []): SnapshotUrlPolicy {
  let any = false
  const entries: AllowEntry[] = []
  for (const raw of allow) {
    const entry = raw.trim()
    if (entry === '*') {
      any = true
      continue
    }
    const m = ENTRY_RE.exec(entry)
    let host: string | undefined
    try {
      if (m !== null) host = bareHost(new URL(`http://${m[1]}/`).hostname)
    } catch {}
    const port = m?.[2] === undefined ? undefined : Number(m[2])
    if (host === undefined || host === '' || (port !== undefined && (port < 1 || port > 65535))) {
      throw invalid(
        `snapshotUrlAllow: ${JSON.stringify(raw)} is not a host or host:port (e.g. backups.internal:8080, [fd00::1]:6333, or *)`,
        { entry: raw },
      )
    }
    entries.push({ host, port: port === undefined ? undefined : String(port) })
  }
  return {
    entries: [...allow],
    allows(url: URL): boolean {
      if (any || isLoopbackHost(url.hostname)) return true
      const host = bareHost(url.hostname)
      const port = defaultPort(url)
      return entries.some((e) => e.host === host && (e.port === undefined || e.port === port))
    },
  }
}

/** The 403 for a location the policy refuses; it names the setting that would allow it. */
function refused(url: URL): HttpError {
  return new HttpError(
    'FORBIDDEN',
    `body.location: this server recovers snapshots from URLs on loopback hosts and on the hosts allowed with quiver serve --snapshot-url-allow (the snapshotUrlAllow option); ${url.host} is not one of them`,
  )
}

/** Checks `location` (an http(s) URL) against `policy` before anything is fetched. Throws INVALID_ARGUMENT, FORBIDDEN (403). */
export function checkSnapshotUrl(location: string, policy: SnapshotUrlPolicy): URL {
  let url: URL
  try {
    url = new URL(location)
  } catch {
    throw invalid(`body.location: ${JSON.stringify(location)} is not a valid URL`, { path: 'body.location' })
  }
  if (!policy.allows(url)) throw refused(url)
  return url
}

/**
 * The one error of a failed download, whatever failed: no connection, an HTTP error, a redirect the
 * policy refuses, or an answer that is not a valid snapshot archive. A caller cannot tell a closed
 * port from a service that answered, so recovery cannot map the server's network; the server log
 * has the cause.
 */
export function snapshotFetchFailed(location: string, cause: unknown): QuiverError {
  return new QuiverError(
    'INVALID_ARGUMENT',
    `body.location: could not fetch a snapshot archive from ${location} (the server log has the cause)`,
    { path: 'body.location' },
    cause,
  )
}

export interface SnapshotDownloadOptions {
  /** The location as the client sent it, for the error message. */
  location: string
  /** Sent as the `api-key` header to the location's origin (never to another origin a redirect names). */
  apiKey?: string | undefined
  policy: SnapshotUrlPolicy
  log: FastifyBaseLogger
}

/**
 * Downloads `url` (already checked with `checkSnapshotUrl`) into `dest` (created, must not exist),
 * following at most MAX_SNAPSHOT_REDIRECTS redirects whose targets the policy allows.
 * Throws `snapshotFetchFailed` (400) for every failure, logging the cause at warn level.
 */
export async function downloadSnapshot(
  url: URL,
  dest: string,
  options: SnapshotDownloadOptions,
): Promise<void> {
  let current = url
  try {
    for (let hop = 0; ; hop++) {
      const sameOrigin = current.origin === url.origin
      const headers: Record<string, string> =
        options.apiKey !== undefined && sameOrigin ? { 'api-key': options.apiKey } : {}
      const res = await fetch(current, { headers, redirect: 'manual' })
      const location = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel()
        if (hop === MAX_SNAPSHOT_REDIRECTS) throw new Error(`more than ${MAX_SNAPSHOT_REDIRECTS} redirects`)
        const next = new URL(location, current)
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
          throw new Error(`redirect to the unsupported scheme ${next.protocol}`)
        if (!options.policy.allows(next)) throw new Error(`redirect to ${next.host}, a host not allowed`)
        current = next
        continue
      }
      if (!res.ok || res.body === null) {
        await res.body?.cancel()
        throw new Error(`HTTP ${res.status} from ${current.href}`)
      }
      await pipeline(Readable.fromWeb(res.body as ReadableStream), createWriteStream(dest, { flags: 'wx' }))
      return
    }
  } catch (err) {
    options.log.warn({ err, location: options.location, at: current.href }, 'snapshot download failed')
    throw snapshotFetchFailed(options.location, err)
  }
}

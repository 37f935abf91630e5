// `quiver snapshot create|list|delete|restore`: snapshots offline on a data directory (opened, so it
// must not be in use) or online through a server's REST API (`--url`), and the REST helper both use.
import { openAsBlob } from 'node:fs'
import { basename, resolve } from 'node:path'
import { type OpenOptions, Quiver } from '../db/quiver.js'
import type { SnapshotInfo } from '../db/snapshots.js'
import { ERROR_CODES, type ErrorCode, QuiverError } from '../errors.js'
import { readChecksumFile } from '../storage/archive.js'
import { UsageError } from './args.js'
import { formatMiB, formatTable } from './format.js'

/** Where a command works: a data directory, or a running server. */
export interface TargetOptions {
  data?: string
  url?: string
  apiKey?: string
  /** With `url`: seconds to wait for the server to be reachable and ready (`GET /readyz`). Default 30. */
  waitTimeout?: number
}

export interface SnapshotCommandOptions extends TargetOptions {
  collection?: string
  full?: boolean
  name?: string
  from?: string
  checksum?: string
  json?: boolean
}

export type Target =
  | { kind: 'data'; dir: string }
  | { kind: 'url'; url: string; apiKey: string | undefined; waitTimeoutMs: number }

/** Default of `--wait-timeout`: how long `--url` commands wait for a starting server, in seconds. */
export const DEFAULT_WAIT_TIMEOUT_S = 30

/** `--data` or `--url` (one of them; `--data ./data` when neither). Throws UsageError for both. */
export function resolveTarget(o: TargetOptions): Target {
  if (o.url !== undefined) {
    if (o.data !== undefined) throw new UsageError('give either --data or --url, not both')
    let u: URL
    try {
      u = new URL(o.url)
    } catch {
      throw new UsageError(`--url ${JSON.stringify(o.url)} is not a URL (e.g. http://127.0.0.1:6333)`)
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new UsageError('--url must be http:// or https://')
    return {
      kind: 'url',
      url: o.url.replace(/\/+$/, ''),
      apiKey: o.apiKey,
      waitTimeoutMs: (o.waitTimeout ?? DEFAULT_WAIT_TIMEOUT_S) * 1000,
    }
  }
  if (o.apiKey !== undefined) throw new UsageError('--api-key goes with --url')
  if (o.waitTimeout !== undefined) throw new UsageError('--wait-timeout goes with --url')
  return { kind: 'data', dir: resolve(o.data ?? './data') }
}

/**
 * Opens a data directory for an offline command. Unless `create` (restoring into a fresh
 * directory), a missing data directory is refused (DATA_DIR_NOT_FOUND, nothing created) with a hint
 * at how to make one. Throws DIRECTORY_LOCKED with a hint when a server (or another process) has it open.
 */
export async function openOffline(
  dir: string,
  { create = false, ...options }: OpenOptions = {},
): Promise<Quiver> {
  try {
    return await Quiver.open(dir, { ...options, create })
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'DIRECTORY_LOCKED') {
      throw new QuiverError(
        'DIRECTORY_LOCKED',
        `${err.message}. Offline commands need the data directory to themselves: stop the server, or run the command against it with --url http://HOST:PORT`,
        err.details as Record<string, unknown>,
      )
    }
    if (err instanceof QuiverError && err.code === 'DATA_DIR_NOT_FOUND') {
      throw new QuiverError(
        'DATA_DIR_NOT_FOUND',
        `${err.message}: check --data, or create one with \`quiver serve --data ${dir}\` or \`quiver import DATASET --data ${dir}\``,
        err.details as Record<string, unknown>,
      )
    }
    throw err
  }
}

function isErrorCode(code: string | null): code is ErrorCode {
  return code !== null && Object.hasOwn(ERROR_CODES, code)
}

type UrlTarget = Extract<Target, { kind: 'url' }>

/** Connection failures worth retrying while a server starts (it may not listen yet). */
const RETRIED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])
const POLL_MS = 200

function causeOf(err: unknown): { code: string | undefined; message: string } {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause
  return {
    code: typeof cause?.code === 'string' ? cause.code : undefined,
    message: typeof cause?.message === 'string' ? cause.message : (err as Error).message,
  }
}

/**
 * Resolves once `GET /readyz` answers anything but 503 (a server that has loaded its data; any
 * other answer is left to the real request to report). Refused connections and 503 are retried
 * every 200 ms until `waitTimeoutMs`; then, or at once for other failures (DNS, TLS), throws IO_ERROR.
 */
async function waitReady(target: UrlTarget): Promise<void> {
  const deadline = performance.now() + target.waitTimeoutMs
  for (;;) {
    let last: string
    try {
      const res = await fetch(`${target.url}/readyz`, {
        headers: target.apiKey === undefined ? {} : { 'api-key': target.apiKey },
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      if (res.status !== 503) return
      last = `GET /readyz answered HTTP 503: ${text.trim()}`
    } catch (err) {
      const cause = causeOf(err)
      if (cause.code === undefined || !RETRIED.has(cause.code))
        throw new QuiverError(
          'IO_ERROR',
          `cannot reach ${target.url}: ${cause.message}`,
          { url: target.url },
          err,
        )
      last = cause.message
    }
    const left = deadline - performance.now()
    if (left <= 0) {
      throw new QuiverError(
        'IO_ERROR',
        `${target.url} is not ready after ${target.waitTimeoutMs / 1000} s (--wait-timeout): ${last}`,
        { url: target.url },
      )
    }
    await new Promise((done) => setTimeout(done, Math.min(POLL_MS, left)))
  }
}

const readyTargets = new WeakMap<UrlTarget, Promise<void>>()

/**
 * Calls the REST API of a server and returns the response, or throws a QuiverError carrying the
 * server's error code and message. The first call for a target waits until the server is ready
 * (`--wait-timeout`); IO_ERROR when it cannot be reached or stays not ready.
 */
export async function restFetch(
  target: UrlTarget,
  method: string,
  path: string,
  init: { json?: unknown; body?: FormData; headers?: Readonly<Record<string, string>> } = {},
): Promise<Response> {
  let ready = readyTargets.get(target)
  if (ready === undefined) {
    ready = waitReady(target)
    readyTargets.set(target, ready)
  }
  await ready
  const headers: Record<string, string> = { ...init.headers }
  if (target.apiKey !== undefined) headers['api-key'] = target.apiKey
  let body: string | FormData | undefined
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(init.json)
  } else if (init.body !== undefined) {
    body = init.body
  }
  let res: Response
  try {
    res = await fetch(`${target.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
  } catch (err) {
    const cause = causeOf(err).message
    throw new QuiverError('IO_ERROR', `cannot reach ${target.url}: ${cause}`, { url: target.url }, err)
  }
  if (res.ok) return res
  const text = await res.text()
  let message = text
  try {
    message = (JSON.parse(text) as { status: { error: string } }).status.error
  } catch {}
  const code = res.headers.get('x-quiver-error-code')
  throw new QuiverError(
    isErrorCode(code) ? code : res.status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL',
    `${method} ${path} answered HTTP ${res.status}: ${message}`,
    { status: res.status },
  )
}

/** `result` of a JSON reply of the REST API. */
export async function restResult<T>(
  target: UrlTarget,
  method: string,
  path: string,
  json?: unknown,
  headers?: Readonly<Record<string, string>>,
): Promise<T> {
  const res = await restFetch(target, method, path, {
    ...(json === undefined ? {} : { json }),
    ...(headers === undefined ? {} : { headers }),
  })
  return ((await res.json()) as { result: T }).result
}

interface WireSnapshot {
  name: string
  creation_time: string | null
  size: number
  checksum: string | null
}

function fromWire(s: WireSnapshot): SnapshotInfo {
  return { name: s.name, creationTime: s.creation_time ?? '', size: s.size, checksum: s.checksum }
}

function scope(o: SnapshotCommandOptions): { full: true } | { full: false; collection: string } {
  if (o.full === true) {
    if (o.collection !== undefined) throw new UsageError('give either --collection or --full, not both')
    return { full: true }
  }
  if (o.collection === undefined)
    throw new UsageError('give --collection NAME (or --full for the whole store)')
  return { full: false, collection: o.collection }
}

function printSnapshots(list: SnapshotInfo[], json: boolean | undefined, out: NodeJS.WritableStream): void {
  if (json === true) {
    out.write(`${JSON.stringify(list, null, 2)}\n`)
    return
  }
  if (list.length === 0) {
    out.write('no snapshots\n')
    return
  }
  out.write(
    `${formatTable(
      ['name', 'created (UTC)', 'size', 'sha256'],
      list.map((s) => [s.name, s.creationTime, formatMiB(s.size), s.checksum ?? '-']),
      ['left', 'left', 'right', 'left'],
    )}\n`,
  )
}

async function withDb<T>(dir: string, fn: (db: Quiver) => Promise<T>, create = false): Promise<T> {
  const db = await openOffline(dir, { create })
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

const enc = encodeURIComponent

/** `quiver snapshot create`: prints the new snapshot (and its path when offline). */
export async function runSnapshotCreate(
  o: SnapshotCommandOptions,
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = resolveTarget(o)
  const s = scope(o)
  let snap: SnapshotInfo
  let where: string
  if (t.kind === 'data') {
    ;[snap, where] = await withDb(t.dir, async (db) => {
      const made = s.full ? await db.createFullSnapshot() : await db.createSnapshot(s.collection)
      return [
        made,
        s.full ? await db.fullSnapshotPath(made.name) : await db.snapshotPath(s.collection, made.name),
      ]
    })
  } else {
    snap = fromWire(
      await restResult<WireSnapshot>(
        t,
        'POST',
        s.full ? '/snapshots?wait=true' : `/collections/${enc(s.collection)}/snapshots?wait=true`,
      ),
    )
    where = `${t.url}${s.full ? '/snapshots' : `/collections/${enc(s.collection)}/snapshots`}/${enc(snap.name)}`
  }
  if (o.json === true) {
    out.write(`${JSON.stringify({ ...snap, location: where }, null, 2)}\n`)
    return
  }
  out.write(
    `created snapshot ${snap.name} (${formatMiB(snap.size)}, sha256 ${snap.checksum ?? '-'})\n${where}\n`,
  )
}

/** `quiver snapshot list`: a table (or JSON) of the snapshots, oldest first. */
export async function runSnapshotList(o: SnapshotCommandOptions, out: NodeJS.WritableStream): Promise<void> {
  const t = resolveTarget(o)
  const s = scope(o)
  const list =
    t.kind === 'data'
      ? await withDb(t.dir, (db) => (s.full ? db.listFullSnapshots() : db.listSnapshots(s.collection)))
      : (
          await restResult<WireSnapshot[]>(
            t,
            'GET',
            s.full ? '/snapshots' : `/collections/${enc(s.collection)}/snapshots`,
          )
        ).map(fromWire)
  printSnapshots(list, o.json, out)
}

/** `quiver snapshot delete --name SNAP`. */
export async function runSnapshotDelete(
  o: SnapshotCommandOptions,
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = resolveTarget(o)
  const s = scope(o)
  if (o.name === undefined) throw new UsageError('give --name SNAPSHOT')
  const name = o.name
  if (t.kind === 'data') {
    await withDb(t.dir, (db) =>
      s.full ? db.deleteFullSnapshot(name) : db.deleteSnapshot(s.collection, name),
    )
  } else {
    await restResult(
      t,
      'DELETE',
      s.full ? `/snapshots/${enc(name)}` : `/collections/${enc(s.collection)}/snapshots/${enc(name)}`,
    )
  }
  out.write(`deleted snapshot ${name}\n`)
}

/**
 * `quiver snapshot restore --from FILE`: recovers a collection (`--collection`, replacing or creating
 * it) or every collection of a full snapshot (`--full`, offline only). Online, the file is uploaded.
 */
export async function runSnapshotRestore(
  o: SnapshotCommandOptions,
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = resolveTarget(o)
  const s = scope(o)
  if (o.from === undefined) throw new UsageError('give --from FILE (a .snapshot file)')
  const from = resolve(o.from)
  const checksum = o.checksum ?? (await readChecksumFile(from))
  const how =
    o.checksum !== undefined
      ? 'SHA-256 verified against --checksum'
      : checksum !== undefined
        ? `SHA-256 verified against ${basename(from)}.checksum`
        : `no ${basename(from)}.checksum: every file verified against the snapshot's manifest`
  const opts = checksum === undefined ? {} : { checksum }
  if (t.kind === 'data') {
    // restoring into a fresh directory creates it
    const names = await withDb(
      t.dir,
      async (db) => {
        if (s.full) return db.recoverFullSnapshot(from, opts)
        await db.recoverSnapshot(s.collection, from, opts)
        return [s.collection]
      },
      true,
    )
    out.write(
      `restored ${names.length === 1 ? 'collection' : 'collections'} ${names.join(', ')} from ${from} (${how})\n`,
    )
    return
  }
  if (s.full) {
    throw new UsageError(
      'restoring a full snapshot works offline only (--data DIR with the server stopped), as in Qdrant',
    )
  }
  let blob: Blob
  try {
    blob = await openAsBlob(from)
  } catch (err) {
    throw new QuiverError(
      'SNAPSHOT_NOT_FOUND',
      `snapshot file ${from} cannot be read: ${(err as Error).message}`,
      {
        path: from,
      },
    )
  }
  const form = new FormData()
  form.append('snapshot', blob, basename(from))
  const query = checksum === undefined ? '' : `&checksum=${checksum}`
  await restFetch(t, 'POST', `/collections/${enc(s.collection)}/snapshots/upload?wait=true${query}`, {
    body: form,
  })
  out.write(`restored collection ${s.collection} on ${t.url} from ${from} (${how})\n`)
}

// Snapshot endpoints (Qdrant's `/collections/{name}/snapshots` and `/snapshots` resources): create,
// list, download, delete, recover from a location (file:// under the snapshots directory, http(s)://)
// and from a multipart upload, streamed to a temp file first.
import { createReadStream, createWriteStream } from 'node:fs'
import { realpath, stat, unlink } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import multipart from '@fastify/multipart'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify'
import type { RecoverOptions, SnapshotInfo } from '../../db/snapshots.js'
import { invalid, QuiverError } from '../../errors.js'
import { parseSha256 } from '../../storage/archive.js'
import { errnoCode } from '../../storage/files.js'
import type { ServerDatabase, SnapshotDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import {
  checkSnapshotUrl,
  downloadSnapshot,
  snapshotFetchFailed,
  snapshotUrlPolicy,
} from '../snapshot-url.js'
import { bodyObject } from '../wire/common.js'
import { parseWaitParam } from '../wire/write-params.js'

/** Qdrant's `SnapshotDescription`. */
export interface WireSnapshotDescription {
  name: string
  creation_time: string | null
  size: number
  checksum: string | null
}

export function toWireSnapshot(s: SnapshotInfo): WireSnapshotDescription {
  return { name: s.name, creation_time: s.creationTime, size: s.size, checksum: s.checksum }
}

/**
 * Qdrant's `time_or_accept`: with `wait=false` (`waitFor` false) `work` runs in the background and the
 * reply is 202 `{ status: 'accepted', time }` at once, a failure only logged; otherwise 200 with
 * `toResult` of its result once it is done.
 */
async function sendOkOrAccepted<T>(
  reply: FastifyReply,
  waitFor: boolean,
  work: () => Promise<T>,
  toResult: (value: T) => unknown,
): Promise<FastifyReply> {
  if (waitFor) return sendOk(reply, toResult(await work()))
  const log = reply.log
  work().catch((err: unknown) => log.error({ err }, 'snapshot operation accepted with wait=false failed'))
  return reply.status(202).send({ status: 'accepted', time: reply.elapsedTime / 1000 })
}

interface Params {
  Params: { collection_name: string; snapshot_name: string }
  Body: unknown
  Querystring: Record<string, string | undefined>
}

const PRIORITIES = new Set(['no_sync', 'snapshot', 'replica'])

function isSnapshotDatabase(db: ServerDatabase): db is ServerDatabase & SnapshotDatabase {
  return (
    typeof db.createSnapshot === 'function' &&
    typeof db.recoverSnapshot === 'function' &&
    typeof db.incomingSnapshotPath === 'function' &&
    typeof db.snapshotsDir === 'string'
  )
}

function optionalString(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string')
    throw new QuiverError('INVALID_ARGUMENT', `${path}.${key}: expected a string`, { path: `${path}.${key}` })
  return v
}

function checkPriority(v: string | undefined, path: string): void {
  if (v !== undefined && v !== '' && !PRIORITIES.has(v)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `${path}: expected one of no_sync, snapshot, replica, got ${JSON.stringify(v)}`,
      {
        path,
      },
    )
  }
}

async function sendFile(reply: FastifyReply, path: string, name: string): Promise<FastifyReply> {
  const { size } = await stat(path)
  return reply
    .header('content-type', 'application/octet-stream')
    .header('content-length', size)
    .header('content-disposition', `attachment; filename="${name}"`)
    .send(createReadStream(path))
}

/** `scheme:` at the start of a location: a URL, not a path (two letters at least, so `C:` stays a path). */
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]+):/

/** Whether `path` lies strictly inside `dir` (both absolute and normalised). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)
}

/**
 * Resolves a local `location`: a `file://` URL or a path, a relative one taken from the snapshots
 * directory `root`. It must name a file inside `root`: checked on the resolved path before the file
 * system is touched, and again once symlinks are resolved. Messages name the location as the client
 * gave it, never a server path. Throws INVALID_ARGUMENT (outside `root`, a malformed file URL),
 * SNAPSHOT_NOT_FOUND.
 */
async function localLocation(location: string, root: string): Promise<string> {
  const shown = JSON.stringify(location)
  let path: string
  try {
    path = /^file:/i.test(location) ? fileURLToPath(location) : location
  } catch (err) {
    throw invalid(`body.location: ${shown} is not a valid file:// URL: ${(err as Error).message}`, {
      path: 'body.location',
    })
  }
  const outside = (): QuiverError =>
    invalid(
      `body.location: ${shown} is outside the server's snapshots directory; a local snapshot must be a file under it (a path relative to it, or a file:// URL)`,
      { path: 'body.location' },
    )
  const resolved = resolve(root, path)
  if (!isInside(root, resolved)) throw outside()
  let real: string
  try {
    real = await realpath(resolved)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot file ${location} does not exist`, { location })
    throw new QuiverError('IO_ERROR', `body.location: cannot read ${shown} (${code ?? 'unknown error'})`, {
      location,
      errno: code,
    })
  }
  if (!isInside(await realpath(root), real)) throw outside()
  if (!(await stat(real)).isFile())
    throw invalid(`body.location: ${shown} is not a file`, { path: 'body.location' })
  return real
}

function recoverOptions(checksum: string | undefined, label: string): RecoverOptions {
  return checksum === undefined ? { label } : { checksum, label }
}

/**
 * A damaged archive that the client chose (sent, or named under the snapshots directory) is the
 * client's error (400), not the server's (500): verification fails before any live data is
 * touched. `what` names it in the message (`the snapshot sent`).
 */
async function clientArchive(recovery: Promise<void>, what = 'the snapshot sent'): Promise<void> {
  try {
    await recovery
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'CORRUPTED') {
      throw new QuiverError('INVALID_ARGUMENT', `${what} is damaged: ${err.message}`, err.details, err)
    }
    throw err
  }
}

/**
 * An archive fetched from a URL that fails verification gives the same error as a failed fetch, so
 * that recovery cannot tell a caller what a loopback port answers; the cause goes to the log.
 */
async function fetchedArchive(
  recovery: Promise<void>,
  location: string,
  log: FastifyBaseLogger,
): Promise<void> {
  try {
    await recovery
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'CORRUPTED') {
      log.warn({ err, location }, 'snapshot fetched from a URL failed verification')
      throw snapshotFetchFailed(location, err)
    }
    throw err
  }
}

/** Options of the snapshot routes. */
export interface SnapshotRouteOptions {
  /**
   * Hosts (`host` or `host:port`, or `*` for any) that recovery may fetch an http(s):// location
   * from, besides loopback hosts, which are always allowed. Default: none (loopback only).
   */
  snapshotUrlAllow?: readonly string[] | undefined
}

/**
 * Registers the snapshot routes when `db` supports snapshots (the `Quiver` class does). Recovery
 * answers `true` once the collection serves the snapshot's content. `wait=false` on create, delete,
 * recover and upload answers 202 `{ status: 'accepted' }` once the request is checked (and an upload
 * received) and does the work in the background, as Qdrant; `priority` is checked and ignored (one node).
 */
export function registerSnapshotRoutes(
  app: FastifyInstance,
  db: ServerDatabase,
  options: SnapshotRouteOptions = {},
): void {
  if (!isSnapshotDatabase(db)) return
  // checked here, when the server is built, so that a bad entry fails at startup
  const urlPolicy = snapshotUrlPolicy(options.snapshotUrlAllow)
  app.register((scope, _options, done) => {
    scope.register(multipart, {
      limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1, fields: 16, parts: 32 },
    })

    scope.post<Params>('/collections/:collection_name/snapshots', async (req, reply) => {
      const wait = parseWaitParam(req.query, true)
      const name = req.params.collection_name
      // an unknown collection is refused before the work is accepted
      if (!wait) await db.getCollection(name)
      return sendOkOrAccepted(reply, wait, () => db.createSnapshot(name), toWireSnapshot)
    })

    scope.get<Params>('/collections/:collection_name/snapshots', async (req, reply) =>
      sendOk(reply, (await db.listSnapshots(req.params.collection_name)).map(toWireSnapshot)),
    )

    scope.get<Params>('/collections/:collection_name/snapshots/:snapshot_name', async (req, reply) => {
      const { collection_name, snapshot_name } = req.params
      return sendFile(reply, await db.snapshotPath(collection_name, snapshot_name), snapshot_name)
    })

    scope.delete<Params>('/collections/:collection_name/snapshots/:snapshot_name', async (req, reply) => {
      const wait = parseWaitParam(req.query, true)
      const { collection_name, snapshot_name } = req.params
      if (!wait) await db.snapshotPath(collection_name, snapshot_name)
      return sendOkOrAccepted(
        reply,
        wait,
        () => db.deleteSnapshot(collection_name, snapshot_name),
        (r) => r,
      )
    })

    scope.put<Params>('/collections/:collection_name/snapshots/recover', async (req, reply) => {
      const wait = parseWaitParam(req.query, true)
      const body = bodyObject(req.body)
      const location = optionalString(body, 'location', 'body')
      if (location === undefined || location === '') {
        throw new QuiverError('INVALID_ARGUMENT', 'body.location: required (a file:// or http(s):// URL)', {
          path: 'body.location',
        })
      }
      checkPriority(optionalString(body, 'priority', 'body'), 'body.priority')
      const checksum = optionalString(body, 'checksum', 'body')
      const apiKey = optionalString(body, 'api_key', 'body')
      const name = req.params.collection_name
      if (checksum !== undefined) parseSha256(checksum, 'body.checksum')
      const scheme = SCHEME_RE.exec(location)?.[1]?.toLowerCase()
      let run: () => Promise<true>
      if (scheme === 'http' || scheme === 'https') {
        const url = checkSnapshotUrl(location, urlPolicy)
        run = async () => {
          const tmp = await db.incomingSnapshotPath()
          try {
            await downloadSnapshot(url, tmp, { location, apiKey, policy: urlPolicy, log: req.log })
            await fetchedArchive(
              db.recoverSnapshot(name, tmp, recoverOptions(checksum, location)),
              location,
              req.log,
            )
          } finally {
            await unlink(tmp).catch(() => undefined)
          }
          return true
        }
      } else if (scheme === undefined || scheme === 'file') {
        const path = await localLocation(location, db.snapshotsDir)
        run = async () => {
          await clientArchive(
            db.recoverSnapshot(name, path, recoverOptions(checksum, location)),
            `the snapshot ${JSON.stringify(location)}`,
          )
          return true
        }
      } else {
        throw invalid(
          `body.location: unsupported scheme ${scheme}: expected an http(s):// or file:// URL, or a path under the server's snapshots directory`,
          { path: 'body.location', scheme },
        )
      }
      return sendOkOrAccepted(reply, wait, run, (r) => r)
    })

    scope.post<Params>('/collections/:collection_name/snapshots/upload', async (req, reply) => {
      const wait = parseWaitParam(req.query, true)
      checkPriority(req.query.priority, 'query.priority')
      const checksum = req.query.checksum
      if (!req.isMultipart()) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          'body: expected multipart/form-data with a file field "snapshot"',
          {
            path: 'body',
          },
        )
      }
      let part: Awaited<ReturnType<typeof req.file>>
      try {
        part = await req.file()
      } catch (err) {
        if (typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err // multipart's own limits
        // busboy's refusals of the request itself (no boundary, a malformed part header)
        throw invalid(`body: not valid multipart/form-data: ${(err as Error).message}`, { path: 'body' })
      }
      if (part === undefined || part.fieldname !== 'snapshot') {
        part?.file.resume()
        throw new QuiverError('INVALID_ARGUMENT', 'body: expected a file field "snapshot"', {
          path: 'body.snapshot',
        })
      }
      const tmp = await db.incomingSnapshotPath()
      const label = part.filename === '' ? 'upload' : part.filename
      try {
        // the upload is received before the reply, also with wait=false (the body is the snapshot)
        await pipeline(part.file, createWriteStream(tmp, { flags: 'wx' }))
      } catch (err) {
        await unlink(tmp).catch(() => undefined)
        throw err
      }
      const run = async (): Promise<true> => {
        try {
          await clientArchive(
            db.recoverSnapshot(
              req.params.collection_name,
              tmp,
              recoverOptions(checksum === '' ? undefined : checksum, label),
            ),
          )
        } finally {
          await unlink(tmp).catch(() => undefined)
        }
        return true
      }
      return sendOkOrAccepted(reply, wait, run, (r) => r)
    })

    scope.post<Params>('/snapshots', async (req, reply) =>
      sendOkOrAccepted(reply, parseWaitParam(req.query, true), () => db.createFullSnapshot(), toWireSnapshot),
    )

    scope.get('/snapshots', async (_req, reply) =>
      sendOk(reply, (await db.listFullSnapshots()).map(toWireSnapshot)),
    )

    scope.get<Params>('/snapshots/:snapshot_name', async (req, reply) =>
      sendFile(reply, await db.fullSnapshotPath(req.params.snapshot_name), req.params.snapshot_name),
    )

    scope.delete<Params>('/snapshots/:snapshot_name', async (req, reply) => {
      const wait = parseWaitParam(req.query, true)
      const name = req.params.snapshot_name
      if (!wait) await db.fullSnapshotPath(name)
      return sendOkOrAccepted(
        reply,
        wait,
        () => db.deleteFullSnapshot(name),
        (r) => r,
      )
    })
    done()
  })
}

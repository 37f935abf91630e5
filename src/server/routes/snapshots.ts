// Snapshot endpoints (Qdrant's `/collections/{name}/snapshots` and `/snapshots` resources): create,
// list, download, delete, recover from a location (file:// under the snapshots directory, http(s)://)
// and from a multipart upload, streamed to a temp file first.
import { createReadStream, createWriteStream } from 'node:fs'
import { realpath, stat, unlink } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { SnapshotInfo } from '../../db/snapshots.js'
import { QuiverError } from '../../errors.js'
import type { ServerDatabase, SnapshotDatabase } from '../database.js'
import { sendOk } from '../reply.js'
import { bodyObject, checkWait } from '../wire.js'

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

/** A `file://` URL or plain path, which must name a file inside `root` (symlinks resolved). */
async function localLocation(location: string, root: string): Promise<string> {
  let path: string
  try {
    path = location.startsWith('file:') ? fileURLToPath(location) : location
  } catch (err) {
    throw new QuiverError('INVALID_ARGUMENT', `body.location: ${(err as Error).message}`, {
      path: 'body.location',
    })
  }
  if (!isAbsolute(path)) path = resolve(root, path)
  let real: string
  try {
    real = await realpath(path)
  } catch {
    throw new QuiverError('SNAPSHOT_NOT_FOUND', `snapshot file ${path} does not exist`, { path })
  }
  const rel = relative(await realpath(root), real)
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `body.location: a local snapshot must be a file under the server's snapshots directory ${root}`,
      { path: 'body.location' },
    )
  }
  return real
}

/** Downloads `url` into `dest`, sending `apiKey` as the `api-key` header when given. */
async function download(url: string, dest: string, apiKey: string | undefined): Promise<void> {
  let res: Response
  try {
    res = await fetch(url, apiKey === undefined ? {} : { headers: { 'api-key': apiKey } })
  } catch (err) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `body.location: downloading ${url} failed: ${(err as Error).message}`,
      {
        path: 'body.location',
      },
    )
  }
  if (!res.ok || res.body === null) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `body.location: downloading ${url} failed: HTTP ${res.status}`,
      {
        path: 'body.location',
        status: res.status,
      },
    )
  }
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
    createWriteStream(dest, { flags: 'wx' }),
  )
}

/**
 * Registers the snapshot routes when `db` supports snapshots (the `Quiver` class does). Recovery
 * answers `true` once the collection serves the snapshot's content; `wait` is accepted and ignored
 * (every call finishes before it answers), `priority` is checked and ignored (one node).
 */
/**
 * A damaged archive that the client sent (upload or a URL it named) is the client's error (400),
 * not the server's (500): verification fails before any live data is touched.
 */
async function clientArchive(recovery: Promise<void>): Promise<void> {
  try {
    await recovery
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'CORRUPTED') {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `the snapshot sent is damaged: ${err.message}`,
        err.details,
        err,
      )
    }
    throw err
  }
}

export function registerSnapshotRoutes(app: FastifyInstance, db: ServerDatabase): void {
  if (!isSnapshotDatabase(db)) return
  app.register((scope, _options, done) => {
    scope.register(multipart, {
      limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1, fields: 16, parts: 32 },
    })

    scope.post<Params>('/collections/:collection_name/snapshots', async (req, reply) => {
      checkWait(req.query)
      return sendOk(reply, toWireSnapshot(await db.createSnapshot(req.params.collection_name)))
    })

    scope.get<Params>('/collections/:collection_name/snapshots', async (req, reply) =>
      sendOk(reply, (await db.listSnapshots(req.params.collection_name)).map(toWireSnapshot)),
    )

    scope.get<Params>('/collections/:collection_name/snapshots/:snapshot_name', async (req, reply) => {
      const { collection_name, snapshot_name } = req.params
      return sendFile(reply, await db.snapshotPath(collection_name, snapshot_name), snapshot_name)
    })

    scope.delete<Params>('/collections/:collection_name/snapshots/:snapshot_name', async (req, reply) => {
      checkWait(req.query)
      return sendOk(reply, await db.deleteSnapshot(req.params.collection_name, req.params.snapshot_name))
    })

    scope.put<Params>('/collections/:collection_name/snapshots/recover', async (req, reply) => {
      checkWait(req.query)
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
      if (/^https?:\/\//i.test(location)) {
        const tmp = await db.incomingSnapshotPath()
        try {
          await download(location, tmp, apiKey)
          await clientArchive(db.recoverSnapshot(name, tmp, checksum === undefined ? {} : { checksum }))
        } finally {
          await unlink(tmp).catch(() => undefined)
        }
      } else {
        const path = await localLocation(location, db.snapshotsDir)
        await db.recoverSnapshot(name, path, checksum === undefined ? {} : { checksum })
      }
      return sendOk(reply, true)
    })

    scope.post<Params>('/collections/:collection_name/snapshots/upload', async (req, reply) => {
      checkWait(req.query)
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
      const part = await req.file()
      if (part === undefined || part.fieldname !== 'snapshot') {
        part?.file.resume()
        throw new QuiverError('INVALID_ARGUMENT', 'body: expected a file field "snapshot"', {
          path: 'body.snapshot',
        })
      }
      const tmp = await db.incomingSnapshotPath()
      try {
        await pipeline(part.file, createWriteStream(tmp, { flags: 'wx' }))
        await clientArchive(
          db.recoverSnapshot(
            req.params.collection_name,
            tmp,
            checksum === undefined || checksum === '' ? {} : { checksum },
          ),
        )
      } finally {
        await unlink(tmp).catch(() => undefined)
      }
      return sendOk(reply, true)
    })

    scope.post<Params>('/snapshots', async (req, reply) => {
      checkWait(req.query)
      return sendOk(reply, toWireSnapshot(await db.createFullSnapshot()))
    })

    scope.get('/snapshots', async (_req, reply) =>
      sendOk(reply, (await db.listFullSnapshots()).map(toWireSnapshot)),
    )

    scope.get<Params>('/snapshots/:snapshot_name', async (req, reply) =>
      sendFile(reply, await db.fullSnapshotPath(req.params.snapshot_name), req.params.snapshot_name),
    )

    scope.delete<Params>('/snapshots/:snapshot_name', async (req, reply) => {
      checkWait(req.query)
      return sendOk(reply, await db.deleteFullSnapshot(req.params.snapshot_name))
    })
    done()
  })
}

// `quiver backup --to DIR --keep N`: a full snapshot copied (offline) or downloaded (online) into DIR
// with its `.checksum`, the copy's SHA-256 verified, then retention of the newest N backups in DIR.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import type { Quiver } from '../db/quiver.js'
import { QuiverError } from '../errors.js'
import { CHECKSUM_SUFFIX, sha256File } from '../storage/archive.js'
import { fsyncDir, ioError, writeFileAtomic, writeFully } from '../storage/files.js'
import { UsageError } from './args.js'
import { formatMiB } from './format.js'
import { createProgress } from './progress.js'
import {
  openOffline,
  resolveTarget,
  restFetch,
  restResult,
  type Target,
  type TargetOptions,
} from './snapshot.js'

export interface BackupOptions extends TargetOptions {
  to: string
  keep: number
  quiet?: boolean
}

/** Backup files this command writes and prunes; nothing else in DIR is ever removed. */
export const BACKUP_RE = /^quiver-backup-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[0-9a-f]{4}\.snapshot$/

/** `quiver-backup-2024-05-01T10-49-10-123Z-3fa2.snapshot`: sorts by time as a string. */
export function backupName(now = new Date()): string {
  return `quiver-backup-${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}.snapshot`
}

/** Copies `chunks` into `dest` (created, fsynced), returning the SHA-256 of what was written. */
async function writeHashed(
  dest: string,
  chunks: AsyncIterable<Uint8Array>,
  total: number,
  quiet: boolean,
): Promise<string> {
  const hash = createHash('sha256')
  const progress = quiet ? undefined : createProgress('copying', total, { unit: 'B' })
  const h = await open(dest, 'wx').catch((err) => {
    throw ioError('create', dest, err)
  })
  let n = 0
  try {
    for await (const chunk of chunks) {
      hash.update(chunk)
      await writeFully(h, chunk, n)
      n += chunk.byteLength
      progress?.update(n)
    }
    await h.sync()
  } catch (err) {
    throw ioError('write', dest, err)
  } finally {
    await h.close()
    progress?.stop()
  }
  return hash.digest('hex')
}

/** Takes the full snapshot and copies it into `o.to` (created); returns the file and its SHA-256. */
async function copySnapshot(
  t: { kind: 'db'; dir: string; db: Quiver } | Extract<Target, { kind: 'url' }>,
  o: BackupOptions,
  out: NodeJS.WritableStream,
): Promise<{ final: string; expected: string }> {
  const dir = resolve(o.to)
  await mkdir(dir, { recursive: true }).catch((err) => {
    throw ioError('create directory', dir, err)
  })
  const name = backupName()
  const final = join(dir, name)
  const tmp = join(dir, `.${name}.part`)
  const quiet = o.quiet === true
  let expected: string
  try {
    if (t.kind === 'db') {
      const { db } = t
      out.write(`creating a full snapshot of ${t.dir}\n`)
      const snap = await db.createFullSnapshot()
      const path = await db.fullSnapshotPath(snap.name)
      expected = snap.checksum ?? (await sha256File(path))
      out.write(`snapshot ${snap.name}: ${formatMiB(snap.size)}, sha256 ${expected}\n`)
      const got = await writeHashed(tmp, createReadStream(path), snap.size, quiet)
      if (got !== expected) throw mismatch(got, expected)
      await db.deleteFullSnapshot(snap.name)
    } else {
      out.write(`creating a full snapshot on ${t.url}\n`)
      const snap = await restResult<{ name: string; size: number; checksum: string | null }>(
        t,
        'POST',
        '/snapshots?wait=true',
      )
      out.write(
        `snapshot ${snap.name}: ${formatMiB(snap.size)}, sha256 ${snap.checksum ?? '-'}; downloading\n`,
      )
      try {
        const res = await restFetch(t, 'GET', `/snapshots/${encodeURIComponent(snap.name)}`)
        if (res.body === null)
          throw new QuiverError('IO_ERROR', `GET /snapshots/${snap.name} returned no body`)
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)
        const got = await writeHashed(tmp, body, snap.size, quiet)
        expected = snap.checksum ?? got
        if (got !== expected) throw mismatch(got, expected)
      } finally {
        await restFetch(t, 'DELETE', `/snapshots/${encodeURIComponent(snap.name)}`).catch(() => undefined)
      }
    }
    await writeFileAtomic(final + CHECKSUM_SUFFIX, expected)
    await rename(tmp, final).catch((err) => {
      throw ioError('rename', tmp, err)
    })
    await fsyncDir(dir)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  return { final, expected }
}

/**
 * Takes a backup and applies retention; prints each step, what it kept and what it removed.
 * Throws UsageError, DATA_DIR_NOT_FOUND (offline, no data directory at --data; nothing is created),
 * DIRECTORY_LOCKED (offline while a server runs), CORRUPTED (the copy's SHA-256
 * differs from the snapshot's; the copy is removed), IO_ERROR.
 */
export async function runBackup(o: BackupOptions, out: NodeJS.WritableStream): Promise<void> {
  const t = resolveTarget(o)
  if (!Number.isSafeInteger(o.keep) || o.keep < 1) throw new UsageError('--keep must be an integer >= 1')
  // offline, the data directory is checked (and locked) before the backup directory is made
  let copied: { final: string; expected: string }
  if (t.kind === 'data') {
    const db = await openOffline(t.dir)
    try {
      copied = await copySnapshot({ kind: 'db', dir: t.dir, db }, o, out)
    } finally {
      await db.close()
    }
  } else {
    copied = await copySnapshot(t, o, out)
  }
  const { final, expected } = copied
  const dir = dirname(final)
  const onDisk = await sha256File(final)
  if (onDisk !== expected) {
    throw new QuiverError(
      'CORRUPTED',
      `backup ${final} reads back with SHA-256 ${onDisk}, expected ${expected}`,
      {
        path: final,
      },
    )
  }
  out.write(`wrote ${final}\nverified sha256 ${onDisk}\n`)

  const backups = (await readdir(dir))
    .filter((f) => BACKUP_RE.test(f))
    .sort()
    .reverse()
  const kept = backups.slice(0, o.keep)
  const removed = backups.slice(o.keep)
  for (const f of removed) {
    for (const p of [join(dir, f), join(dir, f + CHECKSUM_SUFFIX)]) {
      await unlink(p).catch((err: unknown) => {
        if ((err as { code?: string }).code !== 'ENOENT') throw ioError('remove', p, err)
      })
    }
  }
  if (removed.length > 0) await fsyncDir(dir)
  out.write(`kept ${kept.length}: ${kept.join(', ')}\n`)
  out.write(`removed ${removed.length}${removed.length > 0 ? `: ${removed.join(', ')}` : ''}\n`)
}

function mismatch(got: string, expected: string): QuiverError {
  return new QuiverError(
    'CORRUPTED',
    `the copied snapshot has SHA-256 ${got}, expected ${expected}; nothing was kept`,
    {
      got,
      expected,
    },
  )
}

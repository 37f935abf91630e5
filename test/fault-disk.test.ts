// fail_disk: the data directory on a small tmpfs (Linux, root) that fills up (ENOSPC) or is
// remounted read-only (EROFS) during writes. Proven: the write fails with IO_ERROR naming the
// errno, nothing acknowledged is lost, nothing is left half-written, and writes work again once
// space (or write access) is back, without a restart. Skipped with the reason where mount is denied.
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { appendFile, mkdtemp, readdir, rm, stat, truncate, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { copyDir } from './support/damage.js'

const DIM = 32

function vectorFor(id: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.sin(id * 0.13 + j) + (j === id % DIM ? 1 : 0))
}
function points(ids: number[]) {
  return ids.map((id) => ({ id, vector: vectorFor(id), payload: { id, text: `point ${id}` } }))
}
function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i)
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' })
}

/** Mounts a tmpfs of `size` on a new directory, or returns why that is not possible here. */
function tryMount(size: string): { mnt: string } | { reason: string } {
  if (process.platform !== 'linux')
    return { reason: `needs Linux for tmpfs (this is ${process.platform}): run it on Linux as root` }
  if (process.getuid?.() !== 0)
    return {
      reason:
        'needs root to mount a tmpfs: run it as root (in a container, one allowed to mount: --cap-add SYS_ADMIN)',
    }
  const mnt = mkdtempSync(join(tmpdir(), 'quiver-disk-'))
  try {
    sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt])
    return { mnt }
  } catch (err) {
    return {
      reason: `mount -t tmpfs failed: ${String((err as { stderr?: unknown }).stderr ?? err).trim()} (a container needs --cap-add SYS_ADMIN)`,
    }
  }
}

const probe = tryMount('4m')
const mounted = 'mnt' in probe ? probe.mnt : undefined
if (!mounted) process.stdout.write(`fault-disk: skipped: ${(probe as { reason: string }).reason}\n`)

/** Fills the file system holding `path` with a file there until ENOSPC; returns the file. */
async function fill(path: string): Promise<string> {
  for (const chunk of [64 * 1024, 4096, 512, 1]) {
    try {
      for (;;) await appendFile(path, Buffer.alloc(chunk, 1))
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOSPC') throw err
    }
  }
  return path
}

/** Fills the file system holding `path`, then frees `bytes` again (about that much is left). */
async function fillLeaving(path: string, bytes: number): Promise<void> {
  await fill(path)
  const { size } = await stat(path)
  await truncate(path, Math.max(0, size - bytes))
}

async function expectIoError(p: Promise<unknown>, errno: string): Promise<QuiverError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QuiverError)
  const q = err as QuiverError
  expect(q.code).toBe('IO_ERROR')
  expect(q.message).toContain(errno)
  expect(q.details?.['errno']).toBe(errno)
  return q
}

/** Every id in `present` is stored with its own vector and payload; no id in `absent` is. */
async function expectStored(c: HostedCollection, present: Iterable<number>, absent: Iterable<number> = []) {
  const want = [...present]
  const got = await c.get(want, { withVector: true })
  expect(got.map((r) => r.id)).toEqual(want)
  for (const r of got) {
    expect(r.payload).toEqual({ id: r.id, text: `point ${r.id}` })
    expect(r.vector).toEqual(vectorFor(r.id as number).map(Math.fround))
  }
  expect(await c.get([...absent])).toEqual([])
  expect(await c.count()).toBe(want.length)
}

describe.skipIf(!mounted)(
  `disk full and read-only disk${mounted ? '' : ` (skipped: ${(probe as { reason: string }).reason})`}`,
  () => {
    const mnt = mounted!
    const outside: string[] = []
    let caseN = 0
    const dataDir = () => join(mnt, `data-${caseN++}`)

    afterAll(async () => {
      try {
        sh('umount', [mnt])
      } catch {
        sh('umount', ['-l', mnt])
      }
      await rm(mnt, { recursive: true, force: true })
      for (const d of outside) await rm(d, { recursive: true, force: true })
    })

    beforeEach(async () => {
      // each case starts on an empty file system
      for (const name of await readdir(mnt)) await rm(join(mnt, name), { recursive: true, force: true })
    })

    it('ENOSPC during upserts: the write fails with IO_ERROR, acked data stays, writes resume once space is freed', async () => {
      const dir = dataDir()
      let db = await Quiver.open(dir, { flushBytes: 1 << 30, walSegmentBytes: 64 * 1024 })
      let c = await db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
      const acked = new Set<number>()
      await c.upsert(points(range(0, 50)))
      for (const id of range(0, 50)) acked.add(id)
      const filler = await fill(join(mnt, 'filler'))
      let failed: number[] | undefined
      for (let b = 0; b < 200 && failed === undefined; b++) {
        const ids = range(1000 + b * 20, 20)
        try {
          await c.upsert(points(ids))
          for (const id of ids) acked.add(id)
        } catch (err) {
          await expectIoError(Promise.reject(err), 'ENOSPC')
          failed = ids
        }
      }
      expect(failed, 'an upsert hit ENOSPC').toBeDefined()
      await expectStored(c, acked, failed)
      // reads and searches still work on a full disk
      const [hit] = await c.search(vectorFor(7), { limit: 1, exact: true })
      expect(hit?.id).toBe(7)
      // delete is a write too: it fails the same way and deletes nothing
      const del = await c.delete({ ids: [0, 1, 2] }).then(
        () => undefined,
        (e: unknown) => e,
      )
      if (del !== undefined) await expectIoError(Promise.reject(del), 'ENOSPC')
      else for (const id of [0, 1, 2]) acked.delete(id)

      await unlink(filler)
      await c.upsert(points(failed!))
      for (const id of failed!) acked.add(id)
      await expectStored(c, acked)
      await db.close()
      db = await Quiver.open(dir)
      c = await db.getCollection('docs')
      expect(c.checkIntegrity().ok).toBe(true)
      await expectStored(c, acked)
      await db.close()
    })

    it('ENOSPC during a persist: status yellow, writes stay durable in the WAL, a later persist succeeds', async () => {
      const dir = dataDir()
      let db = await Quiver.open(dir, { flushBytes: 16 * 1024, walSegmentBytes: 32 * 1024 })
      let c = await db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
      const acked = new Set<number>()
      // enough points that the segment files (~400 KiB) dwarf one WAL batch (~4 KiB)
      for (let b = 0; b < 30; b++) {
        await c.upsert(points(range(b * 100, 100)))
        for (const id of range(b * 100, 100)) acked.add(id)
      }
      expect((await c.info()).status).toBe('green')
      // a full disk but for ~192 KiB: room for WAL appends, not for the segment files
      const filler = join(mnt, 'filler')
      await fillLeaving(filler, 192 * 1024)
      let yellow = false
      for (let b = 0; b < 40 && !yellow; b++) {
        const ids = range(10_000 + b * 10, 10)
        await c.upsert(points(ids))
        for (const id of ids) acked.add(id)
        yellow = (await c.info()).status === 'yellow'
      }
      expect(yellow, 'a background persist failed and the collection reports yellow').toBe(true)
      await expectStored(c, acked)
      // the writes acknowledged while yellow are durable: a crash image of the directory has them
      const image = await mkdtemp(join(tmpdir(), 'quiver-disk-image-'))
      outside.push(image)
      await copyDir(dir, join(image, 'data'))
      const crashed = await Quiver.open(join(image, 'data'))
      await expectStored(await crashed.getCollection('docs'), acked)
      await crashed.close()

      await unlink(filler)
      for (let b = 0; b < 40 && yellow; b++) {
        const ids = range(20_000 + b * 10, 10)
        await c.upsert(points(ids))
        for (const id of ids) acked.add(id)
        yellow = (await c.info()).status === 'yellow'
      }
      expect(yellow, 'a later persist succeeded').toBe(false)
      await db.close()
      db = await Quiver.open(dir)
      c = await db.getCollection('docs')
      await expectStored(c, acked)
      expect(c.stats().persistedSeq).toBe(c.stats().appliedSeq)
      await db.close()
    })

    it('read-only remount: writes fail with IO_ERROR (EROFS), reads work, writes resume after remount rw', async () => {
      const dir = dataDir()
      let db = await Quiver.open(dir)
      let c = await db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
      await c.upsert(points(range(0, 100)))
      await db.close()
      // opened read-write, then the disk turns read-only; the WAL opens its file on the first write
      db = await Quiver.open(dir)
      c = await db.getCollection('docs')
      const other = join(mnt, 'other')
      await Quiver.open(other).then((d) => d.close())
      sh('mount', ['-o', 'remount,ro', mnt])
      try {
        await expectIoError(c.upsert(points([500])), 'EROFS')
        await expectIoError(c.setPayload({ x: 1 }, { ids: [1] }), 'EROFS')
        await expectStored(c, range(0, 100), [500])
        const [hit] = await c.search(vectorFor(42), { limit: 1, exact: true })
        expect(hit?.id).toBe(42)
        // a database cannot be opened on a read-only disk (its lock file): a clear error
        await expectIoError(Quiver.open(other), 'EROFS')
      } finally {
        sh('mount', ['-o', 'remount,rw', mnt])
      }
      await c.upsert(points([500]))
      await db.close()
      db = await Quiver.open(dir)
      await expectStored(await db.getCollection('docs'), [...range(0, 100), 500])
      await db.close()
    })

    it('opening a new data directory on a read-only disk fails with IO_ERROR', async () => {
      sh('mount', ['-o', 'remount,ro', mnt])
      try {
        // Node's recursive mkdir reports a read-only parent as ENOENT
        const err = await Quiver.open(join(mnt, 'new')).then(
          () => undefined,
          (e: unknown) => e as QuiverError,
        )
        expect(err?.code).toBe('IO_ERROR')
        expect(err?.message).toContain(join(mnt, 'new'))
        expect(['EROFS', 'ENOENT']).toContain(err?.details?.['errno'])
      } finally {
        sh('mount', ['-o', 'remount,rw', mnt])
      }
    })
  },
)

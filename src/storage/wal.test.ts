import type { FileHandle } from 'node:fs/promises'
import {
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { rng } from '../../test/support/random.js'
import { QuiverError } from '../errors.js'
import { WAL_HEADER_BYTES, Wal, walFileName } from './wal.js'

let root: string
let n = 0
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'quiver-wal-'))
})
afterEach(async () => {
  vi.restoreAllMocks()
  await rm(root, { recursive: true, force: true })
})

const freshDir = () => join(root, `w${n++}`)
const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)
const body = (seq: number, len = 20) => Uint8Array.from({ length: len }, (_, i) => (seq * 31 + i) & 0xff)

async function all(wal: Wal, afterSeq = 0): Promise<{ seq: number; body: string }[]> {
  const out: { seq: number; body: string }[] = []
  for await (const r of wal.replay(afterSeq)) out.push({ seq: r.seq, body: dec(r.body) })
  return out
}

async function fileHandleProto(): Promise<FileHandle> {
  const h = await open(join(root, 'probe'), 'w')
  await h.close()
  return Object.getPrototypeOf(h) as FileHandle
}

async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith('wal-')).sort()
}

async function caught(p: Promise<unknown>): Promise<QuiverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(QuiverError)
  return e as QuiverError
}

describe('Wal basics', () => {
  it('round-trips records and survives close + reopen', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir)
    expect(wal.lastSeq).toBe(0)
    expect(wal.sizeBytes()).toBe(0)
    expect(await wal.append([enc('a'), enc('bb')])).toBe(2)
    expect(await wal.append([enc('')])).toBe(3)
    expect(await wal.append([])).toBe(3)
    expect(wal.sizeBytes()).toBe(3 * WAL_HEADER_BYTES + 3)
    expect(await all(wal)).toEqual([
      { seq: 1, body: 'a' },
      { seq: 2, body: 'bb' },
      { seq: 3, body: '' },
    ])
    expect(await all(wal, 2)).toEqual([{ seq: 3, body: '' }])
    await wal.close()
    await wal.close()
    expect((await caught(wal.append([enc('x')]))).code).toBe('CLOSED')

    const again = await Wal.open(dir)
    expect(again.lastSeq).toBe(3)
    expect(again.openReport).toEqual({ files: 1, firstSeq: 1, lastSeq: 3, discarded: null })
    expect(await again.append([enc('c')])).toBe(4)
    expect((await all(again, 1)).map((r) => r.body)).toEqual(['bb', '', 'c'])
    await again.close()
    expect(await walFiles(dir)).toEqual([walFileName(1)])
  })

  it('writes the documented byte layout', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir)
    await wal.append([enc('hello')])
    await wal.close()
    const buf = await readFile(join(dir, 'wal-00000000000000000001.log'))
    expect(buf.length).toBe(16 + 5)
    expect(buf.readUInt32LE(0)).toBe(5)
    expect(buf.readBigUInt64LE(8)).toBe(1n)
    const { crc32c } = await import('./crc32c.js')
    expect(buf.readUInt32LE(4)).toBe(crc32c(buf.subarray(8)))
    expect(buf.subarray(16).toString()).toBe('hello')
  })

  it('rejects bad arguments without writing anything', async () => {
    const wal = await Wal.open(freshDir())
    expect((await caught(wal.append([enc('a'), 'b' as unknown as Uint8Array]))).code).toBe('INVALID_ARGUMENT')
    expect((await caught(wal.truncateUpTo(-1))).code).toBe('INVALID_ARGUMENT')
    expect((await caught(wal.replay(1.5).next())).code).toBe('INVALID_ARGUMENT')
    expect((await caught(Wal.open(freshDir(), { segmentBytes: 0 }))).code).toBe('INVALID_ARGUMENT')
    expect(wal.lastSeq).toBe(0)
    expect(wal.sizeBytes()).toBe(0)
    await wal.close()
  })
})

describe('Wal recovery', () => {
  async function threeRecords(): Promise<{ dir: string; file: string; lastStart: number; size: number }> {
    const dir = freshDir()
    const wal = await Wal.open(dir)
    await wal.append([body(1), body(2, 7)])
    await wal.append([body(3, 33)])
    await wal.close()
    const file = join(dir, walFileName(1))
    const size = (await stat(file)).size
    return { dir, file, lastStart: 2 * WAL_HEADER_BYTES + 20 + 7, size }
  }

  it('a torn last record (cut at every byte offset) is discarded and the file truncated there', async () => {
    const { file, lastStart, size } = await threeRecords()
    for (let cut = lastStart; cut < size; cut++) {
      const dir = freshDir()
      await mkdir(dir)
      const copy = join(dir, walFileName(1))
      await copyFile(file, copy)
      await truncate(copy, cut)
      const wal = await Wal.open(dir)
      expect(wal.lastSeq).toBe(2)
      expect((await stat(copy)).size).toBe(lastStart)
      const d = wal.openReport.discarded
      if (cut === lastStart) expect(d).toBeNull()
      else {
        expect(d).toMatchObject({ file: copy, offset: lastStart, bytes: cut - lastStart })
        expect(d?.reason).toBe(cut - lastStart < WAL_HEADER_BYTES ? 'short-header' : 'short-body')
      }
      expect((await all(wal)).map((r) => r.seq)).toEqual([1, 2])
      expect(await wal.append([body(9)])).toBe(3)
      await wal.close()
    }
  })

  it('a bit flip anywhere in the last record discards just that record', async () => {
    const { file, lastStart, size } = await threeRecords()
    const original = await readFile(file)
    for (let pos = lastStart; pos < size; pos++) {
      const dir = freshDir()
      await mkdir(dir)
      const copy = join(dir, walFileName(1))
      const damaged = Buffer.from(original)
      damaged[pos] = damaged[pos]! ^ 0x10
      await writeFile(copy, damaged)
      const wal = await Wal.open(dir)
      expect(wal.lastSeq).toBe(2)
      expect(wal.openReport.discarded?.offset).toBe(lastStart)
      expect(['bad-crc', 'bad-length', 'short-body']).toContain(wal.openReport.discarded?.reason)
      expect((await stat(copy)).size).toBe(lastStart)
      await wal.close()
    }
  })

  it('a bit flip in an earlier (non-last) file is CORRUPTED naming file and offset', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir, { segmentBytes: 100 })
    for (let i = 1; i <= 6; i++) await wal.append([body(i, 40)])
    await wal.close()
    const files = await walFiles(dir)
    expect(files.length).toBeGreaterThan(2)
    const first = join(dir, files[0]!)
    const buf = await readFile(first)
    buf[WAL_HEADER_BYTES + 3] = buf[WAL_HEADER_BYTES + 3]! ^ 1
    await writeFile(first, buf)
    const err = await caught(Wal.open(dir, { segmentBytes: 100 }))
    expect(err.code).toBe('CORRUPTED')
    expect(err.message).toContain(first)
    expect(err.details).toMatchObject({ file: first, offset: 0, reason: 'bad-crc' })
    expect((await readFile(first)).equals(buf)).toBe(true)
  })

  it('a missing middle file is CORRUPTED', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir, { segmentBytes: 60 })
    for (let i = 1; i <= 4; i++) await wal.append([body(i, 40)])
    await wal.close()
    await rm(join(dir, walFileName(2)))
    const err = await caught(Wal.open(dir))
    expect(err.code).toBe('CORRUPTED')
    expect(err.message).toContain(walFileName(3))
  })

  it('an empty last file left by a crash during roll-over is accepted', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir, { segmentBytes: 60 })
    await wal.append([body(1, 40)])
    await wal.close()
    await writeFile(join(dir, walFileName(2)), Buffer.from([1, 2, 3]))
    const again = await Wal.open(dir, { segmentBytes: 60 })
    expect(again.lastSeq).toBe(1)
    expect(again.openReport.discarded?.reason).toBe('short-header')
    expect(await again.append([body(2, 40)])).toBe(2)
    await again.close()
    expect(await walFiles(dir)).toEqual([walFileName(1), walFileName(2)])
    const third = await Wal.open(dir)
    expect((await all(third)).map((r) => r.seq)).toEqual([1, 2])
    await third.close()
  })
})

describe('Wal group commit and I/O', () => {
  it('a batch of 1000 records of 500 bytes costs one write and one fdatasync', async () => {
    const proto = await fileHandleProto()
    const wal = await Wal.open(freshDir())
    const writes = vi.spyOn(proto, 'write')
    const syncs = vi.spyOn(proto, 'datasync')
    const bodies = Array.from({ length: 1000 }, (_, i) => body(i, 500))
    expect(await wal.append(bodies)).toBe(1000)
    expect(writes).toHaveBeenCalledTimes(1)
    expect(syncs).toHaveBeenCalledTimes(1)
    expect(wal.sizeBytes()).toBe(1000 * (WAL_HEADER_BYTES + 500))
    await wal.close()
  })

  it('concurrent appends are batched into few fsyncs and get consecutive seqs in call order', async () => {
    const proto = await fileHandleProto()
    const dir = freshDir()
    const wal = await Wal.open(dir)
    await wal.append([enc('warm')])
    const syncs = vi.spyOn(proto, 'datasync')
    const calls = Array.from({ length: 200 }, (_, i) => wal.append([enc(`${i}a`), enc(`${i}b`)]))
    const lasts = await Promise.all(calls)
    expect(lasts).toEqual(Array.from({ length: 200 }, (_, i) => 3 + 2 * i))
    expect(syncs.mock.calls.length).toBeLessThanOrEqual(2)
    await wal.close()
    const again = await Wal.open(dir)
    const recs = await all(again)
    expect(recs.length).toBe(401)
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 401 }, (_, i) => i + 1))
    expect(recs[400]).toEqual({ seq: 401, body: '199b' })
    await again.close()
  })

  it('a failed write (ENOSPC after a partial write) is cut back; later appends continue cleanly', async () => {
    const proto = await fileHandleProto()
    const dir = freshDir()
    const wal = await Wal.open(dir)
    await wal.append([enc('one')])
    const goodSize = wal.sizeBytes()
    const realWrite = proto.write as (...a: unknown[]) => Promise<unknown>
    let failures = 1
    vi.spyOn(proto, 'write').mockImplementation(async function (this: FileHandle, ...args: unknown[]) {
      if (failures-- > 0) {
        const [buf, , len, pos] = args as [Uint8Array, number, number, number]
        await realWrite.call(this, buf, 0, Math.floor(len / 2), pos)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
      return realWrite.apply(this, args)
    } as typeof proto.write)
    const err = await caught(wal.append([enc('two'), enc('three')]))
    expect(err.code).toBe('IO_ERROR')
    expect(err.message).toContain('ENOSPC')
    expect(err.message).toContain(walFileName(1))
    expect(wal.lastSeq).toBe(1)
    expect((await stat(join(dir, walFileName(1)))).size).toBe(goodSize)
    expect(await wal.append([enc('four')])).toBe(2)
    await wal.close()
    const again = await Wal.open(dir)
    expect(again.openReport.discarded).toBeNull()
    expect(await all(again)).toEqual([
      { seq: 1, body: 'one' },
      { seq: 2, body: 'four' },
    ])
    await again.close()
  })

  it('a failed fdatasync rejects the batch and the bytes are removed', async () => {
    const proto = await fileHandleProto()
    const dir = freshDir()
    const wal = await Wal.open(dir)
    await wal.append([enc('one')])
    vi.spyOn(proto, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }))
    expect((await caught(wal.append([enc('lost')]))).details?.['errno']).toBe('EIO')
    expect(await wal.append([enc('two')])).toBe(2)
    expect(await all(wal)).toEqual([
      { seq: 1, body: 'one' },
      { seq: 2, body: 'two' },
    ])
    await wal.close()
  })
})

describe('Wal roll-over and truncation', () => {
  it('rolls over at segmentBytes, names files by first seq, and truncateUpTo keeps the active file', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir, { segmentBytes: 3 * (WAL_HEADER_BYTES + 10) })
    for (let i = 1; i <= 10; i++) await wal.append([body(i, 10)])
    expect(await walFiles(dir)).toEqual([walFileName(1), walFileName(4), walFileName(7), walFileName(10)])
    expect(wal.sizeBytes()).toBe(10 * (WAL_HEADER_BYTES + 10))
    await wal.truncateUpTo(5)
    expect(await walFiles(dir)).toEqual([walFileName(4), walFileName(7), walFileName(10)])
    expect(wal.firstSeq).toBe(4)
    expect((await caught(wal.replay(2).next())).code).toBe('CORRUPTED')
    expect((await all(wal, 3)).map((r) => r.seq)).toEqual([4, 5, 6, 7, 8, 9, 10])
    await wal.truncateUpTo(100)
    expect(await walFiles(dir)).toEqual([walFileName(10)])
    expect(wal.sizeBytes()).toBe(WAL_HEADER_BYTES + 10)
    await wal.close()
    const again = await Wal.open(dir)
    expect(again.lastSeq).toBe(10)
    expect(await again.append([body(11, 10)])).toBe(11)
    expect((await all(again, 9)).map((r) => r.seq)).toEqual([10, 11])
    await again.close()
  })

  it('a batch larger than segmentBytes goes whole into one file', async () => {
    const dir = freshDir()
    const wal = await Wal.open(dir, { segmentBytes: 50 })
    await wal.append([body(1, 10)])
    await wal.append([body(2, 100), body(3, 100)])
    await wal.append([body(4, 10)])
    expect(await walFiles(dir)).toEqual([walFileName(1), walFileName(2), walFileName(4)])
    await wal.close()
  })
})

describe('Wal property test against an array model', () => {
  for (const seed of [1, 2, 3]) {
    it(`random appends, concurrent appends, reopens and truncations (seed ${seed})`, async () => {
      const rand = rng(seed)
      const int = (k: number) => Math.floor(rand() * k)
      const dir = freshDir()
      const segmentBytes = 200 + int(400)
      const model: string[] = []
      let persisted = 0
      let wal = await Wal.open(dir, { segmentBytes })
      const check = async () => {
        expect(wal.lastSeq).toBe(model.length)
        expect(wal.firstSeq).toBeLessThanOrEqual(persisted + 1)
        const recs = await all(wal, persisted)
        expect(recs).toEqual(model.slice(persisted).map((b, i) => ({ seq: persisted + i + 1, body: b })))
      }
      for (let step = 0; step < 120; step++) {
        const op = rand()
        if (op < 0.5) {
          const bodies = Array.from({ length: 1 + int(4) }, () => 'x'.repeat(int(60)) + String(model.length))
          expect(await wal.append(bodies.map(enc))).toBe(model.length + bodies.length)
          model.push(...bodies)
        } else if (op < 0.7) {
          const batches = Array.from({ length: 2 + int(5) }, (_, j) => [`c${step}-${j}-${int(1000)}`])
          const lasts = await Promise.all(batches.map((b) => wal.append(b.map(enc))))
          expect(lasts).toEqual(batches.map((_, j) => model.length + j + 1))
          for (const b of batches) model.push(...b)
        } else if (op < 0.85) {
          persisted = Math.max(persisted, int(model.length + 1))
          await wal.truncateUpTo(persisted)
        } else {
          await wal.close()
          wal = await Wal.open(dir, { segmentBytes })
          expect(wal.openReport.discarded).toBeNull()
        }
        await check()
      }
      await wal.close()
    })
  }
})

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import {
  ensureDir,
  fsyncDir,
  ioError,
  readFileIfExists,
  removeFileIfExists,
  writeFileAtomic,
} from './files.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-files-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('writeFileAtomic', () => {
  it('creates and replaces a file, leaving no temp files behind', async () => {
    const p = join(dir, 'manifest.json')
    await writeFileAtomic(p, '{"v":1}')
    expect(await readFile(p, 'utf8')).toBe('{"v":1}')
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]))
    expect([...(await readFile(p))]).toEqual([1, 2, 3])
    await writeFileAtomic(p, [new Uint8Array([4]), new Uint8Array([5, 6])])
    expect([...(await readFile(p))]).toEqual([4, 5, 6])
    expect(await readdir(dir)).toEqual(['manifest.json'])
  })

  it('turns an OS failure into IO_ERROR naming the path and errno, and keeps the old file', async () => {
    const p = join(dir, 'missing-dir', 'x.json')
    const err = await writeFileAtomic(p, 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(QuiverError)
    expect((err as QuiverError).code).toBe('IO_ERROR')
    expect((err as QuiverError).message).toContain('ENOENT')
    expect((err as QuiverError).message).toContain('missing-dir')
    expect((err as QuiverError).details?.['errno']).toBe('ENOENT')
  })
})

describe('helpers', () => {
  it('readFileIfExists returns undefined for a missing file and bytes otherwise', async () => {
    expect(await readFileIfExists(join(dir, 'nope'))).toBeUndefined()
    await writeFile(join(dir, 'a'), 'hi')
    expect(Buffer.from((await readFileIfExists(join(dir, 'a')))!).toString()).toBe('hi')
    const err = await readFileIfExists(dir).catch((e: unknown) => e)
    expect((err as QuiverError).code).toBe('IO_ERROR')
    expect((err as QuiverError).details?.['errno']).toBe('EISDIR')
  })

  it('ensureDir creates nested directories; fsyncDir and removeFileIfExists tolerate the normal cases', async () => {
    const nested = join(dir, 'a', 'b', 'c')
    await ensureDir(nested)
    await ensureDir(nested)
    await fsyncDir(nested)
    await removeFileIfExists(join(nested, 'none'))
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['c'])
    const err = await fsyncDir(join(dir, 'none')).catch((e: unknown) => e)
    expect((err as QuiverError).code).toBe('IO_ERROR')
  })

  it('ioError passes QuiverErrors through and wraps system errors with the cause', () => {
    const q = new QuiverError('CLOSED', 'closed')
    expect(ioError('write', '/x', q)).toBe(q)
    const sys = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    const e = ioError('write', '/data/wal-1.log', sys)
    expect(e.code).toBe('IO_ERROR')
    expect(e.message).toBe('write /data/wal-1.log failed (ENOSPC): no space left on device')
    expect(e.cause).toBe(sys)
  })
})

import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tar from 'tar-stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { ARCHIVE_MANIFEST, extractArchive, readChecksumFile, writeArchive } from './archive.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-archive-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')

/** A hand-made tar (through tar-stream) with arbitrary entries, to play a malicious archive. */
async function rawTar(
  path: string,
  entries: { name: string; data?: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string }[],
): Promise<void> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer)
  })()
  for (const e of entries) {
    const type = e.type ?? 'file'
    if (type === 'file') pack.entry({ name: e.name, type }, Buffer.from(e.data ?? ''))
    else pack.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}) })
  }
  pack.finalize()
  await done
  await writeFile(path, Buffer.concat(chunks))
}

function manifestFor(files: { path: string; data: string }[]): string {
  return JSON.stringify({
    format: 'quiver-snapshot',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    files: files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.data), sha256: sha(f.data) })),
    metadata: {},
  })
}

async function expectCorrupted(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QuiverError)
  expect((err as QuiverError).code).toBe('CORRUPTED')
  expect((err as QuiverError).message).toMatch(message)
}

describe('snapshot archives', () => {
  it('round-trips files with a manifest and a checksum sidecar', async () => {
    const path = join(dir, 'a.snapshot')
    const files = [
      { path: 'config.json', data: Buffer.from('{"a":1}') },
      { path: 'segments/s1/index.bin', data: new Uint8Array(5000).map((_, i) => i % 251) },
      { path: `wal/${'x'.repeat(150)}.log`, data: new Uint8Array(0) },
    ]
    const written = await writeArchive(path, files, () => ({ kind: 'test' }))
    const bytes = await readFile(path)
    expect(written.size).toBe(bytes.length)
    expect(written.checksum).toBe(sha(bytes))
    expect(await readChecksumFile(path)).toBe(written.checksum)
    expect((await readdir(dir)).sort()).toEqual(['a.snapshot', 'a.snapshot.checksum'])

    const out = join(dir, 'out')
    const manifest = await extractArchive(path, out, { checksum: written.checksum.toUpperCase() })
    expect(manifest.metadata).toEqual({ kind: 'test' })
    expect(manifest.files.map((f) => f.path)).toEqual(files.map((f) => f.path))
    for (const f of files)
      expect(new Uint8Array(await readFile(join(out, f.path)))).toEqual(new Uint8Array(f.data))
    expect(await readdir(out)).not.toContain(ARCHIVE_MANIFEST)
  })

  it('refuses unsafe paths when writing', async () => {
    const err = await writeArchive(
      join(dir, 'b.snapshot'),
      [{ path: '../x', data: new Uint8Array(1) }],
      {},
    ).catch((e: unknown) => e)
    expect((err as QuiverError).code).toBe('INVALID_ARGUMENT')
    expect(await readdir(dir)).toEqual([])
  })

  const cases: [string, Parameters<typeof rawTar>[1], RegExp][] = [
    ['a parent path', [{ name: '../evil', data: 'x' }], /not a safe relative path/],
    ['an absolute path', [{ name: '/tmp/evil', data: 'x' }], /not a safe relative path/],
    ['a symlink', [{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }], /symlink/],
    ['a directory entry', [{ name: 'd/', type: 'directory' }], /directory/],
    ['no manifest', [{ name: 'a', data: 'x' }], /no snapshot\.json/],
    [
      'an entry not in the manifest',
      [
        { name: 'a', data: 'x' },
        { name: 'extra', data: 'y' },
        { name: ARCHIVE_MANIFEST, data: manifestFor([{ path: 'a', data: 'x' }]) },
      ],
      /extra is not listed/,
    ],
    [
      'a file whose content (same size) differs from the manifest',
      [
        { name: 'a', data: 'y' },
        { name: ARCHIVE_MANIFEST, data: manifestFor([{ path: 'a', data: 'x' }]) },
      ],
      new RegExp(`a fails its SHA-256 check: ${sha('y')}, expected ${sha('x')}$`),
    ],
    [
      'a file whose size differs from the manifest',
      [
        { name: 'a', data: 'yy' },
        { name: ARCHIVE_MANIFEST, data: manifestFor([{ path: 'a', data: 'x' }]) },
      ],
      /a fails its size check: 2 bytes, expected 1$/,
    ],
    [
      'a listed file that is missing',
      [{ name: ARCHIVE_MANIFEST, data: manifestFor([{ path: 'a', data: 'x' }]) }],
      /a listed in snapshot\.json is missing/,
    ],
    [
      'a duplicate entry',
      [
        { name: 'a', data: 'x' },
        { name: 'a', data: 'x' },
      ],
      /appears twice/,
    ],
  ]
  it.each(cases)('refuses an archive with %s and leaves nothing behind', async (_what, entries, message) => {
    const path = join(dir, 'bad.snapshot')
    await rawTar(path, entries)
    await expectCorrupted(extractArchive(path, join(dir, 'out')), message)
    expect(await readdir(dir)).toEqual(['bad.snapshot'])
  })

  it('refuses a truncated or garbage archive', async () => {
    const path = join(dir, 'c.snapshot')
    const written = await writeArchive(path, [{ path: 'f', data: new Uint8Array(4096) }], {})
    const bytes = await readFile(path)
    await writeFile(path, bytes.subarray(0, 1500))
    await expectCorrupted(extractArchive(path, join(dir, 'out')), /not a valid archive/)
    await expectCorrupted(extractArchive(path, join(dir, 'out'), { checksum: written.checksum }), /SHA-256/)
    await writeFile(path, Buffer.alloc(2048, 7))
    await expectCorrupted(extractArchive(path, join(dir, 'out')), /not a valid archive/)
    expect((await readdir(dir)).sort()).toEqual(['c.snapshot', 'c.snapshot.checksum'])
  })
})

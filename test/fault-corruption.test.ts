// fail_corruption: with the database closed (or its directory copied as a crash image), damage WAL,
// segment, manifest and config files and reopen. The rule proven: a damaged collection either gives
// exactly the answers it gave before the damage (only an unacknowledged WAL tail may be lost) or
// refuses to serve with CORRUPTED naming the file; the other collections keep serving.
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { serve } from '../src/server/index.js'
import { Wal } from '../src/storage/wal.js'
import { call } from './server-harness.js'
import { copyDir, cutTail, filesIn, flipBit } from './support/damage.js'
import { rng } from './support/random.js'

const DIM = 8
const SEED = Number(process.env['QUIVER_FAULT_SEED'] ?? Math.floor(Math.random() * 1e9))
const WAL_SEGMENT_BYTES = 2048
const BATCHES = 12
const BATCH = 8

function vectorFor(id: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.cos(id * 0.71 + j * 0.9) + (j === id % DIM ? 1 : 0))
}
function batch(b: number, name: string) {
  return Array.from({ length: BATCH }, (_, i) => {
    const id = b * BATCH + i
    return { id, vector: vectorFor(id), payload: { g: id % 5, name, b } }
  })
}

/** Everything a client could ask that depends on the stored points: full scroll, counts, searches. */
async function answers(c: HostedCollection): Promise<unknown> {
  const scroll = await c.scroll({ limit: 10_000, withPayload: true, withVector: true })
  const queries = [3, 17, 40].map((id) => vectorFor(id + 0.5))
  return {
    scroll,
    count: await c.count(),
    filtered: await c.count({ filter: { must: [{ key: 'g', match: { value: 2 } }] } }),
    exact: await Promise.all(queries.map((q) => c.search(q, { limit: 5, exact: true, withPayload: true }))),
    hnsw: await Promise.all(queries.map((q) => c.search(q, { limit: 5, ef: 200 }))),
  }
}

type Outcome = { kind: 'answers'; value: unknown } | { kind: 'corrupted'; error: QuiverError }

/** Opens `dir`, returns the victim's answers or its CORRUPTED error, and checks the healthy collection still answers as before. */
async function reopen(dir: string, healthy: unknown): Promise<Outcome> {
  const db = await Quiver.open(dir, { walSegmentBytes: WAL_SEGMENT_BYTES })
  try {
    expect(db.listCollections()).toEqual(['healthy', 'victim'])
    expect(await answers(await db.getCollection('healthy'))).toEqual(healthy)
    try {
      return { kind: 'answers', value: await answers(await db.getCollection('victim')) }
    } catch (err) {
      if (!(err instanceof QuiverError) || err.code !== 'CORRUPTED') throw err
      expect(db.unavailableCollections().get('victim')).toBe(err)
      return { kind: 'corrupted', error: err }
    }
  } finally {
    await db.close()
  }
}

let root: string
let n = 0
/** A crash image whose victim data lives only in the WAL (several files), before and after its last write. */
let walImage: string
let walImagePrev: string
/** A closed database: segments persisted, WAL empty. */
let segImage: string
const expected: {
  walFull?: unknown
  walPrev?: unknown
  seg?: unknown
  healthyWal?: unknown
  healthySeg?: unknown
} = {}

async function fresh(image: string): Promise<string> {
  const dir = join(root, `case-${n++}`)
  await copyDir(image, dir)
  return dir
}
const victim = (dir: string) => join(dir, 'collections', 'victim')

/** The message names `file` relative to the data directory `dir` (as a server may send it), never absolutely. */
function expectNamed(err: QuiverError, dir: string, file: string): void {
  expect(err.message).toContain(relative(dir, file))
  expect(err.message).not.toContain(dir)
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'quiver-corrupt-'))
  walImage = join(root, 'wal-image')
  walImagePrev = join(root, 'wal-image-prev')
  segImage = join(root, 'seg-image')
  // WAL image: nothing persisted (huge flushBytes), small WAL files; copied live
  const live = join(root, 'live')
  const db = await Quiver.open(live, { walSegmentBytes: WAL_SEGMENT_BYTES, flushBytes: 1 << 30 })
  const h = await db.createCollection('healthy', { dimension: DIM, metric: 'Euclid' })
  const v = await db.createCollection('victim', { dimension: DIM, metric: 'Euclid' })
  await v.createPayloadIndex('g', 'integer')
  for (let b = 0; b < BATCHES; b++) {
    await h.upsert(batch(b, 'h'))
    if (b === BATCHES - 1) await copyDir(live, walImagePrev)
    await v.upsert(batch(b, 'v'))
  }
  await copyDir(live, walImage)
  await db.close()
  // the closed database persisted everything: the segment image
  await copyDir(live, segImage)
  expect((await filesIn(join(victim(walImage), 'wal'), /^wal-/)).length).toBeGreaterThanOrEqual(3)
  expect((await filesIn(join(victim(segImage), 'segments'), /^seg-/)).length).toBe(1)

  for (const [image, key, hkey] of [
    [walImage, 'walFull', 'healthyWal'],
    [walImagePrev, 'walPrev', undefined],
    [segImage, 'seg', 'healthySeg'],
  ] as const) {
    const dir = await fresh(image)
    const db2 = await Quiver.open(dir, { walSegmentBytes: WAL_SEGMENT_BYTES })
    expected[key] = await answers(await db2.getCollection('victim'))
    if (hkey) expected[hkey] = await answers(await db2.getCollection('healthy'))
    await db2.close()
  }
  expect(expected.walFull).toEqual(expected.seg)
  expect(expected.walPrev).not.toEqual(expected.walFull)
})

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

describe(`WAL damage (seed ${SEED}, QUIVER_FAULT_SEED)`, () => {
  it('a torn tail (the last record cut short) is cut at open; only that unacknowledged write is lost', async () => {
    for (const bytes of [1, 7, 16, 17, 60]) {
      const dir = await fresh(walImage)
      const last = (await filesIn(join(victim(dir), 'wal'), /^wal-/)).at(-1)!
      const before = (await stat(last)).size
      await cutTail(last, bytes)
      const out = await reopen(dir, expected.healthyWal)
      expect(out, `cut ${bytes} bytes`).toEqual({ kind: 'answers', value: expected.walPrev })
      expect((await stat(last)).size).toBeLessThan(before - bytes)
    }
  })

  it('a bit flip in the last record is detected by its CRC and that record cut; acknowledged data stays', async () => {
    const random = rng(SEED)
    for (let i = 0; i < 5; i++) {
      const dir = await fresh(walImage)
      const last = (await filesIn(join(victim(dir), 'wal'), /^wal-/)).at(-1)!
      // the last record is a batch of 8 points (> 100 bytes); flip inside its last 100 bytes
      await flipBit(last, -1 - Math.floor(random() * 100), Math.floor(random() * 8))
      expect(await reopen(dir, expected.healthyWal)).toEqual({ kind: 'answers', value: expected.walPrev })
    }
  })

  it('a cut WAL tail is reported through the logger (file, offset, reason)', async () => {
    const dir = await fresh(walImage)
    const last = (await filesIn(join(victim(dir), 'wal'), /^wal-/)).at(-1)!
    await flipBit(last, -5)
    const logged: string[] = []
    const log = (obj: object, msg: string) => logged.push(`${msg} ${JSON.stringify(obj)}`)
    const db = await Quiver.open(dir, { logger: { info: log, warn: log, error: log } })
    await db.close()
    expect(logged.join('\n')).toContain(last)
    expect(logged.join('\n')).toContain('bad-crc')
  })

  it('a bit flip in an earlier WAL file makes the collection unavailable: CORRUPTED naming file and offset', async () => {
    const random = rng(SEED + 1)
    const files = await filesIn(join(victim(walImage), 'wal'), /^wal-/)
    for (let i = 0; i < files.length - 1; i++) {
      const dir = await fresh(walImage)
      const file = (await filesIn(join(victim(dir), 'wal'), /^wal-/))[i]!
      const { size } = await stat(file)
      const at = await flipBit(file, Math.floor(random() * size), Math.floor(random() * 8))
      const out = await reopen(dir, expected.healthyWal)
      expect(out.kind, `flip at ${file}:${at}`).toBe('corrupted')
      const err = (out as { error: QuiverError }).error
      expectNamed(err, dir, file)
      expect(err.message).toMatch(/damaged at byte \d+/)
      const offset = err.details?.['offset'] as number
      expect(offset).toBeLessThanOrEqual(at)
      expect(err.details?.['file']).toBe(file)
    }
  })

  it('a missing middle WAL file (a gap in seqs) is CORRUPTED, naming the file after the gap', async () => {
    const dir = await fresh(walImage)
    const files = await filesIn(join(victim(dir), 'wal'), /^wal-/)
    await unlink(files[1]!)
    const out = await reopen(dir, expected.healthyWal)
    expect(out.kind).toBe('corrupted')
    expectNamed((out as { error: QuiverError }).error, dir, files[2]!)
  })

  it('a record with a valid CRC that does not decode is CORRUPTED naming its seq, WAL file and byte', async () => {
    const dir = await fresh(walImage)
    const walDir = join(victim(dir), 'wal')
    const wal = await Wal.open(walDir, { segmentBytes: WAL_SEGMENT_BYTES })
    const seq = await wal.append([new Uint8Array([0xc1, 0xc1, 0xc1])]) // 0xc1 is never used in msgpack
    await wal.close()
    const last = (await filesIn(walDir, /^wal-/)).at(-1)!
    const out = await reopen(dir, expected.healthyWal)
    expect(out.kind).toBe('corrupted')
    const err = (out as { error: QuiverError }).error
    expect(err.message).toMatch(
      new RegExp(
        `WAL record ${seq} \\(collections/victim/wal/wal-\\d+\\.log at byte \\d+\\) cannot be applied`,
      ),
    )
    expectNamed(err, dir, last)
  })
})

describe('segment, manifest and config damage (closed database)', () => {
  const segmentFiles = ['index.bin', 'points.msgpack', 'payload-index.msgpack']
  async function segmentFile(dir: string, name: string): Promise<string> {
    const [seg] = await filesIn(join(victim(dir), 'segments'), /^seg-/)
    return join(seg!, name)
  }

  for (const name of segmentFiles) {
    it(`${name}: bit flips and truncation fail the size/CRC32C check, CORRUPTED naming the file`, async () => {
      const random = rng(SEED + name.length)
      for (let i = 0; i < 4; i++) {
        const dir = await fresh(segImage)
        const file = await segmentFile(dir, name)
        if (i === 3) await cutTail(file, 1)
        else await flipBit(file, Math.floor(random() * (await stat(file)).size), Math.floor(random() * 8))
        const out = await reopen(dir, expected.healthySeg)
        expect(out.kind).toBe('corrupted')
        const err = (out as { error: QuiverError }).error
        expectNamed(err, dir, file)
        // which check failed, with what it found and what the manifest says
        if (i === 3)
          expect(err.message).toMatch(/fails its size check: \d+ bytes, expected \d+ \(manifest\.json\)$/)
        else
          expect(err.message).toMatch(
            /fails its CRC32C check: 0x[0-9a-f]{8}, expected 0x[0-9a-f]{8} \(manifest\.json\)$/,
          )
      }
    })
  }

  it('a missing segment file is CORRUPTED naming it', async () => {
    const dir = await fresh(segImage)
    const file = await segmentFile(dir, 'points.msgpack')
    await unlink(file)
    const out = await reopen(dir, expected.healthySeg)
    expectNamed((out as { error: QuiverError }).error, dir, file)
  })

  for (const name of ['manifest.json', 'config.json']) {
    it(`${name}: every bit flip and truncation is CORRUPTED naming the file, or (never seen) exactly the old answers`, async () => {
      const random = rng(SEED + name.length)
      let corrupted = 0
      for (let i = 0; i < 8; i++) {
        const dir = await fresh(segImage)
        const file = join(victim(dir), name)
        if (i === 0) await cutTail(file, 1)
        else if (i === 1) await cutTail(file, (await stat(file)).size)
        else await flipBit(file, Math.floor(random() * (await stat(file)).size), Math.floor(random() * 8))
        const out = await reopen(dir, expected.healthySeg)
        if (out.kind === 'answers') expect(out.value).toEqual(expected.seg)
        else {
          corrupted++
          expectNamed(out.error, dir, file)
        }
      }
      expect(corrupted).toBeGreaterThan(0)
    })
  }

  it('a deleted manifest.json with segments present and the WAL truncated is CORRUPTED, not an empty collection', async () => {
    const dir = await fresh(segImage)
    await unlink(join(victim(dir), 'manifest.json'))
    const out = await reopen(dir, expected.healthySeg)
    expect(out.kind).toBe('corrupted')
  })

  it('WAL files missing under persisted segments are CORRUPTED naming the WAL directory', async () => {
    const dir = await fresh(segImage)
    const walDir = join(victim(dir), 'wal')
    for (const f of await filesIn(walDir, /^wal-/)) await unlink(f)
    const out = await reopen(dir, expected.healthySeg)
    expect(out.kind).toBe('corrupted')
    const err = (out as { error: QuiverError }).error
    expect(err.message).toMatch(
      /the WAL in collections\/victim\/wal ends at seq 0 but the segments include seq \d+/,
    )
    expectNamed(err, dir, walDir)
  })
})

describe('over HTTP', () => {
  it('a corrupt collection answers 500 naming the file relative to the data directory (code CORRUPTED); a healthy one still serves', async () => {
    const dir = await fresh(segImage)
    const [seg] = await filesIn(join(victim(dir), 'segments'), /^seg-/)
    const file = join(seg!, 'index.bin')
    await flipBit(file, 100)
    const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false })
    try {
      const list = await call(server.url, 'GET', '/collections')
      expect(list.status).toBe(200)
      expect(list.body.result.collections.map((c: { name: string }) => c.name).sort()).toEqual([
        'healthy',
        'victim',
      ])
      for (const [method, path, body] of [
        ['GET', '/collections/victim', undefined],
        ['POST', '/collections/victim/points/search', { vector: vectorFor(1), limit: 3 }],
        ['PUT', '/collections/victim/points?wait=true', { points: [{ id: 1, vector: vectorFor(1) }] }],
      ] as const) {
        const r = await call(server.url, method, path, body)
        expect(r.status, `${method} ${path}`).toBe(500)
        expect(r.code).toBe('CORRUPTED')
        // relative to the data directory: the reply names no absolute path of the server
        expect(r.body.status.error).toContain(relative(dir, file))
        expect(r.body.status.error).not.toContain(dir)
      }
      const ok = await call(server.url, 'POST', '/collections/healthy/points/search', {
        vector: vectorFor(3),
        limit: 1,
      })
      expect(ok.status).toBe(200)
      expect(ok.body.result[0].id).toBe(3)
    } finally {
      await server.close()
    }
  })
})

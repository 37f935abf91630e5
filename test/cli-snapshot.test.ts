import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import type { PointStruct } from '../src/types.js'
import { call, rng, startTestServer } from './server-harness.js'
import { CLI_MAIN, type CliRun, runCli } from './support/cli.js'

const MAIN = CLI_MAIN
const DIM = 6
const r = rng(3)
const POINTS: PointStruct[] = Array.from({ length: 150 }, (_, i) => ({
  id: i,
  vector: Array.from({ length: DIM }, () => r() - 0.5),
  payload: { kind: i % 2 === 0 ? 'even' : 'odd' },
}))
const QUERY = [0.1, -0.2, 0.3, 0.05, -0.4, 0.2]

type Run = CliRun

function quiver(...args: string[]): Promise<Run> {
  return runCli(args)
}

async function ok(...args: string[]): Promise<Run> {
  const run = await quiver(...args)
  expect(run.code, `quiver ${args.join(' ')}\n${run.stderr}`).toBe(0)
  return run
}

async function results(dir: string, collection: string): Promise<unknown> {
  const db = await Quiver.open(dir)
  try {
    const c = await db.getCollection(collection)
    return {
      hits: await c.search(QUERY, { limit: 10, withPayload: true }),
      filtered: await c.search(QUERY, {
        limit: 5,
        filter: { must: [{ key: 'kind', match: { value: 'odd' } }] },
      }),
      count: await c.count(),
    }
  } finally {
    await db.close()
  }
}

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')

let root: string
let data: string

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this suite`)
  root = await mkdtemp(join(tmpdir(), 'quiver-cli-snap-'))
  data = join(root, 'data')
  const db = await Quiver.open(data)
  const docs = await db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
  await docs.createPayloadIndex('kind', 'keyword')
  await docs.upsert(POINTS)
  await db.close()
})

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true })
})

describe('quiver snapshot (offline)', () => {
  it('creates, lists and restores a collection snapshot into a fresh directory', async () => {
    const created = JSON.parse(
      (await ok('snapshot', 'create', '--data', data, '--collection', 'docs', '--json')).stdout,
    )
    expect(created.name).toMatch(/^docs-.*\.snapshot$/)
    expect(created.checksum).toBe(await sha256(created.location))

    const listed = JSON.parse(
      (await ok('snapshot', 'list', '--data', data, '--collection', 'docs', '--json')).stdout,
    )
    expect(listed).toEqual([
      {
        name: created.name,
        creationTime: created.creationTime,
        size: created.size,
        checksum: created.checksum,
      },
    ])
    const table = (await ok('snapshot', 'list', '--data', data, '--collection', 'docs')).stdout
    expect(table).toContain(created.name)

    const fresh = join(root, 'fresh')
    const restored = await ok(
      'snapshot',
      'restore',
      '--data',
      fresh,
      '--collection',
      'copy',
      '--from',
      created.location,
    )
    expect(restored.stdout).toMatch(/restored collection copy .*SHA-256 verified against .*\.checksum/)
    expect(await results(fresh, 'copy')).toEqual(await results(data, 'docs'))

    const bad = await quiver(
      'snapshot',
      'restore',
      '--data',
      fresh,
      '--collection',
      'copy',
      '--from',
      created.location,
      '--checksum',
      'f'.repeat(64),
    )
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/fails its SHA-256 check.*\[CORRUPTED\]/)

    await ok('snapshot', 'delete', '--data', data, '--collection', 'docs', '--name', created.name)
    expect(
      JSON.parse((await ok('snapshot', 'list', '--data', data, '--collection', 'docs', '--json')).stdout),
    ).toEqual([])
  })

  it('explains a locked data directory and usage errors', async () => {
    const db = await Quiver.open(data)
    try {
      const run = await quiver('snapshot', 'create', '--data', data, '--collection', 'docs')
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(
        /stop the server, or run the command against it with --url.*\[DIRECTORY_LOCKED\]/,
      )
    } finally {
      await db.close()
    }
    expect((await quiver('snapshot', 'create', '--data', data)).code).toBe(2)
    expect(
      (
        await quiver(
          'snapshot',
          'list',
          '--data',
          data,
          '--url',
          'http://127.0.0.1:1',
          '--collection',
          'docs',
        )
      ).code,
    ).toBe(2)
    expect((await quiver('backup', '--data', data, '--to', join(root, 'b0'), '--keep', '0')).code).toBe(2)
  })
})

describe('quiver backup', () => {
  it('keeps the newest 2 of 3 backups, each verified, and restores the newest', async () => {
    const dir = join(root, 'backups')
    const runs: Run[] = []
    for (let i = 0; i < 3; i++) {
      runs.push(await ok('backup', '--data', data, '--to', dir, '--keep', '2', '--quiet'))
      if (i === 0) await writeFile(join(dir, 'notes.txt'), 'not a backup')
    }
    const wrote = runs.map((run) => {
      expect(run.stdout).toMatch(/verified sha256 [0-9a-f]{64}/)
      return /wrote (.*\.snapshot)\n/.exec(run.stdout)![1]!
    })
    const names = wrote.map((p) => p.slice(dir.length + 1))
    expect(runs[2]!.stdout).toContain(`removed 1: ${names[0]}`)
    expect((await readdir(dir)).sort()).toEqual(
      ['notes.txt', names[1]!, `${names[1]}.checksum`, names[2]!, `${names[2]}.checksum`].sort(),
    )
    for (const p of wrote.slice(1))
      expect((await readFile(`${p}.checksum`, 'utf8')).trim()).toBe(await sha256(p))
    // the snapshots taken for the backups do not pile up in the data directory
    expect((await readdir(join(data, 'snapshots'))).filter((f) => f.startsWith('full-'))).toEqual([])

    const fresh = join(root, 'from-backup')
    const restored = await ok('snapshot', 'restore', '--full', '--data', fresh, '--from', wrote[2]!)
    expect(restored.stdout).toContain('restored collection docs')
    expect(await results(fresh, 'docs')).toEqual(await results(data, 'docs'))
  })

  it('works online through a running server', async () => {
    const srv = await startTestServer()
    try {
      expect(
        (await call(srv.url, 'PUT', '/collections/web', { vectors: { size: 2, distance: 'Dot' } })).status,
      ).toBe(200)
      await call(srv.url, 'PUT', '/collections/web/points?wait=true', {
        points: [{ id: 1, vector: [1, 2], payload: { a: 1 } }],
      })
      const dir = join(root, 'online')
      const run = await ok('backup', '--url', srv.url, '--to', dir, '--keep', '1', '--quiet')
      expect(run.stdout).toMatch(/downloading/)
      const file = /wrote (.*\.snapshot)\n/.exec(run.stdout)![1]!
      expect((await call(srv.url, 'GET', '/snapshots')).body.result).toEqual([])

      const created = JSON.parse(
        (await ok('snapshot', 'create', '--url', srv.url, '--collection', 'web', '--json')).stdout,
      )
      expect(created.name).toMatch(/^web-/)
      const listed = (await ok('snapshot', 'list', '--url', srv.url, '--collection', 'web')).stdout
      expect(listed).toContain(created.name)

      const local = join(root, 'web-local')
      await ok('snapshot', 'restore', '--full', '--data', local, '--from', file)
      const copy = join(srv.dir, 'snapshots', 'web', created.name)
      await ok('snapshot', 'restore', '--url', srv.url, '--collection', 'web2', '--from', copy)
      const got = await call(srv.url, 'POST', '/collections/web2/points', { ids: [1], with_payload: true })
      expect(got.body.result).toEqual([{ id: 1, payload: { a: 1 } }])
      const missing = await quiver('snapshot', 'create', '--url', srv.url, '--collection', 'nope')
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/HTTP 404.*\[COLLECTION_NOT_FOUND\]/)
    } finally {
      await srv.close()
    }
  })
})

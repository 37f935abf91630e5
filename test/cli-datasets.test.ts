// The dataset loader of the CLI (src/cli/datasets.ts) on small fixture files written here.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listDatasets, loadDataset, readDescriptor, resolveDatasetsDir } from '../src/cli/datasets.js'
import { QuiverError } from '../src/errors.js'
import { writeFixtureDataset } from './cli-fixtures.js'

let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'quiver-datasets-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

async function expectInvalid(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QuiverError)
  expect((err as QuiverError).code).toBe('INVALID_ARGUMENT')
  expect((err as QuiverError).message).toMatch(pattern)
}

describe('loadDataset', () => {
  it('loads base, queries, ground truth and meta payloads with the descriptor shapes', async () => {
    const fx = writeFixtureDataset(dir, {
      name: 'tiny-l2',
      n: 50,
      dim: 4,
      q: 5,
      metric: 'l2',
      withMeta: true,
    })
    const ds = await loadDataset('tiny-l2', dir, { withMeta: true })
    expect(ds).toMatchObject({ name: 'tiny-l2', n: 50, totalN: 50, dim: 4, q: 5, gtK: 100, metric: 'Euclid' })
    expect(Array.from(ds.base)).toEqual(Array.from(fx.base))
    expect(Array.from(ds.queries)).toEqual(Array.from(fx.queries))
    expect(Array.from(ds.groundTruth)).toEqual(Array.from(fx.groundTruth))
    expect(ds.groundTruth.length).toBe(5 * 100)
    expect(ds.meta).toHaveLength(50)
    expect(ds.meta?.[7]).toEqual({ group: 1, row: 7 })
  })

  it('maps cosine to Cosine and leaves meta out unless asked', async () => {
    writeFixtureDataset(dir, { name: 'tiny-cos', n: 20, dim: 3, q: 2, metric: 'cosine', withMeta: true })
    const ds = await loadDataset('tiny-cos', dir)
    expect(ds.metric).toBe('Cosine')
    expect(ds.meta).toBeUndefined()
  })

  it('loads only the first `limit` base rows and meta lines', async () => {
    const fx = writeFixtureDataset(dir, {
      name: 'tiny-limit',
      n: 30,
      dim: 2,
      q: 3,
      metric: 'l2',
      withMeta: true,
    })
    const ds = await loadDataset('tiny-limit', dir, { limit: 10, withMeta: true })
    expect(ds.n).toBe(10)
    expect(ds.totalN).toBe(30)
    expect(Array.from(ds.base)).toEqual(Array.from(fx.base.subarray(0, 20)))
    expect(ds.meta).toHaveLength(10)
    const all = await loadDataset('tiny-limit', dir, { limit: 1000 })
    expect(all.n).toBe(30)
  })

  it('rejects a base file whose size does not match the descriptor, naming both sizes', async () => {
    writeFixtureDataset(dir, { name: 'tiny-short', n: 40, dim: 4, q: 2, metric: 'l2' })
    truncateSync(join(dir, 'tiny-short.base.f32'), 40 * 4 * 4 - 16)
    await expectInvalid(
      loadDataset('tiny-short', dir),
      /base file .*tiny-short\.base\.f32 has 624 bytes .* 640 bytes/,
    )
  })

  it('rejects a ground-truth file of the wrong size', async () => {
    writeFixtureDataset(dir, { name: 'tiny-gt', n: 10, dim: 2, q: 2, metric: 'l2' })
    writeFileSync(join(dir, 'tiny-gt.gt.i32'), new Uint8Array(12))
    await expectInvalid(loadDataset('tiny-gt', dir), /ground-truth file .* has 12 bytes/)
  })

  it('names a missing data file', async () => {
    writeFixtureDataset(dir, { name: 'tiny-noq', n: 10, dim: 2, q: 2, metric: 'l2' })
    rmSync(join(dir, 'tiny-noq.query.f32'))
    await expectInvalid(loadDataset('tiny-noq', dir), /query file .*tiny-noq\.query\.f32 is missing/)
  })

  it('reports an unknown dataset with the names that exist', async () => {
    await expectInvalid(loadDataset('nope', dir), /dataset "nope" not found .*available: .*tiny-l2/)
  })

  it('rejects a descriptor with a bad metric or dimension, and a malformed meta line', async () => {
    writeFileSync(join(dir, 'bad-metric.json'), JSON.stringify({ n: 1, d: 1, q: 1, metric: 'hamming' }))
    await expectInvalid(readDescriptor('bad-metric', dir), /metric "hamming" is not supported/)
    writeFileSync(join(dir, 'bad-dim.json'), JSON.stringify({ n: 1, d: 0, q: 1, metric: 'l2' }))
    await expectInvalid(readDescriptor('bad-dim', dir), /field "d" must be a positive integer/)
    writeFixtureDataset(dir, { name: 'bad-meta', n: 3, dim: 2, q: 1, metric: 'l2' })
    writeFileSync(join(dir, 'bad-meta.meta.jsonl'), '{"a":1}\n[1,2]\n{"a":3}\n')
    await expectInvalid(loadDataset('bad-meta', dir, { withMeta: true }), /line 2 is not a JSON object/)
    await expectInvalid(loadDataset('../etc', dir), /dataset name "\.\.\/etc" is not valid/)
  })
})

describe('listDatasets', () => {
  it('lists valid datasets sorted by name and skips broken descriptors', async () => {
    const sub = mkdtempSync(join(tmpdir(), 'quiver-list-'))
    try {
      writeFixtureDataset(sub, { name: 'b-set', n: 5, dim: 2, q: 1, metric: 'cosine', withMeta: true })
      writeFixtureDataset(sub, { name: 'a-set', n: 6, dim: 3, q: 2, metric: 'l2' })
      writeFileSync(join(sub, 'junk.json'), '{')
      expect(await listDatasets(sub)).toEqual([
        { name: 'a-set', n: 6, dim: 3, q: 2, metric: 'Euclid', hasMeta: false },
        { name: 'b-set', n: 5, dim: 2, q: 1, metric: 'Cosine', hasMeta: true },
      ])
    } finally {
      rmSync(sub, { recursive: true, force: true })
    }
  })
})

describe('resolveDatasetsDir', () => {
  it('prefers the explicit directory, then QUIVER_DATASETS, then ../shared/datasets of the cwd', () => {
    const root = mkdtempSync(join(tmpdir(), 'quiver-resolve-'))
    try {
      const shared = join(root, 'shared', 'datasets')
      const cwd = join(root, 'work')
      const other = join(root, 'other')
      mkdirSync(shared, { recursive: true })
      mkdirSync(cwd)
      mkdirSync(other)
      expect(resolveDatasetsDir('../other', { cwd, env: { QUIVER_DATASETS: shared } })).toBe(other)
      expect(resolveDatasetsDir(undefined, { cwd, env: { QUIVER_DATASETS: other } })).toBe(other)
      expect(resolveDatasetsDir(undefined, { cwd, env: {} })).toBe(shared)
      expect(() => resolveDatasetsDir('../missing', { cwd, env: {} })).toThrow(
        /missing \(from --datasets\) does not exist/,
      )
      expect(() => resolveDatasetsDir(undefined, { cwd, env: { QUIVER_DATASETS: join(root, 'x') } })).toThrow(
        /from QUIVER_DATASETS/,
      )
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

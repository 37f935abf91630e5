// `quiver eval` on a shipped dataset (../shared/datasets): sift-5k imported with `quiver import`,
// its official queries given as a JSONL file; the recall eval reports at each ef (its truth: exact
// search through the collection) matches the recall of the same searches against the dataset's
// shipped ground truth. Skipped (with a message) where the dataset is not present.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadDataset } from '../src/cli/datasets.js'
import type { EvalReport } from '../src/cli/eval/report.js'
import { Quiver } from '../src/db/quiver.js'
import { runCli } from './support/cli.js'
import { realDatasets } from './support/datasets.js'

const NAME = 'sift-5k-euclidean'
const K = 10
const QUERIES = 60
const EFS = [16, 64, 200]
const datasets = realDatasets('eval-real', [NAME])

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe.skipIf(!datasets.present(NAME))('quiver eval on a shipped dataset', () => {
  it(`${NAME}: the recall eval reports equals the recall against the shipped ground truth`, async () => {
    const work = await mkdtemp(join(tmpdir(), 'quiver-eval-real-'))
    dirs.push(work)
    const data = join(work, 'data')
    const env = { QUIVER_DATASETS: datasets.dir! }
    const imported = await runCli(['import', NAME, '--data', data, '--collection', 'sift'], env)
    expect(imported.stderr).not.toMatch(/error/)
    expect(imported.code).toBe(0)
    const ds = await loadDataset(NAME, datasets.dir!)
    const query = (i: number) => Array.from(ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim))
    const file = join(work, 'queries.jsonl')
    await writeFile(
      file,
      `${Array.from({ length: QUERIES }, (_, i) => JSON.stringify({ vector: query(i) })).join('\n')}\n`,
    )
    const report = join(work, 'report')
    const run = await runCli(
      [
        'eval',
        '--collection',
        'sift',
        '--data',
        data,
        '--queries',
        file,
        '--ef',
        EFS.join(','),
        '--concurrency',
        '1',
        '--duration',
        '1',
        '--write-seconds',
        '1',
        '--report',
        report,
        '--quiet',
      ],
      env,
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const r = JSON.parse(await readFile(join(report, 'report.json'), 'utf8')) as EvalReport
    expect(r.collection).toMatchObject({ points: ds.n, dimension: ds.dim, distance: 'Euclid' })

    const db = await Quiver.open(data)
    try {
      const c = await db.getCollection('sift')
      for (const ef of EFS) {
        let sum = 0
        for (let i = 0; i < QUERIES; i++) {
          const truth = new Set(ds.groundTruth.subarray(i * ds.gtK, i * ds.gtK + K))
          const hits = await c.search(query(i), { limit: K, ef, cache: false })
          sum += hits.filter((h) => truth.has(h.id as number)).length / K
        }
        // ties at the k-th distance may order differently: within one neighbour in 600
        expect([ef, r.sweep.find((s) => s.ef === ef)!.recall]).toEqual([ef, expect.closeTo(sum / QUERIES, 2)])
      }
    } finally {
      await db.close()
    }
    expect(r.sweep.at(-1)!.recall).toBeGreaterThanOrEqual(0.95)
  }, 120_000)
})

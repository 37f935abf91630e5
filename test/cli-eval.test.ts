// `quiver eval` (issue 16 §5, docs/eval.md) as its users run it: the built CLI as a child process,
// over a data directory (`--data`) and against a real server on 127.0.0.1 (`--url`). Its recall is
// checked against a brute-force truth computed here (a query made from a stored point leaving that
// point out), its write load against the user's collection (untouched; the scratch collection
// gone), and bad input against a clear error that changes nothing.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EvalReport } from '../src/cli/eval/report.js'
import { Quiver } from '../src/db/quiver.js'
import { call, startTestServer, type TestServer } from './server-harness.js'
import { runCli, spawnCli } from './support/cli.js'
import { clustered } from './support/vectors.js'

const DIM = 16
const N = 3000
const K = 10
const all = clustered(N + 30, DIM, 30, 41, 2)
const base = all.slice(0, N)
const heldOut = all.slice(N)

const dirs: string[] = []
async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const l2 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s
}
/** The exact k nearest of `q` among the base points, `skip` left out. */
function bruteForce(q: ArrayLike<number>, skip?: number): number[] {
  return base
    .map((v, id) => ({ id, d: l2(q, v) }))
    .filter((x) => x.id !== skip)
    .sort((a, b) => a.d - b.d || a.id - b.id)
    .slice(0, K)
    .map((x) => x.id)
}

async function readReport(dir: string): Promise<EvalReport> {
  return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as EvalReport
}

describe('quiver eval over a data directory', () => {
  let data: string
  /** The data directory holds the user's collection alone (no scratch collection left). */
  async function onlyTheUsersCollection(): Promise<void> {
    const db = await Quiver.open(data)
    try {
      expect(db.listCollections()).toEqual(['c'])
    } finally {
      await db.close()
    }
  }

  beforeAll(async () => {
    data = await tmp('quiver-eval-data-')
    const db = await Quiver.open(data)
    const c = await db.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      hnsw: { m: 6, efConstruct: 24 },
    })
    for (let i = 0; i < N; i += 1000)
      await c.upsert(
        base
          .slice(i, i + 1000)
          .map((vector, k) => ({ id: i + k, vector, payload: { n: i + k, cat: `c${(i + k) % 7}` } })),
      )
    await db.close()
  })

  it('measures recall against exact search on the user’s queries, leaving a query’s own point out', async () => {
    const report = await tmp('quiver-eval-report-')
    const ids = [3, 500, 1234, 2999, 42]
    const lines = [
      ...heldOut.map((v) => JSON.stringify({ vector: Array.from(v) })),
      ...ids.map((id) => JSON.stringify({ id })),
    ]
    const queries = join(report, 'queries.jsonl')
    await writeFile(queries, `${lines.join('\n')}\n`)
    const run = await runCli([
      'eval',
      '--collection',
      'c',
      '--data',
      data,
      '--queries',
      queries,
      '--ef',
      '4,16,200',
      '--concurrency',
      '1,2',
      '--duration',
      '1',
      '--write-seconds',
      '1',
      '--filter-field',
      'n',
      '--filter-queries',
      '10',
      '--report',
      report,
    ])
    expect(run.stderr).not.toMatch(/error/)
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/recommendation: ef \d+ reaches recall@k/)
    expect(run.stderr).toMatch(/recall and latency sweep/) // progress on stderr
    const r = await readReport(report)
    expect(r).toMatchObject({
      format: 1,
      k: K,
      target: { server: 'quiver' },
      collection: { name: 'c', points: N, vector: '', dimension: DIM, distance: 'Euclid' },
      queries: { source: 'file', count: 35, self_excluded: 5, seed: null },
    })
    expect(r.sweep.map((s) => s.ef)).toEqual([4, 16, 200])

    // the same searches made here, scored against a brute-force truth: the same recall
    const db = await Quiver.open(data)
    try {
      const c = await db.getCollection('c')
      expect(await c.count()).toBe(N)
      expect(db.listCollections()).toEqual(['c']) // the write load's scratch collection is gone
      const qs: { v: ArrayLike<number>; skip?: number }[] = [
        ...heldOut.map((v) => ({ v })),
        ...ids.map((id) => ({ v: base[id]!, skip: id })),
      ]
      for (const ef of [4, 16, 200]) {
        let sum = 0
        for (const q of qs) {
          const hits = await c.search(q.v, { limit: K + (q.skip === undefined ? 0 : 1), ef, cache: false })
          const got = hits
            .map((h) => h.id as number)
            .filter((id) => id !== q.skip)
            .slice(0, K)
          const truth = new Set(bruteForce(q.v, q.skip))
          sum += got.filter((id) => truth.has(id)).length / K
        }
        expect([ef, r.sweep.find((s) => s.ef === ef)!.recall]).toEqual([
          ef,
          expect.closeTo(sum / qs.length, 6),
        ])
      }
    } finally {
      await db.close()
    }
    expect(r.sweep.at(-1)!.recall).toBeGreaterThan(r.sweep[0]!.recall)
    expect(r.recall_at_k).toBe(r.default.recall)
    for (const s of [...r.sweep, r.default, r.exact]) expect(s.p99_ms).toBeGreaterThanOrEqual(s.p50_ms)
    expect(r.target_recall?.map((t) => t.target_recall)).toEqual([0.9, 0.95, 0.99])

    // concurrency, selectivity, writes, cold start
    expect(r.concurrency.map((x) => x.clients)).toEqual([1, 2])
    for (const x of r.concurrency) expect(x.queries).toBeGreaterThan(0)
    const sel = r.selectivity!
    expect(sel.field).toBe('n')
    expect(sel.buckets.length).toBeGreaterThanOrEqual(4)
    for (const b of sel.buckets) {
      expect(b.matching).toBe(Math.round(b.selectivity * N))
      // filters made from a sample of 2000 payloads: near what they aim at
      expect(b.selectivity).toBeGreaterThan(b.target * 0.5)
      expect(b.selectivity).toBeLessThan(b.target * 1.5 + 0.005)
      expect(b.sweep.every((s) => s.recall > 0 && s.recall <= 1)).toBe(true)
    }
    expect(r.write_load!.points_written).toBeGreaterThan(0)
    expect(r.write_load!.scratch_collection).toMatch(/^c_eval_scratch_[0-9a-f]{8}$/)
    expect(r.errors).toEqual([])
    expect(r.cold_start!.open_ms).toBeGreaterThan(0)
    expect(r.recommendation.latency_budget_ms).toBe(10)

    const md = await readFile(join(report, 'report.md'), 'utf8')
    expect(md).toContain('## Recommendation')
    expect(md).toContain('| ef 200 |')
    expect(md).toContain('## Filtered search: selectivity sweep over `n`')
    for (const svg of ['recall-qps.svg', 'latency-histogram.svg', 'concurrency.svg']) {
      const text = await readFile(join(report, svg), 'utf8')
      expect(text.startsWith('<svg')).toBe(true)
      expect(text).toContain('</svg>')
    }
    expect(await readFile(join(report, 'recall-qps.svg'), 'utf8')).toContain('recall@10')
  }, 120_000)

  it('on Ctrl-C during the write load drops the scratch collection and writes what it measured', async () => {
    const report = await tmp('quiver-eval-int-')
    const proc = spawnCli([
      'eval',
      '--collection',
      'c',
      '--data',
      data,
      '--sample',
      '20',
      '--ef',
      '16',
      '--concurrency',
      '1',
      '--duration',
      '0',
      '--write-seconds',
      '60',
      '--report',
      report,
    ])
    try {
      await proc.waitFor(/write load on c_eval_scratch_[0-9a-f]{8}/)
      // twice: the second must not cut the clean-up short
      proc.child.kill('SIGINT')
      proc.child.kill('SIGINT')
      expect(await proc.exited).toBe(1)
    } finally {
      await proc.kill()
    }
    expect(proc.output()).toMatch(/interrupted \(SIGINT\): the scratch collection was dropped/)
    const r = await readReport(report)
    expect(r.errors).toEqual([{ phase: 'write load', message: 'interrupted (SIGINT)' }])
    expect(r.write_load).toBeNull()
    expect(r.sweep).toHaveLength(1)
    await onlyTheUsersCollection()
  }, 60_000)

  it('refuses bad input with a clear error, creating nothing', async () => {
    const report = await tmp('quiver-eval-bad-')
    const bad = join(report, 'bad.jsonl')
    await writeFile(bad, '[1, 2, 3]\n{"vector": "x"}\n')
    const short = join(report, 'short.jsonl')
    await writeFile(short, '[1, 2, 3]\n')
    const cases: [string[], number, RegExp][] = [
      [['--collection', 'nope'], 1, /collection nope/],
      [['--collection', 'c', '--queries', bad], 1, /bad\.jsonl:2: "vector" must be a non-empty array/],
      [
        ['--collection', 'c', '--queries', short],
        1,
        /short\.jsonl:1: the query has 3 components; vector "" of c has 16 \[INVALID_VECTOR\]/,
      ],
      [['--collection', 'c', '--queries', short, '--sample', '5'], 2, /either --queries or --sample/],
      [['--collection', 'c', '--vector', 'img'], 1, /no dense vector "img"/],
      [['--collection', 'c', '--k', '0'], 2, /expected an integer >= 1/],
      [['--collection', 'c', '--url', 'http://127.0.0.1:1'], 2, /either --data or --url, not both/],
    ]
    for (const [args, code, message] of cases) {
      const out = join(report, 'out')
      const run = await runCli(['eval', '--data', data, ...args, '--report', out, '--quiet'])
      expect([args, run.code, run.stderr]).toEqual([args, code, expect.stringMatching(message)])
    }
    const url = await runCli(['eval', '--url', 'ftp://x', '--collection', 'c', '--quiet'])
    expect([url.code, url.stderr]).toEqual([2, expect.stringMatching(/--url must be http/)])
    await onlyTheUsersCollection()
  }, 60_000)
})

describe('quiver eval against a server (--url)', () => {
  let srv: TestServer
  beforeAll(async () => {
    srv = await startTestServer()
    const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection('docs', {
      vectors: { img: { size: DIM, distance: 'Euclid' }, txt: { size: 4, distance: 'Dot' } },
    })
    await client.upsert('docs', {
      wait: true,
      points: base.slice(0, 1500).map((v, id) => ({
        id,
        vector: { img: Array.from(v), txt: [1, 0, 0, 0] },
        payload: { cat: `c${id % 5}`, flag: id % 10 === 0 },
      })),
    })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('samples queries from the collection, sends no-cache searches, and drops its scratch collection', async () => {
    const report = await tmp('quiver-eval-url-')
    const sampled = [
      'eval',
      '--url',
      srv.url,
      '--collection',
      'docs',
      '--vector',
      'img',
      '--sample',
      '40',
      '--ef',
      '8,64',
    ]
    const run = await runCli([
      ...sampled,
      '--concurrency',
      '1,3',
      '--duration',
      '1',
      '--write-seconds',
      '1',
      '--filter-field',
      'cat',
      '--filter-queries',
      '10',
      '--report',
      report,
      '--quiet',
    ])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const r = await readReport(report)
    expect(r).toMatchObject({
      target: { server: 'quiver', label: `url ${srv.url}` },
      collection: { name: 'docs', points: 1500, vector: 'img', dimension: DIM },
      queries: { source: 'sample', count: 40, self_excluded: 40, seed: 1 },
    })
    expect(r.cold_start).toMatchObject({ open_ms: null })
    expect(r.cold_start!.first_query_ms).toBeGreaterThan(0)
    expect(r.errors).toEqual([])
    expect(r.sweep.at(-1)!.recall).toBeGreaterThan(0.9)
    // keyword values: match any of them, buckets from 20% (one value) up
    expect(r.selectivity!.buckets.map((b) => Math.round(b.selectivity * 100))).toContain(20)
    expect(r.write_load!.points_written).toBeGreaterThan(0)
    const collections = (await call(srv.url, 'GET', '/collections')).body as {
      result: { collections: { name: string }[] }
    }
    expect(collections.result.collections.map((c) => c.name)).toEqual(['docs'])
    const count = (await call(srv.url, 'POST', '/collections/docs/points/count', { exact: true })).body as {
      result: { count: number }
    }
    expect(count.result.count).toBe(1500)
    // every search said Cache-Control: no-cache: the cache neither answered nor stored one
    const metrics = (await call(srv.url, 'GET', '/metrics')).body as string
    expect(metrics).not.toMatch(/quiver_query_cache_hits_total\{collection="docs"\} [1-9]/)
    expect(metrics).not.toMatch(/quiver_query_cache_misses_total\{collection="docs"\} [1-9]/)

    // the same run on the same seed samples the same queries
    const again = await tmp('quiver-eval-url-again-')
    const second = await runCli([
      ...sampled,
      '--concurrency',
      '1',
      '--duration',
      '0',
      '--write-seconds',
      '0',
      '--report',
      again,
      '--quiet',
    ])
    expect(second.code).toBe(0)
    const r2 = await readReport(again)
    expect(r.queries.ids).toHaveLength(40)
    expect(new Set(r.queries.ids).size).toBe(40)
    expect(r2.queries.ids).toEqual(r.queries.ids)
    expect(r2.write_load).toBeNull()
    expect(r2.concurrency).toEqual([])
    expect(r2.selectivity).toBeNull()
  }, 120_000)

  it('asks for --vector when the collection has several named vectors', async () => {
    const run = await runCli(['eval', '--url', srv.url, '--collection', 'docs', '--quiet'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'collection docs has the named vectors "img", "txt": choose one with --vector NAME',
    )
  })
})

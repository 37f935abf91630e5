// The built `quiver` CLI (dist/cli/main.js) run as a real child process: import, search and bench
// on a small fixture dataset written here, plus exit codes for usage and engine errors.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BenchReport } from '../src/cli/bench.js'
import type { ScoredPoint } from '../src/types.js'
import { type Fixture, writeFixtureDataset } from './cli-fixtures.js'
import { CLI_MAIN, type CliRun, runCli } from './support/cli.js'

const MAIN = CLI_MAIN
const N = 400
const DIM = 8
const Q = 20

let root: string
let datasets: string
let data: string
let fx: Fixture

type Run = CliRun

function quiver(...args: string[]): Promise<Run> {
  return runCli(args, { QUIVER_DATASETS: datasets })
}

function errorLines(r: Run): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('error'))
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this suite`)
  root = mkdtempSync(join(tmpdir(), 'quiver-cli-'))
  datasets = join(root, 'datasets')
  data = join(root, 'data')
  mkdirSync(datasets)
  fx = writeFixtureDataset(datasets, { name: 'fx-l2', n: N, dim: DIM, q: Q, metric: 'l2', withMeta: true })
})

afterAll(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true })
})

describe('quiver CLI', () => {
  it('prints --version and --help with exit code 0', async () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as {
      version: string
    }
    const v = await quiver('--version')
    expect(v).toMatchObject({ code: 0 })
    expect(v.stdout.trim()).toBe(pkg.version)
    const h = await quiver('--help')
    expect(h.code).toBe(0)
    for (const cmd of ['serve', 'import', 'search', 'bench']) expect(h.stdout).toContain(cmd)
  })

  it('exits 2 on usage errors', async () => {
    const unknown = await quiver('frobnicate')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command/)
    const noVector = await quiver('search', '--collection', 'fx', '--data', data)
    expect(noVector.code).toBe(2)
    expect(noVector.stderr).toMatch(/--vector JSON, or --dataset NAME with --query I/)
    const badEf = await quiver('bench', 'fx-l2', '--ef', '10,x')
    expect(badEf.code).toBe(2)
    expect(badEf.stderr).toMatch(/--ef/)
    const badJson = await quiver('search', '--collection', 'fx', '--data', data, '--vector', '[1,')
    expect(badJson.code).toBe(2)
    expect(badJson.stderr).toMatch(/--vector is not valid JSON/)
  })

  it('imports a dataset with payloads, reporting progress and a summary', async () => {
    const r = await quiver(
      'import',
      'fx-l2',
      '--collection',
      'fx',
      '--data',
      data,
      '--batch',
      '64',
      '--m',
      '8',
    )
    expect(r.stderr).toBe(
      r.stderr
        .split('\n')
        .filter((l) => l === '' || l.startsWith('import fx:'))
        .join('\n'),
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Imported 400 points of fx-l2 into collection "fx" \(dim 8, Euclid, m 8/)
    expect(r.stdout).toMatch(/collection holds 400 points/)
    expect(r.stderr).toMatch(/import fx: 400\/400 \(100%\)/)
  })

  it('refuses to import into an existing collection with one error line and exit 1', async () => {
    const r = await quiver('import', 'fx-l2', '--collection', 'fx', '--data', data)
    expect(r.code).toBe(1)
    expect(errorLines(r)).toHaveLength(1)
    expect(r.stderr).toMatch(/already exists in .*: add --recreate to replace it.*\[COLLECTION_EXISTS\]/)
  })

  it('builds with the same HNSW defaults in import and bench (the collection defaults)', async () => {
    for (const cmd of ['import', 'bench']) {
      const help = (await quiver(cmd, '--help')).stdout.replace(/\s+/g, ' ')
      expect(help, cmd).toContain('--m <m> HNSW links per node (default: 16)')
      expect(help, cmd).toContain('--ef-construct <n> HNSW build candidate list size (default: 100)')
    }
    const r = await quiver('import', 'fx-l2', '--collection', 'fx-defaults', '--data', data, '--limit', '50')
    expect(r.stdout).toMatch(/m 16, ef_construct 100/)
  })

  it('refuses a missing data directory in read-only commands, creating nothing', async () => {
    const typo = join(root, 'typo')
    const runs = [
      ['search', '--data', typo, '--collection', 'fx', '--vector', '[1,2,3,4,5,6,7,8]'],
      ['snapshot', 'list', '--data', typo, '--full'],
      ['snapshot', 'create', '--data', typo, '--collection', 'fx'],
      ['snapshot', 'delete', '--data', typo, '--full', '--name', 'full-x.snapshot'],
      ['backup', '--data', typo, '--to', join(root, 'typo-backups'), '--keep', '1'],
    ]
    for (const args of runs) {
      const r = await quiver(...args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(errorLines(r), args.join(' ')).toEqual([
        expect.stringMatching(
          /^error: no Quiver data directory at .*typo: check --data, or create one with `quiver serve --data .*typo` .*\[DATA_DIR_NOT_FOUND\]$/,
        ),
      ])
    }
    expect(existsSync(typo)).toBe(false)
    expect(existsSync(join(root, 'typo-backups'))).toBe(false)
    // a directory that exists but was never a Quiver data directory is refused too, and left alone
    const plain = join(root, 'plain')
    mkdirSync(plain)
    const r = await quiver('snapshot', 'list', '--data', plain, '--full')
    expect(r.stderr).toMatch(/no Quiver data directory at .*plain \(it has no collections\/ directory\)/)
    expect(readdirSync(plain)).toEqual([])
  })

  it('imports a prefix with --limit and replaces a collection with --recreate', async () => {
    const first = await quiver('import', 'fx-l2', '--collection', 'fx2', '--data', data, '--limit', '100')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/Imported 100 points .* collection holds 100 points/s)
    const again = await quiver(
      'import',
      'fx-l2',
      '--collection',
      'fx2',
      '--data',
      data,
      '--limit',
      '50',
      '--recreate',
    )
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/collection holds 50 points/)
  })

  it('finds the exact neighbours of a dataset query, with payloads, as JSON', async () => {
    const r = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--dataset',
      'fx-l2',
      '--query',
      '3',
    )
    expect(r.code).toBe(0)
    const exact = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--dataset',
      'fx-l2',
      '--query',
      '3',
      '--limit',
      '5',
      '--exact',
      '--json',
    )
    expect(exact.code).toBe(0)
    const hits = JSON.parse(exact.stdout) as ScoredPoint[]
    expect(hits.map((h) => h.id)).toEqual(Array.from(fx.groundTruth.subarray(3 * fx.k, 3 * fx.k + 5)))
    const first = hits[0] as ScoredPoint
    expect(first.payload).toEqual({ group: Number(first.id) % 3, row: first.id })
    expect(r.stdout.split('\n')[0]).toMatch(/#\s+id\s+score\s+payload/)
    expect(r.stdout).toContain(`"row":${first.id}`)
  })

  it('searches by a literal vector, with ef and a filter', async () => {
    const row = Array.from(fx.base.subarray(7 * DIM, 8 * DIM))
    const r = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--vector',
      JSON.stringify(row),
      '--ef',
      '64',
      '--json',
    )
    expect(r.code).toBe(0)
    const hits = JSON.parse(r.stdout) as ScoredPoint[]
    expect(hits).toHaveLength(10)
    expect(hits[0]?.id).toBe(7)
    expect(hits[0]?.score).toBeCloseTo(0, 4)
    const filter = JSON.stringify({ must: [{ key: 'group', match: { value: 2 } }] })
    const f = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--vector',
      JSON.stringify(row),
      '--filter',
      filter,
      '--json',
    )
    expect(f.code).toBe(0)
    const filtered = JSON.parse(f.stdout) as ScoredPoint[]
    expect(filtered).toHaveLength(10)
    for (const h of filtered) expect(h.payload?.['group']).toBe(2)
  })

  it('reports engine errors as one line with their code and exit 1', async () => {
    const missing = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'nope',
      '--vector',
      '[1,2,3,4,5,6,7,8]',
    )
    expect(missing.code).toBe(1)
    expect(errorLines(missing)).toHaveLength(1)
    expect(missing.stderr).toMatch(/\[COLLECTION_NOT_FOUND\]/)
    const wrongDim = await quiver('search', '--data', data, '--collection', 'fx', '--vector', '[1,2,3]')
    expect(wrongDim.code).toBe(1)
    expect(wrongDim.stderr).toMatch(/\[INVALID_VECTOR\]/)
    const badFilter = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--vector',
      '[1,2,3,4,5,6,7,8]',
      '--filter',
      '{"must":[{"key":"group","bogus":1}]}',
    )
    expect(badFilter.code).toBe(1)
    expect(badFilter.stderr).toMatch(/\[INVALID_FILTER\]/)
    const noDataset = await quiver('import', 'no-such-set', '--data', data)
    expect(noDataset.code).toBe(1)
    expect(noDataset.stderr).toMatch(/dataset "no-such-set" not found .*available: fx-l2/)
  })

  it('benchmarks against the shipped ground truth and writes JSON and Markdown', async () => {
    const json = join(root, 'bench.json')
    const md = join(root, 'bench.md')
    const r = await quiver(
      'bench',
      'fx-l2',
      '--m',
      '8',
      '--ef-construct',
      '64',
      '--ef',
      '16,64',
      '--queries',
      '10',
      '--json',
      json,
      '--markdown',
      md,
    )
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport
    expect(report.groundTruth).toBe('dataset')
    expect(report.dataset).toMatchObject({ name: 'fx-l2', n: N, dim: DIM, queries: 10, metric: 'Euclid' })
    expect(report.results.map((e) => e.ef)).toEqual([16, 64])
    const at64 = report.results[1]
    expect(at64?.recall).toBeGreaterThanOrEqual(0.9)
    expect(at64?.qps).toBeGreaterThan(0)
    expect(at64?.p99Ms).toBeGreaterThanOrEqual(at64?.p50Ms ?? Number.POSITIVE_INFINITY)
    expect(report.build.vectorsPerSecond).toBeGreaterThan(0)
    expect(report.reopen.totalMs).toBeGreaterThan(0)
    expect(report.command).toBe(
      `quiver bench fx-l2 --m 8 --ef-construct 64 --ef 16,64 --queries 10 --json ${json} --markdown ${md}`,
    )
    expect(r.stdout).toMatch(/ef\s+recall@10\s+QPS\s+p50 ms\s+p99 ms/)
    expect(r.stdout).toMatch(/reopen\s+open .* \+ first query/)
    const markdown = readFileSync(md, 'utf8')
    expect(markdown).toContain('| ef | recall@10 | QPS | p50 ms | p99 ms |')
    expect(markdown).toMatch(/^\| 64 \| (0\.9|1\.0)/m)
    expect(markdown).toContain(`- command: \`${report.command}\``)
    expect(markdown).toContain(`${report.machine.cores} cores`)
  })

  it('computes exact ground truth when --limit subsamples the base, and says so', async () => {
    const json = join(root, 'bench-limit.json')
    const r = await quiver(
      'bench',
      'fx-l2',
      '--limit',
      '200',
      '--ef',
      '64',
      '--queries',
      '5',
      '--k',
      '5',
      '--quiet',
      '--json',
      json,
    )
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/exact search over the 200-point subsample/)
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport
    expect(report.groundTruth).toBe('exact')
    expect(report.dataset).toMatchObject({ n: 200, totalN: N })
    expect(report.results[0]?.recall).toBeGreaterThanOrEqual(0.9)
  })

  it('refuses a bad --threads before opening anything', async () => {
    for (const bad of ['-1', 'two', '300']) {
      const r = await quiver('serve', '--data', data, '--port', '0', '--threads', bad)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/threads/)
    }
  })

  it('serves the REST API until SIGINT, then exits 0 and releases the data directory', async () => {
    const child = spawn(
      process.execPath,
      [MAIN, 'serve', '--data', data, '--port', '0', '--log-level', 'warn', '--threads', '1'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const exited = once(child, 'exit')
    try {
      let stdout = ''
      const url = await new Promise<string>((done, fail) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString()
          const m = /listening on (http:\/\/\S+)/.exec(stdout)
          if (m?.[1] !== undefined) done(m[1])
        })
        child.once('exit', (code) => fail(new Error(`serve exited with ${code} before listening: ${stdout}`)))
      })
      const res = await fetch(`${url}/collections/fx`)
      expect(res.status).toBe(200)
      const locked = await quiver(
        'search',
        '--data',
        data,
        '--collection',
        'fx',
        '--vector',
        '[1,2,3,4,5,6,7,8]',
      )
      expect(locked.code).toBe(1)
      expect(locked.stderr).toMatch(/\[DIRECTORY_LOCKED\]/)
      child.kill('SIGINT')
      const [code] = await exited
      expect(code).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    const after = await quiver(
      'search',
      '--data',
      data,
      '--collection',
      'fx',
      '--vector',
      '[1,2,3,4,5,6,7,8]',
    )
    expect(after.code).toBe(0)
  })
})

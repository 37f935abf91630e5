// The real-data suites, run (in a child vitest) with QUIVER_DATASETS pointing at an empty directory,
// each say which dataset they skip, where they looked and how to point them at the datasets.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { DATASETS_HINT } from './support/datasets.js'

const ROOT = resolve(import.meta.dirname, '..')
const SUITES = {
  'test/recall-real.test.ts': ['sift-5k-euclidean', 'bge-m3-1024-tiny-cosine', 'sigmod24-clip-100-euclidean'],
  'test/server-parity-real.test.ts': ['sigmod24-clip-100-euclidean'],
  'test/eval-real.test.ts': ['sift-5k-euclidean'],
  'src/quantization/scalar.test.ts': ['glove-100-cosine'],
  'src/quantization/binary.test.ts': ['bge-m3-1024-tiny-cosine'],
}

const empty = mkdtempSync(join(tmpdir(), 'quiver-no-datasets-'))
afterAll(() => rmSync(empty, { recursive: true, force: true }))

describe('real-data suites without their datasets', () => {
  it('name the missing dataset, the directory searched and QUIVER_DATASETS', async () => {
    const env: Record<string, string | undefined> = { ...process.env, QUIVER_DATASETS: empty }
    for (const k of Object.keys(env)) if (k.startsWith('VITEST')) delete env[k]
    // `-t` matches no test: the files load (printing their skip lines) and run nothing
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        ...Object.keys(SUITES),
        '-t',
        'no test has this name',
      ],
      { cwd: ROOT, env, timeout: 120_000 },
    )
    for (const [file, names] of Object.entries(SUITES)) {
      for (const name of names) {
        const line = stdout.split('\n').find((l) => l.includes('skipping') && l.includes(name))
        expect(line, `${file} says it skips ${name}`).toBeDefined()
        expect(line).toContain(`not found in ${empty}; ${DATASETS_HINT}`)
      }
    }
    expect(DATASETS_HINT).toContain('QUIVER_DATASETS=/path/to/datasets')
  })
})

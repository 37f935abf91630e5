// Where the real-data suites find the benchmark datasets (`--datasets` rules of the CLI:
// $QUIVER_DATASETS, else ../shared/datasets), and the one line they print for the ones missing.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { resolveDatasetsDir } from '../../src/cli/datasets.js'

/** How to point the suites at the datasets, quoted in every skip message. */
export const DATASETS_HINT = 'set QUIVER_DATASETS=/path/to/datasets (default ../shared/datasets)'

export interface RealDatasets {
  /** The datasets directory, or undefined when none was found. */
  readonly dir: string | undefined
  /** Whether `name` (its `.json` descriptor and `.base.f32`) is there. */
  present(name: string): boolean
  /** `<dir>/<name>`, the prefix of the dataset's files (only for a present dataset). */
  path(name: string): string
}

/**
 * Looks up `names` for the suite `suite` and, when some are missing, prints one line naming them,
 * the place searched and how to point the suite at the datasets, e.g.
 * `recall-real: skipping sift-5k-euclidean: not found in /x/datasets; set QUIVER_DATASETS=...`.
 */
export function realDatasets(suite: string, names: readonly string[]): RealDatasets {
  let dir: string | undefined
  let why = ''
  try {
    dir = resolveDatasetsDir()
  } catch (err) {
    why = (err as Error).message
  }
  const present = (name: string): boolean =>
    dir !== undefined && existsSync(join(dir, `${name}.json`)) && existsSync(join(dir, `${name}.base.f32`))
  const missing = names.filter((n) => !present(n))
  if (missing.length > 0) {
    const where = dir === undefined ? why : `not found in ${dir}`
    console.log(`${suite}: skipping ${missing.join(', ')}: ${where}; ${DATASETS_HINT}`)
  }
  return {
    dir,
    present,
    path: (name) => {
      if (dir === undefined || !present(name)) throw new Error(`dataset ${name} is not present`)
      return join(dir, name)
    },
  }
}

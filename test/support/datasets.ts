// The real datasets of the recall, parity and quantizer suites: where one is, or why it is missing
// and how to get it, for the skip message (a skip must say what would make the suite run).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'vitest'
import { resolveDatasetsDir } from '../../src/cli/datasets.js'

/** The datasets directory holding the dataset, or why it is not there (with what to do). */
export type DatasetLookup = { dir: string; missing?: undefined } | { dir?: undefined; missing: string }

/**
 * Looks up dataset `name` (its file `<name>.<file>`) in the datasets directory that
 * `resolveDatasetsDir` finds: `$QUIVER_DATASETS`, else `../shared/datasets`.
 */
export function findDataset(name: string, file = 'json'): DatasetLookup {
  let dir: string
  try {
    dir = resolveDatasetsDir()
  } catch (err) {
    return { missing: `dataset ${name}: ${(err as Error).message}` }
  }
  if (existsSync(join(dir, `${name}.${file}`))) return { dir }
  return {
    missing: `dataset ${name} not found in ${dir}: set QUIVER_DATASETS=/path/to/datasets, a directory holding ${name}.json, ${name}.base.f32, ... (../shared/datasets/README.md)`,
  }
}

/** `title`, with `(skipped: <why and how to get the dataset>)` appended when it is missing. */
export function datasetTitle(title: string, lookup: DatasetLookup): string {
  return lookup.missing === undefined ? title : `${title} (skipped: ${lookup.missing})`
}

/**
 * `describe(title, ...)` over dataset `name`, skipped with the reason and how to get the dataset
 * when it is missing; `body` gets the common prefix of its files (`<dir>/<name>`).
 */
export function describeDataset(title: string, name: string, body: (prefix: string) => void): void {
  const lookup = findDataset(name)
  describe.skipIf(lookup.dir === undefined)(datasetTitle(title, lookup), () =>
    body(join(lookup.dir ?? '', name)),
  )
}

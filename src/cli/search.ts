// `quiver search`: one query against a collection of a data directory, printed as a table or JSON.
import { resolve } from 'node:path'
import { invalid } from '../errors.js'
import type { Filter, ScoredPoint, SearchOptions } from '../types.js'
import { parseJsonOption, UsageError } from './args.js'
import { loadQueries, readDescriptor, resolveDatasetsDir } from './datasets.js'
import { formatTable, truncate } from './format.js'
import { openOffline } from './snapshot.js'

export interface SearchCommandOptions {
  data: string
  collection: string
  /** JSON array of numbers. */
  vector?: string
  /** Dataset whose query row `query` is the search vector. */
  dataset?: string
  query?: number
  datasets?: string
  limit: number
  /** Filter JSON (Qdrant's filter language). */
  filter?: string
  ef?: number
  exact?: boolean
  json?: boolean
}

async function queryVector(opts: SearchCommandOptions): Promise<ArrayLike<number>> {
  if (opts.vector !== undefined) {
    if (opts.dataset !== undefined || opts.query !== undefined) {
      throw new UsageError('give either --vector or --dataset with --query, not both')
    }
    const v = parseJsonOption(opts.vector, '--vector')
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number')) {
      throw new UsageError('--vector must be a JSON array of numbers, e.g. [0.1, 0.2]')
    }
    return v as number[]
  }
  if (opts.dataset === undefined || opts.query === undefined) {
    throw new UsageError('give the query vector: --vector JSON, or --dataset NAME with --query I')
  }
  const desc = await readDescriptor(opts.dataset, resolveDatasetsDir(opts.datasets))
  if (opts.query >= desc.q) {
    throw invalid(
      `--query ${opts.query} is out of range: dataset ${desc.name} has ${desc.q} queries (0..${desc.q - 1})`,
    )
  }
  const queries = await loadQueries(desc)
  return queries.subarray(opts.query * desc.dim, (opts.query + 1) * desc.dim)
}

/** Formats hits as the table `quiver search` prints: rank, id, score, payload (compact JSON). */
export function formatHits(hits: readonly ScoredPoint[]): string {
  if (hits.length === 0) return '(no hits)'
  return formatTable(
    ['#', 'id', 'score', 'payload'],
    hits.map((h, i) => [
      String(i + 1),
      String(h.id),
      Number(h.score.toPrecision(6)).toString(),
      h.payload === undefined ? '' : truncate(JSON.stringify(h.payload), 80),
    ]),
    ['right', 'right', 'right', 'left'],
  )
}

/**
 * Runs one search and writes the hits to `out` (table, or a JSON array with `json`).
 * Throws UsageError for a missing / malformed vector or filter option, QuiverError for
 * what the engine rejects (DATA_DIR_NOT_FOUND, DIRECTORY_LOCKED, COLLECTION_NOT_FOUND, INVALID_VECTOR, INVALID_FILTER, ...).
 */
export async function runSearch(
  opts: SearchCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const vector = await queryVector(opts)
  const search: SearchOptions = { limit: opts.limit, withPayload: true }
  if (opts.filter !== undefined) {
    const filter = parseJsonOption(opts.filter, '--filter')
    if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
      throw new UsageError(
        '--filter must be a JSON object, e.g. {"must":[{"key":"lang","match":{"value":"en"}}]}',
      )
    }
    search.filter = filter as Filter
  }
  if (opts.ef !== undefined) search.ef = opts.ef
  if (opts.exact === true) search.exact = true
  const db = await openOffline(resolve(opts.data))
  try {
    const col = await db.getCollection(opts.collection)
    const hits = await col.search(vector, search)
    out.write(opts.json === true ? `${JSON.stringify(hits, null, 2)}\n` : `${formatHits(hits)}\n`)
  } finally {
    await db.close()
  }
}

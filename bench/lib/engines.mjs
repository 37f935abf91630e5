// @ts-check
// The engines of the benchmarks behind small shapes: Quiver (embedded, from dist/) with optional
// payload indexes, the peer hnswlib-node (with its filter callback), and loading of the other
// optional npm peers (usearch, @orama/orama) from bench/peers.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createProgress } from '../../dist/cli/progress.js'
import { Quiver } from '../../dist/index.js'

/**
 * @typedef {import('../../dist/index.js').Payload} Payload
 * @typedef {import('../../dist/index.js').Filter} Filter
 * @typedef {import('../../dist/index.js').Collection} Collection
 */

/**
 * @typedef {object} BuildInput
 * @property {Float32Array} base `n x dim` row-major; row i becomes point id i
 * @property {number} n
 * @property {number} dim
 * @property {'cosine' | 'l2'} metric
 * @property {number} m HNSW links per node
 * @property {number} efConstruct
 * @property {boolean} quiet hide progress
 */

/**
 * Outcome of creating Quiver's payload indexes: `created`, `disabled` (--no-payload-index), or
 * `unavailable` (this build of Quiver has no createPayloadIndex, or it failed: `error`).
 * @typedef {{ state: 'created' | 'disabled' | 'unavailable', error?: string }} IndexState
 */

/**
 * A Quiver collection built from `input` in `dataDir`: payload indexes first (`indexes`: field ->
 * schema type, unless `useIndexes` is false), then upserts in batches of `batch` (points without
 * payload when `payloads` is null).
 * Throws whatever the engine throws (except a failing createPayloadIndex, reported in `indexState`).
 * @param {string} dataDir a fresh directory
 * @param {BuildInput & { payloads: readonly Payload[] | null, indexes: Record<string, 'keyword' | 'integer' | 'float'>, useIndexes: boolean, batch: number, ivf?: { nlist: number } }} input
 */
export async function buildQuiver(dataDir, input) {
  // the query cache off: timed passes repeat queries, which would measure cache hits, not search
  const db = await Quiver.open(dataDir, { queryCacheBytes: 0 })
  try {
    /** @type {Collection} */
    const col = await db.createCollection('bench', {
      dimension: input.dim,
      metric: input.metric === 'cosine' ? 'cosine' : 'euclid',
      hnsw: { m: input.m, efConstruct: input.efConstruct },
      ...(input.ivf ? { index: { type: 'ivf', nlist: input.ivf.nlist } } : {}),
    })
    /** @type {IndexState} */
    let indexState = { state: 'disabled' }
    const t0 = performance.now()
    if (input.useIndexes) indexState = await createIndexes(col, input.indexes)
    const indexMs = performance.now() - t0
    const progress = input.quiet ? undefined : createProgress('quiver build', input.n, { unit: 'vec' })
    const started = performance.now()
    for (let start = 0; start < input.n; start += input.batch) {
      const end = Math.min(input.n, start + input.batch)
      const points = []
      for (let i = start; i < end; i++) {
        const vector = input.base.subarray(i * input.dim, (i + 1) * input.dim)
        points.push(
          input.payloads === null
            ? { id: i, vector }
            : { id: i, vector, payload: /** @type {Payload} */ (input.payloads[i]) },
        )
      }
      await col.upsert(points)
      progress?.update(end)
    }
    progress?.stop()
    const buildMs = performance.now() - started
    return { db, col, indexState, indexMs, buildMs }
  } catch (err) {
    await db.close()
    throw err
  }
}

/**
 * @param {Collection} col
 * @param {Record<string, 'keyword' | 'integer' | 'float'>} indexes
 * @returns {Promise<IndexState>}
 */
async function createIndexes(col, indexes) {
  /** @type {{ createPayloadIndex?: (field: string, schema: string) => Promise<unknown> }} */
  const maybe = /** @type {any} */ (col)
  if (typeof maybe.createPayloadIndex !== 'function') {
    return { state: 'unavailable', error: 'createPayloadIndex is not in this build of dist/' }
  }
  try {
    for (const [field, type] of Object.entries(indexes)) await maybe.createPayloadIndex.call(col, field, type)
    return { state: 'created' }
  } catch (err) {
    return { state: 'unavailable', error: err instanceof Error ? err.message : String(err) }
  }
}

/**
 * Searches `col`; returns the hit ids, best first.
 * @param {Collection} col
 * @param {ArrayLike<number>} vector
 * @param {number} k
 * @param {number} ef
 * @param {Filter | null} filter
 * @returns {Promise<number[]>}
 */
export async function quiverSearch(col, vector, k, ef, filter) {
  const hits = await col.search(vector, filter === null ? { limit: k, ef } : { limit: k, ef, filter })
  return hits.map((h) => /** @type {number} */ (h.id))
}

/**
 * hnswlib-node from bench/peers (installed by `npm run bench:setup`), or the reason it is missing.
 * @returns {{ lib: any, version: string } | { lib: null, reason: string }}
 */
export function loadHnswlib() {
  const requirePeer = createRequire(new URL('../peers/package.json', import.meta.url))
  try {
    const lib = requirePeer('hnswlib-node')
    const version = requirePeer('hnswlib-node/package.json').version
    return { lib, version: String(version) }
  } catch (err) {
    return { lib: null, reason: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) }
  }
}

/**
 * An optional npm peer from bench/peers (`usearch`, `@orama/orama`, ...) by its package name, loaded
 * with `import()` (so CommonJS and ESM packages both work), or the first line of why it is missing.
 * @param {string} name
 * @returns {Promise<{ lib: any, version: string } | { lib: null, reason: string }>}
 */
export async function loadPeer(name) {
  const requirePeer = createRequire(new URL('../peers/package.json', import.meta.url))
  try {
    const entry = requirePeer.resolve(name)
    const lib = await import(pathToFileURL(entry).href)
    return { lib, version: packageVersion(entry, name) }
  } catch (err) {
    return { lib: null, reason: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) }
  }
}

/**
 * The version in the package.json of package `name` above `entry` (some packages do not export
 * their package.json); `unknown` when none is found.
 * @param {string} entry a file inside the package
 * @param {string} name
 */
function packageVersion(entry, name) {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (pkg.name === name) return String(pkg.version)
    } catch {}
  }
  return 'unknown'
}

/**
 * An hnswlib HierarchicalNSW index over `input.base` (labels = row indices), built single-threaded
 * with random seed 100 (hnswlib's default). Space `cosine` normalises inside hnswlib.
 * @param {any} lib the hnswlib-node module
 * @param {BuildInput} input
 * @returns {{ index: any, buildMs: number }}
 */
export function buildHnswlib(lib, input) {
  const index = new lib.HierarchicalNSW(input.metric, input.dim)
  index.initIndex(input.n, input.m, input.efConstruct, 100)
  const progress = input.quiet ? undefined : createProgress('hnswlib build', input.n, { unit: 'vec' })
  const started = performance.now()
  for (let i = 0; i < input.n; i++) {
    index.addPoint(Array.from(input.base.subarray(i * input.dim, (i + 1) * input.dim)), i)
    if (i % 1000 === 999) progress?.update(i + 1)
  }
  progress?.update(input.n)
  progress?.stop()
  return { index, buildMs: performance.now() - started }
}

/**
 * Searches an hnswlib index (ef set beforehand with `index.setEf`); `allowed` is the filter callback
 * (null: unfiltered). Returns the hit labels, best first.
 * @param {any} index
 * @param {number[]} vector
 * @param {number} k
 * @param {((label: number) => boolean | number) | null} allowed
 * @returns {number[]}
 */
export function hnswlibSearch(index, vector, k, allowed) {
  const res = allowed === null ? index.searchKnn(vector, k) : index.searchKnn(vector, k, allowed)
  return res.neighbors
}

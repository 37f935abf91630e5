// @ts-check
// Clustered synthetic float32 data from fixed seeds, cached as raw row files, and its exact ground
// truth by brute force on worker threads (bench/scale.mjs, bench/on-disk.mjs --synthetic).
//
// Row files are raw little-endian float32 rows, `dim` floats each, no header. The generator is
// sequential, so a file of N rows starts with the file of any M < N rows: a cached file serves every
// request up to its size. Every file is written to a temporary name and renamed into place, so an
// interrupted run leaves no truncated file under a cache name.
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { log } from './options.mjs'
import { seededRng } from './workload.mjs'

/** @typedef {'l2' | 'cosine'} TruthMetric */

// ---------------------------------------------------------------------------------------------
// exact ground truth, on worker threads (this same file, run as a worker)

if (!isMainThread && workerData?.kind === 'synthetic-truth') {
  const { basePath, queries, dim, n, k, from, to, metric } = workerData
  const cosine = metric === 'cosine'
  const fd = openSync(basePath, 'r')
  const rows = 16_384
  const buf = new Float32Array(rows * dim)
  const bestD = new Float64Array((to - from) * k).fill(Number.POSITIVE_INFINITY)
  const bestI = new Int32Array((to - from) * k).fill(-1)
  // cosine: 1 - dot(q, b) / (|q| |b|), as bench/lib/truth.mjs's bruteForce (a zero vector scores 1)
  const invQ = new Float64Array(to - from)
  const invB = new Float64Array(rows)
  if (cosine) {
    for (let q = from; q < to; q++) {
      let s = 0
      for (let j = 0, a = q * dim; j < dim; j++) s += queries[a + j] * queries[a + j]
      invQ[q - from] = s > 0 ? 1 / Math.sqrt(s) : 0
    }
  }
  for (let start = 0; start < n; start += rows) {
    const m = Math.min(rows, n - start)
    readRows(fd, dim, start, m, buf)
    if (cosine) {
      for (let r = 0; r < m; r++) {
        let s = 0
        for (let j = 0, b = r * dim; j < dim; j++) s += buf[b + j] * buf[b + j]
        invB[r] = s > 0 ? 1 / Math.sqrt(s) : 0
      }
    }
    for (let q = from; q < to; q++) {
      const o = (q - from) * k
      const iq = invQ[q - from]
      let worst = bestD[o + k - 1]
      for (let r = 0; r < m; r++) {
        let s = 0
        if (cosine) {
          for (let j = 0, b = r * dim, a = q * dim; j < dim; j++) s += queries[a + j] * buf[b + j]
          s = 1 - s * iq * invB[r]
        } else {
          for (let j = 0, b = r * dim, a = q * dim; j < dim; j++) {
            const d = queries[a + j] - buf[b + j]
            s += d * d
          }
        }
        if (s >= worst) continue
        // insertion into the sorted top-k of this query (exact ties: the smaller row index first)
        let p = k - 1
        while (p > 0 && bestD[o + p - 1] > s) {
          bestD[o + p] = bestD[o + p - 1]
          bestI[o + p] = bestI[o + p - 1]
          p--
        }
        bestD[o + p] = s
        bestI[o + p] = start + r
        worst = bestD[o + k - 1]
      }
    }
  }
  closeSync(fd)
  parentPort?.postMessage(bestI)
}

/**
 * The `k` nearest base rows of each query (float64 sums), nearest first, split over the cores.
 * Independent of the engines measured. `l2`: squared L2; `cosine`: 1 - cos (the ranking of squared
 * L2 between normalised rows).
 * @param {string} basePath raw float32 rows
 * @param {Float32Array} queries nq x dim
 * @param {number} dim
 * @param {number} n base rows used (a prefix of the file)
 * @param {number} k
 * @param {TruthMetric} [metric]
 * @returns {Promise<Int32Array>} nq x k
 */
export async function exactTruth(basePath, queries, dim, n, k, metric = 'l2') {
  if (metric !== 'l2' && metric !== 'cosine') throw new Error(`exactTruth: unknown metric ${metric}`)
  const nq = queries.length / dim
  const parts = Math.max(1, Math.min(availableParallelism(), nq))
  const per = Math.ceil(nq / parts)
  const out = new Int32Array(nq * k)
  await Promise.all(
    Array.from({ length: parts }, (_, i) => {
      const from = Math.min(nq, i * per)
      const to = Math.min(nq, from + per)
      if (from >= to) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const w = new Worker(fileURLToPath(import.meta.url), {
          workerData: { kind: 'synthetic-truth', basePath, queries, dim, n, k, from, to, metric },
        })
        w.once('message', (/** @type {Int32Array} */ ids) => {
          out.set(ids, from * k)
          resolve(undefined)
        })
        w.once('error', reject)
      })
    }),
  )
  return out
}

/**
 * The cache file of the exact truth of the first `nq` queries against the first `n` base rows of a
 * dataset `tag` (squared L2 keeps bench/scale.mjs's name; cosine adds `.cosine`).
 * @param {string} dir @param {string} tag @param {number} n @param {number} nq @param {number} k
 * @param {TruthMetric} [metric]
 */
export function truthPath(dir, tag, n, nq, k, metric = 'l2') {
  return join(dir, `${tag}.n${n}.q${nq}.k${k}${metric === 'l2' ? '' : `.${metric}`}.gt.i32`)
}

/**
 * The exact truth's cache file (nq x k int32), computed and written (atomically) when missing.
 * @param {{ dir: string, tag: string, basePath: string, queries: Float32Array, dim: number, n: number, k: number, metric?: TruthMetric, label?: string }} o
 * @returns {Promise<string>} its path
 */
export async function ensureTruth(o) {
  const metric = o.metric ?? 'l2'
  const label = o.label ?? 'synthetic'
  const nq = o.queries.length / o.dim
  const path = truthPath(o.dir, o.tag, o.n, nq, o.k, metric)
  if (existsSync(path)) return path
  log(
    `${label}: exact ground truth for n = ${o.n.toLocaleString('en-US')} (${nq} queries, ${metric}; cached in ${path})`,
  )
  const t0 = performance.now()
  const gt = await exactTruth(o.basePath, o.queries, o.dim, o.n, o.k, metric)
  writeAtomic(path, (fd) => writeSyncAll(fd, new Uint8Array(gt.buffer)))
  log(`${label}: ground truth in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  return path
}

// ---------------------------------------------------------------------------------------------
// the synthetic dataset: clustered rows of a low intrinsic dimension, from a seed

/** Latent dimension of the synthetic rows (real embeddings have an intrinsic dimension far below their size). */
export const LATENT = 32

/** Seeds of the generator: the cluster model (centres, spreads, the linear map), the base rows, the queries. */
export const SEEDS = /** @type {const} */ ({ model: 15, base: 1, queries: 2 })

/** Standard deviation of the isotropic noise added in the full dimension. */
export const NOISE = 0.05

/**
 * One line naming the generator and its parameters, for reports.
 * @param {number} dim @param {number} clusters
 */
export function describeGenerator(dim, clusters) {
  return (
    `bench/lib/synthetic.mjs clustered generator: ${clusters} Gaussian clusters (centres N(0, 1.5²), ` +
    `spreads uniform in [0.5, 2)) in a ${LATENT}-d latent space, one fixed random linear map to ${dim}-d, ` +
    `isotropic noise N(0, ${NOISE}²); seeds ${SEEDS.model} (model), ${SEEDS.base} (base), ${SEEDS.queries} (queries; drawn like the base, not members of it)`
  )
}

/**
 * Writes `n` base rows and `nq` query rows (queries drawn like the base, not members of it) of
 * `dim` floats to `dir`, unless the files already hold them; returns their paths. A row is a point
 * of a Gaussian cluster in a LATENT-dimensional space (clusters of unequal spread), mapped to `dim`
 * dimensions by one fixed random linear map, plus a little isotropic noise. The cache tag names the
 * generator's parameters (dim, clusters, LATENT; the seeds are fixed); a file holding at least the
 * rows asked for is kept (its prefix is the smaller dataset).
 * @param {string} dir
 * @param {number} n
 * @param {number} nq
 * @param {number} dim
 * @param {number} clusters
 */
export function ensureData(dir, n, nq, dim, clusters) {
  const tag = `clustered-${dim}d-${clusters}c-l${LATENT}`
  const basePath = join(dir, `${tag}.base.f32`)
  const queryPath = join(dir, `${tag}.query.f32`)
  const rng = seededRng(SEEDS.model)
  const gauss = (/** @type {() => number} */ r) => {
    // Box-Muller
    const u = Math.max(r(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
  }
  const centres = new Float64Array(clusters * LATENT)
  for (let i = 0; i < centres.length; i++) centres[i] = gauss(rng) * 1.5
  const spread = Float64Array.from({ length: clusters }, () => 0.5 + rng() * 1.5)
  const map = new Float64Array(LATENT * dim)
  for (let i = 0; i < map.length; i++) map[i] = gauss(rng) / Math.sqrt(LATENT)
  /** @param {string} path @param {number} rows @param {number} seed */
  const write = (path, rows, seed) => {
    if (fileBytes(path) >= rows * dim * 4) return
    log(`synthetic: writing ${rows.toLocaleString('en-US')} x ${dim} rows to ${path}`)
    const local = seededRng(seed)
    const batch = new Float32Array(10_000 * dim)
    const z = new Float64Array(LATENT)
    writeAtomic(path, (fd) => {
      for (let start = 0; start < rows; start += 10_000) {
        const m = Math.min(10_000, rows - start)
        for (let r = 0; r < m; r++) {
          const c = Math.floor(local() * clusters)
          for (let j = 0; j < LATENT; j++) z[j] = centres[c * LATENT + j] + gauss(local) * spread[c]
          for (let d = 0; d < dim; d++) {
            let v = gauss(local) * NOISE
            for (let j = 0; j < LATENT; j++) v += z[j] * map[j * dim + d]
            batch[r * dim + d] = v
          }
        }
        writeSyncAll(fd, new Uint8Array(batch.buffer, 0, m * dim * 4))
      }
    })
  }
  write(basePath, n, SEEDS.base)
  write(queryPath, nq, SEEDS.queries)
  return { basePath, queryPath, tag }
}

// ---------------------------------------------------------------------------------------------
// row files

/** @param {string} path size in bytes, 0 when missing */
function fileBytes(path) {
  return existsSync(path) ? statSync(path).size : 0
}

/**
 * Writes a file under a temporary name beside `path` and renames it into place (removed again when
 * `fill` throws).
 * @param {string} path
 * @param {(fd: number) => void} fill
 */
export function writeAtomic(path, fill) {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w')
  try {
    fill(fd)
    closeSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw err
  }
  renameSync(tmp, path)
}

/**
 * The first `bytes` bytes of a file in a buffer of their own (a small file's Buffer is a view into
 * Node's shared pool: never read its `.buffer` whole). Throws when the file is shorter.
 * @param {string} path @param {number} bytes
 */
export function bytesOf(path, bytes) {
  const b = readFileSync(path)
  if (b.byteLength < bytes) throw new Error(`${path} holds ${b.byteLength} bytes, expected ${bytes}`)
  return Uint8Array.prototype.slice.call(b, 0, bytes)
}

/** @param {string} path @param {number} floats the first `floats` float32 values of a row file */
export function readFloats(path, floats) {
  return new Float32Array(bytesOf(path, floats * 4).buffer)
}

/** @param {number} fd @param {Uint8Array} bytes */
export function writeSyncAll(fd, bytes) {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes.subarray(off))
}

/**
 * Rows `start .. start+m-1` of a float32 row file.
 * @param {number} fd
 * @param {number} dim
 * @param {number} start
 * @param {number} m
 * @param {Float32Array} into at least m x dim
 */
export function readRows(fd, dim, start, m, into) {
  const bytes = m * dim * 4
  let got = 0
  while (got < bytes) {
    const r = readSync(
      fd,
      new Uint8Array(into.buffer, into.byteOffset + got, bytes - got),
      0,
      bytes - got,
      start * dim * 4 + got,
    )
    if (r === 0) throw new Error(`row file ends before row ${start + m}`)
    got += r
  }
  return into.subarray(0, m * dim)
}

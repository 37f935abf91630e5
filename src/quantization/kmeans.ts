// k-means for IVF coarse quantizers and product-quantizer codebooks: k-means++ seeding, Lloyd
// iterations (Hamerly's bounds skip rows whose centroid cannot change) with empty-cluster repair, on
// rows that already sit in a core's memory; the O(n·k·w) work runs in the core's SIMD kernels
// (assembly/ivf.ts: kmAssignBounded, kmGaps, kmMinDist, kmAccumulate).
import { type CoreExports, instantiateCore } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'

/** The k-means kernels of assembly/ivf.ts (pointers are byte offsets into `memory`). */
export interface KMeansCoreExports extends CoreExports {
  kmAlloc(bytes: number): number
  kmFree(ptr: number): void
  kmAssignBounded(
    base: number,
    stride: number,
    ids: number,
    n: number,
    off: number,
    w: number,
    ct: number,
    rows: number,
    k: number,
    assign: number,
    dist: number,
    lower: number,
    gaps: number,
    maxMove: number,
    full: number,
  ): number
  kmGaps(rows: number, ct: number, k: number, w: number, gaps: number, tmp: number): void
  kmMinDist(
    base: number,
    stride: number,
    ids: number,
    n: number,
    off: number,
    w: number,
    center: number,
    minDist: number,
  ): number
  kmPick(minDist: number, n: number, target: number): number
  kmAccumulate(
    base: number,
    stride: number,
    ids: number,
    n: number,
    off: number,
    w: number,
    assign: number,
    sums: number,
    counts: number,
  ): void
}

export interface KMeansOptions {
  /** Number of centroids (>= 1, <= number of rows). */
  readonly k: number
  /** Most Lloyd iterations. Default 20. */
  readonly iterations?: number
  /** Seed of the sampling and k-means++ draws (same seed and data: same centroids). Default 1. */
  readonly seed?: number
  /** Train on a random sample of at most this many rows per centroid (FAISS's rule). Default 256. */
  readonly maxPointsPerCentroid?: number
  /** Stop when at most this fraction of the sample changes cluster in an iteration. Default 0.001. */
  readonly tolerance?: number
}

export interface KMeansResult {
  /** k x width centroids, row-major. */
  readonly centroids: Float32Array
  /** Inertia (sum of squared L2 distances of the sample to their centroids) after each assignment step. */
  readonly inertia: number[]
  /** Rows the centroids were trained on. */
  readonly sampleSize: number
  /** The k-means++ seeds: rows (indexes into the row set) chosen as initial centroids. */
  readonly seeds: number[]
}

/**
 * Rows of a float matrix inside a core's memory: row i (i < count) starts at float
 * `base/4 + i * stride + offset` of `core.memory`, or with `base` 0 the core's stored vectors (row i at
 * `vectorPtr(i)/4 + offset`: chunked, `stride` unused), restricted to `ids` when given, and `width`
 * floats wide. For IVF: the stored vectors; for PQ: one sub-space of them.
 */
export interface CoreRows {
  readonly core: CoreExports
  /** Byte offset of row 0. */
  readonly base: number
  /** Floats between consecutive rows. */
  readonly stride: number
  /** Rows to use (indexes < total rows); all rows 0..count-1 when absent. */
  readonly ids?: Uint32Array
  readonly count: number
  /** First coordinate of the sub-vector, in floats. */
  readonly offset: number
  readonly width: number
}

/** Deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `size` distinct integers drawn from 0..n-1 (partial Fisher-Yates), sorted ascending. */
export function sampleIndexes(n: number, size: number, random: () => number): Uint32Array {
  if (size >= n) return Uint32Array.from({ length: n }, (_, i) => i)
  const pool = Uint32Array.from({ length: n }, (_, i) => i)
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (n - i))
    const t = pool[i]!
    pool[i] = pool[j]!
    pool[j] = t
  }
  return pool.slice(0, size).sort()
}

const F32_MAX = 3.4028234663852886e38

/**
 * Writes k x w row-major centroids into the transposed 16-centroid block layout of assembly/ivf.ts
 * (float (b * w + t) * 16 + lane for centroid 16b + lane) at byte offset `ptr`; lanes past k get
 * f32 max so they are never nearest.
 */
export function writeCentroidBlocks(
  memory: WebAssembly.Memory,
  ptr: number,
  centroids: Float32Array,
  k: number,
  w: number,
): void {
  const blocks = (k + 15) >>> 4
  const out = new Float32Array(memory.buffer, ptr, blocks * w * 16)
  for (let c = 0; c < blocks * 16; c++) {
    const b = c >>> 4
    const lane = c & 15
    for (let t = 0; t < w; t++) out[(b * w + t) * 16 + lane] = c < k ? centroids[c * w + t]! : F32_MAX
  }
}

/** Reads k x w row-major centroids back from the block layout at byte offset `ptr`. */
export function readCentroidBlocks(
  memory: WebAssembly.Memory,
  ptr: number,
  k: number,
  w: number,
): Float32Array {
  const blocks = (k + 15) >>> 4
  const src = new Float32Array(memory.buffer, ptr, blocks * w * 16)
  const out = new Float32Array(k * w)
  for (let c = 0; c < k; c++) {
    for (let t = 0; t < w; t++) out[c * w + t] = src[((c >>> 4) * w + t) * 16 + (c & 15)]!
  }
  return out
}

/**
 * k-means on rows in a core's memory (Lloyd 1982; seeding: k-means++, Arthur & Vassilvitskii,
 * "k-means++: The Advantages of Careful Seeding", SODA 2007). Trains on a seeded random sample of at
 * most `maxPointsPerCentroid · k` rows; an empty cluster is repaired by moving its centroid onto the
 * member of the largest cluster farthest from that cluster's centroid (a split of the largest).
 * Deterministic for the same rows, options and seed. Allocates scratch inside the core (freed on
 * return), so memory views of the core must be re-created afterwards.
 * Throws INVALID_ARGUMENT when k < 1 or k exceeds the number of rows.
 */
export function kmeansRows(rows: CoreRows, options: KMeansOptions): KMeansResult {
  const core = rows.core as KMeansCoreExports
  const { k } = options
  const w = rows.width
  const total = rows.ids ? rows.ids.length : rows.count
  if (!Number.isInteger(k) || k < 1 || k > total) {
    throw new QuiverError('INVALID_ARGUMENT', `k-means needs 1 <= k <= rows (${total}), got k = ${k}`)
  }
  const random = seededRandom(options.seed ?? 1)
  const cap = Math.max(k, Math.floor((options.maxPointsPerCentroid ?? 256) * k))
  const pick = sampleIndexes(total, Math.min(total, cap), random)
  const sample = rows.ids ? pick.map((i) => rows.ids![i]!) : pick
  const n = sample.length
  const blocks = (k + 15) >>> 4

  const idsPtr = core.kmAlloc(n * 4)
  const assignPtr = core.kmAlloc(n * 4)
  const distPtr = core.kmAlloc(n * 4)
  const ctPtr = core.kmAlloc(blocks * w * 64)
  const sumsPtr = core.kmAlloc(k * w * 8)
  const countsPtr = core.kmAlloc(k * 4)
  const lowerPtr = core.kmAlloc(n * 4)
  const gapsPtr = core.kmAlloc(k * 4)
  const rowsPtr = core.kmAlloc(k * w * 4)
  const tmpPtr = core.kmAlloc(blocks * 64)
  try {
    new Uint32Array(core.memory.buffer, idsPtr, n).set(sample)
    const rowPtr = (i: number) =>
      rows.base === 0
        ? core.vectorPtr(sample[i]!) + rows.offset * 4
        : rows.base + (sample[i]! * rows.stride + rows.offset) * 4
    const centroids = new Float32Array(k * w)
    const copyRow = (i: number, c: number) =>
      centroids.set(new Float32Array(core.memory.buffer, rowPtr(i), w), c * w)

    // k-means++ seeding: each next seed drawn with probability proportional to D(x)^2.
    const seeds: number[] = []
    new Float32Array(core.memory.buffer, distPtr, n).fill(Number.POSITIVE_INFINITY)
    let first = Math.floor(random() * n)
    for (let c = 0; c < k; c++) {
      let chosen = first
      if (c > 0) {
        const sum = core.kmMinDist(rows.base, rows.stride, idsPtr, n, rows.offset, w, rowPtr(first), distPtr)
        chosen = sum > 0 ? core.kmPick(distPtr, n, random() * sum) : Math.floor(random() * n)
      }
      seeds.push(chosen)
      copyRow(chosen, c)
      first = chosen
    }

    const inertia: number[] = []
    const iterations = options.iterations ?? 20
    const tolerance = options.tolerance ?? 0.001
    let prev = new Int32Array(n).fill(-1)
    let before = centroids.slice()
    for (let it = 0; it < iterations; it++) {
      writeCentroidBlocks(core.memory, ctPtr, centroids, k, w)
      new Float32Array(core.memory.buffer, rowsPtr, k * w).set(centroids)
      let maxMove = 0
      for (let c = 0; c < k; c++) {
        let m = 0
        for (let t = 0; t < w; t++) m += (centroids[c * w + t]! - before[c * w + t]!) ** 2
        maxMove = Math.max(maxMove, Math.sqrt(m))
      }
      before = centroids.slice()
      if (it > 0) core.kmGaps(rowsPtr, ctPtr, k, w, gapsPtr, tmpPtr)
      inertia.push(
        core.kmAssignBounded(
          rows.base,
          rows.stride,
          idsPtr,
          n,
          rows.offset,
          w,
          ctPtr,
          rowsPtr,
          k,
          assignPtr,
          distPtr,
          lowerPtr,
          gapsPtr,
          // f32 rounding must not make the bound optimistic
          maxMove * (1 + 1e-5) + 1e-30,
          it === 0 ? 1 : 0,
        ),
      )
      const assign = new Int32Array(core.memory.buffer, assignPtr, n)
      let changed = 0
      for (let i = 0; i < n; i++) if (assign[i] !== prev[i]) changed++
      prev = assign.slice()
      new Uint8Array(core.memory.buffer, sumsPtr, k * w * 8).fill(0)
      new Uint8Array(core.memory.buffer, countsPtr, k * 4).fill(0)
      core.kmAccumulate(rows.base, rows.stride, idsPtr, n, rows.offset, w, assignPtr, sumsPtr, countsPtr)
      const sums = new Float64Array(core.memory.buffer, sumsPtr, k * w)
      const counts = new Uint32Array(core.memory.buffer, countsPtr, k).slice()
      for (let c = 0; c < k; c++) {
        const cnt = counts[c]!
        if (cnt === 0) continue
        for (let t = 0; t < w; t++) centroids[c * w + t] = sums[c * w + t]! / cnt
      }
      repairEmpty(counts, prev, new Float32Array(core.memory.buffer, distPtr, n).slice(), (i, c) =>
        copyRow(i, c),
      )
      if (it > 0 && changed <= tolerance * n) break
    }
    return { centroids, inertia, sampleSize: n, seeds }
  } finally {
    for (const p of [
      tmpPtr,
      rowsPtr,
      gapsPtr,
      lowerPtr,
      countsPtr,
      sumsPtr,
      ctPtr,
      distPtr,
      assignPtr,
      idsPtr,
    ]) {
      core.kmFree(p)
    }
  }
}

/** Moves each empty cluster onto the farthest member of the currently largest cluster, one member each. */
function repairEmpty(
  counts: Uint32Array,
  assign: Int32Array,
  dist: Float32Array,
  moveTo: (row: number, cluster: number) => void,
): void {
  for (let c = 0; c < counts.length; c++) {
    if (counts[c]! > 0) continue
    let largest = 0
    for (let j = 1; j < counts.length; j++) if (counts[j]! > counts[largest]!) largest = j
    if (counts[largest]! < 2) return
    let far = -1
    for (let i = 0; i < assign.length; i++) {
      if (assign[i] === largest && (far < 0 || dist[i]! > dist[far]!)) far = i
    }
    moveTo(far, c)
    assign[far] = c
    dist[far] = 0
    counts[largest]!--
    counts[c] = 1
  }
}

/**
 * k-means over `data` (n x dimension floats, row-major) in a scratch core; see kmeansRows.
 * Throws INVALID_ARGUMENT on a data length that is not a multiple of `dimension` or a bad k.
 * @example
 * const { centroids } = kmeans(points, 8, { k: 16, seed: 7 }) // 16 x 8 floats
 */
export function kmeans(data: Float32Array, dimension: number, options: KMeansOptions): KMeansResult {
  if (!Number.isInteger(dimension) || dimension < 1 || data.length % dimension !== 0) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `k-means data length ${data.length} is not a multiple of dimension ${dimension}`,
    )
  }
  const n = data.length / dimension
  const core = instantiateCore()
  core.init(dimension, 1, 0, 0, 1, 1)
  core.reserve(Math.max(n, 1))
  const stride = core.getPaddedDim()
  const mem = new Float32Array(core.memory.buffer)
  for (let i = 0; i < n; i++)
    mem.set(data.subarray(i * dimension, (i + 1) * dimension), core.vectorPtr(i) >>> 2)
  return kmeansRows({ core, base: 0, stride, count: n, offset: 0, width: dimension }, options)
}

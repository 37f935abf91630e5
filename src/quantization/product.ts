// Product quantization (Jégou, Douze & Schmid, "Product quantization for nearest neighbor search",
// TPAMI 2011): codebook training (k-means per sub-space), codes and ADC search in the core
// (assembly/product.ts), and the persisted form of codebooks + codes.
import type { CoreExports, IndexMetric } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import {
  type KMeansCoreExports,
  kmeansRows,
  sampleIndexes,
  seededRandom,
  writeCentroidBlocks,
} from './kmeans.js'
import type { QuantizationConfig, Quantizer } from './quantizer.js'

/** The product-quantizer exports of assembly/product.ts. */
export interface ProductCoreExports extends KMeansCoreExports {
  pqConfigure(m: number): number
  pqCodesPtr(): number
  pqCodebookPtr(): number
  pqStartsPtr(): number
}

const QUANT_PRODUCT = 3
const KSUB = 256
const COMPRESSION = { x4: 4, x8: 8, x16: 16, x32: 32, x64: 64 } as const
const MAGIC = 0x51505651 // 'QVPQ'
const FORMAT_VERSION = 1
const HEADER_WORDS = 8
/** Rows sampled for codebook training (256 centroids x 64 rows each; FAISS uses up to 256 each, slower). */
const TRAINING_SAMPLE = KSUB * 64
const TRAINING_ITERATIONS = 10
const TRAINING_SEED = 0x5eed

function corrupt(what: string): QuiverError {
  return new QuiverError('CORRUPTED', `product quantization data: ${what}`)
}

/** Sub-space starts (m + 1 entries) splitting `dimension` coordinates evenly, as assembly/product.ts does. */
function subspaceStarts(dimension: number, m: number): Uint32Array {
  const starts = new Uint32Array(m + 1)
  const base = Math.floor(dimension / m)
  const extra = dimension % m
  for (let j = 0; j < m; j++) starts[j + 1] = starts[j]! + base + (j < extra ? 1 : 0)
  return starts
}

/**
 * Product quantizer: `m` = ceil(dimension · 4 / compression) sub-spaces (at most `dimension`), split
 * evenly (widths differ by at most one), each with 256 centroids trained by k-means, so a code is `m`
 * bytes. Codes are encoded by nearest centroid (squared L2) per sub-space; search distances are
 * ADC sums of per-sub-space partial distances (-dot for dot/cosine, squared L2, L1), equal to the
 * metric's distance from the query to the reconstructed vector. Training needs at least
 * `minTrainingVectors` = 2048 stored vectors (8 per centroid) and samples at most 16384.
 * @example
 * const pq = new ProductQuantizer({ product: { compression: 'x16' } }, 128, 'l2') // 32-byte codes
 * pq.train(index.coreExports, index.size)
 */
export class ProductQuantizer implements Quantizer {
  readonly config: QuantizationConfig
  readonly bytesPerVector: number
  readonly minTrainingVectors = 2048
  /** Sub-spaces (= code bytes). */
  readonly m: number
  private readonly dimension: number
  private readonly starts: Uint32Array
  /** Row-major codebooks: sub-space j's 256 x w_j centroids at float 256 · starts[j]; empty until trained. */
  private book: Float32Array = new Float32Array(0)
  private isTrained = false

  /** Throws INVALID_ARGUMENT when `config` is not a product config with a known compression. */
  constructor(config: QuantizationConfig, dimension: number, _metric: IndexMetric) {
    if (!('product' in config)) {
      throw new QuiverError('INVALID_ARGUMENT', 'quantization_config: expected a product config')
    }
    const factor = COMPRESSION[config.product.compression]
    if (factor === undefined) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `quantization_config.product.compression: expected x4, x8, x16, x32 or x64, got ${String(config.product.compression)}`,
      )
    }
    this.config = config
    this.dimension = dimension
    this.m = Math.min(dimension, Math.max(1, Math.ceil((dimension * 4) / factor)))
    this.bytesPerVector = this.m
    this.starts = subspaceStarts(dimension, this.m)
  }

  get trained(): boolean {
    return this.isTrained
  }

  /**
   * Trains 256 centroids per sub-space on a seeded sample of the first `count` stored vectors,
   * installs the codebooks in the core, encodes offsets 0..count-1 and selects PQ codes in the core.
   * Does nothing when count < minTrainingVectors. Retraining replaces codebooks and codes.
   */
  train(core: CoreExports, count: number, present?: Uint32Array): void {
    const n = present?.length ?? count
    if (n < this.minTrainingVectors) return
    const c = core as ProductCoreExports
    const random = seededRandom(TRAINING_SEED)
    const picked = sampleIndexes(n, Math.min(n, TRAINING_SAMPLE), random)
    const ids = present === undefined ? picked : picked.map((i) => present[i]!)
    const book = new Float32Array(KSUB * this.dimension)
    for (let j = 0; j < this.m; j++) {
      const s = this.starts[j]!
      const w = this.starts[j + 1]! - s
      const { centroids } = kmeansRows(
        { core, base: 0, stride: core.getPaddedDim(), ids, count, offset: s, width: w },
        { k: KSUB, iterations: TRAINING_ITERATIONS, seed: TRAINING_SEED + j, maxPointsPerCentroid: 64 },
      )
      book.set(centroids, KSUB * s)
    }
    this.install(c, book)
    c.encodeRange(0, count)
  }

  /** Writes `book` into the core's PQ state (fresh, zeroed codes) and selects PQ codes. */
  private install(core: ProductCoreExports, book: Float32Array): void {
    core.setQuantKind(0)
    const ptr = core.pqConfigure(this.m)
    for (let j = 0; j < this.m; j++) {
      const s = this.starts[j]!
      const w = this.starts[j + 1]! - s
      writeCentroidBlocks(core.memory, ptr + KSUB * s * 4, book.subarray(KSUB * s, KSUB * (s + w)), KSUB, w)
    }
    this.book = book
    core.setQuantKind(QUANT_PRODUCT)
    this.isTrained = true
  }

  /** The `m` code bytes of stored offset `offset` (a copy). */
  code(core: CoreExports, offset: number): Uint8Array {
    const c = core as ProductCoreExports
    const start = c.pqCodesPtr() + offset * this.m
    return new Uint8Array(c.memory.buffer.slice(start, start + this.m))
  }

  /** The vector that `offset`'s code stands for (dimension floats: each sub-space's chosen centroid). */
  reconstruct(core: CoreExports, offset: number): Float32Array {
    const code = this.code(core, offset)
    const out = new Float32Array(this.dimension)
    for (let j = 0; j < this.m; j++) {
      const s = this.starts[j]!
      const w = this.starts[j + 1]! - s
      const at = KSUB * s + code[j]! * w
      out.set(this.book.subarray(at, at + w), s)
    }
    return out
  }

  /**
   * Header (8 u32: magic 'QVPQ', version, dimension, m, count, 0, 0, 0), codebooks (256 · dimension
   * f32, sub-space j's 256 x w_j row-major at float 256 · starts[j]), codes (count x m bytes).
   */
  serialize(core: CoreExports, count: number): Uint8Array {
    if (!this.isTrained) throw new QuiverError('INTERNAL', 'product quantizer serialized before training')
    const c = core as ProductCoreExports
    const bookBytes = this.book.length * 4
    const out = new Uint8Array(HEADER_WORDS * 4 + bookBytes + count * this.m)
    new Uint32Array(out.buffer, 0, HEADER_WORDS).set([MAGIC, FORMAT_VERSION, this.dimension, this.m, count])
    out.set(new Uint8Array(this.book.buffer, this.book.byteOffset, bookBytes), HEADER_WORDS * 4)
    out.set(new Uint8Array(c.memory.buffer, c.pqCodesPtr(), count * this.m), HEADER_WORDS * 4 + bookBytes)
    return out
  }

  /**
   * Installs codebooks and the codes of offsets 0..count-1 from `serialize()` output into `core`
   * (whose first `count` vectors must already be stored) and selects PQ codes there.
   * Throws CORRUPTED on a bad magic, version, shape or length, or non-finite codebook values.
   */
  static restore(
    core: CoreExports,
    config: QuantizationConfig,
    dimension: number,
    metric: IndexMetric,
    bytes: Uint8Array,
    count: number,
  ): ProductQuantizer {
    const pq = new ProductQuantizer(config, dimension, metric)
    if (bytes.byteLength < HEADER_WORDS * 4) throw corrupt('too short')
    const data = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice()
    const h = new Uint32Array(data.buffer, data.byteOffset, HEADER_WORDS)
    if (h[0] !== MAGIC) throw corrupt('bad magic number')
    if (h[1] !== FORMAT_VERSION) throw corrupt(`unsupported format version ${h[1]}`)
    if (h[2] !== dimension || h[3] !== pq.m) {
      throw corrupt(`dimension ${h[2]} / m ${h[3]} differ from the config (${dimension} / ${pq.m})`)
    }
    if (h[4] !== count) throw corrupt(`holds ${h[4]} codes, expected ${count}`)
    if (count > core.getCount()) throw corrupt(`codes for ${count} offsets, core stores ${core.getCount()}`)
    const bookFloats = KSUB * dimension
    const expected = HEADER_WORDS * 4 + bookFloats * 4 + count * pq.m
    if (data.byteLength !== expected) throw corrupt(`size ${data.byteLength}, expected ${expected}`)
    const book = new Float32Array(
      data.buffer.slice(
        data.byteOffset + HEADER_WORDS * 4,
        data.byteOffset + HEADER_WORDS * 4 + bookFloats * 4,
      ),
    )
    if (!book.every(Number.isFinite)) throw corrupt('codebook holds NaN or Infinity')
    const c = core as ProductCoreExports
    pq.install(c, book)
    const codesAt = HEADER_WORDS * 4 + bookFloats * 4
    new Uint8Array(c.memory.buffer, c.pqCodesPtr(), count * pq.m).set(
      data.subarray(codesAt, codesAt + count * pq.m),
    )
    return pq
  }
}

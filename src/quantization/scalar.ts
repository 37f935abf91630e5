// Scalar (int8) quantization as Qdrant does it: one global range [lo, hi] learnt from the stored values
// (their central `quantile` fraction), 1 byte per dimension; parameters and codes live in the core.
import type { CoreExports, IndexMetric } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import { seededRandom } from './kmeans.js'
import { type QuantizationConfig, type Quantizer, quantizerCore } from './quantizer.js'

/** The core's scalar-quantization exports (assembly/scalar.ts). Pointers are byte offsets into `memory`. */
export interface ScalarCoreExports extends CoreExports {
  /** Sets the range and allocates zeroed codes for the core's capacity; returns the stride in bytes. */
  sqConfigure(lo: number, hi: number): number
  sqCodesPtr(): number
  sqStride(): number
  /** This thread's prepared query: f32 constant at +0, code from +16 (i16 per dimension for dot/L2, u8 for L1). */
  sqQueryPtr(): number
}

/**
 * Quantile used when the config gives none: 1, the whole range (Qdrant: "If not set - use the whole
 * range of values"). With symmetric int8 codes it also ranks best: codes-only recall@10 on GloVe-100
 * (10k points) is 0.987 at 1 against 0.904 at 0.99, whose clipping biases dot products.
 */
export const DEFAULT_QUANTILE = 1
/** Values sampled to learn the range (whole vectors, chosen with a fixed seed). */
export const SAMPLE_VALUES = 1 << 20
const MIN_TRAINING_VECTORS = 128

const QUANT_SCALAR = 1
const MAGIC = 0x51535651 // 'QVSQ'
const FORMAT_VERSION = 1
const HEADER_BYTES = 48

const METRIC_IDS: Record<IndexMetric, number> = { cosine: 0, dot: 1, l2: 2, l1: 3 }

/** Bytes per scalar code: `dim` rounded up to 16, plus room for an f32 correction for dot/cosine. */
export function scalarStride(dimension: number, metric: IndexMetric): number {
  const n = metric === 'cosine' || metric === 'dot' ? dimension + 4 : dimension
  return (n + 15) & ~15
}

/**
 * The offsets of at most max(1, floor(maxValues / dimension)) of the first `count` vectors, ascending:
 * all of them when they fit, else a seeded uniform sample without replacement (deterministic).
 */
export function sampleRows(count: number, dimension: number, maxValues = SAMPLE_VALUES): Uint32Array {
  const want = Math.min(count, Math.max(1, Math.floor(maxValues / dimension)))
  const rows = new Uint32Array(count)
  for (let i = 0; i < count; i++) rows[i] = i
  if (want === count) return rows
  const rnd = seededRandom(0x5eed5eed)
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(rnd() * (count - i))
    const t = rows[i]!
    rows[i] = rows[j]!
    rows[j] = t
  }
  return rows.subarray(0, want).sort()
}

/**
 * The values of the sampled rows (dimension floats each, padding dropped), copied out of the core:
 * sampled among the first `count` rows, or among the rows in `present` (ascending) when given.
 */
export function sampleValues(
  core: CoreExports,
  count: number,
  dimension: number,
  present?: Uint32Array,
): Float32Array {
  const rows =
    present === undefined
      ? sampleRows(count, dimension)
      : sampleRows(present.length, dimension).map((i) => present[i]!)
  const f32 = new Float32Array(core.memory.buffer)
  const out = new Float32Array(rows.length * dimension)
  for (let r = 0; r < rows.length; r++) {
    const start = core.vectorPtr(rows[r]!) >>> 2
    out.set(f32.subarray(start, start + dimension), r * dimension)
  }
  return out
}

/**
 * Qdrant's quantile interval: the values at ranks floor(n·(1-q)/2) and n-1 minus that of the sorted
 * `values` (q = 1: min and max). Widened to a tiny positive width when all values are equal.
 */
export function quantileRange(values: Float32Array, quantile: number): [lo: number, hi: number] {
  const n = values.length
  let lo: number
  let hi: number
  if (quantile >= 1) {
    lo = Number.POSITIVE_INFINITY
    hi = Number.NEGATIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const v = values[i]!
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  } else {
    const sorted = Float32Array.prototype.slice.call(values).sort()
    const cut = Math.min(n - 1, Math.floor((n * (1 - quantile)) / 2 + 1e-9))
    lo = sorted[cut]!
    hi = sorted[n - 1 - cut]!
  }
  if (!(hi > lo)) hi = Math.fround(lo + Math.max(Math.abs(lo) * 1e-6, 1e-6))
  return [Math.fround(lo), Math.fround(hi)]
}

function scalarCore(core: CoreExports): ScalarCoreExports {
  return quantizerCore<ScalarCoreExports>(core, 'sqConfigure', 'scalar')
}

/**
 * Scalar int8 quantizer of one segment. Codes: `dim` bytes c = round((x - lo)/(hi - lo)·255) clamped
 * to 0..255, per vector padded to a multiple of 16 (`bytesPerVector`); code distances are on the
 * float32 metric's scale (x ≈ a·c + lo, a = (hi - lo)/255). Needs 128 stored vectors to train.
 * @example
 * const q = new ScalarQuantizer({ scalar: { type: 'int8', quantile: 0.99 } }, 128, 'cosine')
 * q.train(index.coreExports, index.size)
 * index.search(query, 10, 64, undefined, { rescore: true, candidates: 40 })
 */
export class ScalarQuantizer implements Quantizer {
  readonly config: QuantizationConfig
  readonly dimension: number
  readonly metric: IndexMetric
  /** Fraction of the stored values the range covers, in [0.5, 1] (as Qdrant). */
  readonly quantile: number
  readonly bytesPerVector: number
  readonly minTrainingVectors = MIN_TRAINING_VECTORS
  private learnt: readonly [lo: number, hi: number] | undefined

  /** Throws INVALID_CONFIG when `config` is not a scalar int8 config with quantile in [0.5, 1] (as Qdrant). */
  constructor(config: QuantizationConfig, dimension: number, metric: IndexMetric) {
    if (!('scalar' in config))
      throw new QuiverError('INVALID_CONFIG', 'quantization_config: expected a "scalar" quantization config')
    const { type, quantile } = config.scalar
    if (type !== 'int8')
      throw new QuiverError(
        'INVALID_CONFIG',
        `quantization_config.scalar.type: expected "int8", got ${type}`,
        {
          path: 'quantization_config.scalar.type',
        },
      )
    const q = quantile ?? DEFAULT_QUANTILE
    if (typeof q !== 'number' || !(q >= 0.5 && q <= 1))
      throw new QuiverError(
        'INVALID_CONFIG',
        `quantization_config.scalar.quantile: expected [0.5, 1], got ${q}`,
        {
          path: 'quantization_config.scalar.quantile',
        },
      )
    if (!Number.isInteger(dimension) || dimension < 1)
      throw new QuiverError('INVALID_CONFIG', `dimension must be a positive integer, got ${dimension}`)
    this.config = config
    this.dimension = dimension
    this.metric = metric
    this.quantile = q
    this.bytesPerVector = scalarStride(dimension, metric)
  }

  get trained(): boolean {
    return this.learnt !== undefined
  }

  /** The learnt [lo, hi] (float32 values), undefined before training. */
  get range(): readonly [lo: number, hi: number] | undefined {
    return this.learnt
  }

  /**
   * Learns [lo, hi] from (a seeded sample of at most 2^20 values of) the first `count` stored vectors,
   * encodes every stored offset and selects scalar codes in `core`. Fewer than `minTrainingVectors`:
   * does nothing. Throws INVALID_ARGUMENT when `count` exceeds the vectors stored.
   */
  train(core: CoreExports, count: number, present?: Uint32Array): void {
    if ((present?.length ?? count) < this.minTrainingVectors) return
    checkCount(core, count)
    const [lo, hi] = quantileRange(sampleValues(core, count, this.dimension, present), this.quantile)
    this.install(scalarCore(core), lo, hi)
    core.encodeRange(0, core.getCount())
  }

  private install(core: ScalarCoreExports, lo: number, hi: number): void {
    const stride = core.sqConfigure(lo, hi)
    if (stride !== this.bytesPerVector)
      throw new QuiverError('INTERNAL', `scalar code stride ${stride} differs from ${this.bytesPerVector}`)
    core.setQuantKind(QUANT_SCALAR)
    this.learnt = [lo, hi]
  }

  /**
   * `count` codes with a 48-byte little-endian header: magic 'QVSQ', version 1, dimension, metric
   * (0 cosine, 1 dot, 2 l2, 3 l1), count, stride, lo f32, hi f32, quantile f32, 12 zero bytes; then
   * count × stride code bytes. Throws INTERNAL when not trained.
   */
  serialize(core: CoreExports, count: number): Uint8Array {
    if (!this.learnt) throw new QuiverError('INTERNAL', 'scalar quantizer: serialize before train')
    checkCount(core, count)
    const c = scalarCore(core)
    const stride = this.bytesPerVector
    const out = new Uint8Array(HEADER_BYTES + count * stride)
    const h = new DataView(out.buffer)
    h.setUint32(0, MAGIC, true)
    h.setUint32(4, FORMAT_VERSION, true)
    h.setUint32(8, this.dimension, true)
    h.setUint32(12, METRIC_IDS[this.metric], true)
    h.setUint32(16, count, true)
    h.setUint32(20, stride, true)
    h.setFloat32(24, this.learnt[0], true)
    h.setFloat32(28, this.learnt[1], true)
    h.setFloat32(32, this.quantile, true)
    out.set(new Uint8Array(c.memory.buffer, c.sqCodesPtr(), count * stride), HEADER_BYTES)
    return out
  }

  /**
   * Rebuilds a trained quantizer from `serialize` output into `core`, which must hold at least `count`
   * vectors (offsets past `count` are encoded afresh). Throws CORRUPTED on a short, oversized or
   * foreign buffer, or one made for another dimension, metric or count.
   */
  static restore(
    core: CoreExports,
    config: QuantizationConfig,
    dimension: number,
    metric: IndexMetric,
    bytes: Uint8Array,
    count: number,
  ): ScalarQuantizer {
    const q = new ScalarQuantizer(config, dimension, metric)
    const corrupt = (what: string) => new QuiverError('CORRUPTED', `scalar quantization file: ${what}`)
    if (bytes.byteLength < HEADER_BYTES) throw corrupt(`too short (${bytes.byteLength} bytes)`)
    const h = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES)
    if (h.getUint32(0, true) !== MAGIC) throw corrupt('bad magic number')
    if (h.getUint32(4, true) !== FORMAT_VERSION)
      throw corrupt(`unsupported format version ${h.getUint32(4, true)}`)
    if (h.getUint32(8, true) !== dimension || h.getUint32(12, true) !== METRIC_IDS[metric])
      throw corrupt('dimension or metric differ from the collection config')
    if (h.getUint32(16, true) !== count)
      throw corrupt(`holds ${h.getUint32(16, true)} codes, expected ${count}`)
    if (h.getUint32(20, true) !== q.bytesPerVector) throw corrupt(`code stride ${h.getUint32(20, true)}`)
    const expected = HEADER_BYTES + count * q.bytesPerVector
    if (bytes.byteLength !== expected) throw corrupt(`size ${bytes.byteLength}, expected ${expected}`)
    const lo = h.getFloat32(24, true)
    const hi = h.getFloat32(28, true)
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) throw corrupt(`bad range [${lo}, ${hi}]`)
    if (core.getCount() < count) throw corrupt(`${count} codes for a segment of ${core.getCount()} vectors`)
    const c = scalarCore(core)
    q.install(c, lo, hi)
    new Uint8Array(c.memory.buffer, c.sqCodesPtr(), count * q.bytesPerVector).set(
      bytes.subarray(HEADER_BYTES),
    )
    c.encodeRange(count, c.getCount())
    return q
  }
}

function checkCount(core: CoreExports, count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > core.getCount())
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `count ${count} is outside 0..${core.getCount()} stored vectors`,
    )
}

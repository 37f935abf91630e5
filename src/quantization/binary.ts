// Binary (1-bit) quantization: one bit per dimension packed in u64 words, hamming distance by popcount;
// thresholds and codes live in the core (assembly/binary.ts). Meant for oversampling + float32 rescoring.
import type { CoreExports, IndexMetric } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import { type QuantizationConfig, type Quantizer, quantizerCore } from './quantizer.js'
import { sampleValues } from './scalar.js'

/** The core's binary-quantization exports (assembly/binary.ts). Pointers are byte offsets into `memory`. */
export interface BinaryCoreExports extends CoreExports {
  /** Allocates zeroed codes and thresholds for the core's capacity; returns u64 words per code. */
  bqConfigure(scale: number): number
  bqCodesPtr(): number
  bqWords(): number
  /** Padded-dimension f32 thresholds (bit i = x_i > t_i). */
  bqThresholdsPtr(): number
  /** This thread's prepared query code (bqWords() u64 words). */
  bqQueryPtr(): number
}

const QUANT_BINARY = 2
const MAGIC = 0x51425651 // 'QVBQ'
const FORMAT_VERSION = 1
const HEADER_BYTES = 48

const METRIC_IDS: Record<IndexMetric, number> = { cosine: 0, dot: 1, l2: 2, l1: 3 }

interface BinaryParams {
  /** dimension thresholds: zero for dot/cosine, the per-dimension mean for l2/l1. */
  readonly thresholds: Float32Array
  /** Mean |x_i - t_i| over the sample: the magnitude one bit stands for. */
  readonly scale: number
}

function binaryCore(core: CoreExports): BinaryCoreExports {
  return quantizerCore<BinaryCoreExports>(core, 'bqConfigure', 'binary')
}

/**
 * Binary quantizer of one segment. Bit i of a code is x_i > t_i: t = 0 for dot/cosine (Qdrant's rule),
 * the per-dimension mean of the stored vectors for l2/l1 (those metrics ignore a shift, and uncentred
 * data such as SIFT would otherwise give all-ones codes). With h the hamming distance and s the mean
 * |x_i - t_i|, code distances are -s²·(dim - 2h) for dot/cosine, 4s²·h for l2, 2s·h for l1 (the float32
 * metric between the reconstructions t ± s). Trains from a single vector.
 * @example
 * const q = new BinaryQuantizer({ binary: {} }, 1024, 'cosine')
 * q.train(index.coreExports, index.size)
 * index.search(query, 10, 200, undefined, { rescore: true, candidates: 100 })
 */
export class BinaryQuantizer implements Quantizer {
  readonly config: QuantizationConfig
  readonly dimension: number
  readonly metric: IndexMetric
  readonly bytesPerVector: number
  readonly minTrainingVectors = 1
  private params: BinaryParams | undefined

  /** Throws INVALID_CONFIG when `config` is not a binary one_bit config. */
  constructor(config: QuantizationConfig, dimension: number, metric: IndexMetric) {
    if (!('binary' in config))
      throw new QuiverError('INVALID_CONFIG', 'quantization_config: expected a "binary" quantization config')
    const enc = config.binary.encoding
    if (enc !== undefined && enc !== null && enc !== 'one_bit')
      throw new QuiverError(
        'INVALID_CONFIG',
        `quantization_config.binary.encoding: only "one_bit" is supported, got ${String(enc)}`,
        { path: 'quantization_config.binary.encoding' },
      )
    if (!Number.isInteger(dimension) || dimension < 1)
      throw new QuiverError('INVALID_CONFIG', `dimension must be a positive integer, got ${dimension}`)
    this.config = config
    this.dimension = dimension
    this.metric = metric
    this.bytesPerVector = ((dimension + 63) >>> 6) * 8
  }

  get trained(): boolean {
    return this.params !== undefined
  }

  /** The learnt thresholds (a copy) and scale, undefined before training. */
  get parameters(): { thresholds: Float32Array; scale: number } | undefined {
    if (!this.params) return undefined
    return { thresholds: this.params.thresholds.slice(), scale: this.params.scale }
  }

  /**
   * Learns thresholds and scale from (a seeded sample of at most 2^20 values of) the first `count`
   * stored vectors, encodes every stored offset and selects binary codes in `core`. count < 1: does
   * nothing. Throws INVALID_ARGUMENT when `count` exceeds the vectors stored.
   */
  train(core: CoreExports, count: number, present?: Uint32Array): void {
    if ((present?.length ?? count) < this.minTrainingVectors) return
    checkCount(core, count)
    const dim = this.dimension
    const values = sampleValues(core, count, dim, present)
    const rows = values.length / dim
    const thresholds = new Float32Array(dim)
    if (this.metric === 'l2' || this.metric === 'l1') {
      const sums = new Float64Array(dim)
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < dim; i++) sums[i]! += values[r * dim + i]!
      }
      for (let i = 0; i < dim; i++) thresholds[i] = sums[i]! / rows
    }
    let abs = 0
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < dim; i++) abs += Math.abs(values[r * dim + i]! - thresholds[i]!)
    }
    const mean = abs / values.length
    this.install(binaryCore(core), { thresholds, scale: Math.fround(mean > 0 ? mean : 1) })
    core.encodeRange(0, core.getCount())
  }

  private install(core: BinaryCoreExports, params: BinaryParams): void {
    const words = core.bqConfigure(params.scale)
    if (words * 8 !== this.bytesPerVector)
      throw new QuiverError('INTERNAL', `binary code size ${words * 8} differs from ${this.bytesPerVector}`)
    new Float32Array(core.memory.buffer, core.bqThresholdsPtr(), this.dimension).set(params.thresholds)
    core.setQuantKind(QUANT_BINARY)
    this.params = params
  }

  /**
   * `count` codes with a 48-byte little-endian header: magic 'QVBQ', version 1, dimension, metric
   * (0 cosine, 1 dot, 2 l2, 3 l1), count, bytes per code, scale f32, 20 zero bytes; then dimension
   * f32 thresholds; then count × bytesPerVector code bytes (u64 words, bit i of word w = dimension
   * 64w + i). Throws INTERNAL when not trained.
   */
  serialize(core: CoreExports, count: number): Uint8Array {
    if (!this.params) throw new QuiverError('INTERNAL', 'binary quantizer: serialize before train')
    checkCount(core, count)
    const c = binaryCore(core)
    const per = this.bytesPerVector
    const tBytes = this.dimension * 4
    const out = new Uint8Array(HEADER_BYTES + tBytes + count * per)
    const h = new DataView(out.buffer)
    h.setUint32(0, MAGIC, true)
    h.setUint32(4, FORMAT_VERSION, true)
    h.setUint32(8, this.dimension, true)
    h.setUint32(12, METRIC_IDS[this.metric], true)
    h.setUint32(16, count, true)
    h.setUint32(20, per, true)
    h.setFloat32(24, this.params.scale, true)
    for (let i = 0; i < this.dimension; i++)
      h.setFloat32(HEADER_BYTES + i * 4, this.params.thresholds[i]!, true)
    out.set(new Uint8Array(c.memory.buffer, c.bqCodesPtr(), count * per), HEADER_BYTES + tBytes)
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
  ): BinaryQuantizer {
    const q = new BinaryQuantizer(config, dimension, metric)
    const corrupt = (what: string) => new QuiverError('CORRUPTED', `binary quantization file: ${what}`)
    if (bytes.byteLength < HEADER_BYTES) throw corrupt(`too short (${bytes.byteLength} bytes)`)
    const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (h.getUint32(0, true) !== MAGIC) throw corrupt('bad magic number')
    if (h.getUint32(4, true) !== FORMAT_VERSION)
      throw corrupt(`unsupported format version ${h.getUint32(4, true)}`)
    if (h.getUint32(8, true) !== dimension || h.getUint32(12, true) !== METRIC_IDS[metric])
      throw corrupt('dimension or metric differ from the collection config')
    if (h.getUint32(16, true) !== count)
      throw corrupt(`holds ${h.getUint32(16, true)} codes, expected ${count}`)
    if (h.getUint32(20, true) !== q.bytesPerVector) throw corrupt(`code size ${h.getUint32(20, true)}`)
    const tBytes = dimension * 4
    const expected = HEADER_BYTES + tBytes + count * q.bytesPerVector
    if (bytes.byteLength !== expected) throw corrupt(`size ${bytes.byteLength}, expected ${expected}`)
    const scale = h.getFloat32(24, true)
    if (!Number.isFinite(scale) || !(scale > 0)) throw corrupt(`bad scale ${scale}`)
    const thresholds = new Float32Array(dimension)
    for (let i = 0; i < dimension; i++) thresholds[i] = h.getFloat32(HEADER_BYTES + i * 4, true)
    if (!thresholds.every(Number.isFinite)) throw corrupt('non-finite threshold')
    if (core.getCount() < count) throw corrupt(`${count} codes for a segment of ${core.getCount()} vectors`)
    const c = binaryCore(core)
    q.install(c, { thresholds, scale })
    new Uint8Array(c.memory.buffer, c.bqCodesPtr(), count * q.bytesPerVector).set(
      bytes.subarray(HEADER_BYTES + tBytes),
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

// What HnswIndex and IvfIndex share: one WebAssembly core holding float32 vectors at dense offsets,
// the staging buffer queries and vectors go through, the output buffers hits come back in, the
// allow bitset of filtered searches, deletions, and exact (flat) search over the same vectors.
import { type CoreExports, CoreMetric, type IndexMetric } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'

/**
 * Search hits as parallel typed arrays, nearest first. `distances` are "lower is better":
 * -dot for cosine/dot, squared L2 for l2, L1 for l1.
 */
export interface SearchHits {
  readonly offsets: Uint32Array
  readonly distances: Float32Array
}

/** A search restriction: `allow` holds one bit per offset (u32 words, bit o of word o >>> 5). */
export interface SearchFilter {
  readonly allow: Uint32Array
  readonly twoHop: boolean
}

/**
 * A search on quantized codes (the core must have a trained quantizer): `rescore` re-ranks the best
 * `candidates` (>= k) hits by their float32 vectors; without it distances are code distances.
 */
export interface CodesSearch {
  readonly rescore: boolean
  readonly candidates: number
}

export type IntegrityReport = { ok: true } | { ok: false; node: number; reason: string }

/** The core's metric id for `metric` (cosine = dot over normalised vectors). */
export function coreMetric(metric: IndexMetric): number {
  switch (metric) {
    case 'cosine':
    case 'dot':
      return CoreMetric.dot
    case 'l2':
      return CoreMetric.l2
    case 'l1':
      return CoreMetric.l1
  }
}

/** The core's (quant, candidates) arguments: 0 float32, 1 codes, 2 codes then rescoring. */
export function quantArgs(codes: CodesSearch | undefined): [number, number] {
  if (codes === undefined) return [0, 0]
  return [codes.rescore ? 2 : 1, codes.candidates]
}

/** Offsets below `size` whose bit is set in `allow`, ascending. */
export function bitsToOffsets(allow: Uint32Array, size: number): Uint32Array {
  const out: number[] = []
  const n = Math.min(size, allow.length * 32)
  for (let o = 0; o < n; o++) if ((allow[o >>> 5]! >>> (o & 31)) & 1) out.push(o)
  return Uint32Array.from(out)
}

export abstract class CoreIndex<
  P extends { readonly dimension: number },
  C extends CoreExports = CoreExports,
> {
  readonly params: P
  protected readonly core: C
  protected readonly paddedDim: number

  protected constructor(params: P, core: C) {
    this.params = params
    this.core = core
    this.paddedDim = core.getPaddedDim()
  }

  /** Most offsets this index can hold (its largest array must stay below 1 GiB of WASM memory). */
  get maxSize(): number {
    return this.core.maxCapacity()
  }

  /** Offsets stored, deleted ones included (offsets run 0..size-1). */
  get size(): number {
    return this.core.getCount()
  }

  /** Bytes of WebAssembly memory held by this index. */
  get memoryBytes(): number {
    return this.core.memory.buffer.byteLength
  }

  /** The WebAssembly core holding this index (quantizers keep their codes beside the vectors). */
  get coreExports(): C {
    return this.core
  }

  /** Writes `vector` into the staging buffer; throws INVALID_VECTOR on a wrong length. */
  protected stage(vector: ArrayLike<number>): void {
    const dim = this.params.dimension
    if (vector.length !== dim) {
      throw new QuiverError('INVALID_VECTOR', `vector has dimension ${vector.length}, expected ${dim}`)
    }
    new Float32Array(this.core.memory.buffer, this.core.stagingPtr(), this.paddedDim).set(vector)
  }

  /** Stores one vector (length = dimension, finite: the caller validates) at the next offset. */
  abstract add(vector: ArrayLike<number>): number

  /**
   * Stores n vectors on the calling thread, one `add` each; on a throw every offset of the batch is
   * deleted. `committed(first)` runs once all are in (HnswIndex.addBatch's contract).
   */
  protected addEach(vectors: Float32Array, committed: ((first: number) => void) | undefined): number {
    const dim = this.params.dimension
    const n = vectors.length / dim
    if (!Number.isInteger(n)) throw new RangeError('vectors length is not a multiple of the dimension')
    const from = this.size
    if (n > 0) this.reserve(from + n)
    try {
      for (let i = 0; i < n; i++) this.add(vectors.subarray(i * dim, (i + 1) * dim))
    } catch (err) {
      for (let o = from; o < this.size; o++) this.markDeleted(o) // nothing of the batch stays visible
      throw err
    }
    committed?.(from)
    return from
  }

  /**
   * Stores a placeholder at the next offset: deleted, never linked or returned (a point without this
   * vector keeps its offset aligned with its other vectors). Returns the offset.
   */
  addPlaceholder(): number {
    this.core.reserve(this.core.getCount() + 1)
    return this.core.addUnlinked()
  }

  /** Grows memory for `n` offsets in one step (throws like `add` past `maxSize`). */
  reserve(n: number): void {
    this.core.reserve(Math.min(n, this.maxSize))
  }

  /** Hides an offset from results (it stays stored until the segment is rebuilt). */
  markDeleted(offset: number): void {
    this.core.markDeleted(offset)
  }

  /** Makes a deleted offset a result again (a batch held back until its segment committed it). */
  unmarkDeleted(offset: number): void {
    this.core.unmarkDeleted(offset)
  }

  isDeleted(offset: number): boolean {
    return this.core.isDeleted(offset) !== 0
  }

  /** The stored vector of `offset` (normalised for cosine), a copy of `dimension` floats. */
  vector(offset: number): Float32Array {
    return new Float32Array(
      this.core.memory.buffer,
      this.core.vectorPtr(offset),
      this.params.dimension,
    ).slice()
  }

  /** The first `n` entries of the output buffers, copied out. */
  protected hits(n: number): SearchHits {
    const buf = this.core.memory.buffer
    return {
      offsets: new Uint32Array(buf, this.core.outIdsPtr(), n).slice(),
      distances: new Float32Array(buf, this.core.outDistPtr(), n).slice(),
    }
  }

  /** Writes a filter's bitset into the core's allow bitset (zeroing the words it does not cover). */
  protected setAllowed(allow: Uint32Array): void {
    const words = (this.core.getCapacity() + 31) >>> 5
    if (allow.length > words) throw new RangeError('allow bitset is larger than the index capacity')
    const bits = new Uint32Array(this.core.memory.buffer, this.core.allowPtr(), words)
    bits.set(allow)
    bits.fill(0, allow.length)
  }

  /**
   * k-NN by a full scan of every live offset (or only `allowed`, a list of offsets): exact on
   * float32 vectors, or over quantized codes with `codes` (then exact only after rescoring).
   */
  searchExact(query: ArrayLike<number>, k: number, allowed?: Uint32Array, codes?: CodesSearch): SearchHits {
    this.stage(query)
    const [quant, candidates] = quantArgs(codes)
    if (!allowed) return this.hits(this.core.searchFlat(k, 0, quant, candidates))
    const ptr = this.core.ensureList(allowed.length)
    new Uint32Array(this.core.memory.buffer, ptr, allowed.length).set(allowed)
    return this.hits(this.core.searchList(allowed.length, k, quant, candidates))
  }
}

// The contract every quantizer (scalar int8, binary, product) implements: it learns its parameters
// from a segment's stored vectors, keeps them and the codes inside that segment's WebAssembly core
// (assembly/scalar.ts, binary.ts, product.ts behind the codes.ts dispatch), and persists both.
import type { CoreExports } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import type { QuantizationConfig } from '../types.js'

// The JSON shapes live in types.ts (which imports nothing); re-exported here for the quantizers.
export type { QuantizationConfig, QuantizationSearchParams } from '../types.js'

/**
 * One segment's quantizer. The core's float32 vectors stay (they serve the graph build and
 * rescoring); the codes are an extra `bytesPerVector` per stored point.
 */
export interface Quantizer {
  readonly config: QuantizationConfig
  /** Code bytes per stored vector. */
  readonly bytesPerVector: number
  /** True once parameters are learnt and every stored offset has a code (the core's quant kind is set). */
  readonly trained: boolean
  /** Stored vectors needed before `train` learns anything (fewer: it does nothing and `trained` stays false). */
  readonly minTrainingVectors: number
  /**
   * Learns the parameters from the first `count` stored vectors of `core` (row stride
   * `core.getPaddedDim()` floats at `core.vectorPtr(i)`, normalised for Cosine), or only from the
   * offsets in `present` (ascending, each < count) when given: the points that hold this vector, so
   * placeholders (zero rows of points lacking it) and deleted rows teach nothing. Writes the
   * parameters into the core, encodes offsets 0..count-1 and selects this quantizer in the core;
   * later `add()`s are encoded by the core itself. Does nothing when fewer than minTrainingVectors
   * rows are learnt from.
   */
  train(core: CoreExports, count: number, present?: Uint32Array): void
  /** Parameters and codes of the first `count` offsets, as one buffer (format in docs/storage-format.md). */
  serialize(core: CoreExports, count: number): Uint8Array
}

/**
 * `core` typed with one quantizer's exports, after checking that `probe` is one of its functions;
 * throws INTERNAL naming `what` when the core was built without that quantizer (a stale build).
 */
export function quantizerCore<T extends CoreExports>(
  core: CoreExports,
  probe: keyof T & string,
  what: string,
): T {
  if (typeof (core as unknown as Record<string, unknown>)[probe] !== 'function') {
    throw new QuiverError(
      'INTERNAL',
      `the WebAssembly core has no ${what} quantization: rebuild it (npm run build:wasm)`,
    )
  }
  return core as T
}

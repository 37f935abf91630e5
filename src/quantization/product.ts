// Product quantization (Jégou, Douze & Schmid, TPAMI 2011). STUB: replaced by its owner; the
// constructor and restore signatures are the contract with src/quantization/index.ts.
import type { CoreExports } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import type { IndexMetric } from '../index/hnsw.js'
import type { QuantizationConfig, Quantizer } from './quantizer.js'

export class ProductQuantizer implements Quantizer {
  readonly config: QuantizationConfig
  readonly bytesPerVector = 0
  readonly trained = false
  readonly minTrainingVectors = Number.POSITIVE_INFINITY

  constructor(config: QuantizationConfig, _dimension: number, _metric: IndexMetric) {
    this.config = config
  }

  static restore(
    _core: CoreExports,
    _config: QuantizationConfig,
    _dimension: number,
    _metric: IndexMetric,
    _bytes: Uint8Array,
    _count: number,
  ): ProductQuantizer {
    throw new QuiverError('INTERNAL', 'product quantization is not built yet')
  }

  train(_core: CoreExports, _count: number): void {}

  serialize(_core: CoreExports, _count: number): Uint8Array {
    return new Uint8Array(0)
  }
}

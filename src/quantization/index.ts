// The quantization module's entry: picks the quantizer class for a `quantization_config` (new or
// restored from its persisted bytes) and re-exports the contract and the config parsers.
import type { CoreExports } from '../engine/wasm.js'
import type { QuantizationConfig } from '../types.js'
import { BinaryQuantizer } from './binary.js'
import { ProductQuantizer } from './product.js'
import type { Quantizer } from './quantizer.js'
import { ScalarQuantizer } from './scalar.js'

export { parseQuantizationConfig, parseQuantizationSearchParams } from './config.js'
export type { QuantizationConfig, QuantizationSearchParams, Quantizer } from './quantizer.js'
export { BinaryQuantizer, ProductQuantizer, ScalarQuantizer }

/** The index metric a quantizer works in (`cosine` vectors arrive normalised). */
export type QuantizerMetric = ConstructorParameters<typeof ScalarQuantizer>[2]

/**
 * An untrained quantizer for one segment of `dimension`-long vectors under `metric`. `config` must
 * come from parseQuantizationConfig (exactly one key).
 * @example const q = createQuantizer({ scalar: { type: 'int8' } }, 128, 'l2')
 */
export function createQuantizer(
  config: QuantizationConfig,
  dimension: number,
  metric: QuantizerMetric,
): Quantizer {
  if ('scalar' in config) return new ScalarQuantizer(config, dimension, metric)
  if ('binary' in config) return new BinaryQuantizer(config, dimension, metric)
  return new ProductQuantizer(config, dimension, metric)
}

/**
 * A trained quantizer rebuilt from `Quantizer.serialize` output for the first `count` offsets of
 * `core` (writes its parameters and codes into the core and selects it there). Throws CORRUPTED on
 * a bad buffer.
 */
export function restoreQuantizer(
  core: CoreExports,
  config: QuantizationConfig,
  dimension: number,
  metric: QuantizerMetric,
  bytes: Uint8Array,
  count: number,
): Quantizer {
  if ('scalar' in config) return ScalarQuantizer.restore(core, config, dimension, metric, bytes, count)
  if ('binary' in config) return BinaryQuantizer.restore(core, config, dimension, metric, bytes, count)
  return ProductQuantizer.restore(core, config, dimension, metric, bytes, count)
}

// Engine-level configs and vectors for unit tests of segments and the server (the shapes the
// collection layer builds from createCollection options).
import { configFromJson } from '../../src/collection/persistence.js'
import type { PointVectors } from '../../src/segment/segment.js'
import type {
  CollectionConfig,
  HnswConfig,
  IndexConfig,
  OptimizersConfig,
  QuantizationConfig,
  VectorConfig,
} from '../../src/types.js'

/** A collection config with one unnamed dense vector (format 1's flat shape, as tests spelled it). */
export function singleVector(c: {
  dimension: number
  metric: VectorConfig['metric']
  hnsw: HnswConfig
  optimizers: OptimizersConfig
  quantization?: QuantizationConfig
  index?: IndexConfig
}): CollectionConfig {
  // the same conversion that reads a format-1 config.json
  return configFromJson(1, c)
}

/** The unnamed vector alone, as a segment stores it. */
export function unnamed(vector: Float32Array): PointVectors {
  return { dense: new Map([['', vector]]), sparse: new Map() }
}

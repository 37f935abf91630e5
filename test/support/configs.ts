// Engine-level configs and vectors for unit tests of segments and the server (the shapes the
// collection layer builds from createCollection options).
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
  const v: VectorConfig = {
    dimension: c.dimension,
    metric: c.metric,
    hnsw: c.hnsw,
    ...(c.quantization === undefined ? {} : { quantization: c.quantization }),
    ...(c.index === undefined ? {} : { index: c.index }),
    datatype: 'float32',
  }
  return { vectors: new Map([['', v]]), sparseVectors: new Map(), hnsw: c.hnsw, optimizers: c.optimizers }
}

/** The unnamed vector alone, as a segment stores it. */
export function unnamed(vector: Float32Array): PointVectors {
  return { dense: new Map([['', vector]]), sparse: new Map() }
}

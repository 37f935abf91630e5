// Payload index factory: builds or restores the index class for a field spec's type.
import { QuiverError } from '../../errors.js'
import { BoolIndex } from './bool.js'
import { GeoIndex } from './geo.js'
import { KeywordIndex } from './keyword.js'
import { NumericIndex } from './numeric.js'
import { TextIndex } from './text.js'
import type { FacetIndex, FieldIndex, FieldIndexSpec, OrderIndex } from './types.js'

export { parseFieldSchema, tokenizerOptions } from './schema.js'
export type { Cardinality, FacetIndex, FieldIndex, FieldIndexSpec, OrderIndex } from './types.js'

/** An empty index for `spec` (fill it with `set`). */
export function createFieldIndex(spec: FieldIndexSpec): FieldIndex {
  switch (spec.params.type) {
    case 'keyword':
    case 'uuid':
      return new KeywordIndex(spec)
    case 'integer':
    case 'float':
    case 'datetime':
      return new NumericIndex(spec)
    case 'bool':
      return new BoolIndex(spec)
    case 'text':
      return new TextIndex(spec)
    case 'geo':
      return new GeoIndex(spec)
  }
}

/** Restores an index from `serialize()` output; throws CORRUPTED when the bytes do not decode. */
export function restoreFieldIndex(spec: FieldIndexSpec, bytes: Uint8Array): FieldIndex {
  switch (spec.params.type) {
    case 'keyword':
    case 'uuid':
      return KeywordIndex.restore(spec, bytes)
    case 'integer':
    case 'float':
    case 'datetime':
      return NumericIndex.restore(spec, bytes)
    case 'bool':
      return BoolIndex.restore(spec, bytes)
    case 'text':
      return TextIndex.restore(spec, bytes)
    case 'geo':
      return GeoIndex.restore(spec, bytes)
    default:
      throw new QuiverError(
        'CORRUPTED',
        `unknown payload index type ${JSON.stringify((spec.params as { type: unknown }).type)}`,
      )
  }
}

/** `fi` as a facet index (keyword, uuid, bool, integer with `lookup`, as Qdrant), else undefined. */
export function facetIndexOf(fi: FieldIndex | undefined): FacetIndex | undefined {
  if (fi instanceof KeywordIndex || fi instanceof BoolIndex) return fi
  if (fi instanceof NumericIndex && fi.facetable) return fi
  return undefined
}

/** `fi` as an ordering index (integer with `range`, float, datetime, as Qdrant), else undefined. */
export function orderIndexOf(fi: FieldIndex | undefined): OrderIndex | undefined {
  return fi instanceof NumericIndex && fi.orderable ? fi : undefined
}

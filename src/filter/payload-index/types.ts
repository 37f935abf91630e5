// The contract every payload (field) index implements: one index per field per segment, over the
// segment's dense offsets, answering the filter conditions it supports with a Bitset and an estimate.
import type { FacetValue, Payload, PayloadSchemaParams, PayloadSchemaType } from '../../types.js'
import type { FieldNode } from '../ast.js'
import type { Bitset } from '../bitset.js'
import type { KeyPath } from '../key-path.js'

/**
 * How many live points a condition matches (Qdrant's `CardinalityEstimation`): min <= exp <= max,
 * all in points. `min === max` means exact.
 */
export interface Cardinality {
  readonly min: number
  readonly exp: number
  readonly max: number
}

/** A validated index definition: the field's key (as given) and its parameters with defaults filled in. */
export interface FieldIndexSpec {
  /** Key path text as the user gave it, e.g. `city`, `meta.lang`, `tags[]`; conditions match on equal text. */
  readonly field: string
  readonly path: KeyPath
  readonly params: PayloadSchemaParams
}

/**
 * One field's index in one segment. Offsets are the segment's dense point offsets; the segment calls
 * `set` on every upsert and payload change and `remove` on delete, so the index holds exactly the
 * live points' values.
 *
 * Correctness contract (checked by property tests): for every node with `supports(node) === true`,
 * `filter(node, size)` holds exactly the offsets whose payload satisfies `node` under
 * `compileFilter(node, { textIndexes })` (src/filter/evaluate.ts) — for every payload, including ones
 * whose field holds values of other types, arrays, nulls or nothing.
 */
export interface FieldIndex {
  readonly spec: FieldIndexSpec
  readonly type: PayloadSchemaType
  /** Offsets with at least one value this index holds. */
  readonly pointCount: number
  /** Indexes `payload` as the payload of `offset`, replacing whatever was indexed for it. */
  set(offset: number, payload: Payload | undefined): void
  /** Forgets `offset`; a no-op when it holds nothing. */
  remove(offset: number): void
  /** True when this index answers `node` exactly (node.key === spec.field is checked by the caller). */
  supports(node: FieldNode): boolean
  /** The offsets < size that satisfy a supported `node`. */
  filter(node: FieldNode, size: number): Bitset
  /** Cardinality of a supported `node`, cheaper than `filter` where possible (exact where cheap, bounds otherwise). */
  estimate(node: FieldNode): Cardinality
  /** The index's contents as bytes (restored by the type's `restore(spec, bytes)`; it throws CORRUPTED on bad bytes). */
  serialize(): Uint8Array
}

/**
 * An index that can count its values (Qdrant's facet index: keyword, uuid, bool, integer with
 * `lookup`); `facetIndexOf` (index.ts) says which one is.
 */
export interface FacetIndex {
  /** Adds to `into`, per distinct value, how many offsets in `matches` (all when null) hold it. */
  facetCounts(matches: Bitset | null, into: Map<FacetValue, number>): void
}

/** An index that can list its values in order (Qdrant's range-capable numeric index); `orderIndexOf` says which one is. */
export interface OrderIndex {
  /**
   * Calls `fn(value, offset)` for every (value, offset) entry in value order, ascending (or
   * descending with `descending`; equal values by offset in the same direction), starting at the
   * first value >= `from` (descending: <= `from`; null: at the start); stops when `fn` returns false.
   */
  walk(descending: boolean, from: number | null, fn: (value: number, offset: number) => boolean): void
}

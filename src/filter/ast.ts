// The filter AST: readonly, kind-tagged nodes that parse.ts builds from Qdrant's filter JSON and
// evaluate.ts compiles. Payload indexes and the planner will read the same nodes.
import type { PointId } from '../types.js'
import type { KeyPath } from './key-path.js'

/** Matches every point (an absent or empty filter). */
export interface TrueNode {
  readonly kind: 'true'
}

/** All children match. Built from `must`, `must_not` (as `not`), `should` and `min_should` together. */
export interface AndNode {
  readonly kind: 'and'
  readonly children: readonly FilterNode[]
}

/** At least one child matches; with no children it matches nothing. Built from `should`. */
export interface OrNode {
  readonly kind: 'or'
  readonly children: readonly FilterNode[]
}

export interface NotNode {
  readonly kind: 'not'
  readonly child: FilterNode
}

/** At least `minCount` (>= 1) of `children` match. */
export interface MinShouldNode {
  readonly kind: 'min_should'
  readonly children: readonly FilterNode[]
  readonly minCount: number
}

/** Fields shared by every condition on one payload key. `key` is the text as given, `path` its parse. */
interface FieldBase {
  readonly key: string
  readonly path: KeyPath
}

/** `match: { value }`: a value (or an array element) equals `value`; integers match whole numbers only. */
export interface MatchValueNode extends FieldBase {
  readonly kind: 'match_value'
  readonly value: string | number | boolean
}

/**
 * `match: { any }` / `match: { except }`. `valueType` says which JSON type the set holds
 * (Qdrant accepts a list of strings or a list of integers, never a mix).
 */
export interface MatchAnyNode extends FieldBase {
  readonly kind: 'match_any' | 'match_except'
  readonly valueType: 'keyword' | 'integer'
  readonly values: ReadonlySet<string | number>
}

/**
 * Text matches without a full-text index (Qdrant's fallback): `match_text` (`text` and `phrase`)
 * is a case-sensitive substring test, `match_text_any` a substring test of any whitespace-separated
 * token, `match_prefix` a `startsWith` test.
 */
export interface MatchTextNode extends FieldBase {
  readonly kind: 'match_text' | 'match_text_any' | 'match_prefix'
  /** Which JSON spelling it came from: `text`, `phrase`, `text_any` or `prefix`. */
  readonly form: 'text' | 'phrase' | 'text_any' | 'prefix'
  readonly text: string
}

/**
 * `range`: a number (or array element) within the bounds. `valueType: 'datetime'` when the bounds
 * were RFC 3339 strings; bounds are then epoch microseconds and the payload's strings are parsed.
 * A null bound is absent.
 */
export interface RangeNode extends FieldBase {
  readonly kind: 'range'
  readonly valueType: 'number' | 'datetime'
  readonly gt: number | null
  readonly gte: number | null
  readonly lt: number | null
  readonly lte: number | null
}

/** `values_count`: the count of a value (array length, 0 for null, 1 otherwise) within bounds; missing counts 0. */
export interface ValuesCountNode extends FieldBase {
  readonly kind: 'values_count'
  readonly gt: number | null
  readonly gte: number | null
  readonly lt: number | null
  readonly lte: number | null
}

/** `{ is_empty: { key } }`: every value at the path is null or `[]` (true when the path is missing). */
export interface IsEmptyNode extends FieldBase {
  readonly kind: 'is_empty'
}

/** `{ is_null: { key } }`: some value at the path is `null` (`[null]` is not null; missing is not null). */
export interface IsNullNode extends FieldBase {
  readonly kind: 'is_null'
}

/**
 * Field-condition spelling `{ key, is_empty: bool }` / `{ key, is_null: bool }`, which Qdrant checks per
 * value (see docs/filters.md); `value` is the boolean given.
 */
export interface FieldFlagNode extends FieldBase {
  readonly kind: 'field_is_empty' | 'field_is_null'
  readonly value: boolean
}

/** `{ has_id: [...] }`: the point id is in `ids` (normalised by parsePointId). Never matches inside `nested`. */
export interface HasIdNode {
  readonly kind: 'has_id'
  readonly ids: ReadonlySet<PointId>
}

/** `{ slice: { total, index } }`: the point id's slice hash (slice.ts) is `index` modulo `total`. Never matches inside `nested`. */
export interface SliceNode {
  readonly kind: 'slice'
  readonly total: number
  readonly index: number
}

/** `{ has_vector: name }`: the point holds vector `name` (dense, sparse or multi). Never matches inside `nested`. */
export interface HasVectorNode {
  readonly kind: 'has_vector'
  readonly name: string
}

/**
 * `{ nested: { key, filter } }`: some object element of the array at `path` (the key with `[]`
 * appended) satisfies `filter` on its own, with keys relative to the element.
 */
export interface NestedNode extends FieldBase {
  readonly kind: 'nested'
  readonly filter: FilterNode
}

/** `geo_radius`: some `{ lat, lon }` value at the path lies within `radius` metres of the centre (haversine, Earth radius 6371008.8 m). */
export interface GeoRadiusNode extends FieldBase {
  readonly kind: 'geo_radius'
  readonly lat: number
  readonly lon: number
  /** Metres, >= 0. */
  readonly radius: number
}

/**
 * `geo_bounding_box`: some `{ lat, lon }` value has bottom <= lat <= top and lon within
 * [left, right] (edges included); when left > right the box crosses the antimeridian.
 */
export interface GeoBoundingBoxNode extends FieldBase {
  readonly kind: 'geo_bounding_box'
  readonly top: number
  readonly bottom: number
  readonly left: number
  readonly right: number
}

/** A geo point as a filter holds it (degrees). */
export interface GeoPointValue {
  readonly lat: number
  readonly lon: number
}

/** `geo_polygon`: some `{ lat, lon }` value is inside `exterior` and outside every ring of `interiors`. Rings are closed (first point = last). */
export interface GeoPolygonNode extends FieldBase {
  readonly kind: 'geo_polygon'
  readonly exterior: readonly GeoPointValue[]
  readonly interiors: readonly (readonly GeoPointValue[])[]
}

export type GeoNode = GeoRadiusNode | GeoBoundingBoxNode | GeoPolygonNode

export type FieldNode =
  | GeoRadiusNode
  | GeoBoundingBoxNode
  | GeoPolygonNode
  | MatchValueNode
  | MatchAnyNode
  | MatchTextNode
  | RangeNode
  | ValuesCountNode
  | IsEmptyNode
  | IsNullNode
  | FieldFlagNode
  | NestedNode

export type FilterNode =
  | TrueNode
  | AndNode
  | OrNode
  | NotNode
  | MinShouldNode
  | FieldNode
  | HasIdNode
  | HasVectorNode
  | SliceNode

export type FilterKind = FilterNode['kind']

/** The node that matches everything. */
export const TRUE: TrueNode = Object.freeze({ kind: 'true' })

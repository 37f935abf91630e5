// Public surface of the filter module: Qdrant filter JSON -> AST -> compiled point predicate, and
// payload key paths (also used by set_payload / delete_payload with nested keys).
export type {
  AndNode,
  FieldFlagNode,
  FieldNode,
  FilterKind,
  FilterNode,
  GeoBoundingBoxNode,
  GeoNode,
  GeoPointValue,
  GeoPolygonNode,
  GeoRadiusNode,
  HasIdNode,
  HasVectorNode,
  IsEmptyNode,
  IsNullNode,
  MatchAnyNode,
  MatchTextNode,
  MatchValueNode,
  MinShouldNode,
  NestedNode,
  NotNode,
  OrNode,
  RangeNode,
  SliceNode,
  TrueNode,
  ValuesCountNode,
} from './ast.js'
export { TRUE } from './ast.js'
export { Bitset } from './bitset.js'
export { parseDateTime } from './datetime.js'
export { type CompileOptions, compileFilter, type PointPredicate } from './evaluate.js'
export { asGeoPoint, haversineDistance } from './geo.js'
export {
  deleteAtPath,
  FORBIDDEN_KEY,
  getValues,
  type KeyPath,
  MATCH,
  mergePayload,
  NO_MATCH,
  NO_VALUES,
  type PathItem,
  parseKeyPath,
  type SomeValueResult,
  selectPayload,
  setAtPath,
  someValue,
  withWildcardSuffix,
} from './key-path.js'
export { parseCondition, parseFilter } from './parse.js'
export { FilterExecutor, type FilterTarget } from './planner.js'
export {
  containsPhrase,
  DEFAULT_TOKENIZER,
  indexTerms,
  type TokenizerOptions,
  tokenize,
} from './tokenizer.js'

// Public data types of Quiver's embedded API and the one `Collection` interface that the embedded
// engine (and, later, the HTTP client and the cluster) implement. Imports nothing.

/** A JSON value as stored in payloads. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A point's payload: any JSON object. */
export type Payload = { [key: string]: JsonValue }

/**
 * A point id as users see it: an unsigned integer (0 .. 2^53-1) or a UUID string (any case,
 * hyphenated; normalised to lower case). Qdrant's rule.
 */
export type PointId = number | string

/** Similarity functions, Qdrant's names. `Cosine` normalises vectors at insert, then uses dot. */
export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan'

/** HNSW parameters (Malkov & Yashunin 2018). */
export interface HnswConfig {
  /** Max links per node on layers >= 1 (layer 0 keeps 2·m). Default 16. */
  readonly m: number
  /** Size of the candidate list while inserting. Default 100. */
  readonly efConstruct: number
  /**
   * Below this many KiB of matching vectors a filtered search scans them exactly instead of
   * traversing the graph (Qdrant's `full_scan_threshold`). Default 2000 (Qdrant: 10000), measured:
   * docs/query-planner.md.
   */
  readonly fullScanThreshold: number
  /** Default query-time `ef` when a search gives none; the effective value is max(ef, limit). Default 64. */
  readonly ef: number
}

/**
 * The vector index of a collection's segments. `hnsw` (the default): a graph, fastest at high
 * recall. `ivf`: inverted lists over k-means cells (no graph: less memory per vector, probes
 * `nprobe` lists per query); with `product` quantization it is IVF-PQ. docs/ivf.md.
 */
export type IndexConfig =
  | { readonly type: 'hnsw' }
  | {
      readonly type: 'ivf'
      /** Lists (k-means cells) per segment, 1..65536; null = chosen at training from the segment's size. */
      readonly nlist: number | null
      /** Lists scanned per query when a search names none, 1..nlist; null = max(1, round(nlist / 16)). */
      readonly nprobe: number | null
    }

/** `createCollection`'s `index` option: `{ type: 'ivf' }` with optional `nlist` / `nprobe` (null = automatic). */
export type IndexOptions = { type: 'hnsw' } | { type: 'ivf'; nlist?: number | null; nprobe?: number | null }

/**
 * When the background optimizers seal, vacuum and merge segments (Qdrant's `optimizers_config`).
 * Sizes are KiB of float32 vectors (dimension x 4 bytes per stored point, deleted ones included).
 */
export interface OptimizersConfig {
  /** A segment whose deleted fraction (of stored points) exceeds this is rewritten. Default 0.2. */
  readonly deletedThreshold: number
  /** Segments with fewer stored points are never vacuumed. Default 1000. */
  readonly vacuumMinVectorNumber: number
  /** The merge optimizer joins small segments while there are more than this many. Default 2. */
  readonly defaultSegmentNumber: number
  /** The appendable segment is sealed (and merges stop) at this size. Default 262144 KiB (256 MiB). */
  readonly maxSegmentSize: number
}

/**
 * Qdrant's `quantization_config` (snake_case, as on the wire): exactly one key. `scalar`: int8 codes
 * (1 byte per dimension), `quantile` in [0.5, 1] clips outliers before scaling; `binary`: 1 bit per
 * dimension; `product`: `compression` x fewer bytes than float32. `always_ram` is accepted and
 * ignored (every code lives in memory). docs/quantization.md.
 */
export type QuantizationConfig =
  | { scalar: { type: 'int8'; quantile?: number | null; always_ram?: boolean | null } }
  | { binary: { always_ram?: boolean | null; encoding?: 'one_bit' | null } }
  | { product: { compression: 'x4' | 'x8' | 'x16' | 'x32' | 'x64'; always_ram?: boolean | null } }

/** Qdrant's per-search `params.quantization`. */
export interface QuantizationSearchParams {
  /** Search the float32 vectors only. Default false. */
  ignore?: boolean | null
  /** Re-rank the candidates found on codes by their float32 vectors. Default true. */
  rescore?: boolean | null
  /** Candidates fetched on codes = ceil(limit x oversampling), >= 1. Default 1. */
  oversampling?: number | null
}

/** Storage type of a dense vector's components (Qdrant's `datatype`). */
export type VectorDatatype = 'float32' | 'float16' | 'uint8'

/** A multivector (ColBERT-style late interaction): each point holds a matrix of rows. */
export interface MultiVectorConfig {
  /** Score = sum over query rows of the max similarity over the point's rows. */
  readonly comparator: 'max_sim'
}

/** One dense vector of a collection (the unnamed one is named `""`). */
export interface VectorConfig {
  /** Components per vector (per row for a multivector); every vector of this name has it. */
  readonly dimension: number
  readonly metric: Distance
  readonly hnsw: HnswConfig
  /** Quantized codes kept beside the float32 vectors; absent = none. */
  readonly quantization?: QuantizationConfig
  /** The segments' index for this vector; absent = HNSW (`hnsw` then holds its parameters). */
  readonly index?: IndexConfig
  /**
   * `float32` (default) stores values as given; `float16` and `uint8` round each value to what that
   * type holds (uint8: integers 0..255), as Qdrant stores them. docs/rest-api.md#vectors.
   */
  readonly datatype: VectorDatatype
  /** Present for a multivector. */
  readonly multivector?: MultiVectorConfig
  /**
   * Qdrant's `on_disk`: with an HNSW graph, sealed segments keep the float32 vectors in a vector
   * file and only the graph and codes (the quantization's, or int8 codes of the vector's own) in
   * memory (docs/quantization.md#vectors-on-disk); with IVF, m = 0 or a multivector, echoed back
   * and the vectors stay in memory.
   */
  readonly onDisk?: boolean
}

/** One sparse vector of a collection (Qdrant's `sparse_vectors` entry). */
export interface SparseVectorConfig {
  /** `idf`: each query weight is multiplied by ln((N - df + 0.5) / (df + 0.5) + 1) (BM25's IDF). */
  readonly modifier: 'none' | 'idf'
  /** Qdrant's `index.full_scan_threshold`, echoed back; null = default. */
  readonly fullScanThreshold: number | null
  /** Qdrant's `index.on_disk`, echoed back. */
  readonly onDisk: boolean | null
}

export interface CollectionConfig {
  /** Dense vectors by name (`""` = the unnamed vector), in creation order. */
  readonly vectors: ReadonlyMap<string, VectorConfig>
  /** Sparse vectors by name, in creation order. */
  readonly sparseVectors: ReadonlyMap<string, SparseVectorConfig>
  /** The collection's HNSW defaults (each vector's `hnsw` starts from these). */
  readonly hnsw: HnswConfig
  readonly optimizers: OptimizersConfig
  /**
   * Qdrant's collection-level `quantization_config`: the default of dense vectors without their own
   * (each vector's `quantization` is the effective one; a vector whose quantization differs from
   * this one has its own). Absent = none.
   */
  readonly quantization?: QuantizationConfig
  /** Deployment parameters, echoed back; absent = the defaults (see {@link CollectionParams}). */
  readonly params?: CollectionParams
  /** Qdrant's `strict_mode_config` (see {@link StrictModeConfig}); absent = no strict mode. */
  readonly strictMode?: StrictModeConfig
  /** Quiver's search settings of this collection (`search_config`); absent = the database's defaults. */
  readonly searchConfig?: SearchConfig
}

/** A change of {@link SearchConfig}: a number sets a field, `null` removes it, absent leaves it. */
export type SearchConfigUpdate = { readonly [K in keyof SearchConfig]?: SearchConfig[K] | null }

/** Quiver's search settings of a collection (`search_config` on the wire; not in Qdrant). */
export interface SearchConfig {
  /**
   * Fraction of this collection's searches re-run exactly for the live recall estimate
   * (docs/recall.md), 0..1; overrides the database's `recallSampleRate`.
   */
  readonly recallSampleRate?: number
  /**
   * Default recall@10 target of this collection's searches, in (0, 1): Quiver chooses `ef` per
   * search from its calibration (docs/recall.md); a request's `ef` / `targetRecall` wins.
   */
  readonly targetRecall?: number
}

/**
 * Qdrant's strict mode: per-collection limits for a shared server, camelCase (wire: the same names
 * in snake_case). Nothing applies unless `enabled` is true; an absent limit does not apply. Checked
 * before a request reads or writes anything; a refused request changes nothing and throws
 * STRICT_MODE (HTTP 400, Qdrant's messages) or, for the rate limits, RATE_LIMITED (HTTP 429 with
 * `Retry-After`). Byte sizes in bytes (estimated as collection info reports them); `maxTimeout` in
 * seconds; rate limits in cost per minute (Qdrant's cost model: a read costs 1 per query vector
 * row, fetched id and filter condition; a write 1 per point it touches, estimated from its filter).
 * Changing strict mode refills the rate limiters.
 */
export interface StrictModeConfig {
  enabled?: boolean
  /** Largest `limit` of any read (groups: `limit` x `groupSize`; the distance matrix: `sample` x `limit`). */
  maxQueryLimit?: number
  maxTimeout?: number
  /** false: read filters may only use indexed payload fields (an index whose type answers the condition). */
  unindexedFilteringRetrieve?: boolean
  /** false: filters of writes (delete / set payload by filter) may only use indexed fields. */
  unindexedFilteringUpdate?: boolean
  searchMaxHnswEf?: number
  /** false: no `exact` searches, and no vector searches of a vector without an HNSW graph (`m: 0`). */
  searchAllowExact?: boolean
  searchMaxOversampling?: number
  /** Most points of one upsert (or vector update). */
  upsertMaxBatchsize?: number
  /** Most requests of one search / query batch. */
  searchMaxBatchsize?: number
  maxCollectionVectorSizeBytes?: number
  maxPointsCount?: number
  readRateLimit?: number
  writeRateLimit?: number
  maxCollectionPayloadSizeBytes?: number
  /** Most leaf conditions of one filter (nested filters counted). */
  filterMaxConditions?: number
  /** Most values of one `any` / `except` / `has_id` list. */
  conditionMaxSize?: number
  /** Most payload indexes of the collection. */
  maxPayloadIndexCount?: number
  /** Qdrant's deprecated limit: writes that add data are refused while the process RSS is at this percentage of the machine's memory. */
  maxResidentMemoryPercent?: number
  /** Per multivector name, the most rows (`maxVectors`) of one stored value. */
  multivectorConfig?: { readonly [name: string]: { readonly maxVectors?: number } }
  /** Per sparse vector name, the most entries (`maxLength`) of one stored value. */
  sparseConfig?: { readonly [name: string]: { readonly maxLength?: number } }
}

/**
 * Qdrant's deployment parameters of a collection. `shardNumber` splits the collection into shards;
 * `onDiskPayload` (default false) keeps sealed segments' payloads in a payload file read on demand
 * (docs/storage-format.md); the others change nothing on one node but are kept and reported as
 * given: `replicationFactor` / `writeConsistencyFactor` / `readFanOutFactor` (default 1 / 1 / absent).
 */
export interface CollectionParams {
  /**
   * Qdrant's `shard_number`: shards the points are spread over by a hash of their id (1..64, fixed
   * at creation; absent = 1). Each shard is a collection of its own on disk (`shards/<i>/`); reads
   * fan out to all of them and merge (docs/cluster.md).
   */
  readonly shardNumber?: number
  readonly replicationFactor?: number
  readonly writeConsistencyFactor?: number
  readonly readFanOutFactor?: number
  readonly onDiskPayload?: boolean
}

/** A change of one dense vector's parameters ({@link CollectionUpdate.vectors}). */
export interface VectorUpdate {
  /** Changed HNSW parameters of this vector (`m: 0` = no graph, exact search). */
  hnsw?: Partial<HnswConfig> | null
  /** New quantization of this vector; `null` (Qdrant's `"Disabled"`) removes it. */
  quantization?: QuantizationConfig | null
  onDisk?: boolean | null
}

/** A change of one sparse vector's parameters ({@link CollectionUpdate.sparseVectors}). */
export interface SparseVectorUpdate {
  modifier?: 'none' | 'idf' | null
  fullScanThreshold?: number | null
  onDisk?: boolean | null
}

/**
 * `updateCollection` / `PATCH /collections/{name}`: what to change; absent fields stay. A change
 * that needs new index data (HNSW `m` / `efConstruct`, quantization) is rebuilt in the background
 * by the optimizers, segment by segment (the collection reports `yellow` meanwhile; searches see
 * each segment either as it was or as rebuilt). The others apply at once. Throws INVALID_CONFIG
 * naming the field; a refused change changes nothing.
 */
export interface CollectionUpdate {
  /**
   * The collection's HNSW defaults. A vector follows each changed field unless its own value
   * differs from the collection's (an override given at creation or by `vectors`).
   */
  hnsw?: Partial<HnswConfig> | null
  optimizers?: Partial<OptimizersConfig> | null
  /**
   * The collection-level quantization (Qdrant's top-level `quantization_config`; `null` =
   * `"Disabled"`): dense single-row vectors that follow it (have none of their own) take the new
   * one; a vector's own (`vectors`) wins.
   */
  quantization?: QuantizationConfig | null
  /** Per dense vector name (`""` = the unnamed vector): Map or own properties of an object. */
  vectors?: ReadonlyMap<string, VectorUpdate> | { readonly [name: string]: VectorUpdate } | null
  /** Per sparse vector name. */
  sparseVectors?:
    | ReadonlyMap<string, SparseVectorUpdate>
    | { readonly [name: string]: SparseVectorUpdate }
    | null
  params?: CollectionParams | null
  /**
   * Strict mode fields to change (merged field by field into the current ones; absent fields
   * stay). Applied at once; refills the rate limiters even when nothing else changes.
   */
  strictMode?: StrictModeConfig | null
  /** Search settings to change (merged field by field; an absent field stays, `null` removes it). */
  searchConfig?: SearchConfigUpdate | null
}

/** Options of one named dense vector (`createCollection({ vectors: { name: ... } })`). */
export interface VectorOptions {
  /** Vector length, 1 .. 65536. */
  dimension: number
  /** Default `Cosine`. */
  metric?: Distance | 'cosine' | 'dot' | 'euclid' | 'l2' | 'manhattan'
  /** Overrides of the collection's `hnsw` for this vector. */
  hnsw?: Partial<HnswConfig>
  quantization?: QuantizationConfig | null
  index?: IndexOptions | null
  /** Default `float32`. */
  datatype?: VectorDatatype | null
  multivector?: MultiVectorConfig | null
  onDisk?: boolean | null
}

/** Options of one sparse vector. */
export interface SparseVectorOptions {
  /** Default `none`. */
  modifier?: 'none' | 'idf' | null
  fullScanThreshold?: number | null
  onDisk?: boolean | null
}

/**
 * `createCollection` options: either the unnamed vector (`dimension`, `metric`, `quantization`,
 * `index`, `datatype`, `multivector` at the top level) or named vectors (`vectors`), and optionally
 * `sparseVectors`. A collection may have only sparse vectors.
 */
export interface CreateCollectionOptions {
  /** The unnamed vector's length, 1 .. 65536 (not with `vectors`). */
  dimension?: number
  /** Default `Cosine`. Lower-case names (`cosine`, `euclid`, `l2`, `dot`, `manhattan`) are accepted. */
  metric?: Distance | 'cosine' | 'dot' | 'euclid' | 'l2' | 'manhattan'
  hnsw?: Partial<HnswConfig>
  optimizers?: Partial<OptimizersConfig>
  /** Quantize the vectors (Qdrant's `quantization_config`); absent or null = none. Changeable: `updateConfig`. */
  quantization?: QuantizationConfig | null
  /**
   * The vector index: HNSW (absent, null or `{ type: 'hnsw' }`) or IVF (`{ type: 'ivf', nlist?, nprobe? }`).
   * Fixed at creation. IVF + `quantization: { product: ... }` = IVF-PQ.
   */
  index?: IndexOptions | null
  /** The unnamed vector's storage type. Default `float32`. */
  datatype?: VectorDatatype | null
  /** Makes the unnamed vector a multivector. */
  multivector?: MultiVectorConfig | null
  /** The unnamed vector's Qdrant `on_disk` ({@link VectorConfig.onDisk}). */
  onDisk?: boolean | null
  /** Named dense vectors (names: 1..255 characters, not `__proto__`); top-level `quantization`/`index` are their defaults. */
  vectors?: Readonly<Record<string, VectorOptions>> | ReadonlyMap<string, VectorOptions> | null
  /** Sparse vectors by name. */
  sparseVectors?:
    | Readonly<Record<string, SparseVectorOptions>>
    | ReadonlyMap<string, SparseVectorOptions>
    | null
  /** Deployment parameters, kept and reported (one node: they change nothing). */
  params?: CollectionParams | null
  /** Qdrant's strict mode (see {@link StrictModeConfig}); absent = none. */
  strictMode?: StrictModeConfig | null
  /** Quiver's search settings (see {@link SearchConfig}); absent = the database's defaults. */
  searchConfig?: SearchConfigUpdate | null
}

/** A sparse vector: `indices` unique (any order) unsigned 32-bit integers, `values` finite, same length. */
export interface SparseVectorInput {
  indices: ArrayLike<number>
  values: ArrayLike<number>
}

/**
 * A document for server-side inference (Qdrant 1.15+): Quiver serves the `qdrant/bm25` model (also
 * `bm25`), which turns `text` into a sparse vector (stored: BM25 term weights; in a query: each term
 * once, IDF from the collection when the sparse vector has `modifier: 'idf'`). `options`: Qdrant's
 * `Bm25Config` (snake_case): `k`, `b`, `avg_len`, `tokenizer`, `language`, `lowercase`,
 * `ascii_folding`, `stopwords`, `stemmer`, `min_token_len`, `max_token_len`. docs/sparse.md.
 */
export interface DocumentInput {
  text: string
  model: string
  options?: Readonly<Record<string, unknown>> | null
}

/** One vector value: dense (numbers), sparse, a multivector (rows of numbers), or a BM25 document. */
export type VectorValue = ArrayLike<number> | SparseVectorInput | readonly ArrayLike<number>[] | DocumentInput

/**
 * A point's vectors: the unnamed vector's value, or named vectors by name (a point may lack some).
 */
export type VectorStruct =
  | ArrayLike<number>
  | readonly ArrayLike<number>[]
  | Readonly<Record<string, VectorValue>>

/**
 * A point to upsert. `vector`: the unnamed vector (`dimension` finite numbers, or rows of them for a
 * multivector), or `{ name: value }` for named dense / sparse / multi vectors (`{}` = none).
 */
export interface PointStruct {
  id: PointId
  vector?: VectorStruct | null
  payload?: Payload | null
}

/** Vectors as returned: the unnamed vector as numbers; named ones by name (sparse as indices/values). */
export type VectorOutput =
  | number[]
  | number[][]
  | { [name: string]: number[] | number[][] | { indices: number[]; values: number[] } }

/** A stored point as returned by get / scroll. */
export interface PointRecord {
  id: PointId
  payload?: Payload
  vector?: VectorOutput
  /** With `scroll({ orderBy })`: the value of the order-by field this record stands for. */
  orderValue?: number
}

/** A search hit. `score`: similarity for Cosine/Dot (higher is better), distance for Euclid/Manhattan (lower is better). */
export interface ScoredPoint {
  id: PointId
  score: number
  /** WAL sequence number of the point's last write. */
  version?: number
  payload?: Payload
  vector?: VectorOutput
  /** `{ orderBy }` queries: the order-by field's value this hit is at (datetimes as epoch microseconds). */
  orderValue?: number
}

// ---- Filters: Qdrant's filter language, as JSON (snake_case keys, exactly as on the wire). ----

/** Keyword, integer or bool (Qdrant matches no floats; use a range). */
export type MatchValue = string | number | boolean
export type Match =
  | { value: MatchValue }
  | { any: MatchValue[] }
  | { except: MatchValue[] }
  | { text: string }
  | { phrase: string }
  | { text_any: string }
  | { prefix: string }
export interface Range {
  gt?: number | null
  gte?: number | null
  lt?: number | null
  lte?: number | null
}
/** RFC 3339 datetime bounds: the field's values compare as datetimes. */
export interface DatetimeRange {
  gt?: string | null
  gte?: string | null
  lt?: string | null
  lte?: string | null
}
export interface ValuesCount {
  gt?: number | null
  gte?: number | null
  lt?: number | null
  lte?: number | null
}
export interface FieldCondition {
  key: string
  match?: Match
  range?: Range | DatetimeRange
  values_count?: ValuesCount
  /** Qdrant's alternative spelling of the is_empty / is_null conditions. */
  is_empty?: boolean
  is_null?: boolean
  /** The field's `{ lat, lon }` value(s) lie within `radius` metres of `center` (haversine). */
  geo_radius?: GeoRadius
  geo_bounding_box?: GeoBoundingBox
  geo_polygon?: GeoPolygon
}

/** A geographic point in degrees: `lat` in [-90, 90], `lon` in [-180, 180]. */
export interface GeoPoint {
  lat: number
  lon: number
}

export interface GeoRadius {
  center: GeoPoint
  /** Metres, >= 0. */
  radius: number
}

/** Corners of a lat/lon rectangle; it crosses the antimeridian when `top_left.lon > bottom_right.lon`. */
export interface GeoBoundingBox {
  top_left: GeoPoint
  bottom_right: GeoPoint
}

/** A closed ring: at least 4 points, the first equal to the last. */
export interface GeoLineString {
  points: GeoPoint[]
}

/** Inside `exterior` and outside every ring of `interiors` (holes). */
export interface GeoPolygon {
  exterior: GeoLineString
  interiors?: GeoLineString[] | null
}
export interface IsEmptyCondition {
  is_empty: { key: string }
}
export interface IsNullCondition {
  is_null: { key: string }
}
/**
 * `{ slice: { total, index } }`: points whose id hashes (SipHash-2-4, Qdrant's) to slice `index` of
 * `total`. Accepted in any filter (cast a filter that uses it: it is kept out of `Condition` so that
 * filters stay assignable to the Qdrant 1.18 client's types).
 */
export interface SliceCondition {
  slice: { total: number; index: number }
}
/** `{ has_vector: name }`: the point holds vector `name` (dense, sparse or multi; `""` = the unnamed one). */
export interface HasVectorCondition {
  has_vector: string
}
export interface HasIdCondition {
  has_id: PointId[]
}
export interface NestedCondition {
  nested: { key: string; filter: Filter }
}
export type Condition =
  | FieldCondition
  | IsEmptyCondition
  | IsNullCondition
  | HasIdCondition
  | HasVectorCondition
  | NestedCondition
  | Filter
export interface MinShould {
  conditions: Condition[]
  min_count: number
}
export interface Filter {
  must?: Condition | Condition[] | null
  should?: Condition | Condition[] | null
  must_not?: Condition | Condition[] | null
  min_should?: MinShould | null
}

// ---- Options and results ----

/**
 * Which payload fields to return (Qdrant's `WithPayloadInterface`): all (`true`), none (`false`),
 * only these key paths (a list, or `{ include }`), or all but these (`{ exclude }`). Key paths are
 * Qdrant's: `a.b` reaches into objects, `a[].b` into each element of an array, `"dotted.key"` is
 * one key. An included nested path keeps its structure (`['n.k']` -> `{ n: { k: ... } }`).
 */
export type WithPayload = boolean | string[] | { include: string[] } | { exclude: string[] }

/** Which vectors to return: all (`true`), none (`false`), or only these names. */
export type WithVector = boolean | readonly string[]

export interface SearchOptions extends ReadOptions {
  /** Hits to return, >= 1. Default 10. */
  limit?: number
  /** Hits to skip before `limit` (pagination). Default 0. */
  offset?: number
  filter?: Filter | null
  /** HNSW query-time candidate list size; the effective value is max(ef, limit + offset). Ignored by IVF. */
  ef?: number
  /**
   * IVF collections: lists scanned per segment (more = higher recall, slower; >= nlist = exact);
   * default the collection's `index.nprobe`. Ignored by HNSW collections.
   */
  nprobe?: number
  /** Brute force over every matching point on the float32 vectors (the recall reference). */
  exact?: boolean
  /**
   * Quiver's extension: the recall@10 to reach, in (0, 1); Quiver chooses `ef` from a calibration
   * per vector and filter selectivity (docs/recall.md). An explicit `ef` wins. Default the
   * collection's `searchConfig.targetRecall`, else none (`ef` as configured). HNSW vectors only.
   */
  targetRecall?: number | null
  /** The vector to search (a dense, sparse or multi vector name). Default the unnamed vector `""`. */
  using?: string | null
  /** How quantized codes are used (collections with quantization only); default: codes, rescored. */
  quantization?: QuantizationSearchParams | null
  /** Drop hits worse than this: min score for Cosine/Dot, max distance for Euclid/Manhattan. */
  scoreThreshold?: number | null
  withPayload?: WithPayload
  withVector?: WithVector
}

/** What `search` takes: dense numbers, a sparse vector, or a multivector's rows (for the vector `using` names). */
export type SearchVector = ArrayLike<number> | SparseVectorInput | readonly ArrayLike<number>[]

export interface SearchRequest extends SearchOptions {
  vector: SearchVector
}

/** A query example: a vector (`dimension` finite numbers) or the id of a stored point (its vector is used). */
export type VectorInput =
  | ArrayLike<number>
  | PointId
  | SparseVectorInput
  | readonly ArrayLike<number>[]
  | DocumentInput

/** How `recommend` scores: Qdrant's strategies. */
export type RecommendStrategy = 'average_vector' | 'best_score' | 'sum_scores'

/** Maximal marginal relevance (Carbonell & Goldstein 1998) over the nearest candidates. */
export interface MmrOptions {
  /** 0 = pure relevance .. 1 = pure diversity (lambda = 1 - diversity). Default 0.5. */
  diversity?: number | null
  /** Nearest candidates MMR chooses from (>= limit + offset). Default limit + offset. */
  candidatesLimit?: number | null
}

/**
 * What a `query` (or a prefetch) ranks by (Qdrant's Query API):
 * - a vector or a point id: nearest neighbours (an id uses that point's vector and excludes it);
 * - `{ nearest, mmr? }`: the same, optionally re-ranked by MMR (scores stay the similarity to `nearest`);
 * - `{ recommend }`: `average_vector` searches `2 * mean(positive) - mean(negative)` (mean(positive)
 *   without negatives); `best_score` and `sum_scores` score every candidate exactly (higher is better);
 * - `{ fusion: 'rrf' | 'dbsf' }` / `{ rrf: { k, weights } }`: merges the prefetches' lists;
 * - `{ formula, defaults? }`: rescores the prefetches' candidates by a score-boosting formula
 *   (higher first); see {@link FormulaExpression};
 * - `{ sample: 'random' }`: random points (score 0);
 * - `{ orderBy }`: points in the order of a range-indexed payload field (as `scroll({ orderBy })`: a
 *   point once per distinct value, `orderValue` set), score 1; no `scoreThreshold`;
 * - `{ discover: { target, context } }`: score = (pairs where the point is more similar to the positive
 *   than to the negative) - (pairs where less) + scaled sigmoid of the similarity to `target` in (0, 1);
 * - `{ context }`: score = sum over pairs of fast sigmoid(min(sim(positive) - sim(negative), 0)), at most 0.
 *   Discover and context score every candidate exactly (Qdrant searches the graph with these scores).
 */
export type Query =
  | VectorInput
  | { nearest: VectorInput; mmr?: MmrOptions | null }
  | {
      recommend: {
        positive?: readonly VectorInput[] | null
        negative?: readonly VectorInput[] | null
        /** Default `average_vector`. */
        strategy?: RecommendStrategy | null
      }
    }
  | { fusion: 'rrf' | 'dbsf' }
  | { rrf: { k?: number | null; weights?: readonly number[] | null } }
  | { sample: 'random' }
  | FormulaQuery
  | { orderBy: OrderBy | string }
  | { discover: { target: VectorInput; context?: ContextPair | readonly ContextPair[] | null } }
  | { context: ContextPair | readonly ContextPair[] | null }

/**
 * Qdrant's score-boosting formula, in Qdrant's JSON (snake_case, like filters). `defaults` maps a
 * variable (`$score`, `$score[i]` or a payload key) to the value used when a candidate has none.
 */
export interface FormulaQuery {
  formula: FormulaExpression
  defaults?: Readonly<Record<string, JsonValue>> | null
}

/** Parameters of `lin_decay`, `exp_decay` and `gauss_decay`: `midpoint` is the value at |x - target| = scale. */
export interface DecayParams {
  x: FormulaExpression
  /** Default 0. */
  target?: FormulaExpression | null
  /** > 0, in units of x. Default 1. */
  scale?: number | null
  /** In (0, 1) ([0, 1] for lin_decay). Default 0.5. */
  midpoint?: number | null
}

/**
 * One formula expression: a number; `"$score"` / `"$score[i]"` (the candidate's score in prefetch
 * i); a payload key whose value is a number; a filter condition (1 when it matches, else 0); or an
 * operator. Datetimes evaluate to epoch seconds, `geo_distance` to metres.
 */
export type FormulaExpression =
  | number
  | string
  | Condition
  | { mult: readonly FormulaExpression[] }
  | { sum: readonly FormulaExpression[] }
  | { neg: FormulaExpression }
  | { abs: FormulaExpression }
  | { div: { left: FormulaExpression; right: FormulaExpression; by_zero_default?: number | null } }
  | { sqrt: FormulaExpression }
  | { pow: { base: FormulaExpression; exponent: FormulaExpression } }
  | { exp: FormulaExpression }
  | { log10: FormulaExpression }
  | { ln: FormulaExpression }
  | { lin_decay: DecayParams }
  | { exp_decay: DecayParams }
  | { gauss_decay: DecayParams }
  | { geo_distance: { origin: GeoPoint; to: string } }
  | { datetime: string }
  | { datetime_key: string }

/** A context example pair (discover, context): prefer points more similar to `positive` than to `negative`. */
export interface ContextPair {
  positive: VectorInput
  negative: VectorInput
}

/** Search parameters of a query stage (Qdrant's `params`). */
export interface QueryParams {
  /** HNSW candidate list size (Qdrant's `hnsw_ef`); the effective value is max(hnswEf, limit + offset). */
  hnswEf?: number | null
  exact?: boolean | null
  quantization?: QuantizationSearchParams | null
  nprobe?: number | null
  /** Quiver's extension: the recall@10 to reach, in (0, 1), instead of `hnswEf` (see SearchOptions.targetRecall). */
  targetRecall?: number | null
}

/** One stage run before its parent's query, which then works on its results. */
export interface Prefetch {
  query?: Query | null
  prefetch?: Prefetch | readonly Prefetch[] | null
  filter?: Filter | null
  /** Candidates this stage passes up, >= 1. Default 10. */
  limit?: number | null
  params?: QueryParams | null
  scoreThreshold?: number | null
  /** The vector to search (a dense, sparse or multi vector name). Default the unnamed vector `""`. */
  using?: string | null
  /**
   * Example ids of this stage are points of another collection (Qdrant's `lookup_from`): their
   * vector `vector` (default the unnamed one) is used; they are not excluded from the results.
   */
  lookupFrom?: { collection: string; vector?: string | null } | null
}

/**
 * `collection.query` request. Absent `query`: points in id order (score 0). With `prefetch`, the
 * query ranks the prefetched candidates; the top-level `filter` applies to every prefetch too.
 */
export interface QueryRequest extends Prefetch, ReadOptions {
  offset?: number | null
  withPayload?: WithPayload
  withVector?: WithVector
}

export interface QueryResult {
  points: ScoredPoint[]
}

/** A group's key: a keyword (string) or an integer value of the `groupBy` field. */
export type GroupId = string | number

/**
 * `collection.queryGroups` request (Qdrant's query/groups): a query (no `offset`) whose hits are
 * grouped by the value of the payload field `groupBy`.
 */
export interface QueryGroupsRequest extends Omit<QueryRequest, 'offset' | 'limit'> {
  /** Payload key path (`a.b`, `tags[]`) of the field to group by: strings and integers. */
  groupBy: string
  /** Hits per group, >= 1. Default 3. */
  groupSize?: number | null
  /** Groups to return, >= 1. Default 10. */
  limit?: number | null
}

export interface PointGroup {
  id: GroupId
  /** Best first, at most `groupSize`. */
  hits: ScoredPoint[]
  /** With a lookup (groups.ts `lookupGroups`): the point of another collection whose id is `id`. */
  lookup?: PointRecord
}

export interface GroupsResult {
  /** Ordered by their best hit. */
  groups: PointGroup[]
}

export interface GetOptions extends ReadOptions {
  withPayload?: WithPayload
  withVector?: WithVector
}

export interface ScrollOptions extends GetOptions, ReadOptions {
  filter?: Filter | null
  /** Points per page, >= 1. Default 10. */
  limit?: number
  /** Start from this id (inclusive); ids run ascending, integers before UUIDs. Not with `orderBy`. */
  offset?: PointId | null
  /**
   * Order by a payload field with a range index (integer with `range`, float, datetime) instead of
   * by id; a string is the field key. See {@link OrderBy}.
   */
  orderBy?: OrderBy | string | null
}

/**
 * Qdrant's `order_by`: points in the order of `key`'s values, once per distinct value a point holds
 * (points without a value are left out), ties by id (descending with `desc`).
 */
export interface OrderBy {
  key: string
  /** Default `asc`. */
  direction?: 'asc' | 'desc' | null
  /**
   * Inclusive bound to start from (asc: values >= it, desc: values <= it): a number, or an RFC 3339
   * datetime (compared as microseconds since the epoch, as datetime indexes hold them).
   */
  startFrom?: number | string | null
}

/** A facet value: a keyword or uuid string, an integer, or a boolean. */
export type FacetValue = string | number | boolean

export interface FacetOptions extends ReadOptions {
  /** Field with a keyword, uuid, bool or integer (`lookup`) payload index. */
  key: string
  filter?: Filter | null
  /** Values to return, >= 1. Default 10. */
  limit?: number
  /** Accepted for Qdrant compatibility: counts are always exact. */
  exact?: boolean
}

export interface FacetHit {
  value: FacetValue
  /** Matching points holding this value (a point counts once per distinct value). */
  count: number
}

export interface FacetResult {
  /** By count descending, then value ascending. */
  hits: FacetHit[]
}

export interface SearchMatrixOptions extends ReadOptions {
  /** Points sampled (at random among the matches), >= 2. Default 10. */
  sample?: number
  /** Nearest neighbours per sampled point, among the sample, >= 1. Default 3. */
  limit?: number
  filter?: Filter | null
  /** The dense or multi vector to compare (points lacking it are not sampled). Default the unnamed vector `""`. */
  using?: string | null
}

export interface SearchMatrixResult {
  /** The sampled point ids, ascending. */
  sampleIds: PointId[]
  /** Per sampled point (same order): its nearest other sampled points, best first. */
  nearest: { id: PointId; score: number }[][]
}

export interface ScrollResult {
  points: PointRecord[]
  /** Id to pass as `offset` for the next page; null on the last page. */
  nextPageOffset: PointId | null
}

export interface CountOptions extends ReadOptions {
  filter?: Filter | null
  /**
   * Qdrant's `exact` (default true). Counts are always exact; the flag matters to strict mode,
   * whose `searchAllowExact: false` refuses `exact: true` (as Qdrant).
   */
  exact?: boolean
}

/** Selects points by ids or by a filter. */
export type PointSelector = { ids: PointId[] } | { filter: Filter }

export interface UpdateResult {
  /** WAL sequence number of the operation. */
  operationId: number
  /**
   * Qdrant's `UpdateStatus`. `completed`: durable (fsynced) and visible to searches.
   * `acknowledged` (`wait: false`): durable in the WAL; applied right after, in WAL order.
   * `wait_timeout` (`wait` with `timeout`): durable, but not yet visible when the timeout passed;
   * it is still applied, in order.
   */
  status: 'acknowledged' | 'completed' | 'wait_timeout'
}

/**
 * How a write answers (Qdrant's `wait` and `timeout` query parameters). Every write is durable in
 * the WAL before its promise resolves, and writes are applied strictly in WAL order.
 */
export interface WriteOptions {
  /**
   * true (default): resolve once the change is visible to searches (`completed`). false: resolve
   * once the record is durable (`acknowledged`); it is applied right after. A later write awaited
   * with `wait: true` resolves only after every earlier one is applied.
   */
  wait?: boolean
  /**
   * Seconds (> 0) to wait for visibility with `wait: true`; past it the promise resolves with
   * `wait_timeout` (the write is durable and still applied). Default: no limit.
   */
  timeout?: number
  /**
   * An idempotency key (1..64 letters, digits, `_`, `-`): on a shared log (a JetStream stream,
   * cluster mode) a write sent again with the same key within 2 minutes is stored once, however
   * often and through whichever node it is retried (the repeat answers the first one's
   * `operationId`). The local WAL and an unshared stream ignore it. Not on the REST API.
   */
  writeId?: string
}

/**
 * A time budget of a read (Qdrant's `timeout` query parameter): `timeout` seconds (> 0). Past it
 * the read stops at its next check (between segments, query stages and batch entries) and throws
 * TIMEOUT; nothing is returned.
 */
/**
 * Qdrant's read consistency (cluster mode, docs/cluster.md "Consistency"): how many replicas of
 * every shard must have caught up with the shard's log before the read is answered: a number, more
 * than half (`majority`, `quorum`: the same here, as replicas never disagree about what they
 * applied), or `all`. One node: one replica, always met.
 */
export type ReadConsistency = number | 'majority' | 'quorum' | 'all'

export interface ReadOptions {
  /** Seconds; past it the read is stopped (REQUEST_TIMEOUT). */
  timeout?: number
  /** Replicas per shard that must be caught up before the answer (cluster mode); default 1. Throws INVALID_ARGUMENT for a bad value or more than a shard has, SHARD_UNAVAILABLE when fewer can. */
  consistency?: ReadConsistency
  /**
   * `false`: the query-result cache is neither read nor filled for this read (an answer computed
   * now, e.g. to measure the index: `quiver eval`; over HTTP, a `Cache-Control: no-cache` header).
   * Default true (when the database has a cache: `queryCacheBytes`).
   */
  cache?: boolean
}

export interface SetPayloadOptions extends WriteOptions {
  /** Assign into this nested key path (e.g. `a.b`) instead of the payload's top level. */
  key?: string
}

// ---- Payload indexes (Qdrant's field index types and params, snake_case as on the wire). ----

/** Qdrant's payload field index types. */
export type PayloadSchemaType =
  | 'keyword'
  | 'integer'
  | 'float'
  | 'bool'
  | 'datetime'
  | 'uuid'
  | 'text'
  | 'geo'

/** Text tokenizers: `word` splits on non-alphanumerics, `whitespace` on whitespace, `prefix` indexes word prefixes; `multilingual` is treated as `word`. */
export type TokenizerType = 'word' | 'whitespace' | 'prefix' | 'multilingual'

/**
 * A field index type with its parameters (Qdrant's `PayloadSchemaParams`). Unknown keys are
 * refused; Qdrant's storage hints (`on_disk`, `memory`, `enable_hnsw`, `is_principal`) are accepted
 * and ignored (every index lives in memory).
 */
export type PayloadSchemaParams =
  | { type: 'keyword'; is_tenant?: boolean | null; on_disk?: boolean | null }
  | {
      type: 'integer'
      lookup?: boolean | null
      range?: boolean | null
      is_principal?: boolean | null
      on_disk?: boolean | null
    }
  | { type: 'float'; is_principal?: boolean | null; on_disk?: boolean | null }
  | { type: 'bool'; on_disk?: boolean | null }
  | { type: 'datetime'; is_principal?: boolean | null; on_disk?: boolean | null }
  | { type: 'uuid'; is_tenant?: boolean | null; on_disk?: boolean | null }
  | {
      type: 'text'
      tokenizer?: TokenizerType | null
      min_token_len?: number | null
      max_token_len?: number | null
      lowercase?: boolean | null
      phrase_matching?: boolean | null
      /** Qdrant's stop words: a language (`"english"`) or `{ languages?, custom? }`; dropped from text and queries. */
      stopwords?: string | { languages?: string[] | null; custom?: string[] | null } | null
      /** Qdrant's `{ type: "snowball", language }` (or `{ type: "none" }`): tokens are stemmed. */
      stemmer?: { type: 'snowball'; language: string } | { type: 'none' } | null
      /** Fold accented Latin letters to ASCII (`ação` -> `acao`). */
      ascii_folding?: boolean | null
      on_disk?: boolean | null
    }
  | { type: 'geo'; on_disk?: boolean | null }

/** What `createPayloadIndex` takes: a type name or a type with parameters. */
export type PayloadFieldSchema = PayloadSchemaType | PayloadSchemaParams

/** One payload index as collection info reports it (Qdrant's `PayloadIndexInfo`). */
export interface PayloadIndexInfo {
  dataType: PayloadSchemaType
  /** The parameters with every default filled in. */
  params: PayloadSchemaParams
  /** Points with at least one indexed value in this field. */
  points: number
}

/**
 * `ok`, or the error that stopped the last optimization (Qdrant's `optimizer_status`). A failed
 * optimization changes nothing (the old segments stay); the next write retries it.
 */
export type OptimizerStatus = 'ok' | { error: string }

export interface CollectionInfo {
  name: string
  /**
   * green: nothing pending; yellow: optimizations running or pending, or the last background
   * persist failed; red: writes stopped after a failed apply (reopen to recover from the WAL).
   */
  status: 'green' | 'yellow' | 'red'
  optimizerStatus: OptimizerStatus
  pointsCount: number
  indexedVectorsCount: number
  segmentsCount: number
  config: CollectionConfig
  /** Payload indexes by field key. */
  payloadSchema: Record<string, PayloadIndexInfo>
  /**
   * Beyond Qdrant: per field key, how many filtered requests since open evaluated a condition on
   * this field without an index (point by point). A field listed here would profit from an index.
   */
  unindexedFilterFields: Record<string, number>
  /**
   * Qdrant's `update_queue`: writes logged in the WAL and not yet applied (`wait: false` ones).
   * Absent from collections that do not queue (fakes in tests).
   */
  updateQueue?: { length: number }
  /**
   * Beyond Qdrant: live recall@k estimates per vector and query class (CollectionOpenOptions
   * `recallSampleRate`; src/collection/recall-sampler.ts), empty until a search was sampled.
   * Absent from collections that do not sample.
   */
  recallEstimates?: RecallEstimate[]
}

// ---- Live recall estimate (src/collection/recall-sampler.ts) ----

/** Selectivity buckets of a filtered search: the fraction of live points its filter matches (planner estimate). */
export type SelectivityBucket = 'lt_1pct' | '1_10pct' | '10_50pct' | 'gt_50pct'

/** A query class the estimate is kept for. */
export interface RecallClass {
  /** Vector name (`""` = the unnamed vector). */
  readonly vector: string
  readonly class: 'unfiltered' | 'filtered'
  /** Filtered searches only. */
  readonly selectivity?: SelectivityBucket
  /** Searched through quantized codes (the vector has quantization and the search did not ignore it). */
  readonly quantized: boolean
}

/** The rolling recall@k estimate of one class. */
export interface RecallEstimate extends RecallClass {
  /** Mean recall@k over the window (the latest 500 samples), 0..1. */
  readonly estimate: number
  /** 95% Wilson score interval of the mean (conservative for values in 0..1). */
  readonly lower: number
  readonly upper: number
  /** Samples in the window. */
  readonly window: number
  /** Samples taken since the collection was opened. */
  readonly samples: number
}

/** Resource figures of one collection (for metrics and telemetry). Sizes in bytes. */
export interface CollectionStats {
  pointsCount: number
  /** Stored points including deleted ones still held by segments (vacuum reclaims them). */
  storedCount: number
  segmentsCount: number
  /** WebAssembly memory of the segments' indexes (vectors + graph + quantized codes), plus payload estimates. */
  memoryBytes: number
  /**
   * Bytes of quantized codes held by trained segments (part of `memoryBytes`); present only when
   * the collection has quantization.
   */
  quantizationBytes?: number
  /**
   * Bytes of vectors held in vector files on disk rather than in memory (`onDisk` vectors of sealed
   * segments, float32 or float16 rows; read only to rescore candidates and for exact searches).
   */
  onDiskVectorBytes: number
  /** Persisted segment files (as listed in the manifest) plus WAL files. */
  diskBytes: number
  /** WAL files only. */
  walBytes: number
  /** Highest WAL seq applied and the highest persisted into segments. */
  appliedSeq: number
  persistedSeq: number
  optimizer: {
    status: OptimizerStatus
    /** An optimization is running now. */
    running: boolean
    /** Optimizations completed since open, by kind. */
    completed: { reconfigure: number; vacuum: number; merge: number }
  }
  /**
   * Since open: searches and queries answered from the database's query-result cache (`hits`) and
   * cacheable ones computed (`misses`). Both 0 when the cache is off.
   */
  queryCache: { hits: number; misses: number }
}

/** One operation of `batchUpdate` (Qdrant's `points/batch`): exactly one key. */
export type UpdateOperation =
  | { upsert: { points: readonly PointStruct[] } }
  | { delete: { selector: PointSelector } }
  | { setPayload: { payload: Payload; selector: PointSelector; key?: string | null } }
  | { overwritePayload: { payload: Payload; selector: PointSelector } }
  | { deletePayload: { keys: readonly string[]; selector: PointSelector } }
  | { clearPayload: { selector: PointSelector } }
  | { updateVectors: { points: readonly { id: PointId; vector: VectorStruct }[] } }
  | { deleteVectors: { names: readonly string[]; selector: PointSelector } }

/** The operations every collection backend offers (embedded today; HTTP client and cluster later). */
export interface Collection {
  readonly name: string
  readonly config: CollectionConfig
  upsert(points: readonly PointStruct[], options?: WriteOptions): Promise<UpdateResult>
  get(ids: readonly PointId[], options?: GetOptions): Promise<PointRecord[]>
  delete(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult>
  /** Replaces some vectors of existing points (their other vectors and payload stay). */
  updateVectors(
    points: readonly { id: PointId; vector: VectorStruct }[],
    options?: WriteOptions,
  ): Promise<UpdateResult>
  /** Removes the named vectors from the selected points. */
  deleteVectors(
    names: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult>
  /** Several update operations applied in order, atomically as one WAL record. */
  batchUpdate(operations: readonly UpdateOperation[], options?: WriteOptions): Promise<UpdateResult>
  /** Changes the collection's parameters while it serves ({@link CollectionUpdate}). */
  updateConfig(update: CollectionUpdate): Promise<UpdateResult>
  count(options?: CountOptions): Promise<number>
  scroll(options?: ScrollOptions): Promise<ScrollResult>
  facet(options: FacetOptions): Promise<FacetResult>
  searchMatrix(options?: SearchMatrixOptions): Promise<SearchMatrixResult>
  search(vector: SearchVector, options?: SearchOptions): Promise<ScoredPoint[]>
  searchBatch(requests: readonly SearchRequest[], options?: ReadOptions): Promise<ScoredPoint[][]>
  query(request?: QueryRequest): Promise<QueryResult>
  queryBatch(requests: readonly QueryRequest[], options?: ReadOptions): Promise<QueryResult[]>
  queryGroups(request: QueryGroupsRequest): Promise<GroupsResult>
  setPayload(payload: Payload, selector: PointSelector, options?: SetPayloadOptions): Promise<UpdateResult>
  overwritePayload(payload: Payload, selector: PointSelector, options?: WriteOptions): Promise<UpdateResult>
  deletePayload(
    keys: readonly string[],
    selector: PointSelector,
    options?: WriteOptions,
  ): Promise<UpdateResult>
  clearPayload(selector: PointSelector, options?: WriteOptions): Promise<UpdateResult>
  info(): Promise<CollectionInfo>
  /** Creates (or replaces) the payload index of field `field` (a key path such as `a.b` or `tags[]`). */
  createPayloadIndex(field: string, schema: PayloadFieldSchema, options?: WriteOptions): Promise<UpdateResult>
  /** Drops the payload index of `field`; a no-op if there is none. */
  deletePayloadIndex(field: string, options?: WriteOptions): Promise<UpdateResult>
  /** Running, queued and completed optimizations (Qdrant's `GET /collections/{c}/optimizations`). */
  optimizations?(options?: OptimizationsOptions): OptimizationsReport
  /** p50 / p99 (milliseconds) of the latest searches and queries; undefined before the first. */
  searchLatency?(): { p50: number; p99: number; count: number } | undefined
  /** Live recall@k estimates per vector and query class (docs/recall.md). */
  recallEstimates?(): RecallEstimate[]
  /** The collection's shards, where each is and its state (Qdrant's `GET /collections/{c}/cluster`). */
  clusterInfo?(): Promise<CollectionClusterInfo>
}

// ---- Shards (Qdrant's collection cluster info) ----

/** Qdrant's `ShardState`s that Quiver reports: `Active` serves reads and writes. */
export type ShardState = 'Active' | 'Partial' | 'Dead' | 'Initializing' | 'Listener'

/** A shard this node holds. */
export interface LocalShardInfo {
  shardId: number
  pointsCount: number
  state: ShardState
}

/** A shard another node holds (cluster mode). */
export interface RemoteShardInfo {
  shardId: number
  peerId: number
  state: ShardState
}

/**
 * Qdrant's cluster operations on a collection (`POST /collections/{c}/cluster`) in camelCase; nodes
 * by Qdrant's numeric peer id (`peerIdOf(nodeId)`). `replicateShard` adds `toPeerId` as a replica of
 * shard `shardId` (`fromPeerId`: a replica it has now; the new one catches up from the shard's log,
 * not from it); `moveShard` does that, then drops `fromPeerId` once `toPeerId` serves the shard;
 * `dropReplica` removes one (not the last).
 */
export type ClusterOperation =
  | { moveShard: { shardId: number; fromPeerId: number; toPeerId: number } }
  | { replicateShard: { shardId: number; fromPeerId: number; toPeerId: number } }
  | { dropReplica: { shardId: number; peerId: number } }

/**
 * A replica being built (cluster mode; Qdrant's ShardTransferInfo): shard `shardId` placed on node
 * `to` (a peer id), which is catching up from the shard's log (or its newest snapshot) and does not
 * serve it yet; `from`: a replica serving it meanwhile.
 */
export interface ShardTransferInfo {
  shardId: number
  from: number
  to: number
  /** Qdrant's flag for a transfer that keeps both replicas (replicate) rather than moving; always true here: the old replica is dropped only once the new one serves. */
  sync: boolean
  comment?: string
}

/** Qdrant's `GET /collections/{c}/cluster` in camelCase. */
export interface CollectionClusterInfo {
  shardCount: number
  localShards: LocalShardInfo[]
  remoteShards: RemoteShardInfo[]
  /** Replicas being built (cluster mode); absent or empty when none. */
  shardTransfers?: ShardTransferInfo[]
}

// ---- Optimization progress (Qdrant's OptimizationsResponse, camelCase). ----

/** A segment as the optimization report names it: a UUID given when the collection first reports it. */
export interface OptimizationSegment {
  uuid: string
  /** Live (non-deleted) points. */
  pointsCount: number
}

export interface Optimization {
  /** The optimization's id; the segment it builds takes it once swapped in. */
  uuid: string
  /** `vacuum` or `merge` (docs/optimizers.md). */
  optimizer: string
  status: 'optimizing' | 'done' | { cancelled: string } | { error: string }
  segments: OptimizationSegment[]
  progress: {
    name: string
    /** ISO 8601. */
    startedAt: string
    finishedAt?: string
    /** Seconds, once finished. */
    durationSec?: number
    /** Points to copy. */
    total: number
  }
}

export interface OptimizationsOptions {
  /** Include the estimated queue (the next due optimization). */
  queued?: boolean
  /** Include this many of the latest completed optimizations (newest first); 0 or absent: none. */
  completedLimit?: number
  /** Include the segments that need no optimization. */
  idleSegments?: boolean
}

export interface OptimizationsReport {
  summary: { queuedOptimizations: number; queuedSegments: number; queuedPoints: number; idleSegments: number }
  running: Optimization[]
  queued?: { optimizer: string; segments: OptimizationSegment[] }[]
  completed?: Optimization[]
  idleSegments?: OptimizationSegment[]
}

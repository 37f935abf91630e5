// Schemas of the `/collections` resource (routes/collections.ts): list, info, create, update, delete, exists, cluster.
import { Type } from '@sinclair/typebox'
import { named, Ok, type QueryParam, quiverOnly, type RouteSchema, TIMEOUT, WAIT } from './common.js'

const ShardState = named(
  'ReplicaState',
  Type.Union(['Active', 'Dead', 'Partial', 'Initializing', 'Listener'].map((s) => Type.Literal(s))),
)

const CollectionClusterInfo = named(
  'CollectionClusterInfo',
  Type.Object({
    peer_id: Type.Integer({ minimum: 0, description: 'This node (0 on a single node)' }),
    shard_count: Type.Integer({ minimum: 1 }),
    local_shards: Type.Array(
      Type.Object({
        shard_id: Type.Integer({ minimum: 0 }),
        points_count: Type.Integer({ minimum: 0 }),
        state: ShardState,
      }),
    ),
    remote_shards: Type.Array(
      Type.Object({
        shard_id: Type.Integer({ minimum: 0 }),
        peer_id: Type.Integer({ minimum: 0 }),
        state: ShardState,
      }),
    ),
    shard_transfers: Type.Array(
      Type.Object({
        shard_id: Type.Integer({ minimum: 0 }),
        from: Type.Integer({ minimum: 0 }),
        to: Type.Integer({ minimum: 0 }),
        sync: Type.Boolean(),
        comment: Type.Optional(Type.String()),
      }),
    ),
  }),
)

const Distance = named(
  'Distance',
  Type.Union([
    Type.Literal('Cosine'),
    Type.Literal('Euclid'),
    Type.Literal('Dot'),
    Type.Literal('Manhattan'),
  ]),
)

const HnswConfigDiff = named(
  'HnswConfigDiff',
  Type.Object({
    m: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    ef_construct: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    full_scan_threshold: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, description: 'KiB' }), Type.Null()]),
    ),
    max_indexing_threads: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    on_disk: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    payload_m: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  }),
)

/** Qdrant's `QuantizationConfig` (scalar, product, binary), as given at creation; checked by quantization/config.ts. */
export const QuantizationConfig = named(
  'QuantizationConfig',
  Type.Union([
    Type.Object({
      scalar: Type.Object({
        type: Type.Literal('int8'),
        quantile: Type.Optional(Type.Union([Type.Number({ minimum: 0.5, maximum: 1 }), Type.Null()])),
        always_ram: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
      }),
    }),
    Type.Object({
      product: Type.Object({
        compression: Type.Union(['x4', 'x8', 'x16', 'x32', 'x64'].map((c) => Type.Literal(c))),
        always_ram: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
      }),
    }),
    Type.Object({
      binary: Type.Object({
        always_ram: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
        encoding: Type.Optional(Type.Union([Type.Literal('one_bit'), Type.Null()])),
      }),
    }),
  ]),
)

const IvfConfig = named(
  'IvfConfig',
  quiverOnly(
    Type.Object({
      nlist: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      nprobe: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    }),
    "Quiver's IVF index (docs/ivf.md): its presence at creation selects IVF; null = automatic",
  ),
)

const Datatype = Type.Union([Type.Literal('float32'), Type.Literal('float16'), Type.Literal('uint8')])
const MultiVectorConfig = named('MultiVectorConfig', Type.Object({ comparator: Type.Literal('max_sim') }))

const VectorParams = named(
  'VectorParams',
  Type.Object({
    size: Type.Integer({ minimum: 1 }),
    distance: Distance,
    hnsw_config: Type.Optional(Type.Union([HnswConfigDiff, Type.Null()])),
    quantization_config: Type.Optional(Type.Union([QuantizationConfig, Type.Null()])),
    on_disk: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    datatype: Type.Optional(Type.Union([Datatype, Type.Null()])),
    multivector_config: Type.Optional(Type.Union([MultiVectorConfig, Type.Null()])),
    ivf_config: Type.Optional(Type.Union([IvfConfig, Type.Null()])),
  }),
)

const VectorsConfig = named(
  'VectorsConfig',
  Type.Union([VectorParams, Type.Record(Type.String(), VectorParams)]),
)

const SparseIndexParams = named(
  'SparseIndexParams',
  Type.Object({
    full_scan_threshold: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    on_disk: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    datatype: Type.Optional(Type.Union([Type.Literal('float32'), Type.Null()])),
  }),
)

const SparseVectorParams = named(
  'SparseVectorParams',
  Type.Object({
    index: Type.Optional(Type.Union([SparseIndexParams, Type.Null()])),
    modifier: Type.Optional(Type.Union([Type.Literal('idf'), Type.Literal('none'), Type.Null()])),
  }),
)

const OptimizersConfigDiff = named(
  'OptimizersConfigDiff',
  Type.Object({
    deleted_threshold: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()]),
    ),
    vacuum_min_vector_number: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    default_segment_number: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    max_segment_size: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, description: 'KiB' }), Type.Null()]),
    ),
    memmap_threshold: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    indexing_threshold: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    flush_interval_sec: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    max_optimization_threads: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.String(), Type.Null()]),
    ),
    prevent_unoptimized: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }),
)

const Nullable = (s: Parameters<typeof Type.Optional>[0]) => Type.Optional(Type.Union([s, Type.Null()]))

/** `PUT /collections/{name}`: Qdrant's `CreateCollection`; deployment options are accepted and ignored. */

const Limit = (minimum: number) => Nullable(Type.Integer({ minimum }))

/** Qdrant's `StrictModeConfig` (per-collection limits; see docs/rest-api.md "Strict mode"). */
const SearchConfig = named(
  'SearchConfig',
  quiverOnly(
    Type.Object({
      recall_sample_rate: Nullable(
        Type.Number({
          minimum: 0,
          maximum: 1,
          description: 'share of searches re-run exactly for the live recall estimate (docs/recall.md)',
        }),
      ),
      target_recall: Nullable(
        Type.Number({
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
          description: 'default recall@10 target: Quiver chooses hnsw_ef per search (docs/recall.md)',
        }),
      ),
    }),
    "Quiver's search settings of the collection",
  ),
)

const StrictModeConfig = named(
  'StrictModeConfig',
  Type.Object({
    enabled: Nullable(Type.Boolean()),
    max_query_limit: Limit(1),
    max_timeout: Limit(1),
    unindexed_filtering_retrieve: Nullable(Type.Boolean()),
    unindexed_filtering_update: Nullable(Type.Boolean()),
    search_max_hnsw_ef: Limit(0),
    search_allow_exact: Nullable(Type.Boolean()),
    search_max_oversampling: Nullable(Type.Number({ minimum: 0 })),
    upsert_max_batchsize: Limit(0),
    search_max_batchsize: Limit(0),
    max_collection_vector_size_bytes: Limit(0),
    read_rate_limit: Limit(1),
    write_rate_limit: Limit(1),
    max_collection_payload_size_bytes: Limit(0),
    max_points_count: Limit(1),
    filter_max_conditions: Limit(0),
    condition_max_size: Limit(0),
    multivector_config: Nullable(
      Type.Record(Type.String(), Type.Object({ max_vectors: Nullable(Type.Integer({ minimum: 1 })) })),
    ),
    sparse_config: Nullable(
      Type.Record(Type.String(), Type.Object({ max_length: Nullable(Type.Integer({ minimum: 1 })) })),
    ),
    max_payload_index_count: Limit(0),
    max_resident_memory_percent: Nullable(Type.Integer({ minimum: 1, maximum: 100 })),
  }),
)

const CreateCollection = named(
  'CreateCollection',
  Type.Object({
    vectors: Type.Optional(VectorsConfig),
    shard_number: Nullable(Type.Integer({ minimum: 1 })),
    sharding_method: Nullable(Type.Literal('auto')),
    replication_factor: Nullable(Type.Integer({ minimum: 1 })),
    write_consistency_factor: Nullable(Type.Integer({ minimum: 1 })),
    on_disk_payload: Nullable(Type.Boolean()),
    hnsw_config: Nullable(HnswConfigDiff),
    wal_config: Nullable(Type.Object({}, { additionalProperties: true })),
    optimizers_config: Nullable(OptimizersConfigDiff),
    quantization_config: Nullable(QuantizationConfig),
    quantization: Type.Optional(
      quiverOnly(
        Type.Union([QuantizationConfig, Type.Null()]),
        "Qdrant's serde alias of quantization_config (not in its spec); quantization_config wins",
      ),
    ),
    sparse_vectors: Nullable(Type.Record(Type.String(), SparseVectorParams)),
    strict_mode_config: Nullable(StrictModeConfig),
    search_config: Nullable(SearchConfig),
    ivf_config: Type.Optional(Type.Union([IvfConfig, Type.Null()])),
  }),
)

/** Qdrant's `QuantizationConfigDiff`: a new quantization, or `"Disabled"` to remove it. */
const QuantizationConfigDiff = named(
  'QuantizationConfigDiff',
  Type.Union([QuantizationConfig, named('Disabled', Type.Literal('Disabled'))]),
)

/** Qdrant's `VectorParamsDiff`: what PATCH changes of one vector. */
const VectorParamsDiff = named(
  'VectorParamsDiff',
  Type.Object({
    hnsw_config: Nullable(HnswConfigDiff),
    quantization_config: Nullable(QuantizationConfigDiff),
    on_disk: Nullable(Type.Boolean()),
  }),
)

/** Qdrant's `CollectionParamsDiff`. */
const CollectionParamsDiff = named(
  'CollectionParamsDiff',
  Type.Object({
    replication_factor: Nullable(Type.Integer({ minimum: 1 })),
    write_consistency_factor: Nullable(Type.Integer({ minimum: 1 })),
    read_fan_out_factor: Nullable(Type.Integer({ minimum: 0, maximum: 1024 })),
    on_disk_payload: Nullable(Type.Boolean()),
  }),
)

/**
 * `PATCH /collections/{name}`: Qdrant's `UpdateCollection`, applied live (wire/collections.ts
 * parseUpdateCollection). `vectors` and `sparse_vectors` name existing vectors (`""` = the unnamed
 * one); `ivf_config` and `metadata` cannot change (400); null fields change nothing.
 */
const UpdateCollection = named(
  'UpdateCollection',
  Type.Object({
    vectors: Nullable(named('VectorsConfigDiff', Type.Record(Type.String(), VectorParamsDiff))),
    optimizers_config: Nullable(OptimizersConfigDiff),
    params: Nullable(CollectionParamsDiff),
    hnsw_config: Nullable(HnswConfigDiff),
    quantization_config: Nullable(QuantizationConfigDiff),
    sparse_vectors: Nullable(
      named(
        'SparseVectorsConfig',
        Type.Record(
          Type.String(),
          Type.Object({
            index: Nullable(
              Type.Object({
                full_scan_threshold: Nullable(Type.Integer({ minimum: 0 })),
                on_disk: Nullable(Type.Boolean()),
              }),
            ),
            modifier: Nullable(Type.Union([Type.Literal('idf'), Type.Literal('none')])),
          }),
        ),
      ),
    ),
    strict_mode_config: Nullable(StrictModeConfig),
    search_config: Nullable(SearchConfig),
  }),
)

const VectorParamsOutput = Type.Object({
  size: Type.Integer({ minimum: 1 }),
  distance: Distance,
  datatype: Type.Optional(Datatype),
  multivector_config: Type.Optional(MultiVectorConfig),
  on_disk: Type.Optional(Type.Boolean()),
  hnsw_config: Type.Optional(
    Type.Object(
      {
        m: Type.Optional(Type.Integer()),
        ef_construct: Type.Optional(Type.Integer()),
        full_scan_threshold: Type.Optional(Type.Integer()),
      },
      { description: "only the fields that differ from the collection's hnsw_config" },
    ),
  ),
  quantization_config: Type.Optional(QuantizationConfig),
  ivf_config: Type.Optional(
    quiverOnly(
      Type.Object({
        nlist: Type.Union([Type.Integer(), Type.Null()]),
        nprobe: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ),
  ),
})

const PayloadIndexInfo = named(
  'PayloadIndexInfo',
  Type.Object({
    data_type: Type.Union(
      ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'].map((t) => Type.Literal(t)),
    ),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    points: Type.Integer({ minimum: 0 }),
  }),
)

const OptimizersStatus = named(
  'OptimizersStatus',
  Type.Union([Type.Literal('ok'), Type.Object({ error: Type.String() })]),
)

/** `GET /collections/{name}`: Qdrant's `CollectionInfo` as Quiver fills it. */
export const CollectionInfo = named(
  'CollectionInfo',
  Type.Object({
    status: Type.Union([
      Type.Literal('green'),
      Type.Literal('yellow'),
      Type.Literal('grey'),
      Type.Literal('red'),
    ]),
    optimizer_status: OptimizersStatus,
    indexed_vectors_count: Type.Integer({ minimum: 0 }),
    points_count: Type.Integer({ minimum: 0 }),
    segments_count: Type.Integer({ minimum: 0 }),
    config: Type.Object({
      params: Type.Object({
        vectors: Type.Union([VectorParamsOutput, Type.Record(Type.String(), VectorParamsOutput)]),
        sparse_vectors: Type.Optional(Type.Record(Type.String(), SparseVectorParams)),
        shard_number: Type.Integer({ minimum: 1 }),
        replication_factor: Type.Integer({ minimum: 1 }),
        write_consistency_factor: Type.Integer({ minimum: 1 }),
        read_fan_out_factor: Type.Optional(Type.Integer({ minimum: 0, description: 'when set' })),
        on_disk_payload: Type.Boolean(),
      }),
      hnsw_config: Type.Object({
        m: Type.Integer({ minimum: 0 }),
        ef_construct: Type.Integer({ minimum: 1 }),
        full_scan_threshold: Type.Integer({ minimum: 0, description: 'KiB' }),
        max_indexing_threads: Type.Integer({ minimum: 0 }),
        on_disk: Type.Boolean(),
      }),
      optimizer_config: Type.Object({
        deleted_threshold: Type.Number(),
        vacuum_min_vector_number: Type.Integer(),
        default_segment_number: Type.Integer(),
        max_segment_size: Type.Union([Type.Integer({ description: 'KiB' }), Type.Null()]),
        memmap_threshold: Type.Union([Type.Integer(), Type.Null()]),
        indexing_threshold: Type.Union([Type.Integer(), Type.Null()]),
        flush_interval_sec: Type.Integer(),
        max_optimization_threads: Type.Union([Type.Integer(), Type.Null()]),
      }),
      quantization_config: Type.Union([QuantizationConfig, Type.Null()]),
      strict_mode_config: Type.Optional(StrictModeConfig),
      search_config: Type.Optional(
        quiverOnly(
          Type.Object({
            recall_sample_rate: Type.Union([Type.Number(), Type.Null()]),
            target_recall: Type.Union([Type.Number(), Type.Null()]),
          }),
          "the collection's search settings (Quiver's search_config), when set",
        ),
      ),
      ivf_config: quiverOnly(
        Type.Union([
          Type.Object({
            nlist: Type.Union([Type.Integer(), Type.Null()]),
            nprobe: Type.Union([Type.Integer(), Type.Null()]),
          }),
          Type.Null(),
        ]),
        'the IVF parameters when the collection uses IVF, else null',
      ),
    }),
    payload_schema: Type.Record(Type.String(), PayloadIndexInfo),
    unindexed_filter_fields: quiverOnly(
      Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
      'per payload key: filtered requests since open that evaluated it without an index',
    ),
    recall_estimates: Type.Optional(
      quiverOnly(
        Type.Array(
          named(
            'RecallEstimate',
            Type.Object({
              vector: Type.String({ description: 'vector name ("" = the unnamed vector)' }),
              class: Type.Union([Type.Literal('unfiltered'), Type.Literal('filtered')]),
              selectivity: Type.Optional(
                Type.Union([
                  Type.Literal('lt_1pct'),
                  Type.Literal('1_10pct'),
                  Type.Literal('10_50pct'),
                  Type.Literal('gt_50pct'),
                ]),
              ),
              quantized: Type.Boolean(),
              estimate: Type.Number({
                minimum: 0,
                maximum: 1,
                description: 'mean recall@k of the sampled searches',
              }),
              lower: Type.Number({ minimum: 0, maximum: 1, description: '95% confidence interval, low end' }),
              upper: Type.Number({
                minimum: 0,
                maximum: 1,
                description: '95% confidence interval, high end',
              }),
              window: Type.Integer({
                minimum: 0,
                description: 'samples the estimate is over (the latest 500)',
              }),
              samples: Type.Integer({ minimum: 0, description: 'samples since the collection was opened' }),
            }),
          ),
        ),
        'live recall@k estimates per vector and query class (searches re-run exactly in the background)',
      ),
    ),
    update_queue: Type.Optional(
      named(
        'UpdateQueueInfo',
        Type.Object({
          length: Type.Integer({ minimum: 0, description: 'writes logged and not yet applied (wait=false)' }),
        }),
      ),
    ),
  }),
)

const OptimizationSegmentInfo = named(
  'OptimizationSegmentInfo',
  Type.Object({ uuid: Type.String(), points_count: Type.Integer({ minimum: 0 }) }),
)

const Optimization = named(
  'Optimization',
  Type.Object({
    uuid: Type.String(),
    optimizer: Type.String({ description: 'vacuum or merge (docs/optimizers.md)' }),
    status: named(
      'TrackerStatus',
      Type.Union([
        Type.Literal('optimizing'),
        Type.Literal('done'),
        Type.Object({ cancelled: Type.String() }),
        Type.Object({ error: Type.String() }),
      ]),
    ),
    segments: Type.Array(OptimizationSegmentInfo),
    progress: named(
      'ProgressTree',
      Type.Object({
        name: Type.String(),
        started_at: Type.String({ description: 'RFC 3339' }),
        finished_at: Type.Optional(Type.String({ description: 'RFC 3339' })),
        duration_sec: Type.Optional(Type.Number({ minimum: 0 })),
        total: Type.Integer({ minimum: 0 }),
      }),
    ),
  }),
)

/** `GET /collections/{name}/optimizations`: Qdrant's `OptimizationsResponse`. */
const OptimizationsResponse = named(
  'OptimizationsResponse',
  Type.Object({
    summary: named(
      'OptimizationsSummary',
      Type.Object({
        queued_optimizations: Type.Integer({ minimum: 0 }),
        queued_segments: Type.Integer({ minimum: 0 }),
        queued_points: Type.Integer({ minimum: 0 }),
        idle_segments: Type.Integer({ minimum: 0 }),
      }),
    ),
    running: Type.Array(Optimization),
    queued: Type.Optional(
      Type.Array(
        named(
          'PendingOptimization',
          Type.Object({ optimizer: Type.String(), segments: Type.Array(OptimizationSegmentInfo) }),
        ),
      ),
    ),
    completed: Type.Optional(Type.Array(Optimization)),
    idle_segments: Type.Optional(Type.Array(OptimizationSegmentInfo)),
  }),
)

const WITH: QueryParam = {
  name: 'with',
  schema: Type.String({ pattern: '^[a-z_, ]*$' }),
  description: 'comma-separated: queued, completed, idle_segments',
}
const COMPLETED_LIMIT: QueryParam = {
  name: 'completed_limit',
  schema: Type.String({ pattern: '^[0-9]{1,9}$' }),
  description: 'completed optimizations to list (default 16); only with `with=completed`',
}

const TAGS = ['Collections'] as const

const ShardTransfer = (name: string) =>
  named(
    name,
    Type.Object({
      shard_id: Type.Integer({ minimum: 0 }),
      from_peer_id: Type.Integer({ minimum: 0 }),
      to_peer_id: Type.Integer({ minimum: 0 }),
      method: Type.Optional(
        Type.Union([Type.String(), Type.Null(), Type.Object({})], {
          description: 'Accepted and ignored: a new replica catches up from the shard log',
        }),
      ),
    }),
  )

/** `POST /collections/{c}/cluster`: Qdrant's `ClusterOperations` that Quiver supports. */
const ClusterOperations = named(
  'ClusterOperations',
  Type.Union([
    named('MoveShardOperation', Type.Object({ move_shard: ShardTransfer('MoveShard') })),
    named('ReplicateShardOperation', Type.Object({ replicate_shard: ShardTransfer('ReplicateShard') })),
    named(
      'DropReplicaOperation',
      Type.Object({
        drop_replica: named(
          'Replica',
          Type.Object({ shard_id: Type.Integer({ minimum: 0 }), peer_id: Type.Integer({ minimum: 0 }) }),
        ),
      }),
    ),
  ]),
)

export const COLLECTION_ROUTES: readonly RouteSchema[] = [
  {
    method: 'GET',
    url: '/collections',
    operationId: 'get_collections',
    summary: 'List collections',
    tags: TAGS,
    response: Ok(
      named(
        'CollectionsResponse',
        Type.Object({ collections: Type.Array(Type.Object({ name: Type.String() })) }),
      ),
    ),
  },
  {
    method: 'GET',
    url: '/collections/:collection_name',
    operationId: 'get_collection',
    summary: 'Collection info',
    tags: TAGS,
    response: Ok(CollectionInfo),
  },
  {
    method: 'PUT',
    url: '/collections/:collection_name',
    operationId: 'create_collection',
    summary: 'Create a collection',
    tags: TAGS,
    body: CreateCollection,
    query: [TIMEOUT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'PATCH',
    url: '/collections/:collection_name',
    operationId: 'update_collection',
    summary: 'Update collection parameters, applied live',
    tags: TAGS,
    body: UpdateCollection,
    bodyOptional: true,
    query: [TIMEOUT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'DELETE',
    url: '/collections/:collection_name',
    operationId: 'delete_collection',
    summary: 'Delete a collection',
    tags: TAGS,
    query: [TIMEOUT, { ...WAIT, extension: true }],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'GET',
    url: '/collections/:collection_name/exists',
    operationId: 'collection_exists',
    summary: 'Whether a collection exists',
    tags: TAGS,
    response: Ok(named('CollectionExistence', Type.Object({ exists: Type.Boolean() }))),
  },
  {
    method: 'GET',
    url: '/collections/:collection_name/cluster',
    operationId: 'collection_cluster_info',
    summary: "The collection's shards: where each is and its state",
    tags: TAGS,
    response: Ok(CollectionClusterInfo),
  },
  {
    method: 'POST',
    url: '/collections/:collection_name/cluster',
    operationId: 'update_collection_cluster',
    summary:
      'Replicate, move or drop a replica of a shard (cluster mode, collections created with replication_factor)',
    tags: TAGS,
    body: ClusterOperations,
    query: [TIMEOUT],
    response: Ok(Type.Boolean()),
  },
  {
    method: 'GET',
    url: '/collections/:collection_name/optimizations',
    operationId: 'get_optimizations',
    summary: 'Running, queued and completed optimizations',
    tags: TAGS,
    query: [WITH, COMPLETED_LIMIT],
    response: Ok(OptimizationsResponse),
  },
]

// Strict mode: Qdrant's per-collection `strict_mode_config` limits (issue 13 section 3), enforced
// by EmbeddedCollection before a request reads or writes anything. This module holds Qdrant's
// checks with Qdrant's messages (lib/collection/src/operations/verification), and the
// token-bucket rate limiters (lib/common/common/src/rate_limiting.rs); the config itself is strict-mode-config.ts. It reads a collection only
// through `StrictModeView`, so it knows nothing of segments.

import { totalmem } from 'node:os'
import { QuiverError } from '../errors.js'
import type { FieldNode, FilterNode } from '../filter/ast.js'
import { isAbsent } from '../json-input.js'
import type { PayloadSchemaParams, PointId, StrictModeConfig } from '../types.js'
import type { Formula, FormulaNode } from './formula.js'
import type { QueryVector, Stage, VectorSource } from './query.js'

/** Qdrant's strict-mode error: `{error}. Help: {solution}`, code STRICT_MODE (HTTP 400). */
export function strictModeError(error: string, solution: string): QuiverError {
  return new QuiverError('STRICT_MODE', `${error}. Help: ${solution}`)
}

/** A size limit reached (Qdrant answers these as a plain bad request, without `Help:`). */
function limitReached(message: string): QuiverError {
  return new QuiverError('STRICT_MODE', message)
}

/**
 * Throws Qdrant's `Limit exceeded {value} > {limit} for "{name}"` when both are set and
 * `value > limit`.
 */
export function checkLimit(value: number | undefined, limit: number | undefined, name: string): void {
  if (isAbsent(value) || isAbsent(limit) || value <= limit) return
  throw strictModeError(
    `Limit exceeded ${value} > ${limit} for "${name}"`,
    `Reduce the "${name}" parameter to or below ${limit}.`,
  )
}

/** Throws Qdrant's `{name} disabled!` when `allowed` is false and `value` is true. */
export function checkAllowed(
  value: boolean | undefined,
  allowed: boolean | undefined,
  name: string,
  parameter: string,
): void {
  if (allowed !== false || value !== true) return
  throw strictModeError(`${name} disabled!`, `Set ${parameter}=false.`)
}

// ---- rate limiting ----

/**
 * Qdrant's token bucket: `perMinute` tokens, refilled continuously at `perMinute / 60` per second,
 * starting full. `clock` returns milliseconds.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    readonly perMinute: number,
    private readonly clock: () => number,
  ) {
    this.tokens = perMinute
    this.last = clock()
  }

  /**
   * Takes `cost` tokens, or throws RATE_LIMITED (HTTP 429) with Qdrant's message and
   * `details.retryAfterSeconds` (absent when the cost exceeds the bucket: no wait helps).
   */
  consume(cost: number, kind: 'Read' | 'Write'): void {
    this.take(cost, kind, true)
  }

  /** Throws what `consume(cost)` would throw now, taking nothing (a sharded write's dry run). */
  check(cost: number, kind: 'Read' | 'Write'): void {
    this.take(cost, kind, false)
  }

  private take(cost: number, kind: 'Read' | 'Write', deduct: boolean): void {
    if (cost > this.perMinute)
      throw new QuiverError(
        'RATE_LIMITED',
        `Rate limiting exceeded: ${kind} rate limit exceeded, request larger than rate limiter capacity, please try to split your request`,
      )
    const now = this.clock()
    const perSecond = this.perMinute / 60
    this.tokens = Math.min(this.perMinute, this.tokens + (perSecond * Math.max(0, now - this.last)) / 1000)
    this.last = now
    if (this.tokens >= cost) {
      if (deduct) this.tokens -= cost
      return
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((cost - this.tokens) / perSecond))
    throw new QuiverError(
      'RATE_LIMITED',
      `Rate limiting exceeded: ${kind} rate limit exceeded: Operation requires ${cost} tokens but only ${this.tokens.toFixed(1)} were available. Retry after ${retryAfterSeconds}s`,
      { retryAfterSeconds },
    )
  }
}

// ---- what the checks read of a collection ----

/** Estimated storage of a collection (Qdrant's estimated collection stats). Bytes; each read may compute. */
export interface CollectionSizes {
  readonly points: number
  readonly vectorBytes: number
  readonly payloadBytes: number
}

/** The collection as strict mode sees it. */
export interface StrictModeView {
  /** The index definition of payload field `key` (its text as created), or undefined. */
  indexOf(key: string): PayloadSchemaParams | undefined
  /** Payload fields with an index. */
  indexCount(): number
  /** The HNSW `m` of dense vector `using` (0 = no graph); undefined for a sparse vector. */
  hnswM(using: string): number | undefined
  sizes(): CollectionSizes
  /** Expected number of points `filter` matches (the planner's estimate). */
  estimate(filter: FilterNode): number
  /** Rows of the stored vector `using` of point `id` (1 for a dense one, 0 when absent). */
  storedRows(using: string, id: PointId): number
  /** Rows of query vector `vector` of `using` (a multivector's count, else 1). */
  queryRows(using: string, vector: QueryVector): number
}

// ---- filters ----

/** Qdrant's `total_conditions_count`: the leaf conditions of a filter, nested filters included. */
export function conditionCount(node: FilterNode | null): number {
  if (node === null) return 0
  switch (node.kind) {
    case 'true':
      return 0
    case 'and':
    case 'or':
    case 'min_should':
      return node.children.reduce((n, c) => n + conditionCount(c), 0)
    case 'not':
      return conditionCount(node.child)
    case 'nested':
      return conditionCount(node.filter)
    default:
      return 1
  }
}

/** Qdrant's `max_condition_input_size`: the largest `any` / `except` / `has_id` list of a filter. */
export function maxConditionSize(node: FilterNode | null): number {
  if (node === null) return 0
  switch (node.kind) {
    case 'and':
    case 'or':
    case 'min_should':
      return node.children.reduce((n, c) => Math.max(n, maxConditionSize(c)), 0)
    case 'not':
      return maxConditionSize(node.child)
    case 'nested':
      return maxConditionSize(node.filter)
    case 'match_any':
    case 'match_except':
      return node.values.size
    case 'has_id':
      return node.ids.size
    default:
      return 0
  }
}

/** Index capabilities (Qdrant's FieldIndexType), with the schema name each is listed under in messages. */
type Capability =
  | 'int_match'
  | 'int_range'
  | 'keyword_match'
  | 'keyword_prefix'
  | 'float_range'
  | 'text'
  | 'text_phrase'
  | 'bool_match'
  | 'uuid_match'
  | 'datetime_range'
  | 'geo'

const SCHEMA_NAME: Record<Capability, string> = {
  int_match: 'integer',
  int_range: 'integer',
  keyword_match: 'keyword',
  keyword_prefix: 'keyword',
  float_range: 'float',
  text: 'text',
  text_phrase: 'text',
  bool_match: 'bool',
  uuid_match: 'uuid',
  datetime_range: 'datetime',
  geo: 'geo',
}
const ALL_CAPABILITIES = Object.keys(SCHEMA_NAME) as Capability[]

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

function capabilities(p: PayloadSchemaParams): Set<Capability> {
  switch (p.type) {
    case 'keyword':
      return new Set(['keyword_match'])
    case 'integer': {
      const out = new Set<Capability>()
      if (p.lookup !== false) out.add('int_match')
      if (p.range !== false) out.add('int_range')
      return out
    }
    case 'uuid':
      return new Set(['uuid_match'])
    case 'bool':
      return new Set(['bool_match'])
    case 'float':
      return new Set(['float_range'])
    case 'geo':
      return new Set(['geo'])
    case 'text':
      return new Set(p.phrase_matching === true ? ['text', 'text_phrase'] : ['text'])
    case 'datetime':
      return new Set(['datetime_range'])
  }
}

/** The index capabilities that would answer `node` (any one of them will do); empty: none needed. */
function required(node: FieldNode): Capability[] {
  switch (node.kind) {
    case 'match_value':
      if (typeof node.value === 'boolean') return ['bool_match']
      if (typeof node.value === 'number') return ['int_match']
      return UUID_RE.test(node.value) ? ['uuid_match', 'keyword_match'] : ['keyword_match']
    case 'match_any':
    case 'match_except':
      if (node.values.size === 0) return []
      if (node.valueType === 'integer') return ['int_match']
      return [...node.values].every((v) => typeof v === 'string' && UUID_RE.test(v))
        ? ['uuid_match', 'keyword_match']
        : ['keyword_match']
    case 'match_text':
      return node.form === 'phrase' ? ['text_phrase'] : ['text']
    case 'match_text_any':
      return ['text']
    case 'match_prefix':
      return ['keyword_prefix']
    case 'range':
      return node.valueType === 'datetime' ? ['datetime_range'] : ['float_range', 'int_range']
    case 'geo_radius':
    case 'geo_bounding_box':
    case 'geo_polygon':
      return ['geo']
    case 'values_count':
    case 'is_empty':
    case 'is_null':
    case 'field_is_empty':
    case 'field_is_null':
      return ALL_CAPABILITIES
    case 'nested':
      return []
  }
}

/** A key no index answers: the index types that would, or `prefix` (no Quiver index answers match.prefix). */
interface Unindexed {
  readonly key: string
  readonly types: string[]
  readonly prefix?: true
}

/** The strict-mode error for `found`, with `solution` as Qdrant's help. */
function unindexedError(found: Unindexed, solution: string): QuiverError {
  if (found.prefix === true)
    return strictModeError(
      `Index required but not found for "${found.key}": prefix matching (match.prefix) cannot use a payload index in Quiver`,
      'Allow unindexed filtering in strict mode (unindexed_filtering_retrieve / unindexed_filtering_update) or use a different filter.',
    )
  return strictModeError(
    `Index required but not found for "${found.key}" of one of the following types: [${found.types.join(', ')}]`,
    solution,
  )
}

/** The first payload key of `node` with no index able to answer its condition, and the index types that would. */
function unindexedKey(node: FilterNode, view: StrictModeView, prefix: string): Unindexed | undefined {
  switch (node.kind) {
    case 'and':
    case 'or':
    case 'min_should':
      for (const c of node.children) {
        const found = unindexedKey(c, view, prefix)
        if (found !== undefined) return found
      }
      return undefined
    case 'not':
      return unindexedKey(node.child, view, prefix)
    case 'nested':
      return unindexedKey(node.filter, view, `${prefix}${node.key}[].`)
    case 'true':
    case 'has_id':
    case 'has_vector':
    case 'slice':
      return undefined
    default: {
      const need = required(node)
      if (need.length === 0) return undefined
      const key = `${prefix}${node.key}`
      if (node.kind === 'match_prefix') return { key, types: ['keyword'], prefix: true }
      const index = view.indexOf(key)
      if (index !== undefined) {
        const has = capabilities(index)
        if (need.some((c) => has.has(c))) return undefined
      }
      return { key, types: [...new Set(need.map((c) => SCHEMA_NAME[c]))].sort() }
    }
  }
}

// ---- the checks ----

/** Read-side limits of one stage (a query, a prefetch, a search). */
interface StageLimits {
  readonly limit?: number | undefined
  readonly filter: FilterNode | null
  readonly ef?: number | undefined
  readonly exact?: boolean | undefined
  readonly oversampling?: number | undefined
}

/**
 * The strict mode of one collection: its config (enabled) and its rate limiters. Made again on
 * every strict-mode change, which refills the buckets (as Qdrant).
 */
export class StrictModeGuard {
  private readonly readBucket: TokenBucket | undefined
  private readonly writeBucket: TokenBucket | undefined

  private constructor(
    readonly config: StrictModeConfig,
    clock: () => number,
  ) {
    this.readBucket =
      config.readRateLimit === undefined ? undefined : new TokenBucket(config.readRateLimit, clock)
    this.writeBucket =
      config.writeRateLimit === undefined ? undefined : new TokenBucket(config.writeRateLimit, clock)
  }

  /** The guard of `config`, or null when strict mode is off (absent or `enabled` not true). */
  static of(config: StrictModeConfig | undefined, clock: () => number = Date.now): StrictModeGuard | null {
    return config?.enabled === true ? new StrictModeGuard(config, clock) : null
  }

  /** `timeout` (seconds) against `max_timeout`. */
  timeout(timeout: number | undefined): void {
    checkLimit(timeout, this.config.maxTimeout, 'timeout')
  }

  /** The number of requests of a batch against `search_max_batchsize`. */
  batchSize(n: number): void {
    checkLimit(n, this.config.searchMaxBatchsize, 'search batch size')
  }

  /** A read filter: unindexed keys (when `unindexed_filtering_retrieve` is false) and its size limits. */
  readFilter(filter: FilterNode | null, view: StrictModeView): void {
    this.filter(filter, view, this.config.unindexedFilteringRetrieve)
  }

  /** A write's filter (delete by filter, set payload by filter, ...): as `readFilter`, with `unindexed_filtering_update`. */
  writeFilter(filter: FilterNode | null, view: StrictModeView): void {
    this.filter(filter, view, this.config.unindexedFilteringUpdate)
  }

  private filter(filter: FilterNode | null, view: StrictModeView, allowUnindexed: boolean | undefined): void {
    if (filter === null) return
    if (allowUnindexed === false) {
      const found = unindexedKey(filter, view, '')
      if (found !== undefined)
        throw unindexedError(found, 'Create an index for this key or use a different filter.')
    }
    const limit = this.config.filterMaxConditions
    if (limit !== undefined) {
      const n = conditionCount(filter)
      if (n > limit)
        throw strictModeError(
          `Filter condition limit reached (${n} > ${limit})`,
          'Reduce the amount of conditions of your filter.',
        )
    }
    const size = this.config.conditionMaxSize
    if (size !== undefined) {
      const n = maxConditionSize(filter)
      if (n > size)
        throw strictModeError(
          `Condition size limit reached (${n} > ${size})`,
          'Reduce the size of your condition.',
        )
    }
  }

  /** `limit`, filter and search params of one read stage. */
  stage(s: StageLimits, view: StrictModeView): void {
    checkLimit(s.limit, this.config.maxQueryLimit, 'limit')
    this.readFilter(s.filter, view)
    checkAllowed(s.exact, this.config.searchAllowExact, 'Exact search', 'exact')
    checkLimit(s.oversampling, this.config.searchMaxOversampling, 'oversampling')
    checkLimit(s.ef, this.config.searchMaxHnswEf, 'hnsw_ef')
  }

  /**
   * A query plan, prefetches included: each stage's limits (`limitOf` gives the limit to check of
   * the root, e.g. limit x group_size for groups), formulas' payload keys, and (when
   * `search_allow_exact` is false) nearest searches of a vector without an HNSW graph.
   */
  plan(plan: Stage, view: StrictModeView, rootLimit = plan.limit): void {
    const walk = (s: Stage, limit: number, root: boolean): void => {
      this.stage(
        {
          limit,
          filter: s.filter,
          ef: s.params.ef,
          exact: s.params.exact,
          oversampling: s.params.quantization?.oversampling ?? undefined,
        },
        view,
      )
      for (const p of s.prefetches) walk(p, p.limit, false)
      // a root query over prefetches only rescores them: it cannot scan the whole collection
      if (!root || s.prefetches.length === 0) this.fullScan(s, view)
      if (s.query.kind === 'formula' && this.config.unindexedFilteringRetrieve === false)
        this.formula(s.query.formula, view)
    }
    walk(plan, rootLimit, true)
  }

  /** Qdrant's `check_fullscan`: with `search_allow_exact: false`, no vector search without a graph. */
  private fullScan(s: Stage, view: StrictModeView): void {
    if (this.config.searchAllowExact !== false) return
    const k = s.query.kind
    if (k !== 'nearest' && k !== 'recommend' && k !== 'discover' && k !== 'context') return
    const m = view.hnswM(s.using)
    if (m === undefined || m > 0) return
    const on = s.using === '' ? '' : ` on '${s.using}'`
    const tenant = s.filter !== null && usesTenantKey(s.filter, view)
    if (!tenant)
      throw strictModeError(
        `Request is forbidden${on} because global vector indexing is disabled (hnsw_config.m = 0)`,
        'Use tenant-specific filter, enable global vector indexing or enable strict mode `search_allow_exact` option',
      )
    // Quiver builds no per-tenant graphs (payload_m): a tenant filter does not make it indexed
    throw strictModeError(
      `Request is forbidden${on} because vector indexing is disabled (hnsw_config.m = 0 and hnsw_config.payload_m = 0)`,
      'Enable vector indexing, use a prefetch query with indexed vectors or enable strict mode `search_allow_exact` option',
    )
  }

  private formula(f: Formula, view: StrictModeView): void {
    const check = (key: string, types: string[]) => {
      const index = view.indexOf(key)
      const has = index === undefined ? new Set<Capability>() : capabilities(index)
      const ok: Record<string, Capability[]> = {
        number: ['int_match', 'int_range', 'float_range'],
        geo: ['geo'],
        datetime: ['datetime_range'],
      }
      const need = ok[types[0]!]!
      if (need.some((c) => has.has(c))) return
      const names = [...new Set(need.map((c) => SCHEMA_NAME[c]))].sort()
      throw strictModeError(
        `Index required but not found for "${key}" of one of the following types: [${names.join(', ')}]`,
        'Create an index for this key or use a different formula expression.',
      )
    }
    const walk = (n: FormulaNode): void => {
      switch (n.kind) {
        case 'payload':
          check(n.key.text, ['number'])
          return
        case 'geo_distance':
          check(n.to.text, ['geo'])
          return
        case 'datetime_key':
          check(n.key.text, ['datetime'])
          return
        default:
          for (const child of formulaChildren(n)) walk(child)
      }
    }
    walk(f.root)
    for (const c of f.conditions) {
      const found = unindexedKey(c, view, '')
      if (found !== undefined)
        throw unindexedError(found, 'Create an index for this key or use a different formula expression.')
    }
  }

  /** Qdrant's `check_grouping_field`: with `unindexed_filtering_retrieve: false`, `group_by` needs a match-capable index. */
  groupBy(key: string, view: StrictModeView): void {
    if (this.config.unindexedFilteringRetrieve !== false) return
    const index = view.indexOf(key)
    if (index === undefined)
      throw strictModeError(
        `Index required but not found for "${key}"`,
        'Create an index supporting `match` for this key.',
      )
    const has = capabilities(index)
    if (!['keyword_match', 'int_match', 'uuid_match', 'bool_match'].some((c) => has.has(c as Capability)))
      throw strictModeError(
        `Index of type "${qdrantKind(index.type)}" found for "${key}"`,
        'Create an index supporting `match` for this key.',
      )
  }

  /**
   * An insert of `count` points (`name`: "upsert limit", or "update limit" for vector updates):
   * the batch size, the collection's size limits (checked against its size before the write, as
   * Qdrant), the resident-memory limit, and the per-vector multivector / sparse limits.
   */
  insert(count: number, name: 'upsert limit' | 'update limit', view: StrictModeView): void {
    checkLimit(count, this.config.upsertMaxBatchsize, name)
    this.sizes(view, true)
    this.residentMemory()
  }

  /** A payload write: the payload size limit and the resident-memory limit. */
  payloadWrite(view: StrictModeView): void {
    const limit = this.config.maxCollectionPayloadSizeBytes
    if (limit !== undefined) payloadLimit(limit, view.sizes().payloadBytes)
    this.residentMemory()
  }

  private sizes(view: StrictModeView, all: boolean): void {
    const c = this.config
    if (
      !all ||
      (c.maxCollectionVectorSizeBytes ?? c.maxCollectionPayloadSizeBytes ?? c.maxPointsCount) === undefined
    )
      return
    const s = view.sizes()
    if (c.maxCollectionVectorSizeBytes !== undefined && s.vectorBytes >= c.maxCollectionVectorSizeBytes)
      throw limitReached(`Max vector storage size limit of ${mb(c.maxCollectionVectorSizeBytes)}MB reached!`)
    if (c.maxCollectionPayloadSizeBytes !== undefined)
      payloadLimit(c.maxCollectionPayloadSizeBytes, s.payloadBytes)
    if (c.maxPointsCount !== undefined && s.points >= c.maxPointsCount)
      throw limitReached(`Max points count limit of ${c.maxPointsCount} reached!`)
  }

  /** Qdrant's deprecated `max_resident_memory_percent`: the process RSS against the machine's memory. */
  private residentMemory(): void {
    const limit = this.config.maxResidentMemoryPercent
    if (limit === undefined) return
    const used = Math.floor((process.memoryUsage.rss() / totalmem()) * 100)
    if (used < limit) return
    throw strictModeError(
      `Resident memory usage is at ${used}% of total memory, exceeding the configured limit of ${limit}%`,
      'Reduce memory usage (e.g. delete points or drop collections), or raise `max_resident_memory_percent` in the strict mode config of this collection.',
    )
  }

  /** Rows of a multivector `name` against `multivector_config.{name}.max_vectors`. */
  multivector(name: string, rows: number): void {
    const limit = this.config.multivectorConfig?.[name]?.maxVectors
    if (limit !== undefined && rows > limit)
      throw limitReached(`Multivector '${name}' has a limit of ${limit} vectors, but ${rows} were provided!`)
  }

  /** Entries of a sparse vector `name` against `sparse_config.{name}.max_length`. */
  sparse(name: string, length: number): void {
    const limit = this.config.sparseConfig?.[name]?.maxLength
    if (limit !== undefined && length > limit)
      throw limitReached(
        `Sparse vector '${name}' has a limit of ${limit} indices, but ${length} were provided!`,
      )
  }

  /** Whether multivector or sparse limits are set (so inserts must look at their vectors). */
  get hasVectorLimits(): boolean {
    return this.config.multivectorConfig !== undefined || this.config.sparseConfig !== undefined
  }

  /** A new payload index on `field` against `max_payload_index_count` (replacing one is allowed). */
  payloadIndex(field: string, view: StrictModeView): void {
    const limit = this.config.maxPayloadIndexCount
    if (limit === undefined || view.indexOf(field) !== undefined) return
    if (view.indexCount() >= limit)
      throw strictModeError(
        `Collection already has the maximum number of payload indices (${limit})`,
        'Please delete an existing index before creating a new one.',
      )
  }

  /** Takes `cost` read tokens (Qdrant's cost: 1 per query vector row, id fetched and filter condition). */
  read(cost: number): void {
    this.readBucket?.consume(cost, 'Read')
  }

  /** Takes `cost` write tokens (the points a write touches: given, or estimated from its filter). */
  write(cost: number): void {
    this.writeBucket?.consume(Math.max(1, cost), 'Write')
  }

  /** Throws what `write(cost)` would throw now, taking no token. */
  checkWrite(cost: number): void {
    this.writeBucket?.check(Math.max(1, cost), 'Write')
  }

  get limitsReads(): boolean {
    return this.readBucket !== undefined
  }

  get limitsWrites(): boolean {
    return this.writeBucket !== undefined
  }
}

function payloadLimit(limit: number, bytes: number): void {
  if (bytes >= limit) throw limitReached(`Max payload storage size limit of ${mb(limit)}MB reached!`)
}

/** Bytes as Qdrant prints megabytes (an f32: `0.00022888184`). */
function mb(bytes: number): string {
  return String(Math.fround(bytes / (1024 * 1024)))
}

function qdrantKind(type: PayloadSchemaParams['type']): string {
  return type.charAt(0).toUpperCase() + type.slice(1)
}

function usesTenantKey(filter: FilterNode, view: StrictModeView): boolean {
  switch (filter.kind) {
    case 'and':
    case 'or':
    case 'min_should':
      return filter.children.some((c) => usesTenantKey(c, view))
    case 'not':
      return usesTenantKey(filter.child, view)
    case 'true':
    case 'has_id':
    case 'has_vector':
    case 'slice':
    case 'nested':
      return false
    default: {
      const index = view.indexOf(filter.key)
      return index !== undefined && 'is_tenant' in index && index.is_tenant === true
    }
  }
}

function formulaChildren(n: FormulaNode): readonly FormulaNode[] {
  const r = n as unknown as Record<string, unknown>
  const out: FormulaNode[] = []
  for (const v of Object.values(r)) {
    if (Array.isArray(v)) {
      for (const x of v) if (isFormulaNode(x)) out.push(x)
    } else if (isFormulaNode(v)) out.push(v)
  }
  return out
}

function isFormulaNode(v: unknown): v is FormulaNode {
  return typeof v === 'object' && v !== null && 'kind' in v && 'path' in v
}

/** Read cost of a plan (Qdrant's `search_rate_cost` + scroll costs): vector rows, fetched ids, filter conditions. */
export function planCost(
  plan: Stage & { readonly referencedIds?: readonly PointId[] },
  view: StrictModeView,
): number {
  let cost = 0
  const ids = plan.referencedIds ?? []
  // fetching the examples, and the condition that leaves them out of the results
  if (ids.length > 0) cost += ids.length + 1
  const walk = (s: Stage): void => {
    cost += conditionCount(s.filter)
    const q = s.query
    const rows = (src: VectorSource) =>
      Math.max(1, 'id' in src ? view.storedRows(s.using, src.id) : view.queryRows(s.using, src.vector))
    switch (q.kind) {
      case 'nearest':
        cost += rows(q.input)
        break
      case 'recommend':
        for (const v of [...q.positive, ...q.negative]) cost += rows(v)
        break
      case 'discover':
        cost += rows(q.target)
        for (const p of q.pairs) cost += rows(p.positive) + rows(p.negative)
        break
      case 'context':
        for (const p of q.pairs) cost += rows(p.positive) + rows(p.negative)
        break
      case 'orderBy':
      case 'sample':
      case 'none':
        if (s.prefetches.length === 0) cost += 1
        break
      default:
        break
    }
    for (const p of s.prefetches) walk(p)
  }
  walk(plan)
  return cost
}

// What `quiver eval` measures against (issue 16 §5, docs/eval.md): a collection of a data directory
// opened in this process (`--data`), or of any server speaking Qdrant's REST API (`--url`: Quiver or
// Qdrant, so both can be evaluated side by side on the same data). The REST target uses only
// Qdrant's endpoints (`/points/query`, `/points/scroll`, `/points`, `/points/count`), plus Quiver's
// `params.target_recall` when the server says it is Quiver.
import { randomBytes } from 'node:crypto'
import type { Quiver } from '../../db/quiver.js'
import { QuiverError } from '../../errors.js'
import { getValues, parseKeyPath } from '../../filter/key-path.js'
import type { Filter, Payload, PointId } from '../../types.js'
import { restFetch, restResult, type Target } from '../snapshot.js'

/** A filter in Qdrant's JSON filter language (the same objects embedded and on the wire). */
export type WireFilter = Record<string, unknown>

/** What eval needs to know of the collection and the vector it evaluates. */
export interface EvalCollection {
  name: string
  /** Points in the collection. */
  points: number
  /** The dense vector evaluated (`""`: the unnamed one). */
  vector: string
  dimension: number
  /** Qdrant's distance name: `Cosine`, `Euclid`, `Dot` or `Manhattan`. */
  distance: string
}

/** One search: `vector` (dimension numbers), the `limit` nearest, optionally filtered. */
export interface EvalSearch {
  vector: readonly number[]
  limit: number
  /** HNSW `ef` (`params.hnsw_ef`); absent: the collection's default. */
  ef?: number
  /** Quiver's `params.target_recall` (only sent to Quiver). */
  targetRecall?: number
  /** Exact (brute-force) search: the recall reference. */
  exact?: boolean
  filter?: WireFilter
}

export interface EvalTarget {
  /** `data DIR` or `url URL`, for the report. */
  readonly label: string
  /** `quiver` (embedded or a Quiver server) or `qdrant` or the server's title. */
  readonly server: string
  readonly version: string
  /** Whether `targetRecall` is understood (Quiver). */
  readonly targetRecall: boolean
  /** The collection and its vector `using` (default: the unnamed vector, else the only one). Throws COLLECTION_NOT_FOUND, INVALID_ARGUMENT. */
  describe(collection: string, using?: string): Promise<EvalCollection>
  /** Every point id, a page at a time (scroll in id order, no payload, no vector). */
  scrollIds(c: EvalCollection, page: (ids: PointId[]) => void): Promise<void>
  /** The vectors and the payload field `field` (when given) of `ids`; ids not found are left out. */
  retrieve(
    c: EvalCollection,
    ids: readonly PointId[],
    field?: string,
  ): Promise<{ id: PointId; vector: number[]; value: unknown }[]>
  /** The ids of the hits, best first. */
  search(c: EvalCollection, s: EvalSearch): Promise<PointId[]>
  /** Points matching `filter` (exact count). */
  count(c: EvalCollection, filter?: WireFilter): Promise<number>
  /** Creates an empty collection `name` with the same vector (dimension, distance, default index). */
  createScratch(c: EvalCollection, name: string): Promise<void>
  upsert(name: string, vector: string, points: readonly { id: number; vector: number[] }[]): Promise<void>
  /** Drops collection `name`; resolves when it does not exist. */
  drop(name: string): Promise<void>
  /**
   * Cold start: `--data` closes the database and measures opening it again plus the first query;
   * `--url` (a server it cannot restart) the first query over a new connection.
   */
  coldStart(c: EvalCollection, vector: readonly number[]): Promise<ColdStart>
  close(): Promise<void>
}

export interface ColdStart {
  method: string
  /** Opening the database (data directory only), ms. */
  open_ms: number | null
  /** The first query after it, ms. */
  first_query_ms: number
}

/** A name for the write-load phase's scratch collection (random: never one of the user's). */
export function scratchName(collection: string): string {
  return `${collection.slice(0, 180)}_eval_scratch_${randomBytes(4).toString('hex')}`
}

function pickVector(
  name: string,
  vectors: ReadonlyMap<string, { dimension: number; distance: string }>,
  using: string | undefined,
): { vector: string; dimension: number; distance: string } {
  const names = [...vectors.keys()]
  const wanted = using ?? (vectors.has('') ? '' : names.length === 1 ? names[0]! : undefined)
  if (names.length === 0)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `collection ${name} has no dense vector to evaluate (sparse vectors and multivectors are not evaluated yet)`,
    )
  if (wanted === undefined)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `collection ${name} has the named vectors ${names.map((n) => JSON.stringify(n)).join(', ')}: choose one with --vector NAME`,
    )
  const v = vectors.get(wanted)
  if (v === undefined)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `collection ${name} has no dense vector ${JSON.stringify(wanted)} (it has ${names.map((n) => JSON.stringify(n || '(unnamed)')).join(', ') || 'none'})`,
    )
  return { vector: wanted, ...v }
}

const PAGE = 5000

/** The embedded target over a data directory (opened here: no server may hold it). */
export async function dataTarget(dir: string, open: (dir: string) => Promise<Quiver>): Promise<EvalTarget> {
  let db = await open(dir)
  const coll = (name: string) => db.getCollection(name)
  return {
    label: `data ${dir}`,
    server: 'quiver',
    version: 'embedded',
    targetRecall: true,
    async describe(name, using) {
      const c = await coll(name)
      const info = await c.info()
      // multivectors (a matrix per point) are not evaluated: left out
      const vectors = new Map(
        [...info.config.vectors]
          .filter(([, v]) => v.multivector === undefined)
          .map(([n, v]) => [n, { dimension: v.dimension, distance: v.metric as string }]),
      )
      return { name, points: info.pointsCount, ...pickVector(name, vectors, using) }
    },
    async scrollIds(c, page) {
      const col = await coll(c.name)
      let offset: PointId | null = null
      do {
        const r = await col.scroll({ limit: PAGE, offset, withPayload: false, withVector: false })
        page(r.points.map((p) => p.id))
        offset = r.nextPageOffset
      } while (offset !== null)
    },
    async retrieve(c, ids, field) {
      const col = await coll(c.name)
      const out: { id: PointId; vector: number[]; value: unknown }[] = []
      for (let i = 0; i < ids.length; i += PAGE) {
        const recs = await col.get(ids.slice(i, i + PAGE), {
          withPayload: field === undefined ? false : [field],
          withVector: [c.vector],
        })
        for (const r of recs) {
          const v = vectorOf(r.vector, c.vector)
          if (v !== undefined) out.push({ id: r.id, vector: v, value: valueAt(r.payload, field) })
        }
      }
      return out
    },
    async search(c, s) {
      const col = await coll(c.name)
      const hits = await col.search(s.vector, {
        limit: s.limit,
        using: c.vector,
        ...(s.ef === undefined ? {} : { ef: s.ef }),
        ...(s.targetRecall === undefined ? {} : { targetRecall: s.targetRecall }),
        ...(s.exact === true ? { exact: true } : {}),
        ...(s.filter === undefined ? {} : { filter: s.filter as Filter }),
        withPayload: false,
        withVector: false,
        cache: false,
      })
      return hits.map((h) => h.id)
    },
    async count(c, filter) {
      return (await coll(c.name)).count(filter === undefined ? {} : { filter: filter as Filter })
    },
    async createScratch(c, name) {
      await db.createCollection(
        name,
        c.vector === ''
          ? { dimension: c.dimension, metric: c.distance as 'Cosine' }
          : { vectors: new Map([[c.vector, { dimension: c.dimension, metric: c.distance as 'Cosine' }]]) },
      )
    },
    async upsert(name, vector, points) {
      await (await coll(name)).upsert(
        points.map((p) => ({
          id: p.id,
          vector: vector === '' ? p.vector : Object.fromEntries([[vector, p.vector]]),
        })),
        { wait: true },
      )
    },
    async drop(name) {
      if (db.hasCollection(name)) await db.deleteCollection(name)
    },
    async coldStart(c, vector) {
      await db.close()
      const t0 = performance.now()
      db = await open(dir)
      const col = await coll(c.name)
      const t1 = performance.now()
      await col.search(vector, {
        limit: 10,
        using: c.vector,
        withPayload: false,
        withVector: false,
        cache: false,
      })
      const t2 = performance.now()
      return {
        method: 'the database closed and opened again in this process, then one query',
        open_ms: t1 - t0,
        first_query_ms: t2 - t1,
      }
    },
    async close() {
      await db.close()
    },
  }
}

/** The vector `name` of a record's `vector` (embedded: an array, or a Map/object by name). */
function vectorOf(v: unknown, name: string): number[] | undefined {
  if (v === null || v === undefined) return undefined
  if (Array.isArray(v) || ArrayBuffer.isView(v))
    return name === '' ? Array.from(v as ArrayLike<number>) : undefined
  const named =
    v instanceof Map
      ? v.get(name)
      : Object.hasOwn(v as object, name)
        ? (v as Record<string, unknown>)[name]
        : undefined
  if (Array.isArray(named) || ArrayBuffer.isView(named)) return Array.from(named as ArrayLike<number>)
  return undefined
}

/** The value at payload key `key` as filters read it (Qdrant's key paths, `getValues`), or undefined. */
function valueAt(payload: unknown, key: string | undefined): unknown {
  if (key === undefined || payload === null || typeof payload !== 'object' || Array.isArray(payload))
    return undefined
  const values = getValues(payload as Payload, parseKeyPath(key, '--filter-field'))
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values
}

type UrlTarget = Extract<Target, { kind: 'url' }>

interface WireVectorParams {
  size?: unknown
  distance?: unknown
}

/**
 * Searches measure the index, never a result cache (Quiver's query cache honours it; HTTP's
 * standard request directive, harmless to servers without one).
 */
const NO_CACHE = { 'cache-control': 'no-cache' } as const

/** The REST target: any server speaking Qdrant's API. */
export async function urlTarget(target: UrlTarget): Promise<EvalTarget> {
  const root = await restFetch(target, 'GET', '/')
  const about = (await root.json()) as { title?: unknown; version?: unknown }
  const title = typeof about.title === 'string' ? about.title : 'unknown'
  const server = /quiver/i.test(title) ? 'quiver' : /qdrant/i.test(title) ? 'qdrant' : title
  const enc = encodeURIComponent
  const path = (c: string, rest = '') => `/collections/${enc(c)}${rest}`
  const using = (c: EvalCollection) => (c.vector === '' ? {} : { using: c.vector })
  return {
    label: `url ${target.url}`,
    server,
    // Quiver's `version` is the Qdrant API it speaks; its own is in the title (`quiver 0.1.0 - ...`)
    version:
      server === 'quiver'
        ? (/quiver\s+(\S+)/i.exec(title)?.[1] ?? 'unknown')
        : typeof about.version === 'string'
          ? about.version
          : 'unknown',
    targetRecall: server === 'quiver',
    async describe(name, wanted) {
      const info = await restResult<{
        points_count?: unknown
        config?: { params?: { vectors?: unknown } }
      }>(target, 'GET', path(name))
      const raw = info.config?.params?.vectors
      const vectors = new Map<string, { dimension: number; distance: string }>()
      const add = (n: string, p: WireVectorParams) => {
        if (
          typeof p?.size === 'number' &&
          typeof p.distance === 'string' &&
          (p as { multivector_config?: unknown }).multivector_config == null
        )
          vectors.set(n, { dimension: p.size, distance: p.distance })
      }
      if (raw !== null && typeof raw === 'object') {
        if (typeof (raw as WireVectorParams).size === 'number') add('', raw as WireVectorParams)
        else for (const [n, p] of Object.entries(raw)) add(n, p as WireVectorParams)
      }
      let points = typeof info.points_count === 'number' ? info.points_count : undefined
      points ??= (
        await restResult<{ count: number }>(target, 'POST', path(name, '/points/count'), { exact: true })
      ).count
      return { name, points, ...pickVector(name, vectors, wanted) }
    },
    async scrollIds(c, page) {
      let offset: unknown = null
      do {
        const r = await restResult<{ points: { id: PointId }[]; next_page_offset?: unknown }>(
          target,
          'POST',
          path(c.name, '/points/scroll'),
          { limit: PAGE, with_payload: false, with_vector: false, ...(offset === null ? {} : { offset }) },
        )
        page(r.points.map((p) => p.id))
        offset = r.next_page_offset ?? null
      } while (offset !== null)
    },
    async retrieve(c, ids, field) {
      const out: { id: PointId; vector: number[]; value: unknown }[] = []
      for (let i = 0; i < ids.length; i += PAGE) {
        const recs = await restResult<{ id: PointId; vector?: unknown; payload?: unknown }[]>(
          target,
          'POST',
          path(c.name, '/points'),
          {
            ids: ids.slice(i, i + PAGE),
            with_payload: field === undefined ? false : [field],
            with_vector: c.vector === '' ? true : [c.vector],
          },
        )
        for (const r of recs) {
          const v = vectorOf(r.vector, c.vector)
          if (v !== undefined) out.push({ id: r.id, vector: v, value: valueAt(r.payload, field) })
        }
      }
      return out
    },
    async search(c, s) {
      const params: Record<string, unknown> = {}
      if (s.ef !== undefined) params['hnsw_ef'] = s.ef
      if (s.exact === true) params['exact'] = true
      if (s.targetRecall !== undefined) params['target_recall'] = s.targetRecall
      const r = await restResult<{ points: { id: PointId }[] }>(
        target,
        'POST',
        path(c.name, '/points/query'),
        {
          query: s.vector,
          ...using(c),
          limit: s.limit,
          with_payload: false,
          with_vector: false,
          ...(Object.keys(params).length === 0 ? {} : { params }),
          ...(s.filter === undefined ? {} : { filter: s.filter }),
        },
        NO_CACHE,
      )
      return r.points.map((p) => p.id)
    },
    async count(c, filter) {
      return (
        await restResult<{ count: number }>(target, 'POST', path(c.name, '/points/count'), {
          exact: true,
          ...(filter === undefined ? {} : { filter }),
        })
      ).count
    },
    async createScratch(c, name) {
      const params = { size: c.dimension, distance: c.distance }
      await restResult(target, 'PUT', path(name), {
        vectors: c.vector === '' ? params : Object.fromEntries([[c.vector, params]]),
      })
    },
    async upsert(name, vector, points) {
      await restResult(target, 'PUT', `${path(name, '/points')}?wait=true`, {
        points: points.map((p) => ({
          id: p.id,
          vector: vector === '' ? p.vector : Object.fromEntries([[vector, p.vector]]),
        })),
      })
    },
    async drop(name) {
      try {
        await restResult(target, 'DELETE', path(name))
      } catch (err) {
        if (!(err instanceof QuiverError && (err.details as { status?: number })?.status === 404)) throw err
      }
    },
    async coldStart(c, vector) {
      // a new connection (no keep-alive reuse): what a fresh client pays on its first query
      const t0 = performance.now()
      const res = await fetch(`${target.url}${path(c.name, '/points/query')}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          connection: 'close',
          ...NO_CACHE,
          ...(target.apiKey === undefined ? {} : { 'api-key': target.apiKey }),
        },
        body: JSON.stringify({ query: vector, ...using(c), limit: 10, with_payload: false }),
      })
      await res.text()
      if (!res.ok) throw new QuiverError('IO_ERROR', `the cold-start query answered HTTP ${res.status}`)
      return {
        method: 'the first query over a new connection (a server cannot be restarted from here)',
        open_ms: null,
        first_query_ms: performance.now() - t0,
      }
    },
    async close() {},
  }
}

/** Opens the target of `--data` / `--url`. */
export async function openTarget(t: Target, open: (dir: string) => Promise<Quiver>): Promise<EvalTarget> {
  return t.kind === 'url' ? urlTarget(t) : dataTarget(t.dir, open)
}

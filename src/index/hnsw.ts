// The HNSW index over dense offsets (Malkov & Yashunin 2018), running inside one WebAssembly core
// instance, plus exact search over the same vectors (the recall reference) and a graph self-check.
// Knows offsets, vectors and distances only: no point ids, payloads or files.
import { CorePool, type InsertTask, type SearchTask, type TaskReply } from '../engine/pool.js'
import {
  chunkRuns,
  coreCrc32c,
  fileParts,
  type IndexMetric,
  instantiateCore,
  joinParts,
} from '../engine/wasm.js'
import { QuiverError } from '../errors.js'

import {
  bitsToOffsets,
  type CodesSearch,
  CoreIndex,
  coreMetric,
  type IntegrityReport,
  quantArgs,
  type SearchFilter,
  type SearchHits,
} from './core-index.js'
import type { IndexFileParts, IndexFileSource, RowFile } from './types.js'
import { type RowType, SCAN_BYTES, VectorFile, type VectorFileShape, vectorFileParts } from './vector-file.js'

export type { IndexMetric } from '../engine/wasm.js'
export type { CodesSearch, IntegrityReport, SearchFilter, SearchHits } from './core-index.js'

export interface HnswParams {
  readonly dimension: number
  readonly metric: IndexMetric
  /** Links per node on layers >= 1; layer 0 keeps 2·m. */
  readonly m: number
  readonly efConstruct: number
  /** Seed of the level generator (deterministic builds for tests). */
  readonly seed?: number
}

const MAGIC = 0x4e485651 // 'QVHN'
/** Version 1: the vectors are in the file. Version 2 (header word 13 = 1): they are in the segment's vector file. */
const FORMAT_VERSION = 1
const FORMAT_VERSION_APART = 2
const HEADER_WORDS = 16
/** What is wrong with an index file's header for `params` (magic, version, dimension, metric, m), if anything. */
function headerProblem(params: HnswParams, h: Uint32Array): string | undefined {
  if (h[0] !== MAGIC) return 'bad magic number'
  if (h[1] !== FORMAT_VERSION && !(h[1] === FORMAT_VERSION_APART && h[13] === 1))
    return `unsupported format version ${h[1]}`
  if (
    h[2] !== params.dimension ||
    h[4] !== coreMetric(params.metric) ||
    h[5] !== (params.metric === 'cosine' ? 1 : 0) ||
    h[6] !== params.m
  )
    return 'dimension, metric or m differ from the collection config'
  return undefined
}

/** CRC-32C of a whole stored file, read in 1 MiB pieces (only when its header already failed a check). */
async function sourceCrc32c(source: IndexFileSource): Promise<number> {
  const core = instantiateCore()
  core.init(1, 1, 0, 0, 1, 1)
  const piece = new Uint8Array(1 << 20)
  let crc = 0
  for (let pos = 0; pos < source.bytes; pos += piece.byteLength) {
    const part = piece.subarray(0, Math.min(piece.byteLength, source.bytes - pos))
    await source.read(part, pos)
    crc = coreCrc32c(core, part, crc)
  }
  return crc
}

/** Reads of a restored file's pieces kept in flight at once (libuv runs 4 file reads in parallel). */
const READS_IN_FLIGHT = 4

const INTEGRITY_REASONS: Record<number, string> = {
  1: 'entry point missing or not on the top layer',
  2: 'node level above the graph top layer',
  3: 'node has upper layers but no upper link block',
  4: 'degree out of bounds',
  5: 'link to a non-existing offset or to itself',
  6: 'link on layer l to a node whose top layer is below l',
  7: 'duplicate link',
}

/** A segment's vector file to open beside an index (`restoreFrom`, `moveVectorsToDisk`): `name` names it in errors. */
export interface DiskVectors {
  readonly file: RowFile
  readonly name: string
}

/** Below this many vectors a batch is inserted on the calling thread (dispatch costs more than it saves). */
const PARALLEL_BUILD_MIN = 256

/** A worker thread's scratch arena inside this index's memory (assembly/index.ts "threads"). */
interface Arena {
  readonly ptr: number
  readonly bytes: number
  readonly heapN: number
  readonly listN: number
  readonly capacity: number
}

interface Threads {
  readonly pool: CorePool
  readonly core: number
  readonly arenas: (Arena | undefined)[]
  inflight: number
}

function pow2AtLeast(n: number): number {
  let p = 64
  while (p < n) p *= 2
  return p
}

export class HnswIndex extends CoreIndex<HnswParams> {
  private threads: Threads | undefined
  /** The float32 vectors on disk (`moveVectorsToDisk`, or restored so): the core holds links and codes only. */
  private disk: VectorFile | undefined
  /** `close` or `releaseThreads` ran: no more pool threads for this index. */
  private released = false

  /** An empty index. */
  static create(params: HnswParams): HnswIndex {
    const core = instantiateCore()
    core.init(
      params.dimension,
      coreMetric(params.metric),
      params.metric === 'cosine' ? 1 : 0,
      params.m,
      params.efConstruct,
      (params.seed ?? 0x2545f491) >>> 0,
    )
    return new HnswIndex(params, core)
  }

  /**
   * Stores `vector` (length = dimension, finite: the caller validates) at the next offset and links
   * it into the graph; it is searchable on return. Returns the offset.
   */
  add(vector: ArrayLike<number>): number {
    this.writable()
    this.stage(vector)
    this.core.reserve(this.core.getCount() + 1)
    return this.core.add()
  }

  override addPlaceholder(): number {
    this.writable()
    return super.addPlaceholder()
  }

  /** Throws INTERNAL on an index whose vectors are on disk (it is read-only: segments seal before). */
  private writable(): void {
    if (this.disk !== undefined)
      throw new QuiverError('INTERNAL', 'an index with its vectors on disk takes no new vectors')
  }

  /** Bytes per row of the vector file (0 while the vectors are in memory). */
  get diskRowBytes(): number {
    return this.disk?.rowBytes ?? 0
  }

  /** True when the float32 vectors are on disk (the core holds the graph and the codes). */
  get vectorsOnDisk(): boolean {
    return this.disk !== undefined
  }

  override get memoryBytes(): number {
    return this.core.memory.buffer.byteLength + (this.disk?.memoryBytes ?? 0)
  }

  private get fileShape(): VectorFileShape {
    return {
      dimension: this.params.dimension,
      paddedDim: this.paddedDim,
      metricId: coreMetric(this.params.metric),
      normalized: this.params.metric === 'cosine',
    }
  }

  /**
   * The vector file of this index's vectors (format in src/index/vector-file.ts): float32 rows as
   * views of the core's memory like `serializeParts`, or float16 rows (`type`) converted into
   * buffers of their own. Only while the vectors are in memory.
   */
  vectorFileParts(type: RowType = 'float32'): IndexFileParts {
    this.writable()
    return vectorFileParts(this.core, this.fileShape, this.size, type)
  }

  /**
   * A copy of this index whose float32 vectors are those of `vectors` (this index's vector file,
   * written from `vectorFileParts()`), opened and checked, instead of in memory: the graph and
   * deletions copied into a fresh core. The caller restores the quantizer's codes into the new
   * core (`coreExports`): searches on it need them. This index stays as it was.
   */
  async moveVectorsToDisk(vectors: DiskVectors): Promise<HnswIndex> {
    const file = this.serializeParts(true)
    const bytes = joinParts(file.parts) // the graph and deletions: no vectors
    return HnswIndex.restoreFrom(
      this.params,
      {
        bytes: bytes.byteLength,
        crc32c: file.crc32c,
        read: async (into, position) => into.set(bytes.subarray(position, position + into.byteLength)),
      },
      vectors,
    )
  }

  /**
   * Releases what the index holds outside its object: the core pool's threads drop their instances
   * of its memory (freed once this object is collected), and the vector file is closed. Searches
   * after this run on the calling thread (and read no vectors from disk). Idempotent.
   */
  close(): void {
    this.releaseThreads()
    this.disk?.close()
  }

  /**
   * Drops the pool threads' instances of this index's memory (`close` without closing the vector
   * file): for an index replaced by a copy while searches may still run on it here.
   */
  releaseThreads(): void {
    const t = this.threads
    this.released = true
    this.threads = undefined
    if (t !== undefined) t.pool.releaseCore(this, t.core)
  }

  override vector(offset: number): Float32Array {
    const disk = this.disk
    if (disk === undefined) return super.vector(offset)
    const c = this.core
    const ptr = c.rowsBuffer(disk.rowBytes + this.paddedDim * 4)
    disk.readRows(c, Uint32Array.of(offset), 1, ptr)
    if (disk.type === 'float32') return new Float32Array(c.memory.buffer, ptr, this.params.dimension).slice()
    const wide = ptr + disk.rowBytes // float16 widened behind the row (rowBytes is a multiple of 8)
    c.fromFloat16(ptr, wide, this.paddedDim)
    return new Float32Array(c.memory.buffer, wide, this.params.dimension).slice()
  }

  /**
   * The best k of `candidates` (offsets, any order) by their float32 vectors read from disk: the
   * rescoring step of a code search on an index with its vectors on disk.
   */
  private rescoreFromDisk(query: ArrayLike<number>, candidates: Uint32Array, k: number): SearchHits {
    this.stage(query)
    this.core.prepareQuery()
    this.core.rescoreRows(0, k, 0, 1, 0) // an empty best-k heap
    this.scoreRows(Uint32Array.from(candidates).sort(), k)
    return this.hits(this.core.drainResults(k))
  }

  /**
   * Reads rows `offsets` (ascending) from disk in batches of at most SCAN_BYTES and offers their
   * distances to the prepared query to the core's best-k heap (deleted offsets passed over).
   */
  private scoreRows(offsets: Uint32Array, k: number): void {
    const c = this.core
    const disk = this.disk!
    const per = Math.max(1, Math.floor(SCAN_BYTES / disk.rowBytes))
    for (let at = 0; at < offsets.length; at += per) {
      const batch = offsets.subarray(at, at + per)
      const list = c.ensureList(batch.length)
      const rows = c.rowsBuffer(batch.length * disk.rowBytes)
      new Uint32Array(c.memory.buffer, list, batch.length).set(batch)
      disk.readRows(c, batch, batch.length, rows)
      this.rescoreDiskRows(batch.length, k, rows, 0)
    }
  }

  /** The core's rescoring of `n` rows read from the vector file (float32 or float16), deleted ones skipped. */
  private rescoreDiskRows(n: number, k: number, rows: number, reset: number): void {
    if (this.disk!.type === 'float16') this.core.rescoreRows16(n, k, rows, reset, 1)
    else this.core.rescoreRows(n, k, rows, reset, 1)
  }

  /** Exact search over on-disk vectors: every live offset (a sequential read) or `allowed` (ascending) only. */
  private exactFromDisk(query: ArrayLike<number>, k: number, allowed?: Uint32Array): SearchHits {
    const c = this.core
    this.stage(query)
    c.prepareQuery()
    c.rescoreRows(0, k, 0, 1, 0)
    if (allowed !== undefined) this.scoreRows(allowed, k)
    else {
      this.disk!.scan(
        c,
        (bytes) => c.rowsBuffer(bytes),
        (first, n, ptr) => {
          const list = new Uint32Array(c.memory.buffer, c.ensureList(n), n)
          for (let i = 0; i < n; i++) list[i] = first + i
          this.rescoreDiskRows(n, k, ptr, 0)
        },
      )
    }
    return this.hits(c.drainResults(k))
  }

  /**
   * Exact search of each query over on-disk vectors, reading on the libuv thread pool (the calling
   * thread scores each block as it arrives: a server's event loop is never blocked for a whole
   * file); `allow` restricts it. Every block's best k merge into each query's running best k here.
   */
  private async exactFromDiskAsync(
    queries: Float32Array,
    k: number,
    allow: Uint32Array | undefined,
  ): Promise<SearchHits[]> {
    const dim = this.params.dimension
    const n = queries.length / dim
    const allowed = allow === undefined ? undefined : bitsToOffsets(allow, this.size)
    const best = Array.from({ length: n }, () => ({ offsets: [] as number[], distances: [] as number[] }))
    const c = this.core
    await this.disk!.scanAsync(
      c,
      (ids, ptr) => {
        for (let q = 0; q < n; q++) {
          this.stage(queries.subarray(q * dim, (q + 1) * dim))
          c.prepareQuery()
          new Uint32Array(c.memory.buffer, c.ensureList(ids.length), ids.length).set(ids)
          this.rescoreDiskRows(ids.length, k, ptr, 1)
          const got = this.hits(c.drainResults(k))
          const b = best[q]!
          // merge two sorted lists, keep k
          const offsets: number[] = []
          const distances: number[] = []
          let i = 0
          let j = 0
          while (offsets.length < k && (i < b.offsets.length || j < got.offsets.length)) {
            if (j >= got.offsets.length || (i < b.offsets.length && b.distances[i]! <= got.distances[j]!)) {
              offsets.push(b.offsets[i]!)
              distances.push(b.distances[i++]!)
            } else {
              offsets.push(got.offsets[j]!)
              distances.push(got.distances[j++]!)
            }
          }
          best[q] = { offsets, distances }
        }
      },
      allowed,
    )
    return best.map((b) => ({
      offsets: Uint32Array.from(b.offsets),
      distances: Float32Array.from(b.distances),
    }))
  }

  override searchExact(
    query: ArrayLike<number>,
    k: number,
    allowed?: Uint32Array,
    codes?: CodesSearch,
  ): SearchHits {
    if (this.disk === undefined) return super.searchExact(query, k, allowed, codes)
    if (codes === undefined) return this.exactFromDisk(query, k, allowed)
    const wide = codes.rescore ? Math.max(k, codes.candidates) : k
    const hits = super.searchExact(query, wide, allowed, { rescore: false, candidates: wide })
    return codes.rescore ? this.rescoreFromDisk(query, hits.offsets, k) : hits
  }

  /**
   * Approximate k-NN (Alg. 5) with candidate list size max(ef, k). With `filter`, only offsets whose
   * bit is set in `filter.allow` (bit o of word o >>> 5) are returned: with `twoHop` false the
   * others still serve as waypoints; with `twoHop` true the traversal expands over admissible
   * nodes and their two-hop admissible neighbours only (ACORN-1, for sparse matches). Deleted
   * offsets are never returned.
   */
  search(
    query: ArrayLike<number>,
    k: number,
    ef: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
  ): SearchHits {
    this.stage(query)
    if (filter) this.setAllowed(filter.allow)
    const mode = filter === undefined ? 0 : filter.twoHop ? 2 : 1
    const [quant, candidates] = quantArgs(codes)
    if (this.disk !== undefined) {
      // the core ranks codes only; the best candidates are rescored from disk here
      if (codes === undefined)
        throw new QuiverError('INTERNAL', 'a search of on-disk vectors must run on codes')
      const wide = codes.rescore ? Math.max(k, candidates) : k
      const hits = this.hits(this.core.searchKnn(wide, Math.max(ef, wide), mode, 1, wide))
      return codes.rescore ? this.rescoreFromDisk(query, hits.offsets, k) : hits
    }
    const n = this.core.searchKnn(k, Math.max(ef, k, candidates), mode, quant, candidates)
    return this.hits(n)
  }

  private threadState(): Threads | undefined {
    if (this.threads !== undefined) return this.threads
    if (this.released) return undefined
    const pool = CorePool.shared()
    if (pool === undefined) return undefined
    this.threads = { pool, core: pool.registerCore(this, this.core.memory), arenas: [], inflight: 0 }
    return this.threads
  }

  private arena(t: Threads, i: number, heapN: number, listN: number): Arena {
    const capacity = this.core.getCapacity()
    const old = t.arenas[i]
    if (old && old.capacity === capacity && old.heapN >= heapN && old.listN >= listN) return old
    if (old) this.core.freeBlock(old.ptr) // retired: a queued task may still use it
    const h = Math.max(heapN, old?.heapN ?? 0)
    const l = Math.max(listN, old?.listN ?? 0)
    const bytes = this.core.arenaBytes(h, l)
    const arena = { ptr: this.core.allocBlock(bytes), bytes, heapN: h, listN: l, capacity }
    t.arenas[i] = arena
    return arena
  }

  /**
   * Runs task j on thread `threads[j]` (the thread whose arena it names). While any task is in
   * flight, blocks the owner replaces are retired instead of freed (a worker may still read them);
   * when the last one ends they are freed and frees are immediate again.
   */
  private async dispatch(
    t: Threads,
    tasks: (SearchTask | InsertTask)[],
    threads: number[],
  ): Promise<TaskReply[]> {
    if (t.inflight === 0) this.core.setDeferFree(1)
    t.inflight += tasks.length
    // every task settles before this returns or throws: a failed one must not let the others'
    // memory (arenas, retired arrays, the snapshot) be freed while they still run
    const settled = await Promise.allSettled(
      tasks.map(async (task, j) => {
        try {
          return await t.pool.run(threads[j]!, task)
        } finally {
          t.inflight--
          if (t.inflight === 0) {
            this.core.setDeferFree(0)
            this.core.releaseRetired()
          }
        }
      }),
    )
    const failed = settled.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    return settled.map((r) => (r as PromiseFulfilledResult<TaskReply>).value)
  }

  /**
   * Stores `vectors` (n x dimension, row-major, finite: the caller validates) at the next n offsets
   * and links them into the graph, on every thread of the core pool at once for large batches
   * (hnswlib's scheme: per-node futex locks, lock-free reads). Returns the first offset; all become
   * searchable at one moment before the promise resolves, none before: `committed(first)` runs
   * synchronously at that moment (a caller records its ids there, so no search sees an offset it
   * cannot name). Throws like `add` past `maxSize`. Only one write (add / addBatch) may run at a
   * time; searches may run meanwhile.
   */
  async addBatch(vectors: Float32Array, committed?: (first: number) => void): Promise<number> {
    const dim = this.params.dimension
    const n = vectors.length / dim
    if (!Number.isInteger(n)) throw new RangeError('vectors length is not a multiple of the dimension')
    this.writable()
    const from = this.size
    const t = this.threadState()
    if (t === undefined || t.pool.size < 2 || n < PARALLEL_BUILD_MIN) return this.addEach(vectors, committed)
    const to = from + n
    this.core.reserve(to)
    const f32 = new Float32Array(this.core.memory.buffer)
    for (let i = 0; i < n; i++)
      f32.set(vectors.subarray(i * dim, (i + 1) * dim), this.core.vectorPtr(from + i) >>> 2)
    this.core.prepareRange(from, to)
    const state = this.core.publishState()
    const heapN = pow2AtLeast(this.params.efConstruct + 2)
    const w = t.pool.size
    const tasks: InsertTask[] = []
    for (let i = 0; i < w; i++) {
      const a = this.arena(t, i, heapN, 0)
      tasks.push({
        type: 'insert',
        core: t.core,
        state,
        arena: a.ptr,
        arenaBytes: a.bytes,
        heapN: a.heapN,
        listN: a.listN,
        capacity: a.capacity,
        from,
        to,
        step: 0, // chunks from the shared counter
      })
    }
    try {
      await this.dispatch(
        t,
        tasks,
        tasks.map((_, i) => i),
      )
    } catch {
      // a thread died: (re)link every node of the range here; linking a node twice is harmless
      this.core.insertRange(from, to, 1)
    }
    this.core.finishRange(to)
    committed?.(from)
    return from
  }

  /**
   * k-NN for each of n queries (n x dimension, row-major), spread over the core pool's threads so the
   * calling thread stays free; same semantics as `search` (or `searchExact` with `exact`, where a
   * filter's allow bitset restricts the scan). Runs here when there is no pool.
   */
  async searchBatch(
    queries: Float32Array,
    k: number,
    ef: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
    exact = false,
  ): Promise<SearchHits[]> {
    const dim = this.params.dimension
    const n = queries.length / dim
    if (!Number.isInteger(n)) throw new RangeError('queries length is not a multiple of the dimension')
    const here = (q: Float32Array): SearchHits => {
      if (!exact) return this.search(q, k, ef, filter, codes)
      if (filter) return this.searchExact(q, k, bitsToOffsets(filter.allow, this.size), codes)
      return this.searchExact(q, k, undefined, codes)
    }
    const t = this.threadState()
    // on-disk vectors: exact float32 scans read the file on the libuv pool and score here; code
    // searches run on the threads
    const disk = this.disk !== undefined
    if (disk && exact && codes === undefined) return this.exactFromDiskAsync(queries, k, filter?.allow)
    if (t === undefined || n === 0 || (disk && codes === undefined)) {
      const out: SearchHits[] = []
      for (let i = 0; i < n; i++) out.push(here(queries.subarray(i * dim, (i + 1) * dim)))
      return out
    }
    let [quant, candidates] = quantArgs(codes)
    // with on-disk vectors the threads return the best candidates by code, rescored here after
    const kTask = disk && codes!.rescore ? Math.max(k, candidates) : k
    if (disk) {
      quant = 1
      candidates = kTask
    }
    const efEff = Math.max(ef, kTask, candidates)
    // a private state per dispatch (tasks queued behind others must not see a later, grown state)
    const state = this.core.snapshotState()
    const parts = Math.min(t.pool.size, n)
    const per = Math.ceil(n / parts)
    const heapN = pow2AtLeast(Math.max(efEff, candidates, k, this.params.efConstruct) + 2)
    // one query goes to the least busy thread (concurrent single searches spread over the pool)
    const threads = parts === 1 ? [t.pool.leastBusy()] : Array.from({ length: parts }, (_, i) => i)
    const tasks: SearchTask[] = []
    for (let i = 0; i < parts; i++) {
      const a = this.arena(t, threads[i]!, heapN, 0)
      tasks.push({
        type: 'search',
        core: t.core,
        state,
        arena: a.ptr,
        arenaBytes: a.bytes,
        heapN: a.heapN,
        listN: a.listN,
        capacity: a.capacity,
        queries: queries.slice(i * per * dim, Math.min(n, (i + 1) * per) * dim),
        dimension: dim,
        paddedDim: this.paddedDim,
        k: kTask,
        ef: efEff,
        mode: filter === undefined ? 0 : filter.twoHop ? 2 : 1,
        quant,
        candidates,
        exact,
        ...(filter ? { allow: filter.allow } : {}),
      })
    }
    let replies: TaskReply[]
    try {
      replies = await this.dispatch(t, tasks, threads)
    } finally {
      this.core.freeSnapshot(state)
    }
    const out: SearchHits[] = []
    for (const [i, r] of replies.entries()) {
      if (r.stale) {
        // the index grew past this task's arena while it was queued: answer its queries here
        const qs = tasks[i]!.queries
        for (let j = 0; j < qs.length / dim; j++) out.push(here(qs.subarray(j * dim, (j + 1) * dim)))
        continue
      }
      const counts = r.counts!
      const qs = tasks[i]!.queries
      for (let j = 0; j < counts.length; j++) {
        const offsets = r.ids!.slice(j * kTask, j * kTask + counts[j]!)
        if (disk && codes!.rescore) {
          out.push(this.rescoreFromDisk(qs.subarray(j * dim, (j + 1) * dim), offsets, k))
          continue
        }
        out.push({ offsets, distances: r.distances!.slice(j * kTask, j * kTask + counts[j]!) })
      }
    }
    return out
  }

  /** Checks graph invariants (links in range, no self or duplicate links, degree bounds, layers). */
  checkIntegrity(): IntegrityReport {
    const r = this.core.checkIntegrity()
    if (r === 0) return { ok: true }
    return {
      ok: false,
      node: r < 0 ? this.core.getEntryPoint() : r - 1,
      reason: INTEGRITY_REASONS[this.core.checkReason()] ?? 'unknown',
    }
  }

  /** Serialises vectors, graph and deletions into one buffer (format in docs/storage-format.md). */
  serialize(): Uint8Array {
    return joinParts(this.serializeParts().parts)
  }

  /**
   * `serialize()` as its parts in file order, mostly views of the core's memory rather than copies:
   * the header, the vectors and layer-0 links (one view per chunk), the levels, the deletions (a
   * view) and the upper-layer blocks; with the size and CRC-32C (computed by the core). The views
   * show the index as it is until it next changes: a caller writes them out before any add, delete
   * or restore on this index, or copies them.
   */
  serializeParts(vectorsApart = false): IndexFileParts {
    const c = this.core
    const n = c.getCount()
    // an index with its vectors on disk, or asked to: format version 2, no vectors section
    const apart = vectorsApart || this.disk !== undefined
    const m0 = 2 * this.params.m
    const levelView = new Uint8Array(c.memory.buffer, c.levelsPtr(), n)
    let upperWords = 0
    for (let i = 0; i < n; i++) upperWords += levelView[i]! * (1 + this.params.m)
    const header = new Uint32Array(HEADER_WORDS)
    header.set([
      MAGIC,
      apart ? FORMAT_VERSION_APART : FORMAT_VERSION,
      this.params.dimension,
      this.paddedDim,
      coreMetric(this.params.metric),
      this.params.metric === 'cosine' ? 1 : 0,
      this.params.m,
      this.params.efConstruct,
      n,
      c.getEntryPoint() >>> 0,
      c.getMaxLevel() >>> 0,
      c.getRng() >>> 0,
      upperWords,
      apart ? 1 : 0,
    ])
    const upper = new Uint8Array(upperWords * 4)
    const blockBytes = (1 + this.params.m) * 4
    let pos = 0
    for (let i = 0; i < n; i++) {
      const l = levelView[i]!
      if (l === 0) continue
      upper.set(new Uint8Array(c.memory.buffer, c.upperPtr(i), l * blockBytes), pos)
      pos += l * blockBytes
    }
    const levels = new Uint8Array((n + 3) & ~3)
    levels.set(levelView)
    const out = fileParts(c)
    out.outside(new Uint8Array(header.buffer))
    const vecRow = this.paddedDim * 4
    const linkRow = (1 + m0) * 4
    if (!apart) chunkRuns(c, c.vectorPtr, 0, n, (ptr, _first, rows) => out.inCore(ptr, rows * vecRow))
    out.outside(levels)
    // m = 0 (no graph): the file keeps a zero degree word per offset, the core holds no links
    if (this.params.m === 0) out.outside(new Uint8Array(n * linkRow))
    else chunkRuns(c, c.links0At, 0, n, (ptr, _first, rows) => out.inCore(ptr, rows * linkRow))
    out.inCore(c.deletedPtr(), ((n + 31) >>> 5) * 4)
    out.outside(upper)
    return out.done()
  }

  /**
   * `restore` from a stored file read in pieces straight into the new index's memory: the vectors
   * and links chunk by chunk, so opening needs no buffer of the whole file and no copy. Verifies the
   * size and the CRC-32C of `source` (computed by the core as the pieces arrive), then the graph;
   * throws CORRUPTED (`details.actual` / `expected` on a checksum mismatch) before returning.
   */
  static async restoreFrom(
    params: HnswParams,
    source: IndexFileSource,
    vectors?: DiskVectors,
  ): Promise<HnswIndex> {
    const corrupt = (what: string, details?: Record<string, unknown>) =>
      new QuiverError('CORRUPTED', `HNSW index file: ${what}`, details)
    // a header that fails a check is first blamed on the checksum when the file fails it too (a
    // flipped bit in the header reads as corruption, not as a config mismatch)
    const headerFailure = async (what: string) => {
      const actual = await sourceCrc32c(source)
      return actual !== source.crc32c >>> 0
        ? corrupt('CRC32C mismatch', { expected: source.crc32c >>> 0, actual })
        : corrupt(what)
    }
    if (source.bytes < HEADER_WORDS * 4) throw await headerFailure('too short')
    const head = new Uint8Array(HEADER_WORDS * 4)
    await source.read(head, 0)
    const h = new Uint32Array(head.buffer)
    const bad = headerProblem(params, h)
    if (bad !== undefined) throw await headerFailure(bad)
    const apart = h[1] === FORMAT_VERSION_APART
    if (apart && vectors === undefined)
      throw corrupt('the vectors are in a vector file, and the segment lists none')
    const index = HnswIndex.create(params)
    const c = index.core
    if (apart) c.setExternalVectors()
    const n = h[8]!
    const upperWords = h[12]!
    const m0 = 2 * params.m
    const vecRow = index.paddedDim * 4
    const linkRow = (1 + m0) * 4
    const levelBytes = (n + 3) & ~3
    const delBytes = ((n + 31) >>> 5) * 4
    const vecBytes = apart ? 0 : n * vecRow
    const expected = HEADER_WORDS * 4 + vecBytes + levelBytes + n * linkRow + delBytes + upperWords * 4
    if (source.bytes !== expected) throw await headerFailure(`size ${source.bytes}, expected ${expected}`)
    if (n > index.maxSize) throw await headerFailure(`${n} vectors exceed the segment capacity`)
    c.reserve(Math.max(n, 1))
    // every piece of the file in order: views of the core's memory where the data lives (vectors
    // and links per chunk, levels, deletions), small buffers for the rest (levels padding, upper
    // layers, copied in below)
    const mem = c.memory.buffer
    const pieces: Uint8Array[] = []
    const ptrs: number[] = [] // -1: not in the core's memory
    const inCore = (ptr: number, bytes: number) => {
      pieces.push(new Uint8Array(mem, ptr, bytes))
      ptrs.push(ptr)
    }
    const outside = (bytes: Uint8Array) => {
      pieces.push(bytes)
      ptrs.push(-1)
    }
    if (!apart) chunkRuns(c, c.vectorPtr, 0, n, (ptr, _first, rows) => inCore(ptr, rows * vecRow))
    inCore(c.levelsPtr(), n)
    outside(new Uint8Array(levelBytes - n))
    if (params.m === 0)
      outside(new Uint8Array(n * linkRow)) // no graph: zero degree words, not kept
    else chunkRuns(c, c.links0At, 0, n, (ptr, _first, rows) => inCore(ptr, rows * linkRow))
    inCore(c.deletedPtr(), delBytes)
    const upper = new Uint8Array(upperWords * 4)
    outside(upper)
    // reads overlap (up to READS_IN_FLIGHT) with the checksum of the pieces already read, in order
    const reads: Promise<void>[] = []
    let pos = head.byteLength
    const start = (i: number) => {
      const piece = pieces[i]!
      const read = source.read(piece, pos)
      read.catch(() => undefined) // awaited in order below; a later one failing first is not unhandled
      reads[i] = read
      pos += piece.byteLength
    }
    let crc = 0
    try {
      for (let i = 0; i < Math.min(READS_IN_FLIGHT, pieces.length); i++) start(i)
      crc = coreCrc32c(c, head)
      for (let i = 0; i < pieces.length; i++) {
        await reads[i]
        if (i + READS_IN_FLIGHT < pieces.length) start(i + READS_IN_FLIGHT)
        const ptr = ptrs[i]!
        crc = ptr < 0 ? coreCrc32c(c, pieces[i]!, crc) : c.crc32c(ptr, pieces[i]!.byteLength, crc) >>> 0
      }
    } finally {
      await Promise.allSettled(reads) // no read may still write into the core once this returns
    }
    if (crc !== source.crc32c >>> 0)
      throw corrupt('CRC32C mismatch', { expected: source.crc32c >>> 0, actual: crc })
    const levels = new Uint8Array(c.memory.buffer, c.levelsPtr(), n)
    let levelWords = 0
    for (let i = 0; i < n; i++) levelWords += levels[i]! * (1 + params.m)
    if (levelWords !== upperWords)
      throw corrupt(`upper-layer size ${upperWords} words, levels say ${levelWords}`)
    const blockBytes = (1 + params.m) * 4
    let at = 0
    for (let i = 0; i < n; i++) {
      const l = levels[i]! // a view of shared memory stays valid when the memory grows
      if (l === 0) continue
      const ptr = c.allocUpper(i, l)
      new Uint8Array(c.memory.buffer).set(upper.subarray(at, at + l * blockBytes), ptr)
      at += l * blockBytes
    }
    c.setState(n, h[9]! | 0, h[10]! | 0, h[11]!)
    const report = index.checkIntegrity()
    if (!report.ok) throw corrupt(`graph self-check failed at offset ${report.node}: ${report.reason}`)
    if (apart) index.disk = VectorFile.open(vectors!.file, vectors!.name, index.fileShape, n, c)
    return index
  }

  /** Rebuilds an index from `serialize()` output without re-inserting; throws CORRUPTED on a bad buffer. */
  static restore(params: HnswParams, data: Uint8Array): HnswIndex {
    const corrupt = (what: string) => new QuiverError('CORRUPTED', `HNSW index file: ${what}`)
    if (data.byteLength < HEADER_WORDS * 4) throw corrupt('too short')
    const aligned = data.byteOffset % 4 === 0 ? data : Uint8Array.prototype.slice.call(data)
    const h = new Uint32Array(aligned.buffer, aligned.byteOffset, HEADER_WORDS)
    const bad = headerProblem(params, h)
    if (bad !== undefined) throw corrupt(bad)
    if (h[1] === FORMAT_VERSION_APART)
      throw corrupt('the vectors are in a vector file: restore it with restoreFrom')
    const index = HnswIndex.create(params)
    const c = index.core
    const n = h[8]!
    const entry = h[9]! | 0
    const maxLevel = h[10]! | 0
    const upperWords = h[12]!
    const m0 = 2 * params.m
    const vecBytes = n * index.paddedDim * 4
    const levelBytes = (n + 3) & ~3
    const linkBytes = n * (1 + m0) * 4
    const delBytes = ((n + 31) >>> 5) * 4
    const expected = HEADER_WORDS * 4 + vecBytes + levelBytes + linkBytes + delBytes + upperWords * 4
    if (aligned.byteLength !== expected) throw corrupt(`size ${aligned.byteLength}, expected ${expected}`)
    c.reserve(Math.max(n, 1))
    let pos = HEADER_WORDS * 4
    const mem = () => new Uint8Array(c.memory.buffer)
    const vecRow = index.paddedDim * 4
    const linkRow = (1 + m0) * 4
    const vecsAt = pos
    chunkRuns(c, c.vectorPtr, 0, n, (ptr, first, rows) =>
      mem().set(aligned.subarray(vecsAt + first * vecRow, vecsAt + (first + rows) * vecRow), ptr),
    )
    pos += vecBytes
    const levels = aligned.subarray(pos, pos + n)
    let levelWords = 0
    for (let i = 0; i < n; i++) levelWords += levels[i]! * (1 + params.m)
    if (levelWords !== upperWords)
      throw corrupt(`upper-layer size ${upperWords} words, levels say ${levelWords}`)
    mem().set(levels, c.levelsPtr())
    pos += levelBytes
    const linksAt = pos
    if (params.m > 0) {
      chunkRuns(c, c.links0At, 0, n, (ptr, first, rows) =>
        mem().set(aligned.subarray(linksAt + first * linkRow, linksAt + (first + rows) * linkRow), ptr),
      )
    }
    pos += linkBytes
    mem().set(aligned.subarray(pos, pos + delBytes), c.deletedPtr())
    pos += delBytes
    const blockBytes = (1 + params.m) * 4
    for (let i = 0; i < n; i++) {
      const l = levels[i]!
      if (l === 0) continue
      const ptr = c.allocUpper(i, l)
      mem().set(aligned.subarray(pos, pos + l * blockBytes), ptr)
      pos += l * blockBytes
    }
    c.setState(n, entry, maxLevel, h[11]!)
    const report = index.checkIntegrity()
    if (!report.ok) throw corrupt(`graph self-check failed at offset ${report.node}: ${report.reason}`)
    return index
  }
}

// The surface a segment needs from its vector index, shared by HnswIndex (graph) and IvfIndex
// (inverted lists): dense offsets, float32 vectors in one WebAssembly core, deletions, searches.
import type { CoreExports } from '../engine/wasm.js'
import type { CodesSearch, IntegrityReport, SearchFilter, SearchHits } from './core-index.js'

export type { IndexMetric } from '../engine/wasm.js'
export type { CodesSearch, IntegrityReport, SearchFilter, SearchHits } from './core-index.js'

/** Which index a collection's segments use (`CollectionConfig.index`). */
export type VectorIndexKind = 'hnsw' | 'ivf'

/**
 * A vector index over dense offsets 0..size-1. `effort` is the search breadth of the index:
 * HNSW's `ef` (candidate list size), IVF's `nprobe` (lists scanned).
 */
export interface VectorIndex {
  /** Most offsets the index can hold. */
  readonly maxSize: number
  /** Offsets stored, deleted ones included. */
  readonly size: number
  /** Bytes of WebAssembly memory held. */
  readonly memoryBytes: number
  /** The core holding the vectors (quantizers keep their codes beside them). */
  readonly coreExports: CoreExports
  /** Stores one vector (length = dimension, finite) at the next offset; searchable on return. */
  add(vector: ArrayLike<number>): number
  /**
   * Stores n vectors (n x dimension, row-major) at the next n offsets; they become searchable at one
   * moment, when `committed(first)` runs synchronously, before the promise resolves. Returns the first offset.
   */
  addBatch(vectors: Float32Array, committed?: (first: number) => void): Promise<number>
  /** Stores a deleted placeholder (no vector) at the next offset; returns it. */
  addPlaceholder(): number
  reserve(n: number): void
  markDeleted(offset: number): void
  /** Undoes markDeleted (a batch held back until its segment committed it). */
  unmarkDeleted(offset: number): void
  isDeleted(offset: number): boolean
  /** A copy of the stored vector of `offset` (normalised for cosine). */
  vector(offset: number): Float32Array
  /** Approximate k-NN with breadth `effort`; only `filter.allow` offsets with a filter; on codes with `codes`. */
  search(
    query: ArrayLike<number>,
    k: number,
    effort: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
  ): SearchHits
  /** k-NN by a full scan of every live offset, or of `allowed` only. */
  searchExact(query: ArrayLike<number>, k: number, allowed?: Uint32Array, codes?: CodesSearch): SearchHits
  /** `search` (or, with `exact`, `searchExact` over the filter's offsets) for each of n queries. */
  searchBatch(
    queries: Float32Array,
    k: number,
    effort: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
    exact?: boolean,
  ): Promise<SearchHits[]>
  checkIntegrity(): IntegrityReport
  /** The whole index as one buffer (the segment's `index.bin`). */
  serialize(): Uint8Array
  /**
   * `serialize()` as its parts in file order, mostly views of the index's memory: valid until the
   * index next changes (write them out before then, or copy them); with their size and CRC-32C.
   */
  serializeParts(): IndexFileParts
}

/**
 * A stored index file read in pieces straight into an index's memory (no whole-file buffer):
 * `bytes` long; `read` fills all of `into` with the bytes at `position` or throws.
 */
export interface IndexFileSource {
  readonly bytes: number
  /** CRC-32C the file must have (its manifest entry); a restore that computes another throws CORRUPTED. */
  readonly crc32c: number
  read(into: Uint8Array, position: number): Promise<void>
}

/** A file as parts in order (views of an index's memory, or small buffers), with its size and CRC-32C. */
export interface IndexFileParts {
  readonly parts: readonly Uint8Array[]
  readonly bytes: number
  readonly crc32c: number
}

/**
 * A file kept open for synchronous positioned reads (a segment's vector file on disk): `size` bytes
 * when opened; `readSync` fills all of `into` from `position` or throws IO_ERROR; `close` once.
 */
export interface RowFile {
  readonly size: number
  readSync(into: Uint8Array, position: number): void
  /** `readSync` on the libuv thread pool: the calling thread stays free while the bytes arrive. */
  read(into: Uint8Array, position: number): Promise<void>
  close(): void
}

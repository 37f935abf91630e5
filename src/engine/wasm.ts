// Loads the WebAssembly SIMD core (build/quiver.wasm, compiled from assembly/) once per process and
// hands out instances: one instance owns one segment's vectors and graph in its linear memory, a
// shared memory that worker threads (src/engine/pool.ts) attach their own instances to.
import { readFileSync } from 'node:fs'
import { QuiverError } from '../errors.js'

/** `cosine` normalises stored vectors and queries, then ranks by dot product. */
export type IndexMetric = 'cosine' | 'dot' | 'l2' | 'l1'

/** Metric ids understood by the core (assembly/index.ts). */
export const CoreMetric = { dot: 0, l2: 1, l1: 2 } as const
export type CoreMetricId = (typeof CoreMetric)[keyof typeof CoreMetric]

/** The exports of assembly/index.ts. Pointers are byte offsets into `memory`. */
export interface CoreExports {
  readonly memory: WebAssembly.Memory
  init(
    dimension: number,
    metric: number,
    normalize: number,
    m: number,
    efConstruct: number,
    seed: number,
  ): void
  reserve(n: number): void
  maxCapacity(): number
  ensureOutput(n: number): void
  ensureList(n: number): number
  stagingPtr(): number
  /** Offsets per chunk of stored vectors and layer-0 links: rows are contiguous only within a chunk. */
  chunkPoints(): number
  /** Byte offset of stored vector `offset` (padded dimension f32; `offset` < capacity). */
  vectorPtr(offset: number): number
  /** Byte offset of `offset`'s layer-0 link list ((1 + 2m) u32; m > 0). */
  links0At(offset: number): number
  levelsPtr(): number
  deletedPtr(): number
  allowPtr(): number
  outIdsPtr(): number
  outDistPtr(): number
  upperPtr(node: number): number
  getCount(): number
  getCapacity(): number
  getEntryPoint(): number
  getMaxLevel(): number
  getPaddedDim(): number
  getRng(): number
  setState(count: number, entry: number, maxLevel: number, seed: number): void
  allocUpper(node: number, level: number): number
  add(): number
  addUnlinked(): number
  markDeleted(node: number): void
  unmarkDeleted(node: number): void
  isDeleted(node: number): number
  /** `quant`: 0 float32; 1 codes only; 2 codes, then the best `candidates` rescored with float32. */
  searchKnn(k: number, ef: number, mode: number, quant: number, candidates: number): number
  searchFlat(k: number, filtered: number, quant: number, candidates: number): number
  searchList(n: number, k: number, quant: number, candidates: number): number
  /** Active quantizer: 0 none, 1 scalar, 2 binary, 3 product (assembly/codes.ts). */
  setQuantKind(kind: number): void
  encodeRange(from: number, to: number): void
  distanceTo(node: number): number
  /** Keeps the float32 vectors outside the core (before the first reserve): only code searches (quant 1) run. */
  setExternalVectors(): void
  hasExternalVectors(): number
  /** Normalises the staging vector into the query buffer (as every search does first); returns its pointer. */
  prepareQuery(): number
  /** Offers the distances from the prepared query to n rows at `rows` (ids in the list buffer) to the best-k heap. */
  rescoreRows(n: number, k: number, rows: number, reset: number, skipDeleted: number): void
  /** Moves the best-k heap into the output buffers, nearest first; returns the count. */
  drainResults(k: number): number
  /** `rescoreRows` over rows stored as float16 (dimP u16 each). */
  rescoreRows16(n: number, k: number, rows: number, reset: number, skipDeleted: number): void
  /** n float32 at `src` -> n float16 (u16) at `dst`, round to nearest even. */
  toFloat16(src: number, dst: number, n: number): void
  /** n float16 (u16) at `src` -> n float32 at `dst`. */
  fromFloat16(src: number, dst: number, n: number): void
  /** A calling-thread scratch of at least `bytes` (moves when it grows). */
  rowsBuffer(bytes: number): number
  // threads (assembly/index.ts, "threads" section)
  setDeferFree(on: number): void
  releaseRetired(): number
  publishState(): number
  snapshotState(): number
  freeSnapshot(ptr: number): void
  arenaBytes(heapN: number, listN: number): number
  allocBlock(bytes: number): number
  freeBlock(ptr: number): void
  /** 0: a search snapshot older than offsets its arena cannot cover (answer the task elsewhere). */
  attachThread(
    state: number,
    arena: number,
    bytes: number,
    heapN: number,
    listN: number,
    capLimit: number,
  ): number
  prepareRange(from: number, to: number): void
  insertRange(from: number, to: number, step: number): void
  finishRange(to: number): void
  /** CRC-32C of `len` bytes at `ptr` continuing from `crc` (assembly/checksum.ts; signed: use `>>> 0`). */
  crc32c(ptr: number, len: number, crc: number): number
  /** Read-bandwidth probe: sums `bytes` bytes at `ptr` as float32 lanes. */
  streamSum(ptr: number, bytes: number): number
  checkIntegrity(): number
  checkReason(): number
}

/**
 * Calls `fn(ptr, first, rows)` for each contiguous run of offsets `from..to-1` of a chunked per-offset
 * array (the stored vectors: `at` = `core.vectorPtr`; layer-0 links: `core.links0At`), `ptr` being
 * the byte offset of offset `first` in `core.memory`. Runs end at chunk boundaries (`chunkPoints`).
 */
export function chunkRuns(
  core: CoreExports,
  at: (offset: number) => number,
  from: number,
  to: number,
  fn: (ptr: number, first: number, rows: number) => void,
): void {
  const per = core.chunkPoints()
  for (let first = from; first < to; ) {
    const end = Math.min(to, (Math.floor(first / per) + 1) * per)
    fn(at(first), first, end - first)
    first = end
  }
}

/** Bytes a CRC of data outside a core's memory is computed through at a time. */
const CRC_SCRATCH = 1 << 20

/**
 * CRC-32C of `bytes` (outside `core`'s memory: for data in it, call `core.crc32c(ptr, len, crc)`)
 * continuing from `crc` (0 to start), computed by the core's WebAssembly kernel through a scratch
 * block of its memory. The same function as src/storage/crc32c.ts, about 2-3x faster (1.4 GB/s here).
 */
export function coreCrc32c(core: CoreExports, bytes: Uint8Array, crc = 0): number {
  if (bytes.byteLength === 0) return crc >>> 0
  const size = Math.min(bytes.byteLength, CRC_SCRATCH)
  const block = core.allocBlock(size)
  try {
    let c = crc
    for (let pos = 0; pos < bytes.byteLength; pos += size) {
      const piece = bytes.subarray(pos, pos + size)
      new Uint8Array(core.memory.buffer, block, piece.byteLength).set(piece)
      c = core.crc32c(block, piece.byteLength, c)
    }
    return c >>> 0
  } finally {
    core.freeBlock(block)
  }
}

/**
 * Collects a file's parts in order with their running size and CRC-32C (computed by `core`): views
 * of the core's memory by pointer (`inCore`), other buffers as they are (`outside`).
 */
export function fileParts(core: CoreExports): {
  inCore(ptr: number, bytes: number): void
  outside(bytes: Uint8Array): void
  done(): { parts: Uint8Array[]; bytes: number; crc32c: number }
} {
  const parts: Uint8Array[] = []
  let bytes = 0
  let crc = 0
  return {
    inCore(ptr, n) {
      parts.push(new Uint8Array(core.memory.buffer, ptr, n))
      crc = core.crc32c(ptr, n, crc) >>> 0
      bytes += n
    },
    outside(b) {
      parts.push(b)
      crc = coreCrc32c(core, b, crc)
      bytes += b.byteLength
    },
    done: () => ({ parts, bytes, crc32c: crc }),
  }
}

/** The parts concatenated into one fresh buffer of their own (byte offset 0). */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.byteLength
  const out = new Uint8Array(n)
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.byteLength
  }
  return out
}

let compiled: WebAssembly.Module | undefined

/** Pages of 64 KiB; shared memories need a maximum (address space is reserved, not memory). */
const MAX_PAGES = 65_536

/** The compiled core (worker threads receive it to instantiate over a core's shared memory). */
export function wasmModule(): WebAssembly.Module {
  if (compiled) return compiled
  // src/engine and dist/engine both sit two levels below the package root.
  const url = new URL('../../build/quiver.wasm', import.meta.url)
  let bytes: Buffer
  try {
    bytes = readFileSync(url)
  } catch (err) {
    throw new QuiverError(
      'INTERNAL',
      `cannot read the WebAssembly core at ${url.pathname}: run 'npm run build' (or 'npm install') first`,
      undefined,
      err,
    )
  }
  compiled = new WebAssembly.Module(bytes)
  return compiled
}

function abort(_msg: number, _file: number, line: number, column: number): never {
  throw new QuiverError('INTERNAL', `WebAssembly core aborted at ${line}:${column}`)
}

/** A fresh core instance with its own (shared) linear memory. */
export function instantiateCore(): CoreExports {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true })
  return attachCore(wasmModule(), memory)
}

/** Another instance of `module` over an existing core's `memory` (a worker thread's view of it). */
export function attachCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreExports {
  const instance = new WebAssembly.Instance(module, { env: { memory, abort } })
  return instance.exports as unknown as CoreExports
}

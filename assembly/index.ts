// Quiver's compute core: one instance = one segment's vectors and HNSW graph in this module's linear
// memory, with SIMD128 distance kernels, heaps, a generation-tagged visited set, HNSW insert/search
// and exact (flat) search. No I/O. The TypeScript side (src/engine) writes vectors into the staging
// buffer, calls these exports, and reads results from the output buffers.
//
// HNSW: Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs", TPAMI 2018 — Alg. 1 (insert), Alg. 2 (search layer),
// Alg. 4 (neighbour selection heuristic), Alg. 5 (k-NN search).
//
// Memory is managed with the runtime's TLSF allocator (heap.alloc/realloc/free) over raw pointers;
// no managed objects are created, so the GC never runs.

import { bqState } from './binary'
import { codeDistance, codesReserve, encodeNode, prepareCodes, quantKind, setQuantKind } from './codes'
import { ivfState } from './ivf'
import { pqState } from './product'
import { sqState } from './scalar'

export * from './codes'
export * from './scalar'
export * from './binary'
export * from './product'
export * from './ivf'
export * from './checksum'

// ---- metric ids (keep in sync with src/engine/wasm.ts) ----
const METRIC_DOT: i32 = 0 // also Cosine: vectors are normalised when stored
const METRIC_L2: i32 = 1 // squared Euclidean distance
const METRIC_L1: i32 = 2 // Manhattan distance

// ---- configuration ----
export let dim: i32 = 0 // vector length as given
export let dimP: i32 = 0 // padded to a multiple of 4 (zero-filled), the stride of stored vectors
export let metric: i32 = METRIC_L2
export let normalize: bool = false
export let M: i32 = 16
let M0: i32 = 32
let efConstruct: i32 = 100
let levelMult: f64 = 0.0
let rng: u32 = 0x9e3779b9

// ---- graph state ----
export let count: i32 = 0 // offsets 0..count-1 exist
export let capacity: i32 = 0
let entryPoint: i32 = -1
let maxLevel: i32 = -1

// Vectors and layer-0 links live in chunks of 2^chunkShift offsets (about CHUNK_BYTES each) that
// never move: growing a segment allocates chunks and copies nothing, so no replaced copy of the
// largest arrays stays resident. Chunks are not zero-filled, so the pages of offsets reserved but
// not yet stored are never touched (not resident) even in a small segment's first chunk. A chunk
// table holds one u32 pointer per chunk; offset i is at chunk i >>> chunkShift, row i & chunkMask.
let chunkShift: i32 = 0
/**
 * The float32 vectors live outside this module (a segment's vector file, read by the host): no
 * vector chunks are allocated, traversal and scans compare codes only (quant 1), and the host
 * rescores with the rows it reads (rescoreRows). Every float32 path aborts.
 */
let externalVecs: bool = false
let chunkMask: i32 = 0
let chunkCount: i32 = 0 // chunks allocated (table entries in use)
let chunkTableCap: i32 = 0 // table entries
/** Bytes a whole chunk of the larger of vectors and links aims at (fewer offsets at high dimension). */
const CHUNK_BYTES: i32 = 1 << 22
const CHUNK_SHIFT_MAX: i32 = 16

// per-offset arrays
export let vecs: usize = 0 // chunk table: chunkCount pointers to (2^chunkShift * dimP) f32
let levels: usize = 0 // capacity u8: top layer of each node
let links0: usize = 0 // chunk table (M > 0): chunkCount pointers to (2^chunkShift * (1 + M0)) u32: [degree, neighbours...] on layer 0
let upper: usize = 0 // capacity u32: pointer to (level * (1 + M)) u32 for layers 1..level, or 0
export let deleted: usize = 0 // bitset, capacity bits (u32 words)
export let allow: usize = 0 // bitset for filtered search, capacity bits (u32 words)
let visited: usize = 0 // capacity u32 generation tags
let visitGen: u32 = 0

// heaps of (distance f32, offset u32) pairs, 8 bytes per entry
let candHeap: usize = 0 // min-heap on distance
let candSize: i32 = 0
export let resHeap: usize = 0 // max-heap on distance
export let resSize: i32 = 0
export let heapCap: i32 = 0 // capacity of the result heap
let candCap: i32 = 0 // capacity of the candidate heap (grows on demand: filtered search can queue many)

// scratch
let staging: usize = 0 // dimP f32: vector written by the host
export let queryBuf: usize = 0 // dimP f32: normalised copy of the query
let outIds: usize = 0 // outCap u32
let outDist: usize = 0 // outCap f32
let outCap: i32 = 0
let selIds: usize = 0 // scratch for neighbour selection, selCap entries
let selDist: usize = 0
let selCap: i32 = 0
let listBuf: usize = 0 // listCap u32: offsets for exact search over a list
let listCap: i32 = 0

// per-thread scratch slots handed out by threadScratch (quantizers and IVF keep per-query buffers there)
export const SLOT_SCALAR: i32 = 0
export const SLOT_BINARY: i32 = 1
export const SLOT_PRODUCT: i32 = 2
export const SLOT_IVF: i32 = 3
export const SLOT_IVF2: i32 = 4
const SLOTS: i32 = 8
let slotPtr: usize = 0 // SLOTS pointers
let slotBytes: usize = 0 // SLOTS sizes

/**
 * Thread-local scratch of at least `bytes` bytes for `slot` (one of the SLOT_* ids), zero-filled
 * when first handed out or grown; the same slot returns the same buffer until it must grow. For
 * per-query state (a quantized query, a lookup table) that the search path of this thread reads.
 */
export function threadScratch(slot: i32, bytes: usize): usize {
  if (workerMode) return workerScratch(slot, bytes)
  if (slotPtr == 0) {
    slotPtr = heap.alloc(<usize>SLOTS << 2)
    memory.fill(slotPtr, 0, <usize>SLOTS << 2)
    slotBytes = heap.alloc(<usize>SLOTS << 2)
    memory.fill(slotBytes, 0, <usize>SLOTS << 2)
  }
  const pp = slotPtr + (<usize>slot << 2)
  const pb = slotBytes + (<usize>slot << 2)
  const have = <usize>load<u32>(pb)
  if (bytes > have) {
    const want = bytes < 64 ? <usize>64 : bytes
    store<u32>(pp, <u32>grow(<usize>load<u32>(pp), have, want))
    store<u32>(pb, <u32>want)
  }
  return <usize>load<u32>(pp)
}

// ---- small helpers ----

@inline function wordsFor(bits: i32): i32 {
  return (bits + 31) >>> 5
}

@inline export function bitGet(base: usize, i: i32): bool {
  return ((load<u32>(base + (<usize>(i >>> 5) << 2)) >>> (<u32>i & 31)) & 1) != 0
}

@inline export function bitSet(base: usize, i: i32): void {
  const p = base + (<usize>(i >>> 5) << 2)
  store<u32>(p, load<u32>(p) | (<u32>1 << (<u32>i & 31)))
}

@inline function bitClear(base: usize, i: i32): void {
  const p = base + (<usize>(i >>> 5) << 2)
  store<u32>(p, load<u32>(p) & ~(<u32>1 << (<u32>i & 31)))
}

@inline export function vecPtr(i: i32): usize {
  return <usize>load<u32>(vecs + (<usize>(i >>> chunkShift) << 2)) + (<usize>(i & chunkMask) * <usize>dimP << 2)
}

export function grow(ptr: usize, oldBytes: usize, newBytes: usize): usize {
  if (workerMode) abort('a worker thread cannot allocate: thread scratch too small')
  let p: usize
  if (ptr == 0) p = heap.alloc(newBytes)
  else if (deferFree) {
    // worker threads may still read the old block: free it once they are done (releaseRetired)
    p = heap.alloc(newBytes)
    memory.copy(p, ptr, oldBytes < newBytes ? oldBytes : newBytes)
    retire(ptr)
  } else p = heap.realloc(ptr, newBytes)
  if (newBytes > oldBytes) memory.fill(p + oldBytes, 0, newBytes - oldBytes)
  return p
}

function nextRandom(): u32 {
  // xorshift32
  let x = rng
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  rng = x
  return x
}

function randomLevel(): i32 {
  // u in (0, 1]
  const u = (<f64>(nextRandom() >>> 8) + 1.0) / 16777216.0
  const l = <i32>Math.floor(-Math.log(u) * levelMult)
  return l > 30 ? 30 : l
}

// ---- distance kernels (SIMD128) ----
// All return "lower is better": -dot for DOT, squared L2 for L2, L1 for L1.

@inline function dotKernel(a: usize, b: usize): f32 {
  let s0 = f32x4.splat(0)
  let s1 = f32x4.splat(0)
  let s2 = f32x4.splat(0)
  let s3 = f32x4.splat(0)
  const n = <usize>dimP << 2
  let i: usize = 0
  for (; i + 64 <= n; i += 64) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + i), v128.load(b + i)))
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + i, 16), v128.load(b + i, 16)))
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + i, 32), v128.load(b + i, 32)))
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + i, 48), v128.load(b + i, 48)))
  }
  for (; i < n; i += 16) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + i), v128.load(b + i)))
  }
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3))
  return -(f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))
}

@inline function l2Kernel(a: usize, b: usize): f32 {
  let s0 = f32x4.splat(0)
  let s1 = f32x4.splat(0)
  let s2 = f32x4.splat(0)
  let s3 = f32x4.splat(0)
  const n = <usize>dimP << 2
  let i: usize = 0
  for (; i + 64 <= n; i += 64) {
    const d0 = f32x4.sub(v128.load(a + i), v128.load(b + i))
    const d1 = f32x4.sub(v128.load(a + i, 16), v128.load(b + i, 16))
    const d2 = f32x4.sub(v128.load(a + i, 32), v128.load(b + i, 32))
    const d3 = f32x4.sub(v128.load(a + i, 48), v128.load(b + i, 48))
    s0 = f32x4.add(s0, f32x4.mul(d0, d0))
    s1 = f32x4.add(s1, f32x4.mul(d1, d1))
    s2 = f32x4.add(s2, f32x4.mul(d2, d2))
    s3 = f32x4.add(s3, f32x4.mul(d3, d3))
  }
  for (; i < n; i += 16) {
    const d = f32x4.sub(v128.load(a + i), v128.load(b + i))
    s0 = f32x4.add(s0, f32x4.mul(d, d))
  }
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3))
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)
}

@inline function l1Kernel(a: usize, b: usize): f32 {
  let s0 = f32x4.splat(0)
  let s1 = f32x4.splat(0)
  const n = <usize>dimP << 2
  let i: usize = 0
  for (; i + 32 <= n; i += 32) {
    s0 = f32x4.add(s0, f32x4.abs(f32x4.sub(v128.load(a + i), v128.load(b + i))))
    s1 = f32x4.add(s1, f32x4.abs(f32x4.sub(v128.load(a + i, 16), v128.load(b + i, 16))))
  }
  for (; i < n; i += 16) {
    s0 = f32x4.add(s0, f32x4.abs(f32x4.sub(v128.load(a + i), v128.load(b + i))))
  }
  const s = f32x4.add(s0, s1)
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)
}

@inline export function distance(a: usize, b: usize): f32 {
  if (metric == METRIC_L2) return l2Kernel(a, b)
  if (metric == METRIC_DOT) return dotKernel(a, b)
  return l1Kernel(a, b)
}

/** Search only: true while the traversal compares codes (prepareCodes ran) instead of float32 vectors. */
let useCodes: bool = false

/** Distance from the query at `q` to stored `node`: its code when useCodes, else its float32 vector. */
@inline function nodeDist(q: usize, node: i32): f32 {
  return useCodes ? codeDistance(node) : distance(q, vecPtr(node))
}

// ---- heaps ----

export function ensureHeaps(n: i32): void {
  if (n <= heapCap) return
  let cap = heapCap < 64 ? 64 : heapCap
  while (cap < n) cap <<= 1
  resHeap = grow(resHeap, <usize>heapCap << 3, <usize>cap << 3)
  heapCap = cap
  if (candCap < cap) {
    candHeap = grow(candHeap, <usize>candCap << 3, <usize>cap << 3)
    candCap = cap
  }
}

@inline export function hDist(h: usize, i: i32): f32 {
  return load<f32>(h + (<usize>i << 3))
}

@inline export function hId(h: usize, i: i32): u32 {
  return load<u32>(h + (<usize>i << 3), 4)
}

@inline function hSet(h: usize, i: i32, d: f32, id: u32): void {
  const p = h + (<usize>i << 3)
  store<f32>(p, d)
  store<u32>(p, id, 4)
}

// candidate min-heap
function candPush(d: f32, id: u32): void {
  if (candSize == candCap) {
    candHeap = grow(candHeap, <usize>candCap << 3, <usize>candCap << 4)
    candCap <<= 1
  }
  let i = candSize++
  while (i > 0) {
    const parent = (i - 1) >> 1
    const pd = hDist(candHeap, parent)
    if (pd <= d) break
    hSet(candHeap, i, pd, hId(candHeap, parent))
    i = parent
  }
  hSet(candHeap, i, d, id)
}

function candPop(): void {
  const n = --candSize
  if (n == 0) return
  const d = hDist(candHeap, n)
  const id = hId(candHeap, n)
  let i = 0
  while (true) {
    let c = 2 * i + 1
    if (c >= n) break
    if (c + 1 < n && hDist(candHeap, c + 1) < hDist(candHeap, c)) c++
    const cd = hDist(candHeap, c)
    if (cd >= d) break
    hSet(candHeap, i, cd, hId(candHeap, c))
    i = c
  }
  hSet(candHeap, i, d, id)
}

// result max-heap
export function resPush(d: f32, id: u32): void {
  let i = resSize++
  while (i > 0) {
    const parent = (i - 1) >> 1
    const pd = hDist(resHeap, parent)
    if (pd >= d) break
    hSet(resHeap, i, pd, hId(resHeap, parent))
    i = parent
  }
  hSet(resHeap, i, d, id)
}

export function resPop(): void {
  const n = --resSize
  if (n == 0) return
  const d = hDist(resHeap, n)
  const id = hId(resHeap, n)
  let i = 0
  while (true) {
    let c = 2 * i + 1
    if (c >= n) break
    if (c + 1 < n && hDist(resHeap, c + 1) > hDist(resHeap, c)) c++
    const cd = hDist(resHeap, c)
    if (cd <= d) break
    hSet(resHeap, i, cd, hId(resHeap, c))
    i = c
  }
  hSet(resHeap, i, d, id)
}

// ---- graph accessors ----

@inline function linksAt(node: i32, level: i32): usize {
  if (level == 0) {
    return <usize>load<u32>(links0 + (<usize>(node >>> chunkShift) << 2)) + (<usize>(node & chunkMask) * <usize>(1 + M0) << 2)
  }
  return <usize>load<u32>(upper + (<usize>node << 2)) + (<usize>(level - 1) * <usize>(1 + M) << 2)
}

@inline function nodeLevel(node: i32): i32 {
  return <i32>load<u8>(levels + <usize>node)
}

function newVisitGeneration(): u32 {
  visitGen++
  if (visitGen == 0) {
    memory.fill(visited, 0, <usize>capacity << 2)
    visitGen = 1
  }
  return visitGen
}

// ---- lifecycle ----

/**
 * Sets up an empty segment. `metricId`: 0 dot, 1 squared L2, 2 L1; `norm`: normalise stored vectors
 * and queries (Cosine). `m`: links per node on layers >= 1 (layer 0 keeps 2m).
 */
export function init(dimension: i32, metricId: i32, norm: bool, m: i32, efc: i32, seed: u32): void {
  dim = dimension
  dimP = (dimension + 3) & ~3
  metric = metricId
  normalize = norm
  M = m
  M0 = 2 * m
  efConstruct = efc
  levelMult = m > 1 ? 1.0 / Math.log(<f64>m) : 0.0
  rng = seed == 0 ? 0x9e3779b9 : seed
  const vecBytes = dimP << 2
  const linkBytes = M > 0 ? (1 + M0) << 2 : 0
  const per = vecBytes > linkBytes ? vecBytes : linkBytes
  let shift = 0
  while (shift < CHUNK_SHIFT_MAX && per << (shift + 1) <= CHUNK_BYTES) shift++
  chunkShift = shift
  chunkMask = (1 << shift) - 1
  staging = heap.alloc(<usize>dimP << 2)
  memory.fill(staging, 0, <usize>dimP << 2)
  queryBuf = heap.alloc(<usize>dimP << 2)
  memory.fill(queryBuf, 0, <usize>dimP << 2)
  ensureHeaps(256)
  ensureSelect(M0 + 1)
}

// The TLSF allocator serves blocks below 1 GiB. Vectors and links are chunked, but a segment stays
// within 1 GiB of either (and of every other per-offset array): this bounds its offsets.
const BLOCK_LIMIT: i64 = (1 << 30) - 4096

/** Most offsets one segment can hold: 1 GiB of vectors or of layer-0 links, whichever is larger. */
export function maxCapacity(): i32 {
  const vecBytes = <i64>dimP << 2
  const linkBytes = <i64>(1 + M0) << 2
  const per = vecBytes > linkBytes ? vecBytes : linkBytes
  return <i32>(BLOCK_LIMIT / per)
}

/** Grows per-offset storage so that offsets 0..n-1 can be stored (n <= maxCapacity()). */
export function reserve(n: i32): void {
  if (n <= capacity) return
  const limit = maxCapacity()
  if (n > limit) abort('segment capacity exceeded')
  // the first reservation is exact (a restored segment knows its size; growth is 1.5x from there)
  let cap = capacity == 0 ? (n < 1024 ? 1024 : n) : capacity
  while (cap < n) cap = cap + (cap >> 1)
  if (cap > limit) cap = limit
  const old = <usize>capacity
  const c = <usize>cap
  reserveChunks(cap)
  levels = grow(levels, old, c)
  upper = grow(upper, old << 2, c << 2)
  deleted = grow(deleted, <usize>wordsFor(capacity) << 2, <usize>wordsFor(cap) << 2)
  allow = grow(allow, <usize>wordsFor(capacity) << 2, <usize>wordsFor(cap) << 2)
  visited = grow(visited, old << 2, c << 2)
  locks = grow(locks, old << 2, c << 2)
  codesReserve(capacity, cap)
  capacity = cap
  if (stateBlock != 0) publishArrays(stateBlock)
}

/**
 * Whole chunks for offsets 0..cap-1, allocated and never moved. They are not zero-filled: no offset
 * past `count` is read (add, addUnlinked and prepareRange write a node's vector and links before
 * it counts).
 */
function reserveChunks(cap: i32): void {
  const need = (cap + (1 << chunkShift) - 1) >>> chunkShift
  if (need > chunkTableCap) {
    let tc = chunkTableCap < 8 ? 8 : chunkTableCap
    while (tc < need) tc <<= 1
    vecs = grow(vecs, <usize>chunkTableCap << 2, <usize>tc << 2)
    if (M > 0) links0 = grow(links0, <usize>chunkTableCap << 2, <usize>tc << 2)
    chunkTableCap = tc
  }
  const vecChunk = (<usize>dimP << 2) << chunkShift
  const linkChunk = (<usize>(1 + M0) << 2) << chunkShift
  for (let k = chunkCount; k < need; k++) {
    store<u32>(vecs + (<usize>k << 2), externalVecs ? 0 : <u32>heap.alloc(vecChunk))
    if (M > 0) store<u32>(links0 + (<usize>k << 2), <u32>heap.alloc(linkChunk))
  }
  if (need > chunkCount) chunkCount = need
}

/** Offsets per chunk of vectors and layer-0 links (rows within one chunk are contiguous). */
export function chunkPoints(): i32 {
  return 1 << chunkShift
}

/** Byte offset of stored vector `node` (dimP f32; `node` < capacity). Aborts with external vectors. */
export function vectorPtr(node: i32): usize {
  noExternal()
  return vecPtr(node)
}

/**
 * Keeps the float32 vectors outside this module from now on (see externalVecs): call on an empty
 * segment, before the first reserve; the host restores links and codes, never vectors.
 */
export function setExternalVectors(): void {
  if (capacity != 0) abort('external vectors must be set before the first reserve')
  externalVecs = true
}

export function hasExternalVectors(): bool {
  return externalVecs
}

/** Aborts a float32 path (insert, float32 search or rescoring in the module) when the vectors are external. */
@inline function noExternal(): void {
  if (externalVecs) abort('this segment keeps its vectors on disk: float32 search runs on the host')
}

/** Byte offset of `node`'s layer-0 link list ((1 + 2m) u32: degree, neighbours; `node` < capacity, m > 0). */
export function links0At(node: i32): usize {
  if (M == 0) abort('an index without a graph (m = 0) has no links')
  return linksAt(node, 0)
}

function ensureSelect(n: i32): void {
  if (n <= selCap) return
  let cap = selCap < 64 ? 64 : selCap
  while (cap < n) cap <<= 1
  selIds = grow(selIds, <usize>selCap << 2, <usize>cap << 2)
  selDist = grow(selDist, <usize>selCap << 2, <usize>cap << 2)
  selCap = cap
}

/** Makes room for `n` results in the output buffers and returns nothing; read pointers after. */
export function ensureOutput(n: i32): void {
  if (n <= outCap) return
  let cap = outCap < 64 ? 64 : outCap
  while (cap < n) cap <<= 1
  outIds = grow(outIds, <usize>outCap << 2, <usize>cap << 2)
  outDist = grow(outDist, <usize>outCap << 2, <usize>cap << 2)
  outCap = cap
}

/** Makes room for a list of `n` offsets (exact search over a list) and returns its pointer. */
export function ensureList(n: i32): usize {
  if (n > listCap) {
    let cap = listCap < 1024 ? 1024 : listCap
    while (cap < n) cap <<= 1
    listBuf = grow(listBuf, <usize>listCap << 2, <usize>cap << 2)
    listCap = cap
  }
  return listBuf
}

// ---- pointers and state for the host ----

export function stagingPtr(): usize {
  return staging
}
export function levelsPtr(): usize {
  return levels
}
export function deletedPtr(): usize {
  return deleted
}
export function allowPtr(): usize {
  return allow
}
export function outIdsPtr(): usize {
  return outIds
}
export function outDistPtr(): usize {
  return outDist
}
export function upperPtr(node: i32): usize {
  return load<u32>(upper + (<usize>node << 2))
}
export function getCount(): i32 {
  return count
}
export function getCapacity(): i32 {
  return capacity
}
export function getEntryPoint(): i32 {
  return entryPoint
}
export function getMaxLevel(): i32 {
  return maxLevel
}
export function getPaddedDim(): i32 {
  return dimP
}
export function getRng(): u32 {
  return rng
}

/** Restores graph state after the host copied vectors, levels, links and upper blocks back in. */
export function setState(n: i32, entry: i32, top: i32, seed: u32): void {
  count = n
  entryPoint = entry
  maxLevel = top
  rng = seed == 0 ? 0x9e3779b9 : seed
}

/** Allocates the upper-layer link block of `node` (for restore) and returns its pointer. */
export function allocUpper(node: i32, level: i32): usize {
  const bytes = <usize>level * <usize>(1 + M) << 2
  const p = heap.alloc(bytes)
  memory.fill(p, 0, bytes)
  store<u32>(upper + (<usize>node << 2), <u32>p)
  store<u8>(levels + <usize>node, <u8>level)
  return p
}

// ---- storing vectors ----

/**
 * Scales the `dim` floats at `p` to unit L2 norm; a zero vector stays zero. In f64: a float32
 * vector's squared norm can pass float32's range ([1e38, 1e38] gives 2e76, which made the vector
 * zero) or underflow it (subnormal components), never f64's (at most 65536 · 3.4e38² ≈ 7.6e81).
 */
function normalizeInPlace(p: usize): void {
  let s: f64 = 0
  for (let i = 0; i < dim; i++) {
    const x = <f64>load<f32>(p + (<usize>i << 2))
    s += x * x
  }
  if (s > 0) {
    const inv = 1.0 / Math.sqrt(s) // below float32's normal range when the norm is above 8.5e37
    for (let i = 0; i < dim; i++) {
      const q = p + (<usize>i << 2)
      store<f32>(q, <f32>(<f64>load<f32>(q) * inv))
    }
  }
}

/**
 * Copies the staging vector into offset `count` (normalising it for Cosine), inserts it into the
 * graph, and returns its offset. The host must have called reserve(count + 1).
 */
export function add(): i32 {
  noExternal()
  const node = count
  const dst = vecPtr(node)
  memory.copy(dst, staging, <usize>dimP << 2)
  if (normalize) normalizeInPlace(dst)
  if (quantKind != 0) encodeNode(node, dst)
  if (M > 0) insert(node) // M = 0: vectors only, no graph (IVF)
  count++ // only once the node is fully linked (a trap inside insert leaves count unchanged)
  publishCount()
  return node
}

/**
 * Stores a placeholder at offset `count`: a zero vector, deleted, on layer 0 with no links, so no
 * search ever reaches or returns it. A point that lacks this vector keeps its offset aligned with
 * the segment's other vectors this way. The host must have called reserve(count + 1).
 */
export function addUnlinked(): i32 {
  noExternal()
  const node = count
  memory.fill(vecPtr(node), 0, <usize>dimP << 2)
  if (quantKind != 0) encodeNode(node, vecPtr(node))
  if (M > 0) setupNode(node, 0)
  bitSet(deleted, node)
  count++
  publishCount()
  return node
}

/** Writes the codes of offsets from..to-1 from their stored vectors (after a quantizer is trained). */
export function encodeRange(from: i32, to: i32): void {
  if (from < to) noExternal()
  for (let i = from; i < to; i++) encodeNode(i, vecPtr(i))
}

export function markDeleted(node: i32): void {
  bitSet(deleted, node)
}

/** Undoes markDeleted for an offset whose batch was held back until its segment committed it. */
export function unmarkDeleted(node: i32): void {
  bitClear(deleted, node)
}

export function isDeleted(node: i32): bool {
  return bitGet(deleted, node)
}

// ---- search ----

@inline export function accepted(node: i32, filtered: bool): bool {
  if (node >= count || bitGet(deleted, <i32>node)) return false
  return !filtered || bitGet(allow, node)
}

/** Greedy descent on one layer (Alg. 2 with ef = 1); returns the closest node reached. */
function greedy(q: usize, start: i32, startDist: f32, level: i32): i32 {
  let cur = start
  let curDist = startDist
  let changed = true
  while (changed) {
    changed = false
    const l = linksAt(cur, level)
    const deg = <i32>load<u32>(l)
    for (let j = 0; j < deg; j++) {
      const nb = <i32>load<u32>(l + (<usize>(j + 1) << 2))
      if (<u32>nb >= <u32>count) continue // being linked by another thread, or past this thread's snapshot
      const d = nodeDist(q, nb)
      if (d < curDist) {
        curDist = d
        cur = nb
        changed = true
      }
    }
  }
  return cur
}

/**
 * Alg. 2: best-first search of one layer from `ep`; leaves up to `ef` accepted nodes in the result
 * max-heap. Nodes not accepted (deleted, or outside the filter) are still traversed as waypoints.
 */
function searchLayer(q: usize, ep: i32, ef: i32, level: i32, filtered: bool): void {
  const gen = newVisitGeneration()
  candSize = 0
  resSize = 0
  const d0 = nodeDist(q, ep)
  candPush(d0, <u32>ep)
  if (accepted(ep, filtered)) resPush(d0, <u32>ep)
  store<u32>(visited + (<usize>ep << 2), gen)
  while (candSize > 0) {
    const cd = hDist(candHeap, 0)
    const c = <i32>hId(candHeap, 0)
    if (resSize >= ef && cd > hDist(resHeap, 0)) break
    candPop()
    const l = linksAt(c, level)
    const deg = <i32>load<u32>(l)
    for (let j = 0; j < deg; j++) {
      const nb = <i32>load<u32>(l + (<usize>(j + 1) << 2))
      if (<u32>nb >= <u32>count) continue // being linked by another thread, or past this thread's snapshot
      const vp = visited + (<usize>nb << 2)
      if (load<u32>(vp) == gen) continue
      store<u32>(vp, gen)
      const d = nodeDist(q, nb)
      if (resSize < ef || d < hDist(resHeap, 0)) {
        candPush(d, <u32>nb)
        if (accepted(nb, filtered)) {
          resPush(d, <u32>nb)
          if (resSize > ef) resPop()
        }
      }
    }
  }
}

/** Visits `nb` for the two-hop search: computes its distance once and queues it if it can improve the results. */
@inline function visitAllowed(q: usize, nb: i32, ef: i32, gen: u32): void {
  const vp = visited + (<usize>nb << 2)
  if (load<u32>(vp) == gen) return
  store<u32>(vp, gen)
  const d = nodeDist(q, nb)
  if (resSize < ef || d < hDist(resHeap, 0)) {
    candPush(d, <u32>nb)
    resPush(d, <u32>nb)
    if (resSize > ef) resPop()
  }
}

/**
 * Layer-0 search restricted to the allow bitset, in the style of ACORN-1 (Patel et al., "ACORN:
 * Performant and Predicate-Agnostic Search Over Vector Embeddings and Structured Data", SIGMOD 2024):
 * an expanded node's neighbour list is its admissible neighbours plus the admissible neighbours of
 * its inadmissible ones (two hops), truncated at 2m. Only admissible nodes get a distance computed
 * and enter the queues, so the work tracks the matches, while the two-hop step keeps the subgraph of
 * matches connected when they are sparse. The entry point may be inadmissible (a waypoint).
 * Returns false when the queue ran dry before `ef` results were found (the admissible subgraph
 * reachable from `ep` is smaller than ef, e.g. matches scattered over clusters).
 */
function searchLayer0TwoHop(q: usize, ep: i32, ef: i32): bool {
  const gen = newVisitGeneration()
  candSize = 0
  resSize = 0
  const d0 = nodeDist(q, ep)
  candPush(d0, <u32>ep)
  if (accepted(ep, true)) resPush(d0, <u32>ep)
  store<u32>(visited + (<usize>ep << 2), gen)
  while (candSize > 0) {
    const cd = hDist(candHeap, 0)
    const c = <i32>hId(candHeap, 0)
    if (resSize >= ef && cd > hDist(resHeap, 0)) break
    candPop()
    const l = linksAt(c, 0)
    const deg = <i32>load<u32>(l)
    let found = 0
    for (let j = 0; j < deg; j++) {
      const nb = <i32>load<u32>(l + (<usize>(j + 1) << 2))
      if (<u32>nb >= <u32>count) continue // being linked by another thread, or past this thread's snapshot
      if (!accepted(nb, true)) continue
      found++
      visitAllowed(q, nb, ef, gen)
    }
    for (let j = 0; j < deg && found < M0; j++) {
      const nb = <i32>load<u32>(l + (<usize>(j + 1) << 2))
      if (<u32>nb >= <u32>count) continue // being linked by another thread, or past this thread's snapshot
      if (accepted(nb, true)) continue
      const l2 = linksAt(nb, 0)
      const deg2 = <i32>load<u32>(l2)
      for (let t = 0; t < deg2 && found < M0; t++) {
        const nb2 = <i32>load<u32>(l2 + (<usize>(t + 1) << 2))
        if (<u32>nb2 >= <u32>count) continue
        if (!accepted(nb2, true)) continue
        found++
        visitAllowed(q, nb2, ef, gen)
      }
    }
  }
  return resSize >= ef
}

export function prepareQuery(): usize {
  memory.copy(queryBuf, staging, <usize>dimP << 2)
  if (normalize) normalizeInPlace(queryBuf)
  return queryBuf
}

/** Moves the result heap into the output buffers, nearest first, keeping at most k; returns the count. */
export function drainResults(k: i32): i32 {
  while (resSize > k) resPop()
  const n = resSize
  ensureOutput(n)
  for (let i = n - 1; i >= 0; i--) {
    store<u32>(outIds + (<usize>i << 2), hId(resHeap, 0))
    store<f32>(outDist + (<usize>i << 2), hDist(resHeap, 0))
    resPop()
  }
  return n
}

/**
 * Alg. 5: k-NN search for the staging vector with candidate list size `ef` (>= k).
 * `mode` 0: unfiltered. 1: only offsets whose bit is set in the allow bitset are returned; the
 * others stay waypoints (distances computed for all). 2: the same result rule with two-hop
 * expansion over admissible nodes only (searchLayer0TwoHop), for sparse matches; when that finds
 * fewer than ef admissible nodes it is redone as mode 1.
 * Upper layers are always descended greedily without the filter.
 * Writes offsets and distances (lower is better) to the output buffers; returns the count.
 */
export function searchKnn(k: i32, ef: i32, mode: i32, quant: i32, candidates: i32): i32 {
  if (entryPoint < 0 || k <= 0) return 0
  const q = prepareQuery()
  if (ef < k) ef = k
  ensureHeaps(ef + 1)
  beginQuant(q, quant)
  let cur = entryPoint
  for (let level = maxLevel; level > 0; level--) {
    cur = greedy(q, cur, nodeDist(q, cur), level)
  }
  // two-hop search that runs dry falls back to the waypoint search, which reaches every component
  if (mode != 2 || !searchLayer0TwoHop(q, cur, ef)) searchLayer(q, cur, ef, 0, mode != 0)
  return finishQuant(q, quant, k, candidates)
}

/** Starts a search on codes (quant 1 or 2) when a quantizer is active; quant 0 compares float32 vectors. */
function beginQuant(q: usize, quant: i32): void {
  if (externalVecs && (quant != 1 || quantKind == 0)) noExternal()
  useCodes = quant != 0 && quantKind != 0
  if (useCodes) prepareCodes(q)
}

/**
 * Ends a search: with codes and quant 2, re-ranks the best `candidates` results (by code distance)
 * with their float32 vectors and keeps the best k (rescoring); then drains the result heap.
 */
function finishQuant(q: usize, quant: i32, k: i32, candidates: i32): i32 {
  if (useCodes && quant == 2) {
    useCodes = false
    if (candidates < k) candidates = k
    while (resSize > candidates) resPop()
    const n = resSize
    ensureSelect(n)
    for (let i = 0; i < n; i++) {
      store<u32>(selIds + (<usize>i << 2), hId(resHeap, 0))
      resPop()
    }
    for (let i = 0; i < n; i++) {
      const id = load<u32>(selIds + (<usize>i << 2))
      const d = distance(q, vecPtr(<i32>id))
      if (resSize < k) resPush(d, id)
      else if (d < hDist(resHeap, 0)) {
        resPush(d, id)
        resPop()
      }
    }
  }
  useCodes = false
  return drainResults(k)
}

/** Offers (d, id) to the result heap that keeps the best `k`. */
@inline export function offerResult(d: f32, id: u32, k: i32): void {
  if (resSize < k) resPush(d, id)
  else if (d < hDist(resHeap, 0)) {
    resPush(d, id)
    resPop()
  }
}

/** Exact search over all offsets (optionally only those in the allow bitset); returns the count. */
export function searchFlat(k: i32, filtered: bool, quant: i32, candidates: i32): i32 {
  if (k <= 0) return 0
  const q = prepareQuery()
  const keep = quant == 2 && quantKind != 0 && candidates > k ? candidates : k
  ensureHeaps(keep + 1)
  resSize = 0
  beginQuant(q, quant)
  if (useCodes) {
    for (let i = 0; i < count; i++) {
      if (accepted(i, filtered)) offerResult(codeDistance(i), <u32>i, keep)
    }
  } else {
    for (let i = 0; i < count; i++) {
      if (accepted(i, filtered)) offerResult(distance(q, vecPtr(i)), <u32>i, keep)
    }
  }
  return finishQuant(q, quant, k, candidates)
}

/** Exact search over the first `n` offsets of the list buffer (deleted ones skipped). */
export function searchList(n: i32, k: i32, quant: i32, candidates: i32): i32 {
  if (k <= 0) return 0
  const q = prepareQuery()
  const keep = quant == 2 && quantKind != 0 && candidates > k ? candidates : k
  ensureHeaps(keep + 1)
  resSize = 0
  beginQuant(q, quant)
  for (let j = 0; j < n; j++) {
    const i = <i32>load<u32>(listBuf + (<usize>j << 2))
    if (bitGet(deleted, i)) continue
    offerResult(useCodes ? codeDistance(i) : distance(q, vecPtr(i)), <u32>i, keep)
  }
  return finishQuant(q, quant, k, candidates)
}

/**
 * Rescoring with rows the host read (external vectors): the distance from the prepared query
 * (prepareQuery) to each of the `n` rows at `rows` (stride dimP f32, padding zero, stored form),
 * offered with the offset in the list buffer's entry i to a result heap of the best `k`, emptied
 * first when `reset`; deleted offsets are passed over with `skipDeleted`. The host then calls
 * drainResults(k).
 */
export function rescoreRows(n: i32, k: i32, rows: usize, reset: bool, skipDeleted: bool): void {
  if (reset) {
    ensureHeaps(k + 1)
    resSize = 0
  }
  const q = queryBuf
  const stride = <usize>dimP << 2
  for (let i = 0; i < n; i++) {
    const id = load<u32>(listBuf + (<usize>i << 2))
    if (skipDeleted && bitGet(deleted, <i32>id)) continue
    offerResult(distance(q, rows + <usize>i * stride), id, k)
  }
}

// ---- float16 rows (vector files of float16 collections) ----

/** float32 -> IEEE 754 binary16 bits, round to nearest even; overflow to infinity, NaN kept. */
@inline function f32ToF16Bits(x: f32): u32 {
  const b = reinterpret<u32>(x)
  const sign = (b >>> 16) & 0x8000
  const e = <i32>((b >>> 23) & 0xff)
  const m = b & 0x7fffff
  if (e == 0xff) return sign | 0x7c00 | (m != 0 ? 0x200 : 0)
  const he = e - 127 + 15
  if (he >= 0x1f) return sign | 0x7c00
  if (he <= 0) {
    if (he < -10) return sign
    const mm = m | 0x800000
    const shift = <u32>(14 - he)
    let h = mm >>> shift
    const rem = mm & ((<u32>1 << shift) - 1)
    const half = <u32>1 << (shift - 1)
    if (rem > half || (rem == half && (h & 1) != 0)) h++
    return sign | h
  }
  let h = (<u32>he << 10) | (m >>> 13)
  const rem = m & 0x1fff
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) h++ // a carry into the exponent is right
  return sign | h
}

/** IEEE 754 binary16 bits -> float32. */
@inline function f16BitsToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16
  const e = (h >>> 10) & 0x1f
  const m = h & 0x3ff
  if (e == 0) {
    if (m == 0) return reinterpret<f32>(sign)
    // subnormal: m x 2^-24
    const v = <f32>m * reinterpret<f32>(<u32>0x33800000)
    return sign != 0 ? -v : v
  }
  if (e == 0x1f) return reinterpret<f32>(sign | 0x7f800000 | (m << 13))
  return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13))
}

/** Writes the `n` float32 values at `src` as float16 (u16) at `dst`. */
export function toFloat16(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>f32ToF16Bits(load<f32>(src + (<usize>i << 2))))
}

/** Writes the `n` float16 (u16) values at `src` as float32 at `dst`. */
export function fromFloat16(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), f16BitsToF32(load<u16>(src + (<usize>i << 1))))
}

/**
 * rescoreRows for rows stored as float16 (dimP u16 each): each row is widened into a float32
 * scratch row first (the same kernels then, on the rounded values).
 */
export function rescoreRows16(n: i32, k: i32, rows: usize, reset: bool, skipDeleted: bool): void {
  if (reset) {
    ensureHeaps(k + 1)
    resSize = 0
  }
  if (wideRow == 0) wideRow = heap.alloc(<usize>dimP << 2)
  const q = queryBuf
  const stride = <usize>dimP << 1
  for (let i = 0; i < n; i++) {
    const id = load<u32>(listBuf + (<usize>i << 2))
    if (skipDeleted && bitGet(deleted, <i32>id)) continue
    fromFloat16(rows + <usize>i * stride, wideRow, dimP)
    offerResult(distance(q, wideRow), id, k)
  }
}
let wideRow: usize = 0

/** A scratch buffer of at least `bytes` bytes (calling thread only; moves when it grows; not zeroed). */
export function rowsBuffer(bytes: usize): usize {
  if (bytes > rowsCap) {
    let cap: usize = rowsCap < 65536 ? 65536 : rowsCap
    while (cap < bytes) cap <<= 1
    if (rowsBuf != 0) heap.free(rowsBuf)
    rowsBuf = heap.alloc(cap)
    rowsCap = cap
  }
  return rowsBuf
}
let rowsBuf: usize = 0
let rowsCap: usize = 0

/** Distance between the staging vector (as a query) and stored offset `node`. */
export function distanceTo(node: i32): f32 {
  noExternal()
  return distance(prepareQuery(), vecPtr(node))
}

// ---- insert ----

/**
 * Alg. 4 (heuristic neighbour selection): from `n` candidates in selIds/selDist sorted by
 * ascending distance to the base point, keeps a candidate only if it is closer to the base than to
 * every candidate already kept; stops at `maxSel`. Compacts the kept ones to the front; returns how many.
 */
function selectHeuristic(n: i32, maxSel: i32): i32 {
  let kept = 0
  for (let i = 0; i < n && kept < maxSel; i++) {
    const e = <i32>load<u32>(selIds + (<usize>i << 2))
    const de = load<f32>(selDist + (<usize>i << 2))
    const ve = vecPtr(e)
    let good = true
    for (let j = 0; j < kept; j++) {
      const r = <i32>load<u32>(selIds + (<usize>j << 2))
      if (distance(ve, vecPtr(r)) < de) {
        good = false
        break
      }
    }
    if (good) {
      store<u32>(selIds + (<usize>kept << 2), <u32>e)
      store<f32>(selDist + (<usize>kept << 2), de)
      kept++
    }
  }
  return kept
}

/** Insertion sort of selIds/selDist[0..n) by ascending distance (n is small: <= 2m + 1). */
function sortSelection(n: i32): void {
  for (let i = 1; i < n; i++) {
    const d = load<f32>(selDist + (<usize>i << 2))
    const id = load<u32>(selIds + (<usize>i << 2))
    let j = i - 1
    while (j >= 0 && load<f32>(selDist + (<usize>j << 2)) > d) {
      store<f32>(selDist + (<usize>(j + 1) << 2), load<f32>(selDist + (<usize>j << 2)))
      store<u32>(selIds + (<usize>(j + 1) << 2), load<u32>(selIds + (<usize>j << 2)))
      j--
    }
    store<f32>(selDist + (<usize>(j + 1) << 2), d)
    store<u32>(selIds + (<usize>(j + 1) << 2), id)
  }
}

/** Adds `node` to the links of `nb` on `level`; when full, re-selects with the heuristic. */
function linkBack(nb: i32, node: i32, dist: f32, level: i32, concurrent: bool): void {
  if (concurrent) lockNode(nb)
  linkBackLocked(nb, node, dist, level)
  if (concurrent) unlockNode(nb)
}

function linkBackLocked(nb: i32, node: i32, dist: f32, level: i32): void {
  if (nb == node) return // never a self-link
  const cap = level == 0 ? M0 : M
  const l = linksAt(nb, level)
  const deg = <i32>load<u32>(l)
  for (let j = 0; j < deg; j++) {
    if (<i32>load<u32>(l + (<usize>(j + 1) << 2)) == node) return
  }
  if (deg < cap) {
    store<u32>(l + (<usize>(deg + 1) << 2), <u32>node)
    store<u32>(l, <u32>(deg + 1))
    return
  }
  ensureSelect(cap + 1)
  const vb = vecPtr(nb)
  for (let j = 0; j < deg; j++) {
    const o = load<u32>(l + (<usize>(j + 1) << 2))
    store<u32>(selIds + (<usize>j << 2), o)
    store<f32>(selDist + (<usize>j << 2), distance(vb, vecPtr(<i32>o)))
  }
  store<u32>(selIds + (<usize>deg << 2), <u32>node)
  store<f32>(selDist + (<usize>deg << 2), dist)
  sortSelection(deg + 1)
  const kept = selectHeuristic(deg + 1, cap)
  for (let j = 0; j < kept; j++) {
    store<u32>(l + (<usize>(j + 1) << 2), load<u32>(selIds + (<usize>j << 2)))
  }
  store<u32>(l, <u32>kept)
}

/** Alg. 1: inserts stored offset `node` into the graph. */
function insert(node: i32): void {
  const level = randomLevel()
  setupNode(node, level)
  link(node, level, false)
}

/** Draws nothing: records `level` for `node` with empty link lists (and its upper block). */
function setupNode(node: i32, level: i32): void {
  store<u8>(levels + <usize>node, <u8>level)
  // the whole row, not just the degree: chunks are not zero-filled, and unused slots are persisted
  memory.fill(linksAt(node, 0), 0, <usize>(1 + M0) << 2)
  if (level > 0) allocUpper(node, level)
  else store<u32>(upper + (<usize>node << 2), 0)
}

/**
 * Alg. 1 after the level is drawn: links `node` into the graph. `concurrent`: other threads insert
 * at the same time (hnswlib's scheme): each link list is written under its node's spin lock, the
 * entry point and top layer live in the state block under the global lock (held for the whole
 * insert of a node that raises the top layer), and lists are read without locks — every id in any
 * list is a prepared node whose vector and level are already in place.
 */
function link(node: i32, level: i32, concurrent: bool): void {
  useCodes = false
  let ep = entryPoint
  let top = maxLevel
  let holdGlobal = false
  if (concurrent) {
    lockWord(stateBlock + (<usize>ST_LOCK << 2))
    ep = load<i32>(stateBlock + (<usize>ST_ENTRY << 2))
    top = load<i32>(stateBlock + (<usize>ST_TOP << 2))
    holdGlobal = ep < 0 || level > top
    if (!holdGlobal) unlockWord(stateBlock + (<usize>ST_LOCK << 2))
  }
  if (ep < 0) {
    setEntry(node, level, concurrent)
    if (holdGlobal) unlockWord(stateBlock + (<usize>ST_LOCK << 2))
    return
  }
  const q = vecPtr(node)
  let cur = ep
  let curDist = distance(q, vecPtr(cur))
  for (let lc = top; lc > level; lc--) {
    cur = greedy(q, cur, curDist, lc)
    curDist = distance(q, vecPtr(cur))
  }
  ensureHeaps(efConstruct + 1)
  ensureSelect(efConstruct + 1)
  for (let lc = level < top ? level : top; lc >= 0; lc--) {
    searchLayer(q, cur, efConstruct, lc, false)
    if (resSize == 0) resPush(distance(q, vecPtr(cur)), <u32>cur)
    // heap -> ascending list in selIds/selDist, without node itself (a node linked a second time,
    // or one another thread already reached, is among its own neighbours' neighbours)
    const total = resSize
    for (let i = total - 1; i >= 0; i--) {
      store<u32>(selIds + (<usize>i << 2), hId(resHeap, 0))
      store<f32>(selDist + (<usize>i << 2), hDist(resHeap, 0))
      resPop()
    }
    let n = 0
    for (let i = 0; i < total; i++) {
      const id = load<u32>(selIds + (<usize>i << 2))
      if (<i32>id == node) continue
      store<u32>(selIds + (<usize>n << 2), id)
      store<f32>(selDist + (<usize>n << 2), load<f32>(selDist + (<usize>i << 2)))
      n++
    }
    if (n == 0) continue
    const nextEntry = <i32>load<u32>(selIds)
    const kept = selectHeuristic(n, M)
    const l = linksAt(node, lc)
    // keep a private copy of the chosen neighbours: linkBack reuses selIds, and others may link to node
    // (after linkBack's scratch, which uses entries 0..M0)
    ensureSelect(M0 + 1 + kept)
    for (let j = 0; j < kept; j++) {
      store<u32>(selIds + (<usize>(M0 + 1 + j) << 2), load<u32>(selIds + (<usize>j << 2)))
    }
    if (concurrent) {
      // another thread that reached node through an upper layer may already have linked to it here
      lockNode(node)
      if (load<u32>(l) == 0) {
        for (let j = 0; j < kept; j++) {
          store<u32>(l + (<usize>(j + 1) << 2), load<u32>(selIds + (<usize>j << 2)))
        }
        store<u32>(l, <u32>kept)
      } else {
        for (let j = 0; j < kept; j++) {
          const nb = <i32>load<u32>(selIds + (<usize>(M0 + 1 + j) << 2))
          linkBackLocked(node, nb, distance(q, vecPtr(nb)), lc)
        }
      }
      unlockNode(node)
    } else {
      for (let j = 0; j < kept; j++) {
        store<u32>(l + (<usize>(j + 1) << 2), load<u32>(selIds + (<usize>j << 2)))
      }
      store<u32>(l, <u32>kept)
    }
    for (let j = 0; j < kept; j++) {
      const nb = <i32>load<u32>(selIds + (<usize>(M0 + 1 + j) << 2))
      linkBack(nb, node, distance(q, vecPtr(nb)), lc, concurrent)
    }
    cur = nextEntry
  }
  if (level > top) setEntry(node, level, concurrent)
  if (holdGlobal) unlockWord(stateBlock + (<usize>ST_LOCK << 2))
}

function setEntry(node: i32, level: i32, concurrent: bool): void {
  if (concurrent) {
    store<i32>(stateBlock + (<usize>ST_ENTRY << 2), node)
    store<i32>(stateBlock + (<usize>ST_TOP << 2), level)
  } else {
    entryPoint = node
    maxLevel = level
  }
}

// ---- threads: worker instances of this module over the same shared memory ----
// The instance that called init() owns the allocator and every shared array. A worker instance
// never allocates: attachThread() loads the shared state that publishState() wrote and carves its
// own scratch (heaps, visited tags, output, allow bitset, list, threadScratch slots) from an arena
// the owner allocated for it. While workers may read, the owner frees no block it replaced
// (grow() retires it; releaseRetired() frees retired blocks once the host knows no task runs).

/** True in a worker instance (attachThread was called). */
export let workerMode: bool = false
let deferFree: bool = false
let retired: usize = 0 // retiredCap pointers
let retiredCount: i32 = 0
let retiredCap: i32 = 0
let stateBlock: usize = 0
let locks: usize = 0 // capacity u32 spin locks (concurrent insert)
let arenaNext: usize = 0
let arenaEnd: usize = 0
let attachedArena: usize = 0

// state block words
const ST_DIM: i32 = 0
const ST_DIMP: i32 = 1
const ST_METRIC: i32 = 2
const ST_NORMALIZE: i32 = 3
const ST_M: i32 = 4
const ST_EFC: i32 = 5
const ST_COUNT: i32 = 6
const ST_CAPACITY: i32 = 7
const ST_ENTRY: i32 = 8
const ST_TOP: i32 = 9
const ST_VECS: i32 = 10
const ST_LEVELS: i32 = 11
const ST_LINKS0: i32 = 12
const ST_UPPER: i32 = 13
const ST_DELETED: i32 = 14
const ST_LOCKS: i32 = 15
const ST_QUANT: i32 = 16
const ST_SQ: i32 = 17
const ST_BQ: i32 = 18
const ST_PQ: i32 = 19
const ST_IVF: i32 = 20
const ST_LOCK: i32 = 21
const ST_NEXT: i32 = 22 // next offset of a concurrent insert to hand out
const ST_SHIFT: i32 = 23 // chunkShift
const ST_LIVE: i32 = 24 // in a snapshot: the owner's published block, whose count and deleted pointer stay current
/** Offsets a thread takes at a time during a concurrent insert (neighbouring nodes on one thread: less false sharing). */
const INSERT_CHUNK: i32 = 32
const ST_WORDS: i32 = 26
/** Bytes of threadScratch space in a worker arena besides the fixed buffers. */
const SLOT_SPACE_MIN: usize = 1 << 20

function retire(ptr: usize): void {
  if (retiredCount == retiredCap) {
    const cap = retiredCap < 16 ? 16 : retiredCap * 2
    const p = heap.alloc(<usize>cap << 2)
    if (retired != 0) {
      memory.copy(p, retired, <usize>retiredCount << 2)
      heap.free(retired)
    }
    retired = p
    retiredCap = cap
  }
  store<u32>(retired + (<usize>retiredCount << 2), <u32>ptr)
  retiredCount++
}

/** Owner: from now on replaced blocks are retired instead of freed (call before the first worker task). */
export function setDeferFree(on: bool): void {
  deferFree = on
}

/** Owner: frees every retired block (only when no worker task on this memory is running). Returns how many. */
export function releaseRetired(): i32 {
  const n = retiredCount
  for (let i = 0; i < n; i++) heap.free(<usize>load<u32>(retired + (<usize>i << 2)))
  retiredCount = 0
  return n
}

// Futex mutex (Drepper, "Futexes Are Tricky", 2011, mutex #2): 0 free, 1 locked, 2 locked with
// waiters. A short spin first; a thread descheduled while holding a lock then costs its waiters a
// sleep instead of a burnt time slice.
@inline function lockWord(p: usize): void {
  let c = atomic.cmpxchg<u32>(p, 0, 1)
  if (c == 0) return
  lockSlow(p, c)
}

function lockSlow(p: usize, c: u32): void {
  for (let spin = 0; spin < 100; spin++) {
    c = atomic.cmpxchg<u32>(p, 0, 1)
    if (c == 0) return
  }
  if (c != 2) c = atomic.xchg<u32>(p, 2)
  let waits = 0
  while (c != 0) {
    atomic.wait<u32>(p, 2, 1_000_000) // 1 ms cap: a lost wake-up only delays
    // 10 s: the holder trapped inside its critical section; fail the task instead of hanging
    if (++waits > 10_000) abort('lock held for 10 s: a thread died holding it')
    c = atomic.xchg<u32>(p, 2)
  }
}

@inline function unlockWord(p: usize): void {
  if (atomic.sub<u32>(p, 1) != 1) {
    atomic.store<u32>(p, 0)
    atomic.notify(p, 1)
  }
}

@inline function lockNode(n: i32): void {
  lockWord(locks + (<usize>n << 2))
}

@inline function unlockNode(n: i32): void {
  unlockWord(locks + (<usize>n << 2))
}

@inline function stGet(i: i32): i32 {
  return load<i32>(stateBlock + (<usize>i << 2))
}

@inline function stSet(i: i32, v: i32): void {
  store<i32>(stateBlock + (<usize>i << 2), v)
}

/** Owner: writes the shared state for workers and returns the state block's pointer. */
export function publishState(): usize {
  if (stateBlock == 0) {
    stateBlock = heap.alloc(<usize>ST_WORDS << 2)
    memory.fill(stateBlock, 0, <usize>ST_WORDS << 2)
  }
  writeState(stateBlock)
  return stateBlock
}

/**
 * Owner: a private copy of the shared state for one dispatch of searches (freeBlock it once they
 * are done): a task queued behind others then sees the index as it was when its arena was sized,
 * whatever later dispatches publish.
 */
export function snapshotState(): usize {
  const words = <usize>wordsFor(count)
  const p = heap.alloc((<usize>ST_WORDS + words) << 2)
  memory.fill(p, 0, <usize>ST_WORDS << 2)
  writeState(p)
  if (stateBlock == 0) publishState()
  store<i32>(p + (<usize>ST_LIVE << 2), <i32>stateBlock)
  // deletions as of now, next to the block: a point replaced meanwhile is found at its old offset
  // (the collection then re-answers), never missed for being deleted but past the snapshot's count
  const del = p + (<usize>ST_WORDS << 2)
  memory.copy(del, deleted, words << 2)
  store<i32>(p + (<usize>ST_DELETED << 2), <i32>del)
  return p
}

/** Owner: frees a snapshotState block once its dispatch is over (nobody else reads it). */
export function freeSnapshot(p: usize): void {
  heap.free(p)
}

/**
 * Owner: keeps the published block's count current after each committed offset, so a search task
 * whose snapshot is older sees the offsets committed since (attachThread), up to its arena.
 */
@inline function publishCount(): void {
  if (stateBlock != 0) atomic.store<i32>(stateBlock + (<usize>ST_COUNT << 2), count)
}

/** The words of a state block that reserve() changes: capacity and the per-offset arrays. */
function publishArrays(p: usize): void {
  store<i32>(p + (<usize>ST_VECS << 2), <i32>vecs)
  store<i32>(p + (<usize>ST_LEVELS << 2), <i32>levels)
  store<i32>(p + (<usize>ST_LINKS0 << 2), <i32>links0)
  store<i32>(p + (<usize>ST_UPPER << 2), <i32>upper)
  store<i32>(p + (<usize>ST_LOCKS << 2), <i32>locks)
  atomic.store<i32>(p + (<usize>ST_DELETED << 2), <i32>deleted)
  store<i32>(p + (<usize>ST_CAPACITY << 2), capacity)
}

function writeState(p: usize): void {
  store<i32>(p + (<usize>ST_DIM << 2), dim)
  store<i32>(p + (<usize>ST_DIMP << 2), dimP)
  store<i32>(p + (<usize>ST_METRIC << 2), metric)
  store<i32>(p + (<usize>ST_NORMALIZE << 2), normalize ? 1 : 0)
  store<i32>(p + (<usize>ST_M << 2), M)
  store<i32>(p + (<usize>ST_EFC << 2), efConstruct)
  store<i32>(p + (<usize>ST_COUNT << 2), count)
  store<i32>(p + (<usize>ST_CAPACITY << 2), capacity)
  store<i32>(p + (<usize>ST_ENTRY << 2), entryPoint)
  store<i32>(p + (<usize>ST_TOP << 2), maxLevel)
  store<i32>(p + (<usize>ST_VECS << 2), <i32>vecs)
  store<i32>(p + (<usize>ST_LEVELS << 2), <i32>levels)
  store<i32>(p + (<usize>ST_LINKS0 << 2), <i32>links0)
  store<i32>(p + (<usize>ST_UPPER << 2), <i32>upper)
  store<i32>(p + (<usize>ST_DELETED << 2), <i32>deleted)
  store<i32>(p + (<usize>ST_LOCKS << 2), <i32>locks)
  store<i32>(p + (<usize>ST_QUANT << 2), quantKind)
  store<i32>(p + (<usize>ST_SQ << 2), <i32>sqState)
  store<i32>(p + (<usize>ST_BQ << 2), <i32>bqState)
  store<i32>(p + (<usize>ST_PQ << 2), <i32>pqState)
  store<i32>(p + (<usize>ST_IVF << 2), <i32>ivfState)
  store<i32>(p + (<usize>ST_SHIFT << 2), chunkShift)
}

@inline function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15)
}

/** Owner: bytes of a worker arena for searches/inserts with heaps of `heapN` entries and lists of `listN` offsets. */
export function arenaBytes(heapN: i32, listN: i32): usize {
  const slots = SLOT_SPACE_MIN + (<usize>dimP << 10)
  return (
    align16(<usize>dimP << 2) * 2 +
    align16(<usize>capacity << 2) +
    align16(<usize>(capacity + 1) << 3) +
    align16(<usize>heapN << 3) +
    align16(<usize>(heapN + 2 * M0 + 2) << 3) +
    align16(<usize>heapN << 3) +
    align16(<usize>wordsFor(capacity) << 2) * 2 +
    align16(<usize>listN << 2) +
    (<usize>SLOTS << 3) +
    slots
  )
}

/** Owner: allocates a zeroed block (a worker arena) and returns its pointer. */
export function allocBlock(bytes: usize): usize {
  const p = heap.alloc(bytes)
  memory.fill(p, 0, bytes)
  return p
}

/** Owner: frees a block from allocBlock (retired when deferred frees are on). */
export function freeBlock(p: usize): void {
  if (deferFree) retire(p)
  else heap.free(p)
}

@inline function carve(bytes: usize): usize {
  const p = arenaNext
  arenaNext += align16(bytes)
  return p
}

/**
 * Worker: loads the shared state at `st` and lays out this thread's scratch in the arena at `arena`
 * (`bytes` long, sized by arenaBytes(heapN, listN) when the capacity was `capLimit`). Returns 0 when
 * `st` is a snapshot and the owner has since committed more offsets than the arena covers (the index
 * grew meanwhile: such a search would miss them and the links into them), else 1.
 */
export function attachThread(st: usize, arena: usize, bytes: usize, heapN: i32, listN: i32, capLimit: i32): i32 {
  workerMode = true
  stateBlock = st
  dim = stGet(ST_DIM)
  dimP = stGet(ST_DIMP)
  metric = stGet(ST_METRIC)
  normalize = stGet(ST_NORMALIZE) != 0
  M = stGet(ST_M)
  M0 = 2 * M
  efConstruct = stGet(ST_EFC)
  // the arena was sized for `capLimit` offsets; a later dispatch may have published a grown state:
  // seeing no more than the arena covers keeps every visited tag inside it (offsets past count are skipped)
  capacity = stGet(ST_CAPACITY)
  if (capacity > capLimit) capacity = capLimit
  count = stGet(ST_COUNT)
  if (count > capacity) count = capacity
  entryPoint = stGet(ST_ENTRY)
  maxLevel = stGet(ST_TOP)
  chunkShift = stGet(ST_SHIFT)
  chunkMask = (1 << chunkShift) - 1
  vecs = <usize>stGet(ST_VECS)
  levels = <usize>stGet(ST_LEVELS)
  links0 = <usize>stGet(ST_LINKS0)
  upper = <usize>stGet(ST_UPPER)
  deleted = <usize>stGet(ST_DELETED)
  locks = <usize>stGet(ST_LOCKS)
  setQuantKind(stGet(ST_QUANT))
  sqState = <usize>stGet(ST_SQ)
  bqState = <usize>stGet(ST_BQ)
  pqState = <usize>stGet(ST_PQ)
  ivfState = <usize>stGet(ST_IVF)
  arenaNext = arena
  arenaEnd = arena + bytes
  staging = carve(<usize>dimP << 2)
  queryBuf = carve(<usize>dimP << 2)
  const fresh = arena != attachedArena
  visited = carve(<usize>capacity << 2)
  if (fresh) {
    // another arena, or this instance replaces a thread that died: tags in it are not ours
    memory.fill(visited, 0, <usize>capacity << 2)
    visitGen = 0
    attachedArena = arena
  }
  candCap = capacity + 1
  candHeap = carve(<usize>candCap << 3)
  heapCap = heapN
  resHeap = carve(<usize>heapN << 3)
  selCap = heapN + 2 * M0 + 2
  selIds = carve(<usize>selCap << 2)
  selDist = carve(<usize>selCap << 2)
  outCap = heapN
  outIds = carve(<usize>heapN << 2)
  outDist = carve(<usize>heapN << 2)
  allow = carve(<usize>wordsFor(capacity) << 2)
  listCap = listN
  listBuf = carve(<usize>listN << 2)
  slotPtr = carve(<usize>SLOTS << 2)
  slotBytes = carve(<usize>SLOTS << 2)
  memory.fill(slotPtr, 0, <usize>SLOTS << 3)
  const live = <usize>stGet(ST_LIVE)
  const current = live == 0 || live == st || extendToLive(live)
  if (arenaNext > arenaEnd) abort('worker arena too small')
  return current ? 1 : 0
}

/**
 * Worker, searching on a snapshot: also sees the offsets the owner committed since the snapshot
 * (up to what the arena covers). Their links are live (an older node may already point at them);
 * without them a snapshot taken before many inserts would see a graph whose links lead mostly to
 * offsets it skips. Deletions below the snapshot's count stay as of the snapshot (a point replaced
 * meanwhile is found at its old offset; the collection re-answers), above it as of now.
 */
function extendToLive(live: usize): bool {
  const snapCount = count
  let liveCount = atomic.load<i32>(live + (<usize>ST_COUNT << 2))
  const covered = liveCount <= capacity
  if (!covered) liveCount = capacity
  if (liveCount <= snapCount) return covered
  // a grown deleted array replaced during a task is retired, not freed: either pointer stays
  // readable for `capacity` bits (a stale one only misses deletions, which the collection re-checks)
  const liveDel = <usize>atomic.load<i32>(live + (<usize>ST_DELETED << 2))
  // offsets committed since may lie past the snapshot's capacity, in arrays reserve() replaced
  // (the replaced ones are retired, not freed, while tasks run): read them all as of now. Written
  // before the count was published, so they cover every offset below liveCount.
  levels = <usize>atomic.load<i32>(live + (<usize>ST_LEVELS << 2))
  upper = <usize>atomic.load<i32>(live + (<usize>ST_UPPER << 2))
  vecs = <usize>atomic.load<i32>(live + (<usize>ST_VECS << 2))
  links0 = <usize>atomic.load<i32>(live + (<usize>ST_LINKS0 << 2))
  const words = <usize>wordsFor(liveCount)
  const copy = carve(words << 2)
  memory.copy(copy, liveDel, words << 2)
  const whole = <usize>(snapCount >>> 5)
  memory.copy(copy, deleted, whole << 2)
  const bits = <u32>snapCount & 31
  if (bits != 0) {
    const mask = (<u32>1 << bits) - 1
    const p = whole << 2
    store<u32>(copy + p, (load<u32>(deleted + p) & mask) | (load<u32>(liveDel + p) & ~mask))
  }
  deleted = copy
  count = liveCount
  return covered
}

function workerScratch(slot: i32, bytes: usize): usize {
  const pp = slotPtr + (<usize>slot << 2)
  const pb = slotBytes + (<usize>slot << 2)
  if (bytes <= <usize>load<u32>(pb)) return <usize>load<u32>(pp)
  if (arenaNext + align16(bytes) > arenaEnd) abort('worker arena too small for thread scratch')
  const p = carve(bytes)
  memory.fill(p, 0, bytes)
  store<u32>(pp, <u32>p)
  store<u32>(pb, <u32>bytes)
  return p
}

/**
 * Owner: prepares offsets from..to-1 for a concurrent insert. The host has reserved them and
 * written their raw vectors; this normalises (Cosine), encodes codes, draws levels and sets up
 * empty link lists, then publishes the state. Workers then call insertRange; finishRange commits.
 */
export function prepareRange(from: i32, to: i32): void {
  noExternal()
  for (let node = from; node < to; node++) {
    const v = vecPtr(node)
    // the host wrote `dim` floats; the padding up to dimP must be zero (chunks are not zero-filled)
    if (dimP > dim) memory.fill(v + (<usize>dim << 2), 0, <usize>(dimP - dim) << 2)
    if (normalize) normalizeInPlace(v)
    if (quantKind != 0) encodeNode(node, v)
    setupNode(node, randomLevel())
    store<u32>(locks + (<usize>node << 2), 0)
  }
  publishState()
  stSet(ST_NEXT, from)
}

/**
 * Worker (or owner): inserts prepared offsets below `to`, concurrently with other threads, taking
 * INSERT_CHUNK offsets at a time from the shared counter that prepareRange started at its `from`
 * (dynamic scheduling: a thread that falls behind takes fewer chunks). `from` and `step` restrict
 * this call to offsets from, from+step, ... instead (step 0: use the shared counter).
 */
export function insertRange(from: i32, to: i32, step: i32): void {
  // the prepared range counts as stored while linking (searches keep the committed count)
  const committed = count
  count = to
  if (step > 0) {
    for (let node = from; node < to; node += step) link(node, nodeLevel(node), true)
  } else {
    const next = stateBlock + (<usize>ST_NEXT << 2)
    while (true) {
      const start = <i32>atomic.add<u32>(next, <u32>INSERT_CHUNK)
      if (start >= to) break
      const end = start + INSERT_CHUNK < to ? start + INSERT_CHUNK : to
      for (let node = start; node < end; node++) link(node, nodeLevel(node), true)
    }
  }
  count = committed
}

/** Owner: after every insertRange of a prepared range returned, makes offsets below `to` visible. */
export function finishRange(to: i32): void {
  entryPoint = stGet(ST_ENTRY)
  maxLevel = stGet(ST_TOP)
  count = to
  publishState()
}

// ---- benchmarks ----

/** Adds up `bytes` bytes at `ptr` as float32 lanes: a read-bandwidth probe (bench/threads.mjs), 64-byte steps. */
export function streamSum(ptr: usize, bytes: usize): f32 {
  let s0 = f32x4.splat(0)
  let s1 = f32x4.splat(0)
  let s2 = f32x4.splat(0)
  let s3 = f32x4.splat(0)
  for (let i: usize = 0; i + 64 <= bytes; i += 64) {
    s0 = f32x4.add(s0, v128.load(ptr + i))
    s1 = f32x4.add(s1, v128.load(ptr + i, 16))
    s2 = f32x4.add(s2, v128.load(ptr + i, 32))
    s3 = f32x4.add(s3, v128.load(ptr + i, 48))
  }
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3))
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)
}

// ---- self-check ----

/**
 * Checks graph invariants: entry point valid and on the top layer, every link points to an
 * existing offset other than the node itself, no duplicate links, degrees within bounds, and a
 * neighbour on layer l has a top layer >= l. Returns 0 when sound, else (node + 1) of the first
 * broken node, negated for an entry-point error; `checkReason()` tells what broke.
 */
let failReason: i32 = 0
export function checkIntegrity(): i32 {
  failReason = 0
  if (M == 0) return 0 // no graph
  if (count == 0) {
    if (entryPoint != -1) {
      failReason = 1
      return -1
    }
    return 0
  }
  if (entryPoint == -1) {
    // no node linked yet: every offset is a placeholder (addUnlinked), deleted, on layer 0, no links
    for (let node = 0; node < count; node++) {
      if (!bitGet(deleted, node) || nodeLevel(node) != 0 || load<u32>(linksAt(node, 0)) != 0) {
        failReason = 1
        return -1
      }
    }
    return 0
  }
  if (entryPoint < 0 || entryPoint >= count || nodeLevel(entryPoint) != maxLevel) {
    failReason = 1
    return -1
  }
  for (let node = 0; node < count; node++) {
    const top = nodeLevel(node)
    if (top > maxLevel) {
      failReason = 2
      return node + 1
    }
    if (top > 0 && load<u32>(upper + (<usize>node << 2)) == 0) {
      failReason = 3
      return node + 1
    }
    for (let lc = 0; lc <= top; lc++) {
      const l = linksAt(node, lc)
      const deg = <i32>load<u32>(l)
      if (deg < 0 || deg > (lc == 0 ? M0 : M)) {
        failReason = 4
        return node + 1
      }
      // duplicates by visit tags: one tag per list, O(deg) instead of comparing every pair
      const gen = newVisitGeneration()
      for (let j = 0; j < deg; j++) {
        const nb = <i32>load<u32>(l + (<usize>(j + 1) << 2))
        if (nb < 0 || nb >= count || nb == node) {
          failReason = 5
          return node + 1
        }
        if (nodeLevel(nb) < lc) {
          failReason = 6
          return node + 1
        }
        const vp = visited + (<usize>nb << 2)
        if (load<u32>(vp) == gen) {
          failReason = 7
          return node + 1
        }
        store<u32>(vp, gen)
      }
    }
  }
  return 0
}

export function checkReason(): i32 {
  return failReason
}

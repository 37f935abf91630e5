// Product quantization of the stored vectors (Jégou, Douze & Schmid, "Product quantization for nearest
// neighbor search", TPAMI 2011): m sub-spaces of 256 centroids, one byte per sub-space, and asymmetric
// distance computation (ADC, §3.1) through an m x 256 table per query. State behind `pqState`.
import { blockDistances, nearestL2 } from './ivf'
import { capacity, dim, grow, metric, SLOT_PRODUCT, threadScratch } from './index'

/** Pointer to this quantizer's shared state in memory (0 = not configured). */
export let pqState: usize = 0

// pqState -> u32 words: 0 m, 1 codes pointer (capacity x m bytes), 2 codebook pointer, 3 sub-space
// starts pointer ((m + 1) u32: sub-space j covers coordinates starts[j]..starts[j+1]-1), 4 codes capacity.
// Codebook: sub-space j's 256 centroids of width w_j start at float 256 * starts[j], as 16 centroid
// blocks of w_j x 16 floats (the layout of ivf.ts's nearestL2 / blockDistances).
const S_M: usize = 0
const S_CODES: usize = 4
const S_BOOK: usize = 8
const S_STARTS: usize = 12
const S_CAP: usize = 16
const STATE_BYTES: usize = 32
const KSUB: i32 = 256

@inline function st(field: usize): usize {
  return <usize>load<u32>(pqState + field)
}

/**
 * Sets up (or resets) `m` sub-spaces over the `dim` coordinates, split evenly (the first dim % m get
 * one coordinate more), with zeroed codes for the current capacity. Returns the codebook pointer
 * (256 * dim floats) for the host to fill; the host then selects the quantizer and encodes.
 */
export function pqConfigure(m: i32): usize {
  if (pqState == 0) pqState = grow(0, 0, STATE_BYTES)
  if (st(S_CODES) != 0) heap.free(st(S_CODES))
  if (st(S_BOOK) != 0) heap.free(st(S_BOOK))
  if (st(S_STARTS) != 0) heap.free(st(S_STARTS))
  const starts = grow(0, 0, <usize>(m + 1) << 2)
  const base = dim / m
  const extra = dim % m
  let s = 0
  for (let j = 0; j < m; j++) {
    store<u32>(starts + (<usize>j << 2), <u32>s)
    s += base + (j < extra ? 1 : 0)
  }
  store<u32>(starts + (<usize>m << 2), <u32>s)
  const book = grow(0, 0, (<usize>KSUB * <usize>dim) << 2)
  const cap = capacity < 1 ? 1 : capacity
  const codes = grow(0, 0, <usize>cap * <usize>m)
  store<u32>(pqState + S_M, <u32>m)
  store<u32>(pqState + S_CODES, <u32>codes)
  store<u32>(pqState + S_BOOK, <u32>book)
  store<u32>(pqState + S_STARTS, <u32>starts)
  store<u32>(pqState + S_CAP, <u32>cap)
  return book
}

export function pqCodesPtr(): usize {
  return pqState == 0 ? 0 : st(S_CODES)
}

export function pqCodebookPtr(): usize {
  return pqState == 0 ? 0 : st(S_BOOK)
}

export function pqStartsPtr(): usize {
  return pqState == 0 ? 0 : st(S_STARTS)
}

export function pqReserve(oldCap: i32, newCap: i32): void {
  if (pqState == 0) return
  const have = <i32>st(S_CAP)
  if (newCap <= have) return
  const m = <usize>st(S_M)
  store<u32>(pqState + S_CODES, <u32>grow(st(S_CODES), <usize>have * m, <usize>newCap * m))
  store<u32>(pqState + S_CAP, <u32>newCap)
}

export function pqEncode(node: i32, v: usize): void {
  const m = <i32>st(S_M)
  const code = st(S_CODES) + <usize>node * <usize>m
  const book = st(S_BOOK)
  const starts = st(S_STARTS)
  for (let j = 0; j < m; j++) {
    const s = load<u32>(starts + (<usize>j << 2))
    const w = <i32>(load<u32>(starts + (<usize>(j + 1) << 2)) - s)
    const c = nearestL2(v + (<usize>s << 2), w, book + ((<usize>KSUB * <usize>s) << 2), KSUB, 0)
    store<u8>(code + <usize>j, <u8>c)
  }
}

/**
 * ADC table for the query at `q`: entry (j, c) = the metric's partial distance between the query's
 * sub-vector j and centroid c of sub-space j (-dot, squared L2 or L1: each is a sum over coordinates,
 * so summing the m entries of a code gives the distance to the reconstructed vector).
 */
export function pqPrepare(q: usize): void {
  const m = <i32>st(S_M)
  const table = threadScratch(SLOT_PRODUCT, (<usize>m * <usize>KSUB) << 2)
  const book = st(S_BOOK)
  const starts = st(S_STARTS)
  for (let j = 0; j < m; j++) {
    const s = load<u32>(starts + (<usize>j << 2))
    const w = <i32>(load<u32>(starts + (<usize>(j + 1) << 2)) - s)
    blockDistances(
      q + (<usize>s << 2),
      w,
      book + ((<usize>KSUB * <usize>s) << 2),
      KSUB >>> 4,
      metric,
      table + ((<usize>j * <usize>KSUB) << 2),
    )
  }
}

@inline export function pqDistance(node: i32): f32 {
  const m = <usize>load<u32>(pqState)
  const code = <usize>load<u32>(pqState, 4) + <usize>node * m
  let t = threadScratch(SLOT_PRODUCT, 0)
  let s0: f32 = 0
  let s1: f32 = 0
  let j: usize = 0
  for (; j + 2 <= m; j += 2) {
    s0 += load<f32>(t + (<usize>load<u8>(code + j) << 2))
    s1 += load<f32>(t + (<usize>load<u8>(code + j + 1) << 2), 1024)
    t += 2048
  }
  if (j < m) s0 += load<f32>(t + (<usize>load<u8>(code + j) << 2))
  return s0 + s1
}

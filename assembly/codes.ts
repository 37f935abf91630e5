// Quantized copies of the stored vectors ("codes"): which quantizer is active, and the dispatch that
// HNSW traversal and exact scans use to compare the prepared query with a stored code. Each
// quantizer (scalar.ts, binary.ts, product.ts) keeps its shared state in memory behind one pointer
// global and its per-query state in threadScratch, so worker threads can share it.
import { bqDistance, bqEncode, bqPrepare, bqReserve } from './binary'
import { pqDistance, pqEncode, pqPrepare, pqReserve } from './product'
import { sqDistance, sqEncode, sqPrepare, sqReserve } from './scalar'

export const QUANT_NONE: i32 = 0
export const QUANT_SCALAR: i32 = 1
export const QUANT_BINARY: i32 = 2
export const QUANT_PRODUCT: i32 = 3

/** The active quantizer (QUANT_*); codes are kept for every stored offset while it is not NONE. */
export let quantKind: i32 = QUANT_NONE

/** Selects the quantizer whose codes `add()` writes and `codeDistance` reads (its state must be set up first). */
export function setQuantKind(kind: i32): void {
  quantKind = kind
}

/** Grows the active quantizer's code storage from `oldCap` to `newCap` offsets (called by reserve). */
export function codesReserve(oldCap: i32, newCap: i32): void {
  if (quantKind == QUANT_SCALAR) sqReserve(oldCap, newCap)
  else if (quantKind == QUANT_BINARY) bqReserve(oldCap, newCap)
  else if (quantKind == QUANT_PRODUCT) pqReserve(oldCap, newCap)
}

/** Writes the code of offset `node` from the float32 vector at `v` (stored form: normalised for Cosine). */
export function encodeNode(node: i32, v: usize): void {
  if (quantKind == QUANT_SCALAR) sqEncode(node, v)
  else if (quantKind == QUANT_BINARY) bqEncode(node, v)
  else if (quantKind == QUANT_PRODUCT) pqEncode(node, v)
}

/** Prepares the per-query state for `codeDistance` from the float32 query at `q` (normalised for Cosine). */
export function prepareCodes(q: usize): void {
  if (quantKind == QUANT_SCALAR) sqPrepare(q)
  else if (quantKind == QUANT_BINARY) bqPrepare(q)
  else if (quantKind == QUANT_PRODUCT) pqPrepare(q)
}

/** Approximate distance (lower is better, same sense as the float32 metric) from the prepared query to `node`'s code. */
@inline export function codeDistance(node: i32): f32 {
  if (quantKind == QUANT_SCALAR) return sqDistance(node)
  if (quantKind == QUANT_BINARY) return bqDistance(node)
  return pqDistance(node)
}

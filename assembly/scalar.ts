// Scalar (int8) quantization of the stored vectors, as Qdrant does it: one global range [lo, hi], each
// value coded as round((x - lo) / (hi - lo) * 255) clamped to 0..255; distances on codes with SIMD.
import { SLOT_SCALAR, capacity, dim, grow, metric, threadScratch } from './index'

/** Pointer to this quantizer's shared state in memory (0 = not configured). Layout: the SQ_* offsets. */
export let sqState: usize = 0
/** This thread's prepared query (set by sqPrepare; per instance, so per thread). */
let sqQuery: usize = 0

// state block (bytes)
const SQ_CODES: usize = 0 // u32 pointer: capacity x stride bytes
const SQ_CAP: usize = 4 // i32 offsets the code block holds
const SQ_STRIDE: usize = 8 // i32 bytes per code (multiple of 16)
const SQ_SPAN: usize = 12 // i32 bytes the distance loop covers: dim padded to 16
const SQ_LO: usize = 16 // f32
const SQ_HI: usize = 20 // f32
const SQ_STEP: usize = 24 // f32 a = (hi - lo) / 255
const SQ_INV: usize = 28 // f32 255 / (hi - lo)
const SQ_STEP2: usize = 32 // f32 a^2
const SQ_STEPLO: usize = 36 // f32 a * lo
const SQ_DIMLO2: usize = 40 // f32 dim * lo^2
const SQ_BYTES: usize = 48

const METRIC_DOT: i32 = 0
const METRIC_L2: i32 = 1
const METRIC_L1: i32 = 2

// query scratch (SLOT_SCALAR): f32 query constant at 0, then the query code from byte 16: widened to
// i16 (2 x span bytes) for dot and L2, plain u8 (span bytes) for L1
const Q_CODE: usize = 16

@inline function pad16(n: i32): i32 {
  return (n + 15) & ~15
}

/**
 * Sets the range [lo, hi] (hi > lo) and allocates zeroed codes for the current capacity; the host then
 * selects QUANT_SCALAR and encodes with encodeRange. Code layout per offset: `dim` u8 codes, zero
 * padding, and for the dot metric an f32 a·lo·Σc in the last 4 bytes. Returns the stride in bytes.
 */
export function sqConfigure(lo: f32, hi: f32): i32 {
  if (sqState == 0) sqState = grow(0, 0, SQ_BYTES)
  const st = sqState
  const stride = metric == METRIC_DOT ? pad16(dim + 4) : pad16(dim)
  const oldBytes = <usize>load<i32>(st + SQ_CAP) * <usize>load<i32>(st + SQ_STRIDE)
  const bytes = <usize>capacity * <usize>stride
  const codes = grow(<usize>load<u32>(st + SQ_CODES), oldBytes, bytes)
  memory.fill(codes, 0, bytes)
  const a: f32 = (hi - lo) / 255
  store<u32>(st + SQ_CODES, <u32>codes)
  store<i32>(st + SQ_CAP, capacity)
  store<i32>(st + SQ_STRIDE, stride)
  store<i32>(st + SQ_SPAN, pad16(dim))
  store<f32>(st + SQ_LO, lo)
  store<f32>(st + SQ_HI, hi)
  store<f32>(st + SQ_STEP, a)
  store<f32>(st + SQ_INV, <f32>255 / (hi - lo))
  store<f32>(st + SQ_STEP2, a * a)
  store<f32>(st + SQ_STEPLO, a * lo)
  store<f32>(st + SQ_DIMLO2, <f32>dim * lo * lo)
  return stride
}

/** Pointer to the codes of offset 0 (stride `sqStride()` bytes), 0 when not configured. */
export function sqCodesPtr(): usize {
  return sqState == 0 ? 0 : <usize>load<u32>(sqState + SQ_CODES)
}

export function sqStride(): i32 {
  return sqState == 0 ? 0 : load<i32>(sqState + SQ_STRIDE)
}

/** This thread's prepared query: f32 constant at +0, the code from +16 (i16 lanes for dot/L2, u8 for L1). */
export function sqQueryPtr(): usize {
  return threadScratch(SLOT_SCALAR, 0)
}

export function sqReserve(oldCap: i32, newCap: i32): void {
  const st = sqState
  if (st == 0) return
  const stride = <usize>load<i32>(st + SQ_STRIDE)
  const codes = grow(<usize>load<u32>(st + SQ_CODES), <usize>oldCap * stride, <usize>newCap * stride)
  store<u32>(st + SQ_CODES, <u32>codes)
  store<i32>(st + SQ_CAP, newCap)
}

@inline function quantize(x: f32, lo: f32, inv: f32): i32 {
  return <i32>min<f32>(max<f32>(nearest<f32>((x - lo) * inv), 0), 255)
}

export function sqEncode(node: i32, v: usize): void {
  const st = sqState
  const lo = load<f32>(st + SQ_LO)
  const inv = load<f32>(st + SQ_INV)
  const stride = load<i32>(st + SQ_STRIDE)
  const c = <usize>load<u32>(st + SQ_CODES) + <usize>node * <usize>stride
  let sum: i32 = 0
  for (let i = 0; i < dim; i++) {
    const q = quantize(load<f32>(v + (<usize>i << 2)), lo, inv)
    store<u8>(c + <usize>i, <u8>q)
    sum += q
  }
  if (metric == METRIC_DOT) store<f32>(c + <usize>stride - 4, load<f32>(st + SQ_STEPLO) * <f32>sum)
}

export function sqPrepare(q: usize): void {
  const st = sqState
  const lo = load<f32>(st + SQ_LO)
  const inv = load<f32>(st + SQ_INV)
  const span = load<i32>(st + SQ_SPAN)
  const p = threadScratch(SLOT_SCALAR, Q_CODE + (<usize>span << 1))
  sqQuery = p
  let sum: i32 = 0
  if (metric == METRIC_L1) {
    for (let i = 0; i < span; i++) {
      const c = i < dim ? quantize(load<f32>(q + (<usize>i << 2)), lo, inv) : 0
      store<u8>(p + Q_CODE + <usize>i, <u8>c)
    }
  } else {
    for (let i = 0; i < span; i++) {
      const c = i < dim ? quantize(load<f32>(q + (<usize>i << 2)), lo, inv) : 0
      store<i16>(p + Q_CODE + (<usize>i << 1), <i16>c)
      sum += c
    }
  }
  store<f32>(p, load<f32>(st + SQ_STEPLO) * <f32>sum + load<f32>(st + SQ_DIMLO2))
}

/** Adds the four u32 lanes in 64 bits (each lane stays below 2^32 for dim < 2^18). */
@inline function laneSum(v: v128): f32 {
  const s =
    <u64>i32x4.extract_lane(v, 0) +
    <u64>i32x4.extract_lane(v, 1) +
    <u64>i32x4.extract_lane(v, 2) +
    <u64>i32x4.extract_lane(v, 3)
  return <f32>s
}

/** Σ c_x·c_y over the span: u8 codes widened to i16, pairwise products summed to i32 lanes; 32 codes per step. */
@inline function dotCodes(c: usize, q: usize, span: usize): v128 {
  let a0 = i32x4.splat(0)
  let a1 = i32x4.splat(0)
  let a2 = i32x4.splat(0)
  let a3 = i32x4.splat(0)
  let i: usize = 0
  for (; i + 32 <= span; i += 32) {
    const x = v128.load(c + i)
    const y = v128.load(c + i, 16)
    const qp = q + (i << 1)
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(x), v128.load(qp)))
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(x), v128.load(qp, 16)))
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(y), v128.load(qp, 32)))
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(y), v128.load(qp, 48)))
  }
  if (i < span) {
    const x = v128.load(c + i)
    const qp = q + (i << 1)
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(x), v128.load(qp)))
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(x), v128.load(qp, 16)))
  }
  return i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3))
}

/** Σ (c_x - c_y)² over the span, 32 codes per step. */
@inline function l2Codes(c: usize, q: usize, span: usize): v128 {
  let a0 = i32x4.splat(0)
  let a1 = i32x4.splat(0)
  let a2 = i32x4.splat(0)
  let a3 = i32x4.splat(0)
  let i: usize = 0
  for (; i + 32 <= span; i += 32) {
    const x = v128.load(c + i)
    const y = v128.load(c + i, 16)
    const qp = q + (i << 1)
    const d0 = i16x8.sub(i16x8.extend_low_i8x16_u(x), v128.load(qp))
    const d1 = i16x8.sub(i16x8.extend_high_i8x16_u(x), v128.load(qp, 16))
    const d2 = i16x8.sub(i16x8.extend_low_i8x16_u(y), v128.load(qp, 32))
    const d3 = i16x8.sub(i16x8.extend_high_i8x16_u(y), v128.load(qp, 48))
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(d0, d0))
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(d1, d1))
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(d2, d2))
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(d3, d3))
  }
  if (i < span) {
    const x = v128.load(c + i)
    const qp = q + (i << 1)
    const d0 = i16x8.sub(i16x8.extend_low_i8x16_u(x), v128.load(qp))
    const d1 = i16x8.sub(i16x8.extend_high_i8x16_u(x), v128.load(qp, 16))
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(d0, d0))
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(d1, d1))
  }
  return i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3))
}

/** Σ |c_x - c_y| over the span (u8 max - min, then pairwise widening adds). */
@inline function l1Codes(c: usize, q: usize, span: usize): v128 {
  let a0 = i32x4.splat(0)
  for (let i: usize = 0; i < span; i += 16) {
    const x = v128.load(c + i)
    const y = v128.load(q + i)
    const d = i8x16.sub(i8x16.max_u(x, y), i8x16.min_u(x, y))
    a0 = i32x4.add(a0, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(d)))
  }
  return a0
}

/**
 * Approximate distance from the prepared query to `node`'s code, on the float32 metric's scale
 * (x ≈ a·c + lo): dot: -(a²·Σc_x·c_y + a·lo·(Σc_x + Σc_y) + dim·lo²); L2: a²·Σ(c_x - c_y)²; L1: a·Σ|c_x - c_y|.
 */
@inline export function sqDistance(node: i32): f32 {
  const st = sqState
  const stride = <usize>load<i32>(st + SQ_STRIDE)
  const span = <usize>load<i32>(st + SQ_SPAN)
  const c = <usize>load<u32>(st + SQ_CODES) + <usize>node * stride
  const p = sqQuery
  if (metric == METRIC_DOT) {
    const s = laneSum(dotCodes(c, p + Q_CODE, span))
    return -(load<f32>(st + SQ_STEP2) * s + load<f32>(c + stride - 4) + load<f32>(p))
  }
  if (metric == METRIC_L2) return load<f32>(st + SQ_STEP2) * laneSum(l2Codes(c, p + Q_CODE, span))
  return load<f32>(st + SQ_STEP) * laneSum(l1Codes(c, p + Q_CODE, span))
}

// Binary (1-bit) quantization of the stored vectors: bit i = x_i > t_i (t = 0 for dot/cosine, the
// per-dimension mean for L2/L1), packed in u64 words; distances from the popcount of XOR (hamming).
import { SLOT_BINARY, capacity, dim, dimP, grow, metric, threadScratch } from './index'

/** Pointer to this quantizer's shared state in memory (0 = not configured). Layout: the BQ_* offsets. */
export let bqState: usize = 0
/** This thread's prepared query bits (set by bqPrepare; per instance, so per thread). */
let bqQuery: usize = 0

// state block (bytes)
const BQ_CODES: usize = 0 // u32 pointer: capacity x words x 8 bytes
const BQ_CAP: usize = 4 // i32 offsets the code block holds
const BQ_WORDS: usize = 8 // i32 u64 words per code
const BQ_THRESH: usize = 12 // u32 pointer: dimP f32 thresholds (zero past dim)
const BQ_MUL: usize = 16 // f32 distance = MUL * hamming + ADD
const BQ_ADD: usize = 20 // f32
const BQ_BYTES: usize = 32

const METRIC_DOT: i32 = 0
const METRIC_L2: i32 = 1

/**
 * Allocates zeroed codes for the current capacity and zeroed thresholds (write them at
 * `bqThresholdsPtr()` before encoding). `scale` s is the mean |x_i - t_i|, the magnitude one bit stands
 * for (x ≈ t + s·(±1)); distances come out on the float32 metric's scale: dot -s²·(dim - 2h),
 * squared L2 4s²·h, L1 2s·h for hamming distance h. Returns the words per code.
 */
export function bqConfigure(scale: f32): i32 {
  if (bqState == 0) bqState = grow(0, 0, BQ_BYTES)
  const st = bqState
  const words = (dim + 63) >>> 6
  const oldBytes = <usize>load<i32>(st + BQ_CAP) * <usize>load<i32>(st + BQ_WORDS) << 3
  const bytes = <usize>capacity * <usize>words << 3
  const codes = grow(<usize>load<u32>(st + BQ_CODES), oldBytes, bytes)
  memory.fill(codes, 0, bytes)
  let thresh = <usize>load<u32>(st + BQ_THRESH)
  if (thresh == 0) thresh = grow(0, 0, <usize>dimP << 2)
  memory.fill(thresh, 0, <usize>dimP << 2)
  store<u32>(st + BQ_CODES, <u32>codes)
  store<i32>(st + BQ_CAP, capacity)
  store<i32>(st + BQ_WORDS, words)
  store<u32>(st + BQ_THRESH, <u32>thresh)
  const s2 = scale * scale
  if (metric == METRIC_DOT) {
    store<f32>(st + BQ_MUL, 2 * s2)
    store<f32>(st + BQ_ADD, -s2 * <f32>dim)
  } else if (metric == METRIC_L2) {
    store<f32>(st + BQ_MUL, 4 * s2)
    store<f32>(st + BQ_ADD, 0)
  } else {
    store<f32>(st + BQ_MUL, 2 * scale)
    store<f32>(st + BQ_ADD, 0)
  }
  return words
}

/** Pointer to the codes of offset 0 (`bqWords()` u64 words each), 0 when not configured. */
export function bqCodesPtr(): usize {
  return bqState == 0 ? 0 : <usize>load<u32>(bqState + BQ_CODES)
}

export function bqWords(): i32 {
  return bqState == 0 ? 0 : load<i32>(bqState + BQ_WORDS)
}

/** The dimP f32 thresholds (entries past dim stay 0), 0 when not configured. */
export function bqThresholdsPtr(): usize {
  return bqState == 0 ? 0 : <usize>load<u32>(bqState + BQ_THRESH)
}

/** This thread's prepared query code (`bqWords()` u64 words). */
export function bqQueryPtr(): usize {
  return threadScratch(SLOT_BINARY, 0)
}

export function bqReserve(oldCap: i32, newCap: i32): void {
  const st = bqState
  if (st == 0) return
  const wordBytes = <usize>load<i32>(st + BQ_WORDS) << 3
  const codes = grow(<usize>load<u32>(st + BQ_CODES), <usize>oldCap * wordBytes, <usize>newCap * wordBytes)
  store<u32>(st + BQ_CODES, <u32>codes)
  store<i32>(st + BQ_CAP, newCap)
}

/** Writes the bits of the float32 vector at `v` (dimP floats) to `out` (words x u64), 4 floats per compare. */
function encodeBits(v: usize, out: usize, words: i32): void {
  const t = <usize>load<u32>(bqState + BQ_THRESH)
  memory.fill(out, 0, <usize>words << 3)
  for (let i = 0; i < dimP; i += 4) {
    const off = <usize>i << 2
    const m = <u64>i32x4.bitmask(f32x4.gt(v128.load(v + off), v128.load(t + off)))
    const w = out + (<usize>(i >>> 6) << 3)
    store<u64>(w, load<u64>(w) | (m << (<u64>(i & 63))))
  }
}

export function bqEncode(node: i32, v: usize): void {
  const words = load<i32>(bqState + BQ_WORDS)
  encodeBits(v, <usize>load<u32>(bqState + BQ_CODES) + (<usize>node * <usize>words << 3), words)
}

export function bqPrepare(q: usize): void {
  const words = load<i32>(bqState + BQ_WORDS)
  bqQuery = threadScratch(SLOT_BINARY, <usize>words << 3)
  encodeBits(q, bqQuery, words)
}

/** MUL·h + ADD for the hamming distance h between the prepared query and `node`'s code. */
@inline export function bqDistance(node: i32): f32 {
  const st = bqState
  const words = <usize>load<i32>(st + BQ_WORDS)
  const c = <usize>load<u32>(st + BQ_CODES) + (<usize>node * words << 3)
  const q = bqQuery
  let h: u64 = 0
  for (let i: usize = 0; i < words; i++) {
    const o = i << 3
    h += popcnt<u64>(load<u64>(c + o) ^ load<u64>(q + o))
  }
  return load<f32>(st + BQ_MUL) * <f32>h + load<f32>(st + BQ_ADD)
}

// IVF (inverted file, Jégou, Douze & Schmid, TPAMI 2011 §4) over the stored vectors of a graphless core,
// and the k-means kernels (assignment to centroid blocks, k-means++ distance updates, mean sums) that
// IVF training and product-quantizer codebook training share. All IVF state sits behind `ivfState`.
import {
  accepted,
  dimP,
  ensureList,
  grow,
  prepareQuery,
  SLOT_IVF,
  SLOT_IVF2,
  searchList,
  threadScratch,
  vecPtr,
} from './index'

/** Pointer to the IVF shared state in memory (0 = not configured). */
export let ivfState: usize = 0

// ---- centroid blocks ----
// k centroids of width w are kept transposed in blocks of 16: centroid c lives in block c >>> 4, lane
// c & 15, and block b holds w rows of 16 floats (row t = coordinate t of its 16 centroids), i.e. float
// index (b * w + t) * 16 + (c & 15). Lanes past k hold f32.MAX_VALUE so their L2 distance is +inf.
// One pass over a block computes 16 distances with the accumulators in registers, for any width.

const INF: f32 = Infinity

/** Squared L2 distance of `w` floats at a and b (SIMD over 4, scalar tail). */
@inline function l2w(a: usize, b: usize, w: i32): f32 {
  let s = f32x4.splat(0)
  const n = <usize>w << 2
  let i: usize = 0
  for (; i + 16 <= n; i += 16) {
    const d = f32x4.sub(v128.load(a + i), v128.load(b + i))
    s = f32x4.add(s, f32x4.mul(d, d))
  }
  let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)
  for (; i < n; i += 4) {
    const d = load<f32>(a + i) - load<f32>(b + i)
    r += d * d
  }
  return r
}

/**
 * Index of the centroid nearest in squared L2 to the `w` floats at `x`, among `k` centroids in blocks
 * at `ct`; writes that squared distance to `distOut` unless it is 0. Ties go to the lower index.
 */
export function nearestL2(x: usize, w: i32, ct: usize, k: i32, distOut: usize): i32 {
  const blocks = (k + 15) >>> 4
  let bestV = f32x4.splat(INF)
  let bestI = i32x4.splat(0)
  let idx = i32x4(0, 1, 2, 3)
  const four = i32x4.splat(4)
  let p = ct
  for (let b = 0; b < blocks; b++) {
    let a0 = f32x4.splat(0)
    let a1 = f32x4.splat(0)
    let a2 = f32x4.splat(0)
    let a3 = f32x4.splat(0)
    for (let t = 0; t < w; t++) {
      const xs = f32x4.splat(load<f32>(x + (<usize>t << 2)))
      const d0 = f32x4.sub(xs, v128.load(p))
      const d1 = f32x4.sub(xs, v128.load(p, 16))
      const d2 = f32x4.sub(xs, v128.load(p, 32))
      const d3 = f32x4.sub(xs, v128.load(p, 48))
      a0 = f32x4.add(a0, f32x4.mul(d0, d0))
      a1 = f32x4.add(a1, f32x4.mul(d1, d1))
      a2 = f32x4.add(a2, f32x4.mul(d2, d2))
      a3 = f32x4.add(a3, f32x4.mul(d3, d3))
      p += 64
    }
    let m = f32x4.lt(a0, bestV)
    bestV = v128.bitselect(a0, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    m = f32x4.lt(a1, bestV)
    bestV = v128.bitselect(a1, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    m = f32x4.lt(a2, bestV)
    bestV = v128.bitselect(a2, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    m = f32x4.lt(a3, bestV)
    bestV = v128.bitselect(a3, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
  }
  let best = f32x4.extract_lane(bestV, 0)
  let bi = i32x4.extract_lane(bestI, 0)
  const d1 = f32x4.extract_lane(bestV, 1)
  const i1 = i32x4.extract_lane(bestI, 1)
  if (d1 < best || (d1 == best && i1 < bi)) {
    best = d1
    bi = i1
  }
  const d2 = f32x4.extract_lane(bestV, 2)
  const i2 = i32x4.extract_lane(bestI, 2)
  if (d2 < best || (d2 == best && i2 < bi)) {
    best = d2
    bi = i2
  }
  const d3 = f32x4.extract_lane(bestV, 3)
  const i3 = i32x4.extract_lane(bestI, 3)
  if (d3 < best || (d3 == best && i3 < bi)) {
    best = d3
    bi = i3
  }
  if (distOut != 0) store<f32>(distOut, best)
  return bi
}

/**
 * Distances (lower is better) from the `w` floats at `x` to every centroid in the `blocks` blocks at
 * `ct`, written to `out` (blocks * 16 floats; lanes past k are garbage). `kind` 0: -dot, 1: squared
 * L2, 2: L1. Serves IVF probing and the product quantizer's distance table.
 */
export function blockDistances(x: usize, w: i32, ct: usize, blocks: i32, kind: i32, out: usize): void {
  let p = ct
  for (let b = 0; b < blocks; b++) {
    let a0 = f32x4.splat(0)
    let a1 = f32x4.splat(0)
    let a2 = f32x4.splat(0)
    let a3 = f32x4.splat(0)
    if (kind == 0) {
      for (let t = 0; t < w; t++) {
        const xs = f32x4.splat(load<f32>(x + (<usize>t << 2)))
        a0 = f32x4.sub(a0, f32x4.mul(xs, v128.load(p)))
        a1 = f32x4.sub(a1, f32x4.mul(xs, v128.load(p, 16)))
        a2 = f32x4.sub(a2, f32x4.mul(xs, v128.load(p, 32)))
        a3 = f32x4.sub(a3, f32x4.mul(xs, v128.load(p, 48)))
        p += 64
      }
    } else if (kind == 1) {
      for (let t = 0; t < w; t++) {
        const xs = f32x4.splat(load<f32>(x + (<usize>t << 2)))
        const d0 = f32x4.sub(xs, v128.load(p))
        const d1 = f32x4.sub(xs, v128.load(p, 16))
        const d2 = f32x4.sub(xs, v128.load(p, 32))
        const d3 = f32x4.sub(xs, v128.load(p, 48))
        a0 = f32x4.add(a0, f32x4.mul(d0, d0))
        a1 = f32x4.add(a1, f32x4.mul(d1, d1))
        a2 = f32x4.add(a2, f32x4.mul(d2, d2))
        a3 = f32x4.add(a3, f32x4.mul(d3, d3))
        p += 64
      }
    } else {
      for (let t = 0; t < w; t++) {
        const xs = f32x4.splat(load<f32>(x + (<usize>t << 2)))
        a0 = f32x4.add(a0, f32x4.abs(f32x4.sub(xs, v128.load(p))))
        a1 = f32x4.add(a1, f32x4.abs(f32x4.sub(xs, v128.load(p, 16))))
        a2 = f32x4.add(a2, f32x4.abs(f32x4.sub(xs, v128.load(p, 32))))
        a3 = f32x4.add(a3, f32x4.abs(f32x4.sub(xs, v128.load(p, 48))))
        p += 64
      }
    }
    const o = out + (<usize>b << 6)
    v128.store(o, a0)
    v128.store(o, a1, 16)
    v128.store(o, a2, 32)
    v128.store(o, a3, 48)
  }
}

// ---- k-means kernels (src/quantization/kmeans.ts drives them) ----
// Training rows are `n` rows of a row-major float matrix at `base` with a stride of `stride` floats:
// row i starts at base + (ids[i] * stride + off) floats (ids = 0: row i is ids[i] = i), width `w`.
// `base` 0 names the stored vectors (chunked: row r at vecPtr(r) + off floats; `stride` unused).

@inline function rowPtr(base: usize, stride: i32, ids: usize, i: i32, off: i32): usize {
  const r = ids == 0 ? i : <i32>load<u32>(ids + (<usize>i << 2))
  if (base == 0) return vecPtr(r) + (<usize>off << 2)
  return base + ((<usize>r * <usize>stride + <usize>off) << 2)
}

/** Allocates `bytes` zero-filled bytes for training scratch (centroid blocks, assignments); free with kmFree. */
export function kmAlloc(bytes: usize): usize {
  return grow(0, 0, bytes < 16 ? 16 : bytes)
}

export function kmFree(ptr: usize): void {
  if (ptr != 0) heap.free(ptr)
}

/**
 * k-means++ (Arthur & Vassilvitskii 2007) step: lowers minDist[i] to the squared L2 distance from row
 * i to the `w` floats at `center`; returns the new sum of minDist (f64).
 */
export function kmMinDist(
  base: usize,
  stride: i32,
  ids: usize,
  n: i32,
  off: i32,
  w: i32,
  center: usize,
  minDist: usize,
): f64 {
  let total: f64 = 0
  for (let i = 0; i < n; i++) {
    const p = minDist + (<usize>i << 2)
    const d = l2w(rowPtr(base, stride, ids, i, off), center, w)
    const cur = load<f32>(p)
    const m = d < cur ? d : cur
    store<f32>(p, m)
    total += <f64>m
  }
  return total
}

/** The first index i with minDist[0] + ... + minDist[i] > target (f64 sums), or n - 1. */
export function kmPick(minDist: usize, n: i32, target: f64): i32 {
  let s: f64 = 0
  for (let i = 0; i < n; i++) {
    s += <f64>load<f32>(minDist + (<usize>i << 2))
    if (s > target) return i
  }
  return n - 1
}

/**
 * Like nearestL2, also tracking the second-nearest: returns the nearest index and writes the squared
 * distances of the nearest to `distOut` and of the second-nearest (+inf when k = 1) to `secondOut`.
 */
function nearest2L2(x: usize, w: i32, ct: usize, k: i32, distOut: usize, secondOut: usize): i32 {
  const blocks = (k + 15) >>> 4
  let bestV = f32x4.splat(INF)
  let secV = f32x4.splat(INF)
  let bestI = i32x4.splat(0)
  let idx = i32x4(0, 1, 2, 3)
  const four = i32x4.splat(4)
  let p = ct
  for (let b = 0; b < blocks; b++) {
    let a0 = f32x4.splat(0)
    let a1 = f32x4.splat(0)
    let a2 = f32x4.splat(0)
    let a3 = f32x4.splat(0)
    for (let t = 0; t < w; t++) {
      const xs = f32x4.splat(load<f32>(x + (<usize>t << 2)))
      const d0 = f32x4.sub(xs, v128.load(p))
      const d1 = f32x4.sub(xs, v128.load(p, 16))
      const d2 = f32x4.sub(xs, v128.load(p, 32))
      const d3 = f32x4.sub(xs, v128.load(p, 48))
      a0 = f32x4.add(a0, f32x4.mul(d0, d0))
      a1 = f32x4.add(a1, f32x4.mul(d1, d1))
      a2 = f32x4.add(a2, f32x4.mul(d2, d2))
      a3 = f32x4.add(a3, f32x4.mul(d3, d3))
      p += 64
    }
    secV = f32x4.min(secV, f32x4.max(a0, bestV))
    let m = f32x4.lt(a0, bestV)
    bestV = v128.bitselect(a0, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    secV = f32x4.min(secV, f32x4.max(a1, bestV))
    m = f32x4.lt(a1, bestV)
    bestV = v128.bitselect(a1, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    secV = f32x4.min(secV, f32x4.max(a2, bestV))
    m = f32x4.lt(a2, bestV)
    bestV = v128.bitselect(a2, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
    secV = f32x4.min(secV, f32x4.max(a3, bestV))
    m = f32x4.lt(a3, bestV)
    bestV = v128.bitselect(a3, bestV, m)
    bestI = v128.bitselect(idx, bestI, m)
    idx = i32x4.add(idx, four)
  }
  let best = f32x4.extract_lane(bestV, 0)
  let bi = i32x4.extract_lane(bestI, 0)
  let sec = f32x4.extract_lane(secV, 0)
  for (let lane = 1; lane < 4; lane++) {
    let d: f32 = 0
    let i: i32 = 0
    let s: f32 = 0
    if (lane == 1) {
      d = f32x4.extract_lane(bestV, 1)
      i = i32x4.extract_lane(bestI, 1)
      s = f32x4.extract_lane(secV, 1)
    } else if (lane == 2) {
      d = f32x4.extract_lane(bestV, 2)
      i = i32x4.extract_lane(bestI, 2)
      s = f32x4.extract_lane(secV, 2)
    } else {
      d = f32x4.extract_lane(bestV, 3)
      i = i32x4.extract_lane(bestI, 3)
      s = f32x4.extract_lane(secV, 3)
    }
    if (s < sec) sec = s
    if (d < best || (d == best && i < bi)) {
      if (best < sec) sec = best
      best = d
      bi = i
    } else if (d < sec) sec = d
  }
  store<f32>(distOut, best)
  store<f32>(secondOut, sec)
  return bi
}

/**
 * Half the distance from each centroid to its nearest other centroid (Euclidean), written to `gaps`
 * (k f32): a row closer than gaps[c] to centroid c has c as its nearest. `rows`: the same k centroids
 * row-major (k x w); `tmp`: scratch of ((k + 15) >>> 4) * 64 bytes.
 */
export function kmGaps(rows: usize, ct: usize, k: i32, w: i32, gaps: usize, tmp: usize): void {
  const blocks = (k + 15) >>> 4
  for (let c = 0; c < k; c++) {
    blockDistances(rows + ((<usize>c * <usize>w) << 2), w, ct, blocks, 1, tmp)
    let m: f32 = INF
    for (let o = 0; o < k; o++) {
      const d = load<f32>(tmp + (<usize>o << 2))
      if (o != c && d < m) m = d
    }
    store<f32>(gaps + (<usize>c << 2), <f32>(0.5 * Math.sqrt(<f64>m)))
  }
}

/**
 * Lloyd's assignment step with Hamerly's bounds (Hamerly, "Making k-means even faster", SDM 2010):
 * `lower[i]` is a lower bound of the Euclidean distance from row i to every centroid but its own.
 * With `full` every row is searched over all k centroids. Otherwise the bounds first drop by
 * `maxMove` (the largest centroid move since the last step) and a row whose exact distance to its
 * current centroid is within max(lower[i], gaps[assign[i]]) keeps it without a search. Writes
 * assignments, squared distances and refreshed bounds; returns the inertia (f64 sum of `dist`).
 */
export function kmAssignBounded(
  base: usize,
  stride: i32,
  ids: usize,
  n: i32,
  off: i32,
  w: i32,
  ct: usize,
  rows: usize,
  k: i32,
  assign: usize,
  dist: usize,
  lower: usize,
  gaps: usize,
  maxMove: f32,
  full: bool,
): f64 {
  let inertia: f64 = 0
  for (let i = 0; i < n; i++) {
    const x = rowPtr(base, stride, ids, i, off)
    const ap = assign + (<usize>i << 2)
    const dp = dist + (<usize>i << 2)
    const lp = lower + (<usize>i << 2)
    if (!full) {
      const a = <usize>load<u32>(ap)
      const d2 = l2w(x, rows + ((a * <usize>w) << 2), w)
      const l = load<f32>(lp) - maxMove
      const g = load<f32>(gaps + (a << 2))
      const bound = l > g ? l : g
      if (<f32>Math.sqrt(<f64>d2) <= bound) {
        store<f32>(dp, d2)
        store<f32>(lp, l)
        inertia += <f64>d2
        continue
      }
    }
    store<u32>(ap, <u32>nearest2L2(x, w, ct, k, dp, lp))
    store<f32>(lp, <f32>Math.sqrt(<f64>load<f32>(lp)))
    inertia += <f64>load<f32>(dp)
  }
  return inertia
}

/** Update step: adds each row to sums[assign[i]] (k x w f64) and counts it in counts[assign[i]] (u32). */
export function kmAccumulate(
  base: usize,
  stride: i32,
  ids: usize,
  n: i32,
  off: i32,
  w: i32,
  assign: usize,
  sums: usize,
  counts: usize,
): void {
  for (let i = 0; i < n; i++) {
    const c = <usize>load<u32>(assign + (<usize>i << 2))
    const r = rowPtr(base, stride, ids, i, off)
    const s = sums + ((c * <usize>w) << 3)
    for (let t = 0; t < w; t++) {
      const sp = s + (<usize>t << 3)
      store<f64>(sp, load<f64>(sp) + <f64>load<f32>(r + (<usize>t << 2)))
    }
    const cp = counts + (c << 2)
    store<u32>(cp, load<u32>(cp) + 1)
  }
}

// ---- IVF state ----
// ivfState -> u32 words:
//   0 nlist, 1 centroid blocks pointer (nlist centroids of width dimP), 2 lists table pointer
//   (nlist x [ptr, size, cap] u32), 3 probe kind (blockDistances kind), 4 offsets assigned to lists
const S_NLIST: usize = 0
const S_CENT: usize = 4
const S_LISTS: usize = 8
const S_PROBE: usize = 12
const S_ASSIGNED: usize = 16
const STATE_BYTES: usize = 32

@inline function st(field: usize): u32 {
  return load<u32>(ivfState + field)
}

/**
 * Sets up (or resets) `nlist` empty inverted lists and room for their centroids; `probeKind` is the
 * distance used to rank lists at query time (0 -dot, 1 squared L2, 2 L1). Returns the pointer of the
 * centroid blocks ((nlist + 15) >>> 4 blocks of dimP x 16 floats) for the host to fill.
 */
export function ivfInit(nlist: i32, probeKind: i32): usize {
  if (ivfState == 0) ivfState = grow(0, 0, STATE_BYTES)
  const oldLists = <usize>st(S_LISTS)
  const oldN = <i32>st(S_NLIST)
  for (let l = 0; l < oldN; l++) {
    const p = <usize>load<u32>(oldLists + <usize>l * 12)
    if (p != 0) heap.free(p)
  }
  if (oldLists != 0) heap.free(oldLists)
  const oldCent = <usize>st(S_CENT)
  if (oldCent != 0) heap.free(oldCent)
  const blocks = (nlist + 15) >>> 4
  const cent = grow(0, 0, (<usize>blocks * <usize>dimP) << 6)
  const lists = grow(0, 0, <usize>nlist * 12)
  store<u32>(ivfState + S_NLIST, <u32>nlist)
  store<u32>(ivfState + S_CENT, <u32>cent)
  store<u32>(ivfState + S_LISTS, <u32>lists)
  store<u32>(ivfState + S_PROBE, <u32>probeKind)
  store<u32>(ivfState + S_ASSIGNED, 0)
  return cent
}

export function ivfNlist(): i32 {
  return ivfState == 0 ? 0 : <i32>st(S_NLIST)
}

export function ivfCentroidsPtr(): usize {
  return ivfState == 0 ? 0 : <usize>st(S_CENT)
}

/** Pointer to the lists table: nlist entries of [pointer to u32 offsets, size, capacity]. */
export function ivfListsPtr(): usize {
  return ivfState == 0 ? 0 : <usize>st(S_LISTS)
}

/** Offsets 0..n-1 are in lists. */
export function ivfAssigned(): i32 {
  return ivfState == 0 ? 0 : <i32>st(S_ASSIGNED)
}

function listAppend(l: i32, node: i32): void {
  const e = <usize>st(S_LISTS) + <usize>l * 12
  let p = <usize>load<u32>(e)
  const size = load<u32>(e, 4)
  const cap = load<u32>(e, 8)
  if (size == cap) {
    const nc = cap < 8 ? <u32>8 : cap + (cap >>> 1)
    p = grow(p, <usize>cap << 2, <usize>nc << 2)
    store<u32>(e, <u32>p)
    store<u32>(e, nc, 8)
  }
  store<u32>(p + (<usize>size << 2), <u32>node)
  store<u32>(e, size + 1, 4)
}

/**
 * Appends stored offsets from..to-1 to the lists of their nearest centroids (squared L2); `from` must
 * equal ivfAssigned(). Returns the new assigned count.
 */
export function ivfAssignRange(from: i32, to: i32): i32 {
  const cent = <usize>st(S_CENT)
  const nlist = <i32>st(S_NLIST)
  for (let i = from; i < to; i++) {
    listAppend(nearestL2(vecPtr(i), dimP, cent, nlist, 0), i)
  }
  store<u32>(ivfState + S_ASSIGNED, <u32>to)
  return to
}

/** Restore: appends offsets 0..n-1 to the lists named by `lists` (n u32, in offset order). */
export function ivfLoad(lists: usize, n: i32): void {
  for (let i = 0; i < n; i++) listAppend(<i32>load<u32>(lists + (<usize>i << 2)), i)
  store<u32>(ivfState + S_ASSIGNED, <u32>n)
}

// ---- search ----

/** Max-heap of (distance, list) pairs at h (8 bytes each) holding the best `size` lists. */
function probePush(h: usize, size: i32, d: f32, id: u32): void {
  let i = size
  while (i > 0) {
    const parent = (i - 1) >> 1
    const pd = load<f32>(h + (<usize>parent << 3))
    if (pd >= d) break
    store<f32>(h + (<usize>i << 3), pd)
    store<u32>(h + (<usize>i << 3), load<u32>(h + (<usize>parent << 3), 4), 4)
    i = parent
  }
  store<f32>(h + (<usize>i << 3), d)
  store<u32>(h + (<usize>i << 3), id, 4)
}

/** Replaces the root (the worst kept list) with (d, id) and sifts it down. */
function probeReplaceTop(h: usize, size: i32, d: f32, id: u32): void {
  let i = 0
  while (true) {
    let c = 2 * i + 1
    if (c >= size) break
    if (c + 1 < size && load<f32>(h + (<usize>(c + 1) << 3)) > load<f32>(h + (<usize>c << 3))) c++
    const cd = load<f32>(h + (<usize>c << 3))
    if (cd <= d) break
    store<f32>(h + (<usize>i << 3), cd)
    store<u32>(h + (<usize>i << 3), load<u32>(h + (<usize>c << 3), 4), 4)
    i = c
  }
  store<f32>(h + (<usize>i << 3), d)
  store<u32>(h + (<usize>i << 3), id, 4)
}

/**
 * Collects the offsets of the `nprobe` lists whose centroids are nearest the staging query into the
 * core's list buffer (only allowed ones when `filtered`, never deleted ones); returns how many.
 */
export function ivfGather(nprobe: i32, filtered: bool): i32 {
  const nlist = <i32>st(S_NLIST)
  if (nprobe > nlist) nprobe = nlist
  if (nprobe <= 0) return 0
  const q = prepareQuery()
  const blocks = (nlist + 15) >>> 4
  const dists = threadScratch(SLOT_IVF, <usize>blocks << 6)
  blockDistances(q, dimP, <usize>st(S_CENT), blocks, <i32>st(S_PROBE), dists)
  const ph = threadScratch(SLOT_IVF2, <usize>nprobe << 3)
  let size = 0
  for (let l = 0; l < nlist; l++) {
    const d = load<f32>(dists + (<usize>l << 2))
    if (size < nprobe) probePush(ph, size++, d, <u32>l)
    else if (d < load<f32>(ph)) probeReplaceTop(ph, size, d, <u32>l)
  }
  const lists = <usize>st(S_LISTS)
  let total = 0
  for (let j = 0; j < size; j++) {
    total += <i32>load<u32>(lists + <usize>load<u32>(ph + (<usize>j << 3), 4) * 12, 4)
  }
  const buf = ensureList(total)
  let n = 0
  for (let j = 0; j < size; j++) {
    const e = lists + <usize>load<u32>(ph + (<usize>j << 3), 4) * 12
    const p = <usize>load<u32>(e)
    const len = <i32>load<u32>(e, 4)
    for (let t = 0; t < len; t++) {
      const node = <i32>load<u32>(p + (<usize>t << 2))
      if (accepted(node, filtered)) {
        store<u32>(buf + (<usize>n << 2), <u32>node)
        n++
      }
    }
  }
  return n
}

/**
 * IVF k-NN for the staging vector: scans the `nprobe` nearest lists (see ivfGather) with the float32
 * metric (quant 0), on codes (1) or on codes then float32 rescoring of the best `candidates` (2).
 * Writes offsets and distances to the output buffers; returns the count.
 */
export function ivfSearch(k: i32, nprobe: i32, filtered: bool, quant: i32, candidates: i32): i32 {
  if (ivfState == 0 || k <= 0) return 0
  return searchList(ivfGather(nprobe, filtered), k, quant, candidates)
}

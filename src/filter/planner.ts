// Filter execution over one segment: cardinality estimation from the payload indexes (sampling
// where a condition has none) and exact materialisation of the matching offsets as a Bitset, most
// selective conditions first. Estimation combines conditions the way Qdrant's query estimator does
// (lib/segment/src/index/query_estimator.rs); the segment's planner picks a search path from it.
import type { Payload, PointId } from '../types.js'
import type { FieldNode, FilterNode } from './ast.js'
import { Bitset } from './bitset.js'
import { compileFilter, type PointPredicate } from './evaluate.js'
import type { Cardinality, FieldIndex } from './payload-index/types.js'
import { inSlice } from './slice.js'
import type { TokenizerOptions } from './tokenizer.js'

/** What the planner needs from a segment. Offsets are 0 .. size-1; deleted ones are not in `live`. */
export interface FilterTarget {
  readonly size: number
  /** Live offsets (do not mutate). */
  readonly live: Bitset
  readonly liveCount: number
  /** The index on exactly this key text, if any. */
  indexFor(key: string): FieldIndex | undefined
  /** Keys of text indexes and their tokenizers (conditions on them use the indexed text semantics). */
  readonly textIndexes: ReadonlyMap<string, TokenizerOptions>
  payloadAt(offset: number): Payload | undefined
  idAt(offset: number): PointId
  offsetOf(id: PointId): number | undefined
  /** Up to a few hundred live offsets spread over the segment, for sampling estimates. */
  sample(): Uint32Array
  /** Whether stored offset `offset` holds vector `name` (`has_vector`); absent = never. */
  hasVector?(name: string, offset: number): boolean
}

/** Which fields a request had to evaluate point by point (no index answered them). */
export type UnindexedFields = Set<string>

const EXACT_ZERO: Cardinality = { min: 0, exp: 0, max: 0 }

function exact(n: number): Cardinality {
  return { min: n, exp: n, max: n }
}

function isField(node: FilterNode): node is FieldNode {
  return 'key' in node
}

/** An index that answers this node exactly, if the segment has one. */
function indexOf(node: FilterNode, target: FilterTarget): FieldIndex | undefined {
  if (!isField(node) || node.kind === 'nested') return undefined
  const index = target.indexFor(node.key)
  return index?.supports(node) ? index : undefined
}

/** Qdrant's combine_must_estimations: independent conditions, clamped to the total. */
function combineAnd(parts: readonly Cardinality[], total: number): Cardinality {
  if (parts.length === 0) return exact(total)
  if (total === 0) return EXACT_ZERO
  let min = 0
  let exp = total
  let max = total
  let minSum = 0
  for (const p of parts) {
    minSum += p.min
    exp *= p.exp / total
    max = Math.min(max, p.max)
  }
  min = Math.max(0, minSum - (parts.length - 1) * total)
  return { min, exp: Math.min(Math.max(exp, min), max), max }
}

/** Qdrant's estimate_should: the union of independent conditions. */
function combineOr(parts: readonly Cardinality[], total: number): Cardinality {
  if (parts.length === 0) return EXACT_ZERO
  if (total === 0) return EXACT_ZERO
  let min = 0
  let missProb = 1
  let maxSum = 0
  for (const p of parts) {
    min = Math.max(min, p.min)
    missProb *= 1 - p.exp / total
    maxSum += p.max
  }
  const max = Math.min(total, maxSum)
  return { min, exp: Math.min(Math.max(total * (1 - missProb), min), max), max }
}

/**
 * Per-request filter executor over one segment. Build one per (segment, filter); it caches the
 * per-node predicates it compiles and records, in `unindexed`, the keys it had to scan.
 */
export class FilterExecutor {
  readonly root: FilterNode
  private readonly target: FilterTarget
  readonly unindexed: UnindexedFields = new Set()
  private readonly predicates = new Map<FilterNode, PointPredicate>()
  private readonly estimates = new Map<FilterNode, Cardinality>()

  constructor(root: FilterNode, target: FilterTarget) {
    this.root = root
    this.target = target
  }

  private predicate(node: FilterNode): PointPredicate {
    let p = this.predicates.get(node)
    if (p === undefined) {
      const t = this.target
      p = compileFilter(node, {
        textIndexes: t.textIndexes,
        hasVector: (name, id) => {
          const o = t.offsetOf(id)
          return o !== undefined && t.hasVector?.(name, o) === true
        },
      })
      this.predicates.set(node, p)
    }
    return p
  }

  /** A per-offset check of the whole filter (same semantics as `materialize`). */
  checker(): (offset: number) => boolean {
    const p = this.predicate(this.root)
    const t = this.target
    return (o) => t.live.has(o) && p(t.idAt(o), t.payloadAt(o))
  }

  /** True when every leaf of the filter is answered by an index (or by ids): no point-by-point scan. */
  fullyIndexed(node: FilterNode = this.root): boolean {
    switch (node.kind) {
      case 'true':
      case 'has_id':
      case 'has_vector':
      case 'slice':
        return true
      case 'and':
      case 'or':
      case 'min_should':
        return node.children.every((c) => this.fullyIndexed(c))
      case 'not':
        return this.fullyIndexed(node.child)
      default:
        return indexOf(node, this.target) !== undefined
    }
  }

  /** Keys of the field conditions (and `nested` arrays) no index answers. */
  scannedKeys(node: FilterNode = this.root, out: string[] = []): string[] {
    switch (node.kind) {
      case 'true':
      case 'has_id':
      case 'has_vector':
      case 'slice':
        return out
      case 'and':
      case 'or':
      case 'min_should':
        for (const c of node.children) this.scannedKeys(c, out)
        return out
      case 'not':
        return this.scannedKeys(node.child, out)
      default:
        if (indexOf(node, this.target) === undefined) out.push(node.key)
        return out
    }
  }

  /** Estimated live points matching `node` (exact for indexed equality, sampled for unindexed conditions). */
  estimate(node: FilterNode = this.root): Cardinality {
    let e = this.estimates.get(node)
    if (e === undefined) {
      e = this.computeEstimate(node)
      this.estimates.set(node, e)
    }
    return e
  }

  private computeEstimate(node: FilterNode): Cardinality {
    const total = this.target.liveCount
    switch (node.kind) {
      case 'true':
        return exact(total)
      case 'and':
        return combineAnd(
          node.children.map((c) => this.estimate(c)),
          total,
        )
      case 'or':
        return combineOr(
          node.children.map((c) => this.estimate(c)),
          total,
        )
      case 'min_should': {
        // at least minCount of them: bounded by the union, at least the and of all
        const parts = node.children.map((c) => this.estimate(c))
        const union = combineOr(parts, total)
        const all = combineAnd(parts, total)
        return { min: all.min, exp: Math.max(all.exp, union.exp / node.minCount), max: union.max }
      }
      case 'not': {
        const c = this.estimate(node.child)
        return { min: total - c.max, exp: total - c.exp, max: total - c.min }
      }
      case 'has_id': {
        let n = 0
        for (const id of node.ids) {
          const o = this.target.offsetOf(id)
          if (o !== undefined && this.target.live.has(o)) n++
        }
        return exact(n)
      }
      case 'slice':
        // uniform hashing: about 1 / total of the live points
        return { min: 0, exp: Math.round(total / node.total), max: total }
      case 'has_vector': {
        let n = 0
        this.target.live.forEach((o) => {
          if (this.target.hasVector?.(node.name, o) === true) n++
        })
        return exact(n)
      }
      default: {
        const index = indexOf(node, this.target)
        if (index !== undefined) {
          const e = index.estimate(node)
          return { min: Math.min(e.min, total), exp: Math.min(e.exp, total), max: Math.min(e.max, total) }
        }
        return this.sampleEstimate(node)
      }
    }
  }

  /** Unindexed condition: the fraction of a fixed sample of live points that match (bounds stay 0 .. total). */
  private sampleEstimate(node: FilterNode): Cardinality {
    const total = this.target.liveCount
    const sample = this.target.sample()
    if (sample.length === 0) return { min: 0, exp: total / 2, max: total }
    const p = this.predicate(node)
    let hits = 0
    for (const o of sample) if (p(this.target.idAt(o), this.target.payloadAt(o))) hits++
    // add-one smoothing: a condition never seen in the sample is rare, not impossible
    const exp = Math.round((total * (hits + 0.5)) / (sample.length + 1))
    return { min: 0, exp: Math.min(exp, total), max: total }
  }

  /** The live offsets matching the whole filter, exactly. */
  materialize(): Bitset {
    return this.evaluate(this.root, null)
  }

  /** Matching offsets of `node` among `within` (all live offsets when null); never mutates `within`. */
  private evaluate(node: FilterNode, within: Bitset | null): Bitset {
    const t = this.target
    switch (node.kind) {
      case 'true':
        return (within ?? t.live).clone()
      case 'and': {
        // most selective first: each condition only looks at what the previous ones left
        const order = [...node.children].sort((a, b) => this.rank(a) - this.rank(b))
        let cur: Bitset | null = within
        for (const child of order) {
          cur = this.evaluate(child, cur)
          if (cur.count() === 0) break
        }
        return cur === null || cur === within ? (within ?? t.live).clone() : cur
      }
      case 'or': {
        const out = new Bitset(t.size)
        for (const child of node.children) {
          // a scanned child only needs to look at points not matched yet
          if (!this.fullyIndexed(child)) {
            const rest = (within ?? t.live).clone().andNot(out)
            out.or(this.evaluate(child, rest))
          } else out.or(this.evaluate(child, within))
        }
        return out
      }
      case 'not': {
        const base = (within ?? t.live).clone()
        return base.andNot(this.evaluate(node.child, within))
      }
      case 'min_should': {
        const counts = new Uint32Array(t.size)
        for (const child of node.children) {
          this.evaluate(child, within).forEach((o) => {
            counts[o]!++
          })
        }
        const out = new Bitset(t.size)
        for (let o = 0; o < counts.length; o++) if (counts[o]! >= node.minCount) out.add(o)
        return out
      }
      case 'has_id': {
        const out = new Bitset(t.size)
        const base = within ?? t.live
        for (const id of node.ids) {
          const o = t.offsetOf(id)
          if (o !== undefined && base.has(o)) out.add(o)
        }
        return out
      }
      case 'slice': {
        const out = new Bitset(t.size)
        ;(within ?? t.live).forEach((o) => {
          if (inSlice(t.idAt(o), node.total, node.index)) out.add(o)
        })
        return out
      }
      case 'has_vector': {
        const out = new Bitset(t.size)
        ;(within ?? t.live).forEach((o) => {
          if (t.hasVector?.(node.name, o) === true) out.add(o)
        })
        return out
      }
      default: {
        const index = indexOf(node, t)
        if (index !== undefined) return index.filter(node, t.size).and(within ?? t.live)
        return this.scan(node, within ?? t.live)
      }
    }
  }

  /** Sort key for `and`: indexed conditions by their estimate; scans after them, cheapest estimate first. */
  private rank(node: FilterNode): number {
    const e = this.estimate(node).exp
    return this.fullyIndexed(node) ? e : this.target.liveCount + e
  }

  private scan(node: FieldNode, within: Bitset): Bitset {
    this.unindexed.add(node.key)
    const t = this.target
    const p = this.predicate(node)
    const out = new Bitset(t.size)
    within.forEach((o) => {
      if (p(t.idAt(o), t.payloadAt(o))) out.add(o)
    })
    return out
  }
}

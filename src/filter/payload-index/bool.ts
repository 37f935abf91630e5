// BoolIndex: the `bool` field index, one PostingList of offsets holding `true` and one holding `false`,
// answering `match.value` with a boolean.
import { QuiverError } from '../../errors.js'
import type { FacetValue, Payload } from '../../types.js'
import type { FieldNode } from '../ast.js'
import { Bitset } from '../bitset.js'
import { corrupted, decodeIndex, encodeIndex, grow, restoring, unsupported } from './codec.js'
import { forEachValue } from './field-values.js'
import { PostingList } from './posting.js'
import type { Cardinality, FacetIndex, FieldIndex, FieldIndexSpec } from './types.js'

const TRUE = 1
const FALSE = 2

/**
 * Index of a `bool` field: the boolean values at the key path (array elements included). A point
 * holding `[true, false]` is in both lists. Supports `match_value` with a boolean, exactly.
 */
export class BoolIndex implements FieldIndex, FacetIndex {
  readonly spec: FieldIndexSpec
  readonly type = 'bool' as const
  private trues = new PostingList()
  private falses = new PostingList()
  /** Per offset: TRUE | FALSE bits of what it holds. */
  private held = new Uint8Array(0)
  private points = 0

  /** An empty index; throws `INTERNAL` when `spec` is not a bool spec. */
  constructor(spec: FieldIndexSpec) {
    if (spec.params.type !== 'bool')
      throw new QuiverError('INTERNAL', `BoolIndex cannot index a ${spec.params.type} field`)
    this.spec = spec
  }

  get pointCount(): number {
    return this.points
  }

  set(offset: number, payload: Payload | undefined): void {
    this.remove(offset)
    if (payload === undefined) return
    let bits = 0
    forEachValue(payload, this.spec.path, (v) => {
      if (v === true) bits |= TRUE
      else if (v === false) bits |= FALSE
    })
    if (bits === 0) return
    this.hold(offset, bits)
    if (bits & TRUE) this.trues.add(offset)
    if (bits & FALSE) this.falses.add(offset)
  }

  remove(offset: number): void {
    const bits = offset < this.held.length ? this.held[offset]! : 0
    if (bits === 0) return
    if (bits & TRUE) this.trues.delete(offset)
    if (bits & FALSE) this.falses.delete(offset)
    this.held[offset] = 0
    this.points--
  }

  supports(node: FieldNode): boolean {
    return node.kind === 'match_value' && typeof node.value === 'boolean'
  }

  filter(node: FieldNode, size: number): Bitset {
    const out = new Bitset(size)
    this.list(node).orInto(out)
    return out
  }

  estimate(node: FieldNode): Cardinality {
    const n = this.list(node).size
    return { min: n, exp: n, max: n }
  }

  facetCounts(matches: Bitset | null, into: Map<FacetValue, number>): void {
    for (const [v, list] of [
      [true, this.trues],
      [false, this.falses],
    ] as const) {
      const n = list.countIn(matches)
      if (n > 0) into.set(v, (into.get(v) ?? 0) + n)
    }
  }

  /** `{ true: bytes, false: bytes }` (posting lists) in msgpack. */
  serialize(): Uint8Array {
    return encodeIndex('bool', { true: this.trues.toBytes(), false: this.falses.toBytes() })
  }

  /** The index `serialize` wrote; throws `CORRUPTED` on bytes that are not one. */
  static restore(spec: FieldIndexSpec, bytes: Uint8Array): BoolIndex {
    return restoring(spec.params.type, () => {
      const index = new BoolIndex(spec)
      const doc = decodeIndex('bool', bytes)
      for (const [name, bit] of [
        ['true', TRUE],
        ['false', FALSE],
      ] as const) {
        const bin = doc[name]
        if (!(bin instanceof Uint8Array)) throw corrupted('bool', `${name}: expected bytes`)
        const list = PostingList.fromBytes(bin)
        if (bit === TRUE) index.trues = list
        else index.falses = list
        list.forEach((o) => {
          index.hold(o, bit)
        })
      }
      return index
    })
  }

  private hold(offset: number, bit: number): void {
    if (offset >= this.held.length) this.held = grow(this.held, offset + 1)
    if (this.held[offset] === 0) this.points++
    this.held[offset]! |= bit
  }

  private list(node: FieldNode): PostingList {
    if (node.kind !== 'match_value' || typeof node.value !== 'boolean') throw unsupported('bool', node)
    return node.value ? this.trues : this.falses
  }
}

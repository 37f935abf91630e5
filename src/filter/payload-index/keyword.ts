// KeywordIndex: the `keyword` and `uuid` field index, string value -> PostingList of offsets
// (Qdrant's map index), answering `match.value` with a string and `match.any` with strings.
import { QuiverError } from '../../errors.js'
import type { FacetValue, Payload } from '../../types.js'
import type { FieldNode } from '../ast.js'
import { Bitset } from '../bitset.js'
import { unionCardinality } from './cardinality.js'
import { arrayField, corrupted, decodeIndex, encodeIndex, restoring, unsupported } from './codec.js'
import { forEachValue } from './field-values.js'
import { byOffset, PostingList } from './posting.js'
import type { Cardinality, FacetIndex, FieldIndex, FieldIndexSpec } from './types.js'

/**
 * Index of a `keyword` or `uuid` field: every string value at the key path (array elements
 * included) is indexed as it is stored. Supports `match_value` with a string and `match_any` of
 * strings; not `match_except` (it passes values of other types, which this index never sees).
 */
export class KeywordIndex implements FieldIndex, FacetIndex {
  readonly spec: FieldIndexSpec
  readonly type: 'keyword' | 'uuid'
  private readonly postings = new Map<string, PostingList>()
  /** Per offset: its distinct indexed values (a string when one). */
  private readonly held: (string | string[] | undefined)[] = []
  private points = 0
  /** Offsets holding two or more distinct values. */
  private multi = 0

  /** An empty index; throws `INTERNAL` when `spec` is not a keyword or uuid spec. */
  constructor(spec: FieldIndexSpec) {
    const type = spec.params.type
    if (type !== 'keyword' && type !== 'uuid')
      throw new QuiverError('INTERNAL', `KeywordIndex cannot index a ${type} field`)
    this.spec = spec
    this.type = type
  }

  get pointCount(): number {
    return this.points
  }

  set(offset: number, payload: Payload | undefined): void {
    this.remove(offset)
    if (payload === undefined) return
    let first: string | undefined
    let many: Set<string> | undefined
    forEachValue(payload, this.spec.path, (v) => {
      if (typeof v !== 'string') return
      if (first === undefined) first = v
      else if (many === undefined) {
        if (v !== first) many = new Set([first, v])
      } else many.add(v)
    })
    if (first === undefined) return
    if (many === undefined) {
      this.held[offset] = first
      this.post(first, offset)
    } else {
      const values = [...many]
      this.held[offset] = values
      for (const v of values) this.post(v, offset)
      this.multi++
    }
    this.points++
  }

  remove(offset: number): void {
    const held = this.held[offset]
    if (held === undefined) return
    if (typeof held === 'string') this.unpost(held, offset)
    else {
      for (const v of held) this.unpost(v, offset)
      this.multi--
    }
    this.held[offset] = undefined
    this.points--
  }

  supports(node: FieldNode): boolean {
    if (node.kind === 'match_value') return typeof node.value === 'string'
    return node.kind === 'match_any' && node.valueType === 'keyword'
  }

  filter(node: FieldNode, size: number): Bitset {
    if (!this.supports(node)) throw unsupported(this.type, node)
    const out = new Bitset(size)
    if (node.kind === 'match_value') this.postings.get(node.value as string)?.orInto(out)
    else if (node.kind === 'match_any')
      for (const v of node.values) this.postings.get(v as string)?.orInto(out)
    return out
  }

  estimate(node: FieldNode): Cardinality {
    if (node.kind === 'match_value' && typeof node.value === 'string') {
      const n = this.postings.get(node.value)?.size ?? 0
      return { min: n, exp: n, max: n }
    }
    if (node.kind === 'match_any' && node.valueType === 'keyword') {
      const sizes: number[] = []
      for (const v of node.values) sizes.push(this.postings.get(v as string)?.size ?? 0)
      return unionCardinality(sizes, this.multi === 0, this.points)
    }
    throw unsupported(this.type, node)
  }

  facetCounts(matches: Bitset | null, into: Map<FacetValue, number>): void {
    for (const [v, list] of this.postings) {
      const n = list.countIn(matches)
      if (n > 0) into.set(v, (into.get(v) ?? 0) + n)
    }
  }

  /** `{ values: string[], postings: bytes[] }` in msgpack (see codec.ts). */
  serialize(): Uint8Array {
    const values: string[] = []
    const postings: Uint8Array[] = []
    for (const [v, list] of this.postings) {
      values.push(v)
      postings.push(list.toBytes())
    }
    return encodeIndex(this.type, { values, postings })
  }

  /** The index `serialize` wrote; throws `CORRUPTED` on bytes that are not one. */
  static restore(spec: FieldIndexSpec, bytes: Uint8Array): KeywordIndex {
    return restoring(spec.params.type, () => {
      const index = new KeywordIndex(spec)
      const type = index.type
      const doc = decodeIndex(type, bytes)
      const values = arrayField(type, doc, 'values')
      const postings = arrayField(type, doc, 'postings')
      if (values.length !== postings.length) throw corrupted(type, 'values and postings differ in length')
      const lists: PostingList[] = []
      values.forEach((v, i) => {
        const bin = postings[i]
        if (typeof v !== 'string') throw corrupted(type, `values[${i}]: expected a string`)
        if (!(bin instanceof Uint8Array)) throw corrupted(type, `postings[${i}]: expected bytes`)
        if (index.postings.has(v)) throw corrupted(type, `values[${i}]: duplicate value`)
        const list = PostingList.fromBytes(bin)
        if (list.size === 0) throw corrupted(type, `postings[${i}]: empty`)
        index.postings.set(v, list)
        lists.push(list)
      })
      const { starts, members } = byOffset(lists)
      for (let o = 0; o + 1 < starts.length; o++) {
        const a = starts[o]!
        const b = starts[o + 1]!
        if (a === b) continue
        if (b - a === 1) index.held[o] = values[members[a]!] as string
        else {
          const held: string[] = []
          for (let i = a; i < b; i++) held.push(values[members[i]!] as string)
          index.held[o] = held
          index.multi++
        }
        index.points++
      }
      return index
    })
  }

  private post(v: string, offset: number): void {
    let list = this.postings.get(v)
    if (list === undefined) {
      list = new PostingList()
      this.postings.set(v, list)
    }
    list.add(offset)
  }

  private unpost(v: string, offset: number): void {
    const list = this.postings.get(v)
    if (list === undefined) return
    list.delete(offset)
    if (list.size === 0) this.postings.delete(v)
  }
}

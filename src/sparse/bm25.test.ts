import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import {
  bm25Document,
  bm25Query,
  bm25Tokens,
  isBm25Model,
  MAX_BM25_TEXT_LENGTH,
  murmur3x86_32,
  parseBm25Options,
  tokenId,
} from './bm25.js'

const DEFAULTS = parseBm25Options(undefined, 'options')
const opts = (o: Record<string, unknown>) => parseBm25Options(o, 'options')
const tokens = (text: string, o = DEFAULTS, kind: 'document' | 'query' = 'document') =>
  bm25Tokens(text, o, kind)
const utf8 = (s: string) => new TextEncoder().encode(s)

function errorOf(fn: () => unknown): QuiverError {
  try {
    fn()
  } catch (err) {
    if (err instanceof QuiverError) return err
    throw err
  }
  throw new Error('did not throw')
}

/** The value of token `t` in `v`, or undefined. */
function weightOf(v: { indices: Uint32Array; values: Float32Array }, t: string): number | undefined {
  const i = v.indices.indexOf(tokenId(t))
  return i < 0 ? undefined : v.values[i]
}

describe('token ids', () => {
  it('is MurmurHash3 x86 32 (reference vectors)', () => {
    expect(murmur3x86_32(utf8(''), 0)).toBe(0)
    expect(murmur3x86_32(utf8(''), 1)).toBe(0x514e28b7)
    expect(murmur3x86_32(utf8('abc'), 0)).toBe(0xb3dd93fa)
    expect(murmur3x86_32(utf8('hello'), 0)).toBe(0x248bfa47)
    expect(murmur3x86_32(utf8('The quick brown fox jumps over the lazy dog'), 0)).toBe(0x2e4ff723)
  })

  it("takes |i32| of the hash like Qdrant's token_id (fastembed: abs(mmh3.hash))", () => {
    expect(tokenId('hello')).toBe(613153351)
    for (const t of ['a', 'run', 'привет', '東京', 'x'.repeat(1000)]) {
      const h = murmur3x86_32(utf8(t), 0) | 0
      expect(tokenId(t)).toBe(Math.abs(h))
      expect(tokenId(t)).toBeLessThanOrEqual(2 ** 31)
    }
  })

  it('recognises the model names', () => {
    expect(isBm25Model('qdrant/bm25')).toBe(true)
    expect(isBm25Model('Qdrant/BM25')).toBe(true)
    expect(isBm25Model('bm25')).toBe(true)
    expect(isBm25Model('sentence-transformers/all-minilm-l6-v2')).toBe(false)
  })
})

describe('parseBm25Options', () => {
  it("has Qdrant's defaults", () => {
    const o = DEFAULTS
    expect([o.k, o.b, o.avgLen, o.tokenizer, o.language, o.lowercase, o.asciiFolding]).toEqual([
      1.2,
      0.75,
      256,
      'word',
      'english',
      true,
      false,
    ])
    expect([o.stemmer, o.minTokenLen, o.maxTokenLen]).toEqual(['english', null, null])
    expect(o.stopwords.size).toBe(179) // NLTK's English list, as Qdrant's
    expect(o.stopwords.has('the') && o.stopwords.has("don't") && !o.stopwords.has('fear')).toBe(true)
    expect(parseBm25Options(null, 'o')).toEqual(DEFAULTS)
    expect(parseBm25Options({ unknown_key: 1 }, 'o')).toEqual(DEFAULTS) // Qdrant ignores unknown keys
  })

  it('reads every option', () => {
    const o = opts({
      k: 2,
      b: 0,
      avg_len: 10,
      tokenizer: 'whitespace',
      language: 'fr',
      lowercase: false,
      ascii_folding: true,
      min_token_len: 2,
      max_token_len: 20,
    })
    expect([o.k, o.b, o.avgLen, o.tokenizer, o.language, o.lowercase, o.asciiFolding]).toEqual([
      2,
      0,
      10,
      'whitespace',
      'fr',
      false,
      true,
    ])
    expect([o.stemmer, o.minTokenLen, o.maxTokenLen]).toEqual(['french', 2, 20])
    expect(o.stopwords.has('les') && o.stopwords.has('ils')).toBe(true)
  })

  it('treats null as unset for the optional keys, as serde reads Option', () => {
    const o = opts({ language: null, lowercase: null, stopwords: null, stemmer: null, min_token_len: null })
    expect(o).toEqual(DEFAULTS)
  })

  it('resolves stopwords: a language, a set of languages plus custom words, or none', () => {
    expect(opts({ stopwords: 'german' }).stopwords.has('dass')).toBe(true)
    const set = opts({ stopwords: { languages: ['en', 'spanish'], custom: ['Quiver', 'qdrant'] } }).stopwords
    expect(set.has('the') && set.has('vosotros') && set.has('quiver') && set.has('qdrant')).toBe(true)
    expect(opts({ stopwords: {} }).stopwords.size).toBe(0)
    expect(opts({ lowercase: false, stopwords: { custom: ['Quiver'] } }).stopwords.has('Quiver')).toBe(true)
  })

  it('resolves the stemmer: the language default, explicit Snowball, or none', () => {
    expect(opts({ language: 'russian' }).stemmer).toBe('russian')
    expect(opts({ stemmer: { type: 'snowball', language: 'de' } }).stemmer).toBe('german')
    expect(opts({ stemmer: { type: 'none' } }).stemmer).toBeNull()
    // chinese has stop words in Qdrant but no Snowball stemmer
    expect(opts({ language: 'chinese', stopwords: {} }).stemmer).toBeNull()
  })

  it("matches language names exactly, like Qdrant: anything else (the deprecated 'none') turns both defaults off", () => {
    for (const language of ['none', 'English', 'klingon']) {
      const o = opts({ language })
      expect(o.stemmer).toBeNull()
      expect(o.stopwords.size).toBe(0)
    }
  })

  it.each([
    [[1], /^options: expected an object, got an array/],
    ['x', /^options: expected an object/],
    [{ k: -1 }, /^options\.k: expected a finite number >= 0, got number -1/],
    [{ k: null }, /^options\.k: .*got null/],
    [{ k: '1.2' }, /^options\.k: .*got string "1.2"/],
    [{ b: 1.5 }, /^options\.b: expected a number in \[0, 1\], got number 1\.5/],
    [{ avg_len: 0 }, /^options\.avg_len: expected a finite number > 0/],
    [{ tokenizer: 'multilingual' }, /"multilingual" is not supported/],
    [{ tokenizer: 'ngram' }, /^options\.tokenizer: expected "word", "whitespace" or "prefix"/],
    [{ language: 5 }, /^options\.language: expected a string/],
    [{ lowercase: 'yes' }, /^options\.lowercase: expected a boolean/],
    [{ min_token_len: -1 }, /^options\.min_token_len: expected an integer >= 0/],
    [{ max_token_len: 1.5 }, /^options\.max_token_len: expected an integer >= 0/],
    [{ stopwords: 'klingon' }, /^options\.stopwords: unknown language string "klingon"/],
    [{ stopwords: ['the'] }, /^options\.stopwords: expected a language name or \{ languages, custom \}/],
    [{ stopwords: { languages: 'en' } }, /^options\.stopwords\.languages: expected an array/],
    [
      { stopwords: { languages: ['en', 'xx'] } },
      /^options\.stopwords\.languages\[1\]: expected a language name/,
    ],
    [
      { stopwords: { custom: ['a', 1] } },
      /^options\.stopwords\.custom\[1\]: expected a string, got number 1/,
    ],
    [{ stemmer: 'english' }, /^options\.stemmer: expected \{"type": "snowball"/],
    [{ stemmer: { type: 'porter' } }, /^options\.stemmer\.type: expected "snowball" or "none"/],
    [
      { stemmer: { type: 'snowball', language: 'klingon' } },
      /^options\.stemmer\.language: expected one of arabic/,
    ],
    [{ stemmer: { type: 'snowball', language: 'greek' } }, /Quiver has no greek stemmer/],
    [
      { language: 'romanian' },
      /language "romanian": Quiver has no romanian stop-word list .*options\.stopwords/,
    ],
    [
      { language: 'greek', stopwords: {} },
      /language "greek": Quiver has no greek stemmer; set options\.stemmer/,
    ],
    [{ stopwords: 'hebrew' }, /^options\.stopwords: Quiver has no hebrew stop-word list/],
  ])('rejects case %# with INVALID_ARGUMENT', (input, message) => {
    const err = errorOf(() => parseBm25Options(input, 'options'))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toMatch(message)
  })

  it('lets a language without a bundled list work once stop words are given', () => {
    const o = opts({ language: 'romanian', stopwords: { custom: ['și'] } })
    expect(o.stemmer).toBe('romanian')
    expect(tokens('și casele', o)).toEqual(['cas'])
  })
})

describe('bm25Tokens', () => {
  it('splits on non-alphanumerics, lowercases, drops stop words and stems (English by default)', () => {
    expect(tokens('I must not fear. Fear is the mind-killer.')).toEqual([
      'must',
      'fear',
      'fear',
      'mind',
      'killer',
    ])
    expect(tokens('The runners were running quickly')).toEqual(['runner', 'run', 'quick'])
    expect(tokens('running run runs')).toEqual(['run', 'run', 'run'])
    expect(tokens('generously dying ponies')).toEqual(['generous', 'die', 'poni']) // Porter2, not Porter
    expect(tokens('The a an and or but')).toEqual([])
  })

  it('handles Unicode text: other scripts, digits, final sigma, CJK runs', () => {
    expect(tokens('Привет, МИР! 42nd café naïve')).toEqual(['привет', 'мир', '42nd', 'café', 'naïv'])
    expect(tokens('ΟΔΟΣ', opts({ stemmer: { type: 'none' } }))).toEqual(['οδος'.replace(/σ$/, 'ς')])
    expect(tokens('東京タワー、大阪')).toEqual(['東京タワー', '大阪'])
    expect(tokens('emoji 🚀 rocket½')).toEqual(['emoji', 'rocket½'])
  })

  it('keeps case and stop words as configured', () => {
    const o = opts({ lowercase: false, stopwords: {}, stemmer: { type: 'none' } })
    expect(tokens('The Cat', o)).toEqual(['The', 'Cat'])
  })

  it('whitespace tokenizer keeps punctuation inside tokens', () => {
    const o = opts({ tokenizer: 'whitespace' })
    expect(tokens("hello, world!\tit's\u00a0fine", o)).toEqual(['hello,', 'world!', 'fine'])
  })

  it('prefix tokenizer: every prefix for documents, the longest allowed one for queries', () => {
    const o = opts({ tokenizer: 'prefix', max_token_len: 4, stopwords: {}, stemmer: { type: 'none' } })
    expect(tokens('hello, мир!', o)).toEqual(['h', 'he', 'hel', 'hell', 'м', 'ми', 'мир'])
    expect(tokens('hello, мир!', o, 'query')).toEqual(['hell', 'мир'])
    // stop words are kept in prefix queries (a partly typed word)
    expect(tokens('the', opts({ tokenizer: 'prefix' }), 'query')).toEqual(['the'])
    expect(tokens('the', opts({ tokenizer: 'prefix' }), 'document')).toEqual([])
  })

  it('drops tokens outside min_token_len..max_token_len code points (after stemming)', () => {
    const o = opts({ min_token_len: 3, max_token_len: 5, stemmer: { type: 'none' } })
    expect(tokens('go cat 🚀🚀🚀 elephant mouse', o)).toEqual(['cat', 'mouse'])
    expect(tokens('running', opts({ max_token_len: 3 }))).toEqual(['run'])
  })

  it('folds to ASCII when asked', () => {
    const o = opts({ ascii_folding: true, stemmer: { type: 'none' } })
    expect(tokens('ação Straße Øre ﬁnd Ｑdrant', o)).toEqual(['acao', 'strasse', 'ore', 'find', 'qdrant'])
  })

  it('never reads stop words from a prototype', () => {
    expect(tokens('constructor prototype __proto__ toString', opts({ stemmer: { type: 'none' } }))).toEqual([
      'constructor',
      'prototype',
      'proto',
      'tostring',
    ])
    const o = opts({ stopwords: { custom: ['constructor', '__proto__'] }, tokenizer: 'whitespace' })
    expect(tokens('constructor __proto__ hasOwnProperty', o)).toEqual(['hasownproperti'])
  })

  it('rejects hostile text clearly', () => {
    for (const bad of [42, null, undefined, { text: 'x' }, ['a']]) {
      const err = errorOf(() => bm25Tokens(bad as unknown as string, DEFAULTS, 'document'))
      expect(err.code).toBe('INVALID_ARGUMENT')
      expect(err.message).toMatch(/^text: expected a string, got/)
    }
    const huge = 'a '.repeat(MAX_BM25_TEXT_LENGTH / 2 + 1)
    expect(errorOf(() => bm25Document(huge, DEFAULTS)).message).toMatch(/longer than the 1048576/)
    expect(errorOf(() => bm25Query('bad \ud800 text', DEFAULTS)).message).toMatch(/lone UTF-16 surrogate/)
    // prefixes are quadratic in word length: a huge word needs max_token_len
    const word = 'x'.repeat(100_000)
    expect(errorOf(() => bm25Document(word, opts({ tokenizer: 'prefix' }))).message).toMatch(
      /set options\.max_token_len/,
    )
    expect(bm25Document(word, opts({ tokenizer: 'prefix', max_token_len: 10 })).indices.length).toBe(10)
    // the largest accepted text still goes through
    const big = 'lorem ipsum dolor sit amet '.repeat(Math.floor(MAX_BM25_TEXT_LENGTH / 27))
    expect(bm25Document(big, DEFAULTS).indices.length).toBe(5)
  })
})

describe('bm25Document / bm25Query', () => {
  it("matches Qdrant's reference tf: 'the' twice in 5 tokens, avg_len 5 -> 1.375", () => {
    const o = opts({ avg_len: 5, stopwords: {}, stemmer: { type: 'none' } })
    const v = bm25Document('the cat sat on the', o)
    expect(v.indices.length).toBe(4)
    expect(weightOf(v, 'the')).toBeCloseTo(1.375, 6)
  })

  it('saturates tf with k1 and normalises length with b', () => {
    const none = { stopwords: {}, stemmer: { type: 'none' } }
    const w = (text: string, o: Record<string, unknown>) =>
      weightOf(bm25Document(text, opts({ ...none, ...o })), 'foo')!
    // tf grows towards k1 + 1 and never passes it
    const seq = [1, 2, 4, 8, 64].map((n) => w(`${'foo '.repeat(n)}bar`, { avg_len: 10 }))
    for (let i = 1; i < seq.length; i++) expect(seq[i]!).toBeGreaterThan(seq[i - 1]!)
    expect(seq.at(-1)!).toBeLessThan(2.2)
    expect(w('foo bar', { k: 0 })).toBe(1) // k1 = 0: binary weights
    expect(w('foo foo foo', { k: 0 })).toBe(1)
    // b = 0: length does not matter; b = 1: longer documents weigh less
    expect(w('foo bar', { b: 0 })).toBe(w(`foo ${'bar '.repeat(50)}`, { b: 0 }))
    expect(w(`foo ${'bar '.repeat(50)}`, { b: 1, avg_len: 5 })).toBeLessThan(
      w('foo bar', { b: 1, avg_len: 5 }),
    )
    // the formula itself: tf (k + 1) / (k (1 - b + b len / avg) + tf)
    expect(w('foo foo bar', { k: 1.5, b: 0.5, avg_len: 6 })).toBeCloseTo(
      (2 * 2.5) / (1.5 * (0.5 + 0.5 * 0.5) + 2),
      6,
    )
  })

  it("collapses stemmed forms into one index (Qdrant's running/run test)", () => {
    expect(bm25Document('running run', DEFAULTS).indices.length).toBe(1)
    const raw = opts({ stemmer: { type: 'none' }, stopwords: {} })
    expect(bm25Document('running run', raw).indices.length).toBe(2)
  })

  it('gives queries weight 1 per distinct token, indices ascending', () => {
    const q = bm25Query('Fear fear FEAR the mind killer', DEFAULTS)
    expect([...q.values]).toEqual([1, 1, 1])
    expect([...q.indices]).toEqual(
      [tokenId('fear'), tokenId('mind'), tokenId('killer')].sort((a, b) => a - b),
    )
    const d = bm25Document('killer mind fear', DEFAULTS)
    for (let i = 1; i < d.indices.length; i++) expect(d.indices[i]!).toBeGreaterThan(d.indices[i - 1]!)
  })

  it('gives empty vectors for empty text or text of stop words only', () => {
    for (const text of ['', '   ', '!!! ...', 'the and of']) {
      expect(bm25Document(text, DEFAULTS).indices.length).toBe(0)
      expect(bm25Query(text, DEFAULTS).values.length).toBe(0)
    }
  })
})

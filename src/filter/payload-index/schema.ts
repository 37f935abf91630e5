// Validation of payload index definitions (Qdrant's `field_name` + `field_schema`): a type name or a
// PayloadSchemaParams object in, a FieldIndexSpec with every default filled in out.
import { QuiverError } from '../../errors.js'
import { describe, fail, isPlainObject } from '../../json-input.js'
import { foldToAscii, parseBm25Options, stemWord } from '../../sparse/bm25.js'
import type { PayloadSchemaParams, PayloadSchemaType, TokenizerType } from '../../types.js'
import { parseKeyPath } from '../key-path.js'
import type { TokenizerOptions } from '../tokenizer.js'
import type { FieldIndexSpec } from './types.js'

type TextParams = Extract<PayloadSchemaParams, { type: 'text' }>

const TYPES: readonly PayloadSchemaType[] = [
  'keyword',
  'integer',
  'float',
  'bool',
  'datetime',
  'uuid',
  'text',
  'geo',
]
const TOKENIZERS: readonly TokenizerType[] = ['word', 'whitespace', 'prefix', 'multilingual']
/** Qdrant's storage hints: accepted on every type (booleans or null) and ignored, as every index lives in memory. */
const IGNORED = ['on_disk', 'memory', 'enable_hnsw', 'is_principal']

/** The parameter keys each type takes besides `type` and the ignored hints. */
const KEYS: Record<PayloadSchemaType, readonly string[]> = {
  keyword: ['is_tenant'],
  integer: ['lookup', 'range'],
  float: [],
  bool: [],
  datetime: [],
  uuid: ['is_tenant'],
  text: [
    'tokenizer',
    'min_token_len',
    'max_token_len',
    'lowercase',
    'phrase_matching',
    'stopwords',
    'stemmer',
    'ascii_folding',
  ],
  geo: [],
}

function parseType(v: unknown, where: string): PayloadSchemaType {
  if (typeof v !== 'string' || !(TYPES as readonly string[]).includes(v))
    fail(where, `expected an index type (${TYPES.join(', ')}), got ${describe(v)}`)
  return v as PayloadSchemaType
}

function optBool(obj: Record<string, unknown>, key: string, where: string, dflt: boolean): boolean {
  const v = obj[key]
  if (v === null || v === undefined) return dflt
  if (typeof v !== 'boolean') fail(`${where}.${key}`, `expected a boolean or null, got ${describe(v)}`)
  return v
}

function optLen(obj: Record<string, unknown>, key: string, where: string): number | null {
  const v = obj[key]
  if (v === null || v === undefined) return null
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(`${where}.${key}`, `expected an integer >= 0 or null, got ${describe(v)}`)
  return v
}

function parseParams(obj: Record<string, unknown>, where: string): PayloadSchemaParams {
  const type = parseType(obj['type'], `${where}.type`)
  const allowed = KEYS[type]
  for (const k of Object.keys(obj)) {
    if (k === 'type' || allowed.includes(k)) continue
    if (IGNORED.includes(k)) {
      if (k !== 'memory') optBool(obj, k, where, false)
      continue
    }
    fail(
      `${where}.${k}`,
      `unknown key for a ${type} index; expected one of ${['type', ...allowed, ...IGNORED].join(', ')}`,
    )
  }
  switch (type) {
    case 'keyword':
    case 'uuid':
      return { type, is_tenant: optBool(obj, 'is_tenant', where, false) }
    case 'integer': {
      const lookup = optBool(obj, 'lookup', where, true)
      const range = optBool(obj, 'range', where, true)
      if (!lookup && !range) fail(where, 'an integer index needs lookup or range (both are false)')
      return { type, lookup, range }
    }
    case 'text': {
      const tokenizer = obj['tokenizer'] ?? 'word'
      if (typeof tokenizer !== 'string' || !(TOKENIZERS as readonly string[]).includes(tokenizer))
        fail(
          `${where}.tokenizer`,
          `expected one of ${TOKENIZERS.join(', ')} or null, got ${describe(tokenizer)}`,
        )
      const min = optLen(obj, 'min_token_len', where)
      const max = optLen(obj, 'max_token_len', where)
      if (min !== null && max !== null && min > max)
        fail(where, `min_token_len ${min} is greater than max_token_len ${max}`)
      const lowercase = optBool(obj, 'lowercase', where, true)
      const out: TextParams = {
        type,
        tokenizer: tokenizer as TokenizerType,
        min_token_len: min,
        max_token_len: max,
        lowercase,
        phrase_matching: optBool(obj, 'phrase_matching', where, false),
      }
      // stop words, stemmer and folding: checked (and their lists resolved) as BM25 options are
      const extra: Record<string, unknown> = Object.create(null)
      for (const key of ['stopwords', 'stemmer', 'ascii_folding'] as const)
        if (obj[key] !== undefined && obj[key] !== null) extra[key] = obj[key]
      if (Object.keys(extra).length > 0) {
        try {
          parseBm25Options({ language: 'none', lowercase, ...extra }, where)
        } catch (err) {
          // name the field the message names (`field_schema.stopwords: ...`)
          const path = err instanceof QuiverError ? err.message.split(':')[0]! : where
          throw new QuiverError('INVALID_ARGUMENT', (err as Error).message, { path }, err)
        }
        return { ...out, ...(extra as Partial<TextParams>) }
      }
      return out
    }
    default:
      return { type }
  }
}

/**
 * Validates an index definition: `field` is a key path (`city`, `meta.lang`, `tags[]`) and `schema`
 * a type name (`'keyword'`) or a params object (`{ type: 'integer', range: false }`). Returns the
 * spec with defaults filled in: integer `lookup`/`range` true; keyword/uuid `is_tenant` false; text
 * `tokenizer: 'word'`, `lowercase: true`, `phrase_matching: false`, `min_token_len`/`max_token_len`
 * null. Null values mean the default; Qdrant's `on_disk`, `memory`, `enable_hnsw`, `is_principal`
 * are accepted and dropped.
 * Throws `INVALID_ARGUMENT` naming the JSON path (`field_name`, or `where` and below) for a bad key
 * path, an unknown type or key, a value of the wrong type, an integer index with lookup and range
 * both false, or min_token_len > max_token_len.
 * @example parseFieldSchema('tags[]', 'keyword').params // { type: 'keyword', is_tenant: false }
 */
export function parseFieldSchema(field: string, schema: unknown, where = 'field_schema'): FieldIndexSpec {
  if (typeof field !== 'string') fail('field_name', `expected a string key, got ${describe(field)}`)
  const path = parseKeyPath(field, 'field_name')
  let params: PayloadSchemaParams
  if (typeof schema === 'string') params = parseParams({ type: parseType(schema, where) }, where)
  else if (isPlainObject(schema)) params = parseParams(schema, where)
  else fail(where, `expected an index type name or an object { type, ... }, got ${describe(schema)}`)
  return { field, path, params }
}

/**
 * The tokenizer settings of text index params (null or absent values take Qdrant's defaults: `word`,
 * no length limits, lowercase, no phrase matching).
 */
export function tokenizerOptions(params: TextParams): TokenizerOptions {
  const cached = tokenizerCache.get(params)
  if (cached !== undefined) return cached
  const lowercase = params.lowercase ?? true
  const base: TokenizerOptions = {
    tokenizer: params.tokenizer ?? 'word',
    minTokenLen: params.min_token_len ?? null,
    maxTokenLen: params.max_token_len ?? null,
    lowercase,
    phraseMatching: params.phrase_matching ?? false,
  }
  let out = base
  if (
    (params.stopwords ?? null) !== null ||
    (params.stemmer ?? null) !== null ||
    params.ascii_folding === true
  ) {
    const bm = parseBm25Options(
      {
        language: 'none',
        lowercase,
        ...(params.stopwords == null ? {} : { stopwords: params.stopwords }),
        ...(params.stemmer == null ? {} : { stemmer: params.stemmer }),
        ...(params.ascii_folding == null ? {} : { ascii_folding: params.ascii_folding }),
      },
      'field_schema',
    )
    const algorithm = bm.stemmer
    out = {
      ...base,
      ...(bm.stopwords.size > 0 ? { stopwords: bm.stopwords } : {}),
      ...(algorithm === null ? {} : { stem: (t: string) => stemWord(algorithm, t) }),
      ...(bm.asciiFolding ? { fold: foldToAscii } : {}),
    }
  }
  tokenizerCache.set(params, out)
  return out
}

/** Resolved tokenizers per params object (stop-word sets and stemmers are built once). */
const tokenizerCache = new WeakMap<TextParams, TokenizerOptions>()

import { describe, expect, it } from 'vitest'
import { QuiverError } from '../../errors.js'
import { DEFAULT_TOKENIZER } from '../tokenizer.js'
import { parseFieldSchema, tokenizerOptions } from './schema.js'

function errorOf(fn: () => unknown): QuiverError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError)
    return e as QuiverError
  }
  throw new Error('expected a throw')
}

describe('parseFieldSchema', () => {
  it('fills defaults for type names', () => {
    expect(parseFieldSchema('city', 'keyword').params).toEqual({ type: 'keyword', is_tenant: false })
    expect(parseFieldSchema('id', 'uuid').params).toEqual({ type: 'uuid', is_tenant: false })
    expect(parseFieldSchema('n', 'integer').params).toEqual({ type: 'integer', lookup: true, range: true })
    for (const type of ['float', 'bool', 'datetime', 'geo'] as const)
      expect(parseFieldSchema('f', type).params).toEqual({ type })
    expect(parseFieldSchema('body', 'text').params).toEqual({
      type: 'text',
      tokenizer: 'word',
      min_token_len: null,
      max_token_len: null,
      lowercase: true,
      phrase_matching: false,
    })
  })

  it('keeps the field text and parses its path', () => {
    const spec = parseFieldSchema('meta.tags[]', 'keyword')
    expect(spec.field).toBe('meta.tags[]')
    expect(spec.path.first).toBe('meta')
    expect(spec.path.rest).toEqual([{ kind: 'key', key: 'tags' }, { kind: 'wildcard' }])
  })

  it('reads params objects, null meaning the default, and drops storage hints', () => {
    expect(
      parseFieldSchema('n', {
        type: 'integer',
        lookup: false,
        range: null,
        on_disk: true,
        is_principal: true,
      }).params,
    ).toEqual({ type: 'integer', lookup: false, range: true })
    expect(parseFieldSchema('k', { type: 'keyword', is_tenant: true, on_disk: null }).params).toEqual({
      type: 'keyword',
      is_tenant: true,
    })
    expect(
      parseFieldSchema('t', {
        type: 'text',
        tokenizer: 'prefix',
        min_token_len: 2,
        max_token_len: 10,
        lowercase: false,
        phrase_matching: true,
        enable_hnsw: false,
      }).params,
    ).toEqual({
      type: 'text',
      tokenizer: 'prefix',
      min_token_len: 2,
      max_token_len: 10,
      lowercase: false,
      phrase_matching: true,
    })
  })

  it.each([
    ['n', 'integr', 'field_schema'],
    ['n', 42, 'field_schema'],
    ['n', ['keyword'], 'field_schema'],
    ['n', {}, 'field_schema.type'],
    ['n', { type: 'str' }, 'field_schema.type'],
    ['n', { type: 'keyword', lookup: true }, 'field_schema.lookup'],
    ['n', { type: 'float', on_disk: 'yes' }, 'field_schema.on_disk'],
    ['n', { type: 'integer', range: 1 }, 'field_schema.range'],
    ['n', { type: 'integer', lookup: false, range: false }, 'field_schema'],
    ['t', { type: 'text', tokenizer: 'ngram' }, 'field_schema.tokenizer'],
    ['t', { type: 'text', min_token_len: -1 }, 'field_schema.min_token_len'],
    ['t', { type: 'text', max_token_len: 1.5 }, 'field_schema.max_token_len'],
    ['t', { type: 'text', min_token_len: 5, max_token_len: 4 }, 'field_schema'],
    ['t', { type: 'text', lowercase: 'no' }, 'field_schema.lowercase'],
    ['t', { type: 'text', stopwords: ['a'] }, 'field_schema.stopwords'],
    ['a..b', 'keyword', 'field_name'],
    ['', 'keyword', 'field_name'],
  ])('refuses %j %j at %s', (field, schema, path) => {
    const err = errorOf(() => parseFieldSchema(field, schema))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.details?.['path']).toBe(path)
    expect(err.message.startsWith(`${path}: `)).toBe(true)
  })

  it('names the caller-given location', () => {
    const err = errorOf(() => parseFieldSchema('n', { type: 'bool', x: 1 }, 'body.field_schema'))
    expect(err.message).toMatch(/^body\.field_schema\.x: unknown key/)
  })
})

describe('tokenizerOptions', () => {
  it('maps text params to tokenizer options with defaults', () => {
    expect(tokenizerOptions({ type: 'text' })).toEqual(DEFAULT_TOKENIZER)
    expect(
      tokenizerOptions({
        type: 'text',
        tokenizer: 'whitespace',
        min_token_len: 1,
        max_token_len: null,
        lowercase: false,
        phrase_matching: true,
      }),
    ).toEqual({
      tokenizer: 'whitespace',
      minTokenLen: 1,
      maxTokenLen: null,
      lowercase: false,
      phraseMatching: true,
    })
  })
})

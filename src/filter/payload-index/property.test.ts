// Property test of the correctness contract (types.ts): after random set/remove sequences and after
// serialize -> restore, every index's filter() equals compileFilter's per-point answer for every
// supported condition, on payloads whose field holds any mix of types, and estimate() brackets it.
import { describe, expect, it } from 'vitest'
import { rng } from '../../../test/support/random.js'
import type { JsonValue, Payload, PayloadFieldSchema } from '../../types.js'
import type { FieldNode } from '../ast.js'
import { parseDateTime } from '../datetime.js'
import { compileFilter } from '../evaluate.js'
import { getValues } from '../key-path.js'
import { parseFilter } from '../parse.js'
import { indexTerms } from '../tokenizer.js'
import { createFieldIndex as create, restoreFieldIndex as restore } from './index.js'
import { parseFieldSchema, tokenizerOptions } from './schema.js'
import type { FieldIndex, FieldIndexSpec } from './types.js'

type Rand = () => number
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!

const STRINGS = [
  'x',
  'y',
  '',
  'hello',
  'Hello World',
  'world hello',
  'HELLO there, world',
  'hello hello world',
  'a-b c',
  'héllo wörld',
  'hel',
  '2020-01-01',
  '2020-06-01T12:00:00Z',
  '2021-03-04 05:06:07.5+02:00',
  'not a date',
  '550e8400-e29b-41d4-a716-446655440000',
]
const QUERIES = [
  ...STRINGS,
  'world',
  'hello world',
  'world hello',
  'o w',
  'xyz',
  'he',
  'HELLO',
  'there world',
  '  ',
]
const NUMBERS = [-2, -1, 0, -0, 1, 2, 3, 5, 0.5, 2.5, -1.5, 1e20, 2 ** 53]
const DATES = [
  '2019-12-31',
  '2020-01-01',
  '2020-01-01T00:00:00Z',
  '2020-06-01T12:00:00Z',
  '2021-03-04T03:06:07Z',
]

function genScalar(r: Rand): JsonValue {
  const roll = r()
  if (roll < 0.35) return pick(r, STRINGS)
  if (roll < 0.7) return pick(r, NUMBERS)
  if (roll < 0.85) return r() < 0.5
  return null
}

function genValue(r: Rand, depth: number): JsonValue {
  const roll = r()
  if (depth > 0 && roll < 0.25) return Array.from({ length: int(r, 0, 4) }, () => genValue(r, depth - 1))
  if (depth > 0 && roll < 0.32) return { f: genValue(r, depth - 1) }
  return genScalar(r)
}

/** A payload for fields `f`, `m.f` and `a[].f`, each often missing, of the wrong shape, or an array. */
function genPayload(r: Rand): Payload {
  const out: { [k: string]: JsonValue } = {}
  if (r() < 0.8) out['f'] = genValue(r, 2)
  if (r() < 0.6) out['m'] = r() < 0.8 ? { f: genValue(r, 2) } : genValue(r, 1)
  if (r() < 0.6)
    out['a'] =
      r() < 0.8
        ? Array.from({ length: int(r, 0, 3) }, () => (r() < 0.8 ? { f: genValue(r, 2) } : genValue(r, 1)))
        : genValue(r, 1)
  return out
}

function genBounds(r: Rand, gen: () => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (r() < 0.35) out[k] = gen()
  return out
}

/** A random field condition on `key` as Qdrant JSON, parsed. */
function genNode(r: Rand, key: string): FieldNode {
  const roll = r()
  let cond: Record<string, unknown>
  if (roll < 0.18) {
    const v = r()
    cond = { key, match: { value: v < 0.4 ? pick(r, STRINGS) : v < 0.8 ? int(r, -2, 5) : r() < 0.5 } }
  } else if (roll < 0.3) {
    const name = r() < 0.8 ? 'any' : 'except'
    const n = int(r, 0, 3)
    const values =
      r() < 0.5
        ? Array.from({ length: n }, () => pick(r, STRINGS))
        : Array.from({ length: n }, () => int(r, -2, 5))
    cond = { key, match: { [name]: values } }
  } else if (roll < 0.55) {
    cond = {
      key,
      match: { [pick(r, ['text', 'text', 'phrase', 'phrase', 'text_any', 'prefix'])]: pick(r, QUERIES) },
    }
  } else if (roll < 0.75) {
    cond = { key, range: genBounds(r, () => pick(r, [...NUMBERS.filter((x) => x < 2 ** 53), 1.5, 4])) }
  } else if (roll < 0.88) {
    cond = { key, range: { ...genBounds(r, () => pick(r, DATES)), gte: pick(r, DATES) } }
  } else {
    const e = pick(r, [
      { key, values_count: { gte: 1 } },
      { key, is_empty: r() < 0.5 },
      { key, is_null: r() < 0.5 },
      { is_empty: { key } },
      { is_null: { key } },
    ])
    cond = e
  }
  return parseFilter({ must: [cond] }) as FieldNode
}

/** The index's definition of "holds a value", computed from the raw payload. */
function holdsValue(spec: FieldIndexSpec, payload: Payload): boolean {
  const flat = getValues(payload, spec.path).flatMap((v) => (Array.isArray(v) ? v : [v]))
  const p = spec.params
  switch (p.type) {
    case 'keyword':
    case 'uuid':
      return flat.some((v) => typeof v === 'string')
    case 'integer':
    case 'float':
      return flat.some((v) => typeof v === 'number')
    case 'datetime':
      return flat.some((v) => typeof v === 'string' && parseDateTime(v) !== null)
    case 'bool':
      return flat.some((v) => typeof v === 'boolean')
    case 'text':
      return flat.some((v) => typeof v === 'string' && indexTerms(v, tokenizerOptions(p)).size > 0)
    default:
      throw new Error(`no reference for ${p.type}`)
  }
}

function tag(node: FieldNode): string {
  switch (node.kind) {
    case 'match_value':
      return `match_value:${typeof node.value}`
    case 'match_any':
    case 'match_except':
      return `${node.kind}:${node.valueType}`
    case 'match_text':
    case 'match_text_any':
    case 'match_prefix':
      return `${node.kind}:${node.form}`
    case 'range':
      return `range:${node.valueType}`
    default:
      return node.kind
  }
}

interface Case {
  readonly field: string
  readonly schema: PayloadFieldSchema
  /** Exactly the node tags the index must support. */
  readonly supports: readonly string[]
}

const MATCH_NUMBER = ['match_value:number', 'match_any:integer']
const CASES: Case[] = [
  { field: 'f', schema: 'keyword', supports: ['match_value:string', 'match_any:keyword'] },
  { field: 'a[].f', schema: 'keyword', supports: ['match_value:string', 'match_any:keyword'] },
  { field: 'f', schema: 'uuid', supports: ['match_value:string', 'match_any:keyword'] },
  { field: 'f', schema: 'integer', supports: [...MATCH_NUMBER, 'range:number'] },
  { field: 'm.f', schema: { type: 'integer', range: false }, supports: MATCH_NUMBER },
  { field: 'f', schema: { type: 'integer', lookup: false }, supports: [...MATCH_NUMBER, 'range:number'] },
  { field: 'a[].f', schema: 'float', supports: [...MATCH_NUMBER, 'range:number'] },
  { field: 'f', schema: 'datetime', supports: ['range:datetime'] },
  { field: 'm.f', schema: 'datetime', supports: ['range:datetime'] },
  { field: 'f', schema: 'bool', supports: ['match_value:boolean'] },
  { field: 'a[].f', schema: 'bool', supports: ['match_value:boolean'] },
  { field: 'f', schema: 'text', supports: ['match_text:text', 'match_text_any:text_any'] },
  {
    field: 'f',
    schema: { type: 'text', phrase_matching: true, max_token_len: 5 },
    supports: ['match_text:text', 'match_text_any:text_any', 'match_text:phrase'],
  },
  {
    field: 'a[].f',
    schema: { type: 'text', tokenizer: 'prefix', min_token_len: 2, max_token_len: 4, phrase_matching: true },
    supports: ['match_text:text', 'match_text_any:text_any', 'match_text:phrase'],
  },
  {
    field: 'f',
    schema: { type: 'text', tokenizer: 'whitespace', lowercase: false, phrase_matching: true },
    supports: ['match_text:text', 'match_text_any:text_any', 'match_text:phrase'],
  },
]

const N = 60

function check(index: FieldIndex, model: Map<number, Payload>, r: Rand, seen: Set<string>): void {
  const spec = index.spec
  const textIndexes = new Map(
    spec.params.type === 'text' ? [[spec.field, tokenizerOptions(spec.params)]] : [],
  )
  let points = 0
  for (const p of model.values()) if (holdsValue(spec, p)) points++
  expect(index.pointCount).toBe(points)
  for (let q = 0; q < 40; q++) {
    const node = genNode(r, spec.field)
    if (!index.supports(node)) continue
    seen.add(tag(node))
    const size = r() < 0.2 ? N - 9 : N
    const pred = compileFilter(node, { textIndexes })
    const want: number[] = []
    for (const [o, p] of model) if (o < size && pred(0, p)) want.push(o)
    want.sort((a, b) => a - b)
    const got = index.filter(node, size)
    expect(got.size).toBe(size)
    expect(
      [...got.toOffsets()],
      JSON.stringify(node, (_k, v) => (v instanceof Set ? [...v] : v)),
    ).toEqual(want)
    let total = 0
    for (const p of model.values()) if (pred(0, p)) total++
    const est = index.estimate(node)
    expect(est.min).toBeLessThanOrEqual(total)
    expect(est.max).toBeGreaterThanOrEqual(total)
    expect(est.min).toBeLessThanOrEqual(est.exp)
    expect(est.exp).toBeLessThanOrEqual(est.max)
    if (node.kind === 'match_value') expect(est.min).toBe(est.max)
  }
}

function mutate(index: FieldIndex, model: Map<number, Payload>, r: Rand, steps: number): void {
  for (let s = 0; s < steps; s++) {
    const o = int(r, 0, N - 1)
    const roll = r()
    if (roll < 0.7) {
      const p = genPayload(r)
      index.set(o, p)
      model.set(o, p)
    } else if (roll < 0.9) {
      index.remove(o)
      model.delete(o)
    } else {
      index.set(o, undefined)
      model.delete(o)
    }
  }
}

describe('payload indexes agree with compileFilter', () => {
  for (const c of CASES) {
    it(`${JSON.stringify(c.schema)} on ${c.field}`, () => {
      const spec = parseFieldSchema(c.field, c.schema)
      const seen = new Set<string>()
      for (const seed of [11, 22, 33, 44]) {
        const r = rng(seed)
        const model = new Map<number, Payload>()
        let index = create(spec)
        // Ascending first fill (the common upsert order), then random churn with checks in between.
        for (let o = 0; o < N; o++) {
          if (r() < 0.2) continue
          const p = genPayload(r)
          index.set(o, p)
          model.set(o, p)
        }
        check(index, model, r, seen)
        for (let round = 0; round < 6; round++) {
          mutate(index, model, r, int(r, 1, 40))
          check(index, model, r, seen)
        }
        index = restore(spec, index.serialize())
        check(index, model, r, seen)
        mutate(index, model, r, 40)
        check(index, model, r, seen)
        expect(restore(spec, index.serialize()).serialize()).toEqual(index.serialize())
      }
      expect([...seen].sort()).toEqual([...c.supports].sort())
    })
  }
})

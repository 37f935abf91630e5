import { describe, expect, it } from 'vitest'
import type { Payload, PointId } from '../types.js'
import { parseDateTime } from './datetime.js'
import { compileFilter } from './evaluate.js'
import { parseFilter } from './parse.js'
import { DEFAULT_TOKENIZER, type TokenizerOptions } from './tokenizer.js'

const matches = (filter: unknown, payload: Payload | undefined, id: PointId = 1): boolean =>
  compileFilter(parseFilter(filter))(id, payload)
const cond = (c: object, payload: Payload | undefined, id: PointId = 1) => matches({ must: [c] }, payload, id)

// Qdrant's own fixture (lib/segment/src/payload_storage/query_checker.rs, test_condition_checker).
const shop: Payload = {
  location: { lon: 13.404954, lat: 52.520008 },
  price: 499.9,
  amount: 10,
  rating: [3, 7, 9, 9],
  color: 'red',
  has_delivery: true,
  shipped_at: '2020-02-15T00:00:00Z',
  parts: [],
  packaging: null,
  not_null: [null],
}

describe('boolean structure', () => {
  const red = { key: 'color', match: { value: 'red' } }
  const blue = { key: 'color', match: { value: 'blue' } }
  const delivery = { key: 'has_delivery', match: { value: true } }

  it('must / must_not / should', () => {
    expect(matches({ must: red }, shop)).toBe(true)
    expect(matches({ must: blue }, shop)).toBe(false)
    expect(matches({ must_not: blue }, shop)).toBe(true)
    expect(matches({ must_not: red }, shop)).toBe(false)
    expect(matches({ should: [red, blue], must: [delivery] }, shop)).toBe(true)
    expect(matches({ should: [blue], must: [delivery] }, shop)).toBe(false)
    expect(matches({ should: [{ must: [blue, delivery] }, { must: [red, delivery] }] }, shop)).toBe(true)
    expect(matches({ should: [{ must: [blue, delivery] }, { must: [red, blue] }] }, shop)).toBe(false)
  })

  it('empty clauses: must [] and must_not [] match all; should [] matches all at top level', () => {
    expect(matches({ must: [] }, shop)).toBe(true)
    expect(matches({ must_not: [] }, shop)).toBe(true)
    expect(matches({ should: [] }, shop)).toBe(true)
    expect(matches({ must: [{ should: [] }] }, shop)).toBe(true)
    expect(matches(null, undefined)).toBe(true)
  })

  it('should [] matches nothing inside nested (Qdrant plain checker)', () => {
    const p = { arr: [{ a: 1 }] }
    expect(cond({ nested: { key: 'arr', filter: { must: { key: 'a', match: { value: 1 } } } } }, p)).toBe(
      true,
    )
    expect(cond({ nested: { key: 'arr', filter: { should: [] } } }, p)).toBe(false)
    expect(cond({ nested: { key: 'arr', filter: {} } }, p)).toBe(true)
  })

  it('min_should counts matching conditions', () => {
    const inMoscow = { key: 'location.lon', range: { gt: 37 } }
    const inBerlin = { key: 'location.lon', range: { lt: 14 } }
    expect(matches({ min_should: { conditions: [blue, inMoscow], min_count: 1 } }, shop)).toBe(false)
    expect(matches({ min_should: { conditions: [red, inBerlin, inMoscow], min_count: 2 } }, shop)).toBe(true)
    expect(matches({ min_should: { conditions: [red, inBerlin, inMoscow], min_count: 3 } }, shop)).toBe(false)
    expect(matches({ min_should: { conditions: [red], min_count: 2 } }, shop)).toBe(false)
  })

  it('has_id compares normalised ids', () => {
    const uuid = '550e8400-e29b-41d4-a716-446655440000'
    expect(cond({ has_id: [1, 2, 3] }, shop, 2)).toBe(true)
    expect(cond({ has_id: [1, 2, 3] }, shop, 10)).toBe(false)
    expect(matches({ must_not: { has_id: [1, 2, 3] } }, shop, 10)).toBe(true)
    expect(cond({ has_id: [uuid.toUpperCase()] }, shop, uuid)).toBe(true)
    expect(cond({ has_id: ['550e8400e29b41d4a716446655440000'] }, shop, uuid)).toBe(true)
    expect(cond({ has_id: [] }, shop, 1)).toBe(false)
  })
})

describe('match value', () => {
  it('matches scalars and any array element, by type', () => {
    expect(cond({ key: 'rating', match: { value: 9 } }, shop)).toBe(true)
    expect(cond({ key: 'rating', match: { value: 4 } }, shop)).toBe(false)
    expect(cond({ key: 'amount', match: { value: 10 } }, shop)).toBe(true)
    expect(cond({ key: 'amount', match: { value: '10' } }, shop)).toBe(false)
    expect(cond({ key: 'n', match: { value: 1 } }, { n: true })).toBe(false)
    expect(cond({ key: 'b', match: { value: true } }, { b: [false, true] })).toBe(true)
    expect(cond({ key: 'b', match: { value: false } }, { b: 0 })).toBe(false)
  })

  it('integers never equal fractional numbers; nested arrays and objects never match', () => {
    expect(cond({ key: 'price', match: { value: 499 } }, shop)).toBe(false)
    expect(cond({ key: 'a', match: { value: 1 } }, { a: [[1]] })).toBe(false)
    expect(cond({ key: 'a', match: { value: 1 } }, { a: { b: 1 } })).toBe(false)
  })

  it('missing and null fields never match', () => {
    expect(cond({ key: 'missing', match: { value: 1 } }, shop)).toBe(false)
    expect(cond({ key: 'packaging', match: { value: 'x' } }, shop)).toBe(false)
    expect(cond({ key: 'a', match: { value: 'x' } }, undefined)).toBe(false)
  })

  it('reads nested keys and projects through []', () => {
    const p = { country: { cities: [{ name: 'Berlin', sightseeing: ['Zoo'] }, { name: 'Munich' }] } }
    expect(cond({ key: 'country.cities[].name', match: { value: 'Munich' } }, p)).toBe(true)
    expect(cond({ key: 'country.cities[].sightseeing', match: { value: 'Zoo' } }, p)).toBe(true)
    expect(cond({ key: 'country.cities.name', match: { value: 'Munich' } }, p)).toBe(false)
    expect(cond({ key: 'country.cities[1].name', match: { value: 'Berlin' } }, p)).toBe(false)
    expect(cond({ key: 'country.cities[0].name', match: { value: 'Berlin' } }, p)).toBe(true)
  })
})

describe('match any / except', () => {
  it('any: one value or element in the set, same JSON type only', () => {
    expect(cond({ key: 'color', match: { any: ['black', 'red'] } }, shop)).toBe(true)
    expect(cond({ key: 'rating', match: { any: [1, 7] } }, shop)).toBe(true)
    expect(cond({ key: 'rating', match: { any: ['7'] } }, shop)).toBe(false)
    expect(cond({ key: 'color', match: { any: [] } }, shop)).toBe(false)
    expect(cond({ key: 'missing', match: { any: ['x'] } }, shop)).toBe(false)
  })

  it('except: some value or element outside the set', () => {
    expect(cond({ key: 'color', match: { except: ['black'] } }, shop)).toBe(true)
    expect(cond({ key: 'color', match: { except: ['black', 'red'] } }, shop)).toBe(false)
    expect(cond({ key: 'rating', match: { except: [3, 7] } }, shop)).toBe(true)
    expect(cond({ key: 'rating', match: { except: [3, 7, 9] } }, shop)).toBe(false)
    expect(cond({ key: 'color', match: { except: [] } }, shop)).toBe(true)
  })

  it('except: missing, null, [] and [null] do not match; other types and floats do', () => {
    expect(cond({ key: 'missing', match: { except: ['x'] } }, shop)).toBe(false)
    expect(cond({ key: 'packaging', match: { except: ['x'] } }, shop)).toBe(false)
    expect(cond({ key: 'parts', match: { except: ['x'] } }, shop)).toBe(false)
    expect(cond({ key: 'not_null', match: { except: ['x'] } }, shop)).toBe(false)
    expect(cond({ key: 'amount', match: { except: ['10'] } }, shop)).toBe(true)
    expect(cond({ key: 'color', match: { except: [1] } }, shop)).toBe(true)
    expect(cond({ key: 'price', match: { except: [1] } }, shop)).toBe(true)
    expect(cond({ key: 'has_delivery', match: { except: ['true'] } }, shop)).toBe(true)
    expect(cond({ key: 'location', match: { except: ['x'] } }, shop)).toBe(true)
    expect(cond({ key: 'a', match: { except: [1] } }, { a: [[1]] })).toBe(true)
    expect(cond({ key: 'a', match: { except: [1] } }, { a: [1, null] })).toBe(false)
  })
})

describe('match text (no full-text index: substring)', () => {
  const p = { title: 'Quick brown fox', tags: ['alpha', 'beta'], n: 5 }
  it('text and phrase are case-sensitive substring tests', () => {
    expect(cond({ key: 'title', match: { text: 'brown f' } }, p)).toBe(true)
    expect(cond({ key: 'title', match: { text: 'quick' } }, p)).toBe(false)
    expect(cond({ key: 'title', match: { phrase: 'k b' } }, p)).toBe(true)
    expect(cond({ key: 'tags', match: { text: 'et' } }, p)).toBe(true)
    expect(cond({ key: 'n', match: { text: '5' } }, p)).toBe(false)
    expect(cond({ key: 'title', match: { text: '' } }, p)).toBe(true)
  })

  it('text_any needs one token; prefix is startsWith', () => {
    expect(cond({ key: 'title', match: { text_any: 'cat  fox' } }, p)).toBe(true)
    expect(cond({ key: 'title', match: { text_any: 'cat dog' } }, p)).toBe(false)
    expect(cond({ key: 'title', match: { text_any: '   ' } }, p)).toBe(false)
    expect(cond({ key: 'tags', match: { prefix: 'be' } }, p)).toBe(true)
    expect(cond({ key: 'title', match: { prefix: 'brown' } }, p)).toBe(false)
  })
})

describe('range', () => {
  it('numbers, arrays (any element) and bounds', () => {
    expect(cond({ key: 'price', range: { gt: 499, lt: 500 } }, shop)).toBe(true)
    expect(cond({ key: 'amount', range: { gte: 10, lte: 10 } }, shop)).toBe(true)
    expect(cond({ key: 'amount', range: { gt: 10 } }, shop)).toBe(false)
    expect(cond({ key: 'rating', range: { lte: 5 } }, shop)).toBe(true)
    expect(matches({ must_not: { key: 'rating', range: { lte: 5 } } }, shop)).toBe(false)
    expect(cond({ key: 'rating', range: {} }, shop)).toBe(true)
  })

  it('non-numbers, null and missing never match', () => {
    expect(cond({ key: 'color', range: {} }, shop)).toBe(false)
    expect(cond({ key: 'n', range: { gte: 0 } }, { n: '5' })).toBe(false)
    expect(cond({ key: 'has_delivery', range: { gte: 0 } }, shop)).toBe(false)
    expect(cond({ key: 'packaging', range: {} }, shop)).toBe(false)
    expect(cond({ key: 'missing', range: {} }, shop)).toBe(false)
  })

  it('datetime ranges parse payload strings', () => {
    const feb = { key: 'shipped_at', range: { gte: '2020-02-01T00:00:00Z', lt: '2020-03-01T00:00:00Z' } }
    const march = { key: 'shipped_at', range: { gte: '2020-03-01T00:00:00Z', lt: '2020-04-01T00:00:00Z' } }
    expect(cond(feb, shop)).toBe(true)
    expect(cond(march, shop)).toBe(false)
    expect(cond({ key: 'd', range: { gt: '2020-02-14' } }, { d: ['junk', '2020-02-15 01:00'] })).toBe(true)
    expect(cond({ key: 'd', range: { gt: '2020-02-14' } }, { d: 1e15 })).toBe(false)
    expect(
      cond({ key: 'd', range: { lt: '2020-01-01T00:00:00Z' } }, { d: '2020-01-01T00:30:00+01:00' }),
    ).toBe(true)
  })
})

describe('parseDateTime', () => {
  it.each([
    ['2020-01-01', 1577836800000000],
    ['2020-01-01T00:00:00Z', 1577836800000000],
    ['2020-01-01 00:00:00.5', 1577836800500000],
    ['2020-01-01T00:00', 1577836800000000],
    ['2020-01-01T01:00:00+01:00', 1577836800000000],
    ['2020-01-01T01:00:00+0100', 1577836800000000],
    ['2019-12-31T23:00:00-01', 1577836800000000],
    ['2020-01-01T00:00:00.123456789Z', 1577836800123456],
    ['0001-01-01', -62135596800000000],
  ])('%s', (s, micros) => expect(parseDateTime(s)).toBe(micros))

  it.each([
    '2020-02-30',
    '2020-13-01',
    '2020-01-01T24:00:00',
    '2020-01-01T00:00Z',
    '20200101',
    'x',
    '2020-01-01T',
  ])('rejects %s', (s) => expect(parseDateTime(s)).toBeNull())
})

describe('values_count', () => {
  const count = (b: object, p: Payload) => cond({ key: 'k', values_count: b }, p)
  it('counts array elements; a scalar or object counts 1; null counts 0; missing counts 0', () => {
    expect(cond({ key: 'rating', values_count: { gte: 10 } }, shop)).toBe(false)
    expect(cond({ key: 'rating', values_count: { lt: 5 } }, shop)).toBe(true)
    expect(count({ gt: 1 }, { k: [{ country: 'DE' }, { country: 'FR' }] })).toBe(true)
    expect(count({ gt: 2 }, { k: [{ country: 'DE' }, { country: 'FR' }] })).toBe(false)
    expect(count({ gte: 1, lte: 1 }, { k: 'x' })).toBe(true)
    expect(count({ gte: 1, lte: 1 }, { k: { a: 1, b: 2 } })).toBe(true)
    expect(count({ lt: 1 }, { k: null })).toBe(true)
    expect(count({ lt: 1 }, { k: [] })).toBe(true)
    expect(count({ gte: 1 }, { k: [null] })).toBe(true)
    expect(count({ lt: 1 }, {})).toBe(true)
    expect(count({ gte: 0 }, {})).toBe(true)
    expect(count({ lte: 0 }, {})).toBe(true)
    expect(count({ gte: 1 }, {})).toBe(false)
  })

  it('with several values (through []) any one may satisfy it', () => {
    const p = { a: [{ k: [1, 2, 3] }, { k: 4 }] }
    expect(cond({ key: 'a[].k', values_count: { gt: 2 } }, p)).toBe(true)
    expect(cond({ key: 'a[].k', values_count: { lt: 2 } }, p)).toBe(true)
    expect(cond({ key: 'a[].k', values_count: { gt: 3 } }, p)).toBe(false)
  })
})

describe('is_empty / is_null', () => {
  const empty = (key: string, p: Payload = shop) => cond({ is_empty: { key } }, p)
  const isNull = (key: string, p: Payload = shop) => cond({ is_null: { key } }, p)

  it('is_empty: missing, null and [] are empty; [null], {}, "" and values are not', () => {
    expect(empty('something_new')).toBe(true)
    expect(empty('packaging')).toBe(true)
    expect(empty('parts')).toBe(true)
    expect(empty('not_null')).toBe(false)
    expect(empty('price')).toBe(false)
    expect(empty('o', { o: {} })).toBe(false)
    expect(empty('s', { s: '' })).toBe(false)
    expect(empty('x', { x: false })).toBe(false)
  })

  it('is_empty with several values needs all of them empty', () => {
    expect(empty('a[].b', { a: [{ b: null }, { b: [] }, { c: 1 }] })).toBe(true)
    expect(empty('a[].b', { a: [{ b: null }, { b: 1 }] })).toBe(false)
    expect(empty('a[]', { a: [] })).toBe(true)
  })

  it('is_null: only a null value; [null], [] and missing are not null', () => {
    expect(isNull('packaging')).toBe(true)
    expect(isNull('not_null')).toBe(false)
    expect(isNull('parts')).toBe(false)
    expect(isNull('amount')).toBe(false)
    expect(isNull('something_else')).toBe(false)
    expect(isNull('a[].b', { a: [{ b: 1 }, { b: null }] })).toBe(true)
    expect(isNull('a[]', { a: [1, null] })).toBe(true)
  })

  it('field-condition spelling is checked per value (Qdrant FieldCondition)', () => {
    const f = (flag: 'is_empty' | 'is_null', value: boolean, p: Payload) =>
      cond({ key: 'k', [flag]: value }, p)
    const table: [Payload, boolean, boolean][] = [
      // payload, is_empty: true, is_null: true
      [{ k: [] }, true, false],
      [{ k: [null] }, false, true],
      [{ k: [true] }, false, false],
      [{ k: [true, null] }, false, true],
      [{ k: {} }, false, false],
      [{ k: 'string' }, false, false],
      [{ k: 1 }, false, false],
      [{ k: null }, true, true],
      [{}, true, false],
    ]
    for (const [p, emptyTrue, nullTrue] of table) {
      expect(f('is_empty', true, p), JSON.stringify(p)).toBe(emptyTrue)
      expect(f('is_empty', false, p), JSON.stringify(p)).toBe(!emptyTrue)
      expect(f('is_null', true, p), JSON.stringify(p)).toBe(nullTrue)
      expect(f('is_null', false, p), JSON.stringify(p)).toBe(!nullTrue)
    }
    // Per value with any(): one empty value is enough, unlike { is_empty: { key } }.
    expect(cond({ key: 'a[].b', is_empty: true }, { a: [{ b: null }, { b: 1 }] })).toBe(true)
  })
})

describe('nested', () => {
  const p: Payload = {
    diet: [
      { food: 'meat', likes: false },
      { food: 'leaves', likes: true },
    ],
  }
  it('holds all conditions on the same array element', () => {
    const flat = {
      must: [
        { key: 'diet[].food', match: { value: 'meat' } },
        { key: 'diet[].likes', match: { value: true } },
      ],
    }
    expect(matches(flat, p)).toBe(true)
    const nested = (food: string, likes: boolean) =>
      cond(
        {
          nested: {
            key: 'diet',
            filter: {
              must: [
                { key: 'food', match: { value: food } },
                { key: 'likes', match: { value: likes } },
              ],
            },
          },
        },
        p,
      )
    expect(nested('meat', true)).toBe(false)
    expect(nested('meat', false)).toBe(true)
    expect(nested('leaves', true)).toBe(true)
  })

  it('must_not inside nested applies per element', () => {
    const f = { nested: { key: 'diet', filter: { must_not: { key: 'likes', match: { value: true } } } } }
    expect(cond(f, p)).toBe(true)
    expect(matches({ must_not: f }, p)).toBe(false)
    expect(cond(f, { diet: [{ likes: true }] })).toBe(false)
  })

  it('only object elements take part; a non-array key matches nothing', () => {
    const any = { nested: { key: 'arr', filter: {} } }
    expect(cond(any, { arr: [1, 'x', null, [{}]] })).toBe(false)
    expect(cond(any, { arr: [1, {}] })).toBe(true)
    expect(cond(any, { arr: { a: 1 } })).toBe(false)
    expect(cond(any, { arr: [] })).toBe(false)
    expect(cond(any, {})).toBe(false)
  })

  it('accepts an explicit [] and nests further', () => {
    const q = {
      a: [
        {
          b: [
            { c: 1, d: 2 },
            { c: 3, d: 4 },
          ],
        },
      ],
    }
    const inner = (c: number, d: number) => ({
      nested: {
        key: 'b',
        filter: {
          must: [
            { key: 'c', match: { value: c } },
            { key: 'd', match: { value: d } },
          ],
        },
      },
    })
    expect(cond({ nested: { key: 'a[]', filter: { must: inner(3, 4) } } }, q)).toBe(true)
    expect(cond({ nested: { key: 'a', filter: { must: inner(1, 4) } } }, q)).toBe(false)
  })

  it('has_id never matches inside nested', () => {
    const f = { nested: { key: 'diet', filter: { must: { has_id: [1] } } } }
    expect(cond(f, p, 1)).toBe(false)
    expect(cond({ nested: { key: 'diet', filter: { must_not: { has_id: [1] } } } }, p, 1)).toBe(true)
  })
})

describe('field condition with several checks', () => {
  it('match and range combine with OR, per Qdrant', () => {
    const f = { key: 'n', match: { value: 1 }, range: { gt: 10 } }
    expect(cond(f, { n: 1 })).toBe(true)
    expect(cond(f, { n: 11 })).toBe(true)
    expect(cond(f, { n: 5 })).toBe(false)
  })

  it('values_count wins over match', () => {
    expect(cond({ key: 'n', match: { value: 7 }, values_count: { gte: 1 } }, { n: 1 })).toBe(true)
  })
})

describe('geo conditions', () => {
  const berlin = { lat: 52.520008, lon: 13.404954 }
  const near = (radius: number) => ({ key: 'location', geo_radius: { center: berlin, radius } })
  const box = (top: number, left: number, bottom: number, right: number) => ({
    key: 'location',
    geo_bounding_box: { top_left: { lat: top, lon: left }, bottom_right: { lat: bottom, lon: right } },
  })
  const square = (a: number, b: number) => ({
    points: [
      { lat: a, lon: a },
      { lat: a, lon: b },
      { lat: b, lon: b },
      { lat: b, lon: a },
      { lat: a, lon: a },
    ],
  })

  it("Qdrant's fixture: the shop in Berlin", () => {
    expect(cond(near(1000), shop)).toBe(true)
    expect(
      cond({ key: 'location', geo_radius: { center: { lat: 48.8566, lon: 2.3522 }, radius: 800_000 } }, shop),
    ).toBe(false)
    expect(cond(box(53, 13, 52, 14), shop)).toBe(true)
    expect(cond(box(52.5, 13, 52, 14), shop)).toBe(false)
    expect(cond({ key: 'location', geo_polygon: { exterior: square(0, 60) } }, shop)).toBe(true)
    expect(
      cond({ key: 'location', geo_polygon: { exterior: square(0, 60), interiors: [square(10, 55)] } }, shop),
    ).toBe(false)
  })

  it('radius is strict; box edges are included; antimeridian boxes wrap', () => {
    expect(cond(near(0), { location: berlin })).toBe(false)
    expect(cond(near(0.001), { location: berlin })).toBe(true)
    expect(cond(box(10, 0, 0, 10), { location: { lat: 10, lon: 0 } })).toBe(true)
    expect(cond(box(10, 170, -10, -170), { location: { lat: 0, lon: 179 } })).toBe(true)
    expect(cond(box(10, 170, -10, -170), { location: { lat: 0, lon: -175 } })).toBe(true)
    expect(cond(box(10, 170, -10, -170), { location: { lat: 0, lon: 0 } })).toBe(false)
  })

  it('arrays of points match when one element is inside; other values never match', () => {
    const inside = { lat: 5, lon: 5 }
    const outside = { lat: 50, lon: 50 }
    const b = box(10, 0, 0, 10)
    expect(cond(b, { location: [outside, inside] })).toBe(true)
    expect(cond(b, { location: [outside] })).toBe(false)
    expect(cond(b, { location: [[inside]] })).toBe(false)
    expect(cond({ ...b, key: 'places[].at' }, { places: [{ at: outside }, { at: inside }] })).toBe(true)
    for (const junk of [null, 5, 'x', [], {}, { lat: '5', lon: 5 }, { lat: 5 }, { lat: 95, lon: 5 }, [1, 2]])
      expect(cond(b, { location: junk })).toBe(false)
    expect(cond(b, {})).toBe(false)
    expect(cond(b, undefined)).toBe(false)
    expect(cond(b, { location: { lat: 5, lon: 5, name: 'extra keys are fine' } })).toBe(true)
  })

  it('must_not negates, so missing and junk values pass it', () => {
    const b = box(10, 0, 0, 10)
    expect(matches({ must_not: b }, { location: { lat: 5, lon: 5 } })).toBe(false)
    expect(matches({ must_not: b }, { location: { lat: 50, lon: 5 } })).toBe(true)
    expect(matches({ must_not: b }, {})).toBe(true)
    expect(matches({ must_not: b }, { location: 'Berlin' })).toBe(true)
  })

  it('works inside nested with relative keys', () => {
    const f = { nested: { key: 'stops', filter: { must: [{ ...box(10, 0, 0, 10), key: 'at' }] } } }
    expect(matches({ must: f }, { stops: [{ at: { lat: 50, lon: 50 } }, { at: { lat: 1, lon: 1 } }] })).toBe(
      true,
    )
    expect(matches({ must: f }, { stops: [{ at: { lat: 50, lon: 50 } }] })).toBe(false)
  })

  it('ORs with match in one field condition', () => {
    const f = { ...box(10, 0, 0, 10), match: { value: 'home' } }
    expect(cond(f, { location: 'home' })).toBe(true)
    expect(cond(f, { location: { lat: 1, lon: 1 } })).toBe(true)
    expect(cond(f, { location: 'away' })).toBe(false)
  })
})

describe('match text on a field with a full-text index (CompileOptions.textIndexes)', () => {
  const word = DEFAULT_TOKENIZER
  const idx = (o: TokenizerOptions = word, key = 'title') => ({ textIndexes: new Map([[key, o]]) })
  const indexed = (
    filter: unknown,
    payload: Payload | undefined,
    o: TokenizerOptions = word,
    key = 'title',
  ) => compileFilter(parseFilter(filter), idx(o, key))(1, payload)
  const c = (m: object, payload: Payload | undefined, o?: TokenizerOptions) =>
    indexed({ must: { key: 'title', match: m } }, payload, o)
  const p = { title: 'Quick brown fox, jumping!', tags: ['alpha beta', 'gamma'], n: 5 }

  it('text: every query token is a token of the document, case-folded, in any order', () => {
    expect(c({ text: 'FOX quick' }, p)).toBe(true)
    expect(c({ text: 'fox cat' }, p)).toBe(false)
    // The fallback would say the opposite for these two.
    expect(c({ text: 'brow' }, p)).toBe(false)
    expect(cond({ key: 'title', match: { text: 'brow' } }, p)).toBe(true)
    expect(c({ text: 'quick' }, p)).toBe(true)
    expect(cond({ key: 'title', match: { text: 'quick' } }, p)).toBe(false)
  })

  it('a query without tokens matches nothing (and must_not of it everything)', () => {
    expect(c({ text: '' }, p)).toBe(false)
    expect(c({ text: ' ,.! ' }, p)).toBe(false)
    expect(c({ text_any: '' }, p)).toBe(false)
    expect(c({ phrase: '--' }, p)).toBe(false)
    expect(indexed({ must_not: { key: 'title', match: { text: '' } } }, p)).toBe(true)
  })

  it('the string values of an array together form one document', () => {
    const t = (m: object) => indexed({ must: { key: 'tags', match: m } }, p, word, 'tags')
    expect(t({ text: 'alpha gamma' })).toBe(true)
    expect(t({ text: 'alpha delta' })).toBe(false)
    expect(t({ text_any: 'delta gamma' })).toBe(true)
    expect(t({ phrase: 'alpha beta' })).toBe(true)
    // A phrase does not run across two values.
    expect(t({ phrase: 'beta gamma' })).toBe(false)
    // Non-strings contribute nothing.
    expect(indexed({ must: { key: 'x', match: { text: '5' } } }, { x: [5, '6'] }, word, 'x')).toBe(false)
    expect(indexed({ must: { key: 'x', match: { text: '6' } } }, { x: [5, '6'] }, word, 'x')).toBe(true)
  })

  it('paths through arrays collect strings from every element', () => {
    const payload = { items: [{ name: 'red apple' }, { name: ['green', 'pear'] }, { name: 3 }] }
    const f = (m: object) => ({ must: { key: 'items[].name', match: m } })
    expect(indexed(f({ text: 'apple pear' }), payload, word, 'items[].name')).toBe(true)
    expect(indexed(f({ text: 'apple plum' }), payload, word, 'items[].name')).toBe(false)
  })

  it('text_any: some query token', () => {
    expect(c({ text_any: 'cat FOX' }, p)).toBe(true)
    expect(c({ text_any: 'cat dog' }, p)).toBe(false)
  })

  it('phrase: the query tokens consecutively in one value', () => {
    expect(c({ phrase: 'Brown FOX' }, p)).toBe(true)
    expect(c({ phrase: 'fox brown' }, p)).toBe(false)
    expect(c({ phrase: 'quick fox' }, p)).toBe(false)
    expect(c({ phrase: 'fox jumping' }, p)).toBe(true)
  })

  it('follows the tokenizer options', () => {
    const cased: TokenizerOptions = { ...word, lowercase: false }
    expect(c({ text: 'quick' }, p, cased)).toBe(false)
    expect(c({ text: 'Quick' }, p, cased)).toBe(true)
    const prefix: TokenizerOptions = { ...word, tokenizer: 'prefix' }
    expect(c({ text: 'qui bro' }, p, prefix)).toBe(true)
    expect(c({ text: 'uick' }, p, prefix)).toBe(false)
    const ws: TokenizerOptions = { ...word, tokenizer: 'whitespace' }
    expect(c({ text: 'fox,' }, p, ws)).toBe(true)
    expect(c({ text: 'fox' }, p, ws)).toBe(false)
    const min4: TokenizerOptions = { ...word, minTokenLen: 4 }
    // 'fox' is dropped from the query, leaving 'quick'.
    expect(c({ text: 'fox quick' }, p, min4)).toBe(true)
    expect(c({ text: 'fox' }, p, min4)).toBe(false)
  })

  it('prefix and other keys keep the fallback; nested conditions never use the index', () => {
    expect(c({ prefix: 'Quick' }, p)).toBe(true)
    expect(c({ prefix: 'quick' }, p)).toBe(false)
    expect(indexed({ must: { key: 'other', match: { text: 'ick' } } }, { other: 'Quick' })).toBe(true)
    const nested = {
      must: { nested: { key: 'docs', filter: { must: { key: 'title', match: { text: 'quick' } } } } },
    }
    expect(indexed(nested, { docs: [{ title: 'Quick' }] })).toBe(false)
    expect(indexed(nested, { docs: [{ title: 'quick' }] })).toBe(true)
  })

  it('an empty map changes nothing', () => {
    const f = parseFilter({ must: { key: 'title', match: { text: 'brow' } } })
    expect(compileFilter(f, { textIndexes: new Map() })(1, p)).toBe(true)
    expect(compileFilter(f, {})(1, p)).toBe(true)
  })
})

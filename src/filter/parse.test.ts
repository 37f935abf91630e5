import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import type { FilterNode } from './ast.js'
import { parseFilter } from './parse.js'

function errorOf(input: unknown): QuiverError {
  try {
    parseFilter(input)
  } catch (err) {
    if (err instanceof QuiverError) return err
    throw err
  }
  throw new Error('expected parseFilter to throw')
}

/** Drops `path` (a parsed KeyPath) so shapes read simply. */
function shape(node: FilterNode): unknown {
  return JSON.parse(
    JSON.stringify(node, (k, v) => (k === 'path' ? undefined : v instanceof Set ? [...v] : v)),
  ) as unknown
}

describe('parseFilter: shapes', () => {
  it('null, undefined and {} match everything', () => {
    expect(parseFilter(null)).toEqual({ kind: 'true' })
    expect(parseFilter(undefined)).toEqual({ kind: 'true' })
    expect(parseFilter({})).toEqual({ kind: 'true' })
    expect(parseFilter({ must: null, should: null, must_not: null, min_should: null })).toEqual({
      kind: 'true',
    })
  })

  it('accepts a single condition or an array', () => {
    const one = parseFilter({ must: { key: 'a', match: { value: 1 } } })
    const many = parseFilter({ must: [{ key: 'a', match: { value: 1 } }] })
    expect(shape(one)).toEqual({ kind: 'match_value', key: 'a', value: 1 })
    expect(shape(many)).toEqual(shape(one))
  })

  it('combines clauses into and / or / not / min_should', () => {
    const node = parseFilter({
      must: [{ key: 'a', match: { value: 'x' } }, { has_id: [1, 'AB3B7D23-6E5F-4D2A-9C1B-0123456789AB'] }],
      should: [{ key: 'b', range: { gt: 1, lte: null } }, { is_empty: { key: 'c' } }],
      must_not: { is_null: { key: 'd' } },
      min_should: { conditions: [{ key: 'e', match: { any: ['p', 'q'] } }, {}], min_count: 1 },
    })
    expect(shape(node)).toEqual({
      kind: 'and',
      children: [
        {
          kind: 'or',
          children: [
            { kind: 'range', key: 'b', valueType: 'number', gt: 1, gte: null, lt: null, lte: null },
            { kind: 'is_empty', key: 'c' },
          ],
        },
        {
          kind: 'min_should',
          minCount: 1,
          children: [
            { kind: 'match_any', key: 'e', valueType: 'keyword', values: ['p', 'q'] },
            { kind: 'true' },
          ],
        },
        { kind: 'match_value', key: 'a', value: 'x' },
        { kind: 'has_id', ids: [1, 'ab3b7d23-6e5f-4d2a-9c1b-0123456789ab'] },
        { kind: 'not', child: { kind: 'is_null', key: 'd' } },
      ],
    })
  })

  it('drops an empty should at top level but keeps it (matching nothing) inside nested', () => {
    expect(parseFilter({ should: [] })).toEqual({ kind: 'true' })
    const nested = parseFilter({ must: { nested: { key: 'arr', filter: { should: [] } } } })
    expect(shape(nested)).toEqual({ kind: 'nested', key: 'arr', filter: { kind: 'or', children: [] } })
    expect(nested.kind === 'nested' && nested.path.text).toBe('arr[]')
  })

  it('parses match forms, datetime ranges and values_count', () => {
    const f = (match: unknown) => shape(parseFilter({ must: { key: 'k', match } }))
    expect(f({ except: [1, 2] })).toEqual({
      kind: 'match_except',
      key: 'k',
      valueType: 'integer',
      values: [1, 2],
    })
    expect(f({ any: [] })).toEqual({ kind: 'match_any', key: 'k', valueType: 'keyword', values: [] })
    expect(f({ text: 'ab' })).toEqual({ kind: 'match_text', key: 'k', form: 'text', text: 'ab' })
    expect(f({ phrase: 'ab' })).toEqual({ kind: 'match_text', key: 'k', form: 'phrase', text: 'ab' })
    expect(f({ text_any: 'a b' })).toEqual({
      kind: 'match_text_any',
      key: 'k',
      form: 'text_any',
      text: 'a b',
    })
    expect(f({ prefix: 'a' })).toEqual({ kind: 'match_prefix', key: 'k', form: 'prefix', text: 'a' })
    expect(f({ value: true })).toEqual({ kind: 'match_value', key: 'k', value: true })
    expect(
      shape(parseFilter({ must: { key: 'k', range: { gte: '2020-01-01', lt: '2020-01-01T00:00:01Z' } } })),
    ).toEqual({
      kind: 'range',
      key: 'k',
      valueType: 'datetime',
      gt: null,
      gte: 1577836800000000,
      lt: 1577836801000000,
      lte: null,
    })
    expect(shape(parseFilter({ must: { key: 'k', values_count: { gte: 0, lt: 3 } } }))).toEqual({
      kind: 'values_count',
      key: 'k',
      gt: null,
      gte: 0,
      lt: 3,
      lte: null,
    })
  })

  it('follows Qdrant precedence when one field condition holds several checks', () => {
    const s = (c: object) => shape(parseFilter({ must: { key: 'k', ...c } }))
    expect(s({ match: { value: 1 }, range: { gt: 5 } })).toEqual({
      kind: 'or',
      children: [
        { kind: 'match_value', key: 'k', value: 1 },
        { kind: 'range', key: 'k', valueType: 'number', gt: 5, gte: null, lt: null, lte: null },
      ],
    })
    expect(s({ match: { value: 1 }, values_count: { gt: 1 } })).toMatchObject({ kind: 'values_count' })
    expect(s({ match: { value: 1 }, is_empty: false })).toEqual({
      kind: 'field_is_empty',
      key: 'k',
      value: false,
    })
    expect(s({ is_null: true, match: null })).toEqual({ kind: 'field_is_null', key: 'k', value: true })
  })

  it('parses geo conditions', () => {
    const s = (c: object) => shape(parseFilter({ must: { key: 'loc', ...c } }))
    expect(s({ geo_radius: { center: { lat: 52.5, lon: 13.4 }, radius: 1000 } })).toEqual({
      kind: 'geo_radius',
      key: 'loc',
      lat: 52.5,
      lon: 13.4,
      radius: 1000,
    })
    expect(
      s({ geo_bounding_box: { top_left: { lat: 10, lon: 170 }, bottom_right: { lat: -10, lon: -170 } } }),
    ).toEqual({ kind: 'geo_bounding_box', key: 'loc', top: 10, left: 170, bottom: -10, right: -170 })
    const sq = (a: number, b: number) => ({
      points: [
        { lat: a, lon: a },
        { lat: a, lon: b },
        { lat: b, lon: b },
        { lat: b, lon: a },
        { lat: a, lon: a },
      ],
    })
    expect(s({ geo_polygon: { exterior: sq(0, 10), interiors: [sq(4, 6)] } })).toEqual({
      kind: 'geo_polygon',
      key: 'loc',
      exterior: sq(0, 10).points,
      interiors: [sq(4, 6).points],
    })
    expect(s({ geo_polygon: { exterior: sq(0, 10), interiors: null } })).toMatchObject({ interiors: [] })
    // A line box (top = bottom) and radius 0 are valid.
    expect(
      s({ geo_bounding_box: { top_left: { lat: 1, lon: 0 }, bottom_right: { lat: 1, lon: 0 } } }),
    ).toMatchObject({
      kind: 'geo_bounding_box',
    })
    expect(s({ geo_radius: { center: { lat: 0, lon: 0 }, radius: 0 } })).toMatchObject({ radius: 0 })
  })

  it('ORs a geo check with match and range, like Qdrant, below values_count / is_empty / is_null', () => {
    const s = (c: object) => shape(parseFilter({ must: { key: 'k', ...c } }))
    const radius = { geo_radius: { center: { lat: 0, lon: 0 }, radius: 5 } }
    expect(s({ match: { value: 1 }, ...radius })).toMatchObject({
      kind: 'or',
      children: [{ kind: 'match_value' }, { kind: 'geo_radius' }],
    })
    expect(
      s({
        range: { gt: 1 },
        ...radius,
        geo_bounding_box: { top_left: { lat: 1, lon: 0 }, bottom_right: { lat: 0, lon: 1 } },
      }),
    ).toMatchObject({
      kind: 'or',
      children: [{ kind: 'range' }, { kind: 'geo_radius' }, { kind: 'geo_bounding_box' }],
    })
    expect(s({ values_count: { gt: 1 }, ...radius })).toMatchObject({ kind: 'values_count' })
    expect(s({ is_null: true, ...radius })).toMatchObject({ kind: 'field_is_null' })
    expect(s({ geo_radius: null, match: { value: 1 } })).toMatchObject({ kind: 'match_value' })
  })

  it('keeps the key text and a parsed path', () => {
    const node = parseFilter({ must: { key: 'a.b[].c', match: { value: 1 } } })
    expect(node.kind === 'match_value' && node.path.rest.length).toBe(3)
    expect(node.kind === 'match_value' && node.key).toBe('a.b[].c')
  })
})

describe('parseFilter: errors name the JSON path', () => {
  it.each<[string, unknown, string]>([
    ['non-object filter', 5, 'filter: expected a filter object, got number 5'],
    ['array filter', [], 'filter: expected a filter object, got an array'],
    [
      'unknown filter key',
      { mst: [] },
      'filter.mst: unknown key; expected one of must, should, must_not, min_should',
    ],
    [
      'must of wrong type',
      { must: 'x' },
      'filter.must: expected a condition or an array of conditions, got string "x"',
    ],
    [
      'condition not an object',
      { must: [{}, 3] },
      'filter.must[1]: expected a condition object, got number 3',
    ],
    ['unknown condition key', { should: [{ foo: 1 }] }, 'filter.should[0].foo: unknown key; a condition is'],
    [
      'range bound not a number',
      {
        must: [
          { key: 'a', match: { value: 1 } },
          { key: 'b', range: { gt: {} } },
        ],
      },
      'filter.must[1].range.gt: expected a number, got an object',
    ],
    ['range unknown bound', { must: { key: 'b', range: { ge: 1 } } }, 'filter.must.range.ge: unknown key'],
    [
      'datetime mixed with number',
      { must: { key: 'b', range: { gt: '2020-01-01', lt: 5 } } },
      'filter.must.range.lt: expected an RFC 3339 datetime string',
    ],
    [
      'bad datetime',
      { must: { key: 'b', range: { gt: '2020-13-01' } } },
      'filter.must.range.gt: expected an RFC 3339',
    ],
    [
      'empty key',
      { must: { key: '', match: { value: 1 } } },
      'filter.must.key: invalid key path "": empty key',
    ],
    [
      'non-string key',
      { must: { key: 3, match: { value: 1 } } },
      'filter.must.key: expected a string key, got number 3',
    ],
    ['bad key path', { must: { key: 'a..b', match: { value: 1 } } }, 'filter.must.key: invalid key path'],
    [
      'field condition without check',
      { must: [{ key: 'a' }] },
      'filter.must[0]: field condition on "a" needs one of',
    ],
    [
      'field condition with only nulls',
      { must: [{ key: 'a', match: null }] },
      'filter.must[0]: field condition',
    ],
    ['unknown field key', { must: { key: 'a', mach: { value: 1 } } }, 'filter.must.mach: unknown key'],
    [
      'float match value',
      { must: { key: 'a', match: { value: 1.5 } } },
      'filter.must.match.value: expected a string, an integer or a boolean',
    ],
    [
      'null match value',
      { must: { key: 'a', match: { value: null } } },
      'filter.must.match.value: expected a string',
    ],
    [
      'two match forms',
      { must: { key: 'a', match: { value: 1, any: [1] } } },
      'filter.must.match: expected exactly one of',
    ],
    ['empty match', { must: { key: 'a', match: {} } }, 'filter.must.match: expected exactly one of'],
    [
      'unknown match form',
      { must: { key: 'a', match: { values: 1 } } },
      'filter.must.match.values: unknown key',
    ],
    [
      'mixed any',
      { must: { key: 'a', match: { any: ['x', 1] } } },
      'filter.must.match.any[1]: expected a string like the first element',
    ],
    [
      'boolean any',
      { must: { key: 'a', match: { any: [true] } } },
      'filter.must.match.any[0]: expected a string',
    ],
    [
      'float except',
      { must: { key: 'a', match: { except: [1, 2.5] } } },
      'filter.must.match.except[1]: expected an integer',
    ],
    [
      'any not array',
      { must: { key: 'a', match: { any: 'x' } } },
      'filter.must.match.any: expected an array',
    ],
    [
      'text not string',
      { must: { key: 'a', match: { text: 1 } } },
      'filter.must.match.text: expected a string, got number 1',
    ],
    [
      'negative count',
      { must: { key: 'a', values_count: { gt: -1 } } },
      'filter.must.values_count.gt: expected an integer >= 0',
    ],
    [
      'fractional count',
      { must: { key: 'a', values_count: { lt: 1.5 } } },
      'filter.must.values_count.lt: expected an integer >= 0',
    ],
    ['flag not boolean', { must: { key: 'a', is_empty: 'yes' } }, 'filter.must.is_empty: expected a boolean'],
    [
      'is_empty without key',
      { must: { is_empty: {} } },
      'filter.must.is_empty.key: expected a string key, got nothing',
    ],
    ['is_empty string', { must: { is_empty: 'a' } }, 'filter.must.is_empty: expected an object { key }'],
    ['is_null extra key', { must: { is_null: { key: 'a', x: 1 } } }, 'filter.must.is_null.x: unknown key'],
    ['has_id not array', { must: { has_id: 1 } }, 'filter.must.has_id: expected an array of point ids'],
    ['bad point id', { must: { has_id: [1, -2] } }, 'filter.must.has_id[1]: number -2 is not a point id'],
    [
      'has_id plus key',
      { must: { has_id: [1], must: [] } },
      'filter.must.must: unknown key; expected one of has_id',
    ],
    [
      'nested filter missing',
      { must: { nested: { key: 'a' } } },
      'filter.must.nested.filter: expected a filter object',
    ],
    [
      'nested inner error',
      { must: { nested: { key: 'a', filter: { must: [{ key: 'b', range: { lt: 'x' } }] } } } },
      'filter.must.nested.filter.must[0].range.lt: expected an RFC 3339',
    ],
    [
      'min_should conditions',
      { min_should: { conditions: {}, min_count: 1 } },
      'filter.min_should.conditions: expected an array',
    ],
    [
      'min_should zero',
      { min_should: { conditions: [], min_count: 0 } },
      'filter.min_should.min_count: expected an integer >= 1, got number 0',
    ],
    [
      'min_should extra',
      { min_should: { conditions: [], min_count: 1, x: 1 } },
      'filter.min_should.x: unknown key',
    ],
    [
      'geo radius without radius',
      { must: { key: 'a', geo_radius: { center: { lat: 1, lon: 2 } } } },
      'filter.must.geo_radius.radius: expected a number of metres >= 0, got nothing',
    ],
    [
      'geo radius negative',
      { must: { key: 'a', geo_radius: { center: { lat: 1, lon: 2 }, radius: -1 } } },
      'filter.must.geo_radius.radius: expected a number of metres >= 0, got number -1',
    ],
    [
      'geo radius infinite',
      { must: { key: 'a', geo_radius: { center: { lat: 1, lon: 2 }, radius: Number.POSITIVE_INFINITY } } },
      'filter.must.geo_radius.radius: expected a number of metres >= 0, got Infinity',
    ],
    [
      'geo latitude out of range',
      { must: { key: 'a', geo_radius: { center: { lat: 91, lon: 2 }, radius: 1 } } },
      'filter.must.geo_radius.center.lat: expected a number in [-90, 90], got number 91',
    ],
    [
      'geo longitude out of range',
      {
        must: [
          {
            key: 'a',
            geo_bounding_box: { top_left: { lat: 1, lon: -181 }, bottom_right: { lat: 0, lon: 0 } },
          },
        ],
      },
      'filter.must[0].geo_bounding_box.top_left.lon: expected a number in [-180, 180], got number -181',
    ],
    [
      'geo point as string',
      { must: { key: 'a', geo_radius: { center: { lat: '1', lon: 2 }, radius: 1 } } },
      'filter.must.geo_radius.center.lat: expected a number in [-90, 90], got string "1"',
    ],
    [
      'geo point extra key',
      { must: { key: 'a', geo_radius: { center: { lat: 1, lon: 2, alt: 3 }, radius: 1 } } },
      'filter.must.geo_radius.center.alt: unknown key',
    ],
    [
      'geo point missing',
      { must: { key: 'a', geo_radius: { radius: 1 } } },
      'filter.must.geo_radius.center: expected a geo point { lat, lon }, got nothing',
    ],
    [
      'geo radius unknown key',
      { must: { key: 'a', geo_radius: { center: { lat: 1, lon: 2 }, radius: 1, unit: 'km' } } },
      'filter.must.geo_radius.unit: unknown key',
    ],
    [
      'geo box upside down',
      {
        must: {
          key: 'a',
          geo_bounding_box: { top_left: { lat: 0, lon: 0 }, bottom_right: { lat: 1, lon: 1 } },
        },
      },
      'filter.must.geo_bounding_box.top_left.lat: the top edge (0) is below the bottom edge',
    ],
    [
      'geo box missing corner',
      { must: { key: 'a', geo_bounding_box: { top_left: { lat: 1, lon: 0 } } } },
      'filter.must.geo_bounding_box.bottom_right: expected a geo point',
    ],
    [
      'geo polygon too short',
      {
        must: {
          key: 'a',
          geo_polygon: {
            exterior: {
              points: [
                { lat: 0, lon: 0 },
                { lat: 1, lon: 0 },
                { lat: 0, lon: 0 },
              ],
            },
          },
        },
      },
      'filter.must.geo_polygon.exterior.points: a polygon ring needs at least 4 points, got 3',
    ],
    [
      'geo polygon open',
      {
        must: {
          key: 'a',
          geo_polygon: {
            exterior: {
              points: [
                { lat: 0, lon: 0 },
                { lat: 1, lon: 0 },
                { lat: 1, lon: 1 },
                { lat: 0, lon: 1 },
              ],
            },
          },
        },
      },
      'filter.must.geo_polygon.exterior.points: a polygon ring must be closed',
    ],
    [
      'geo polygon bad hole',
      {
        must: {
          key: 'a',
          geo_polygon: {
            exterior: {
              points: [
                { lat: 0, lon: 0 },
                { lat: 1, lon: 0 },
                { lat: 1, lon: 1 },
                { lat: 0, lon: 0 },
              ],
            },
            interiors: [
              {
                points: [
                  { lat: 0, lon: 0 },
                  { lat: 0, lon: 200 },
                ],
              },
            ],
          },
        },
      },
      'filter.must.geo_polygon.interiors[0].points[1].lon: expected a number in [-180, 180]',
    ],
    [
      'geo polygon interiors not an array',
      {
        must: {
          key: 'a',
          geo_polygon: {
            exterior: {
              points: [
                { lat: 0, lon: 0 },
                { lat: 1, lon: 0 },
                { lat: 1, lon: 1 },
                { lat: 0, lon: 0 },
              ],
            },
            interiors: {},
          },
        },
      },
      'filter.must.geo_polygon.interiors: expected an array of line strings',
    ],
    [
      'geo polygon without points',
      { must: { key: 'a', geo_polygon: { exterior: {} } } },
      'filter.must.geo_polygon.exterior.points: expected an array of geo points, got nothing',
    ],
    [
      'geo condition without key',
      { must: { geo_radius: { center: { lat: 1, lon: 2 }, radius: 1 } } },
      'filter.must.geo_radius: unknown key; a condition is a field condition { key, match | range | geo_radius',
    ],
    ['has_vector not a name', { must: { has_vector: 3 } }, 'filter.must.has_vector: expected a vector name'],
    [
      'deep path',
      { should: [{ must_not: [{ should: { key: 'a', range: { gt: null, lt: true } } }] }] },
      'filter.should[0].must_not[0].should.range.lt',
    ],
  ])('%s', (_name, input, message) => {
    const err = errorOf(input)
    expect(err.code).toBe('INVALID_FILTER')
    expect(err.kind).toBe('invalid_argument')
    expect(err.message.startsWith(message)).toBe(true)
  })

  it('uses the caller-given root', () => {
    expect(() => parseFilter({ must: 1 }, 'body.filter')).toThrow(/^body\.filter\.must: /)
  })
})

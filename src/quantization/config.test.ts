import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { parseQuantizationConfig, parseQuantizationSearchParams } from './config.js'

function errorOf(fn: () => unknown): QuiverError {
  try {
    fn()
  } catch (err) {
    if (err instanceof QuiverError) return err
    throw err
  }
  throw new Error('expected a QuiverError')
}

describe('parseQuantizationConfig', () => {
  it('accepts every shape and keeps only the given fields', () => {
    expect(parseQuantizationConfig({ scalar: { type: 'int8' } }, 'q')).toEqual({ scalar: { type: 'int8' } })
    expect(
      parseQuantizationConfig({ scalar: { type: 'int8', quantile: 0.99, always_ram: true } }, 'q'),
    ).toEqual({ scalar: { type: 'int8', quantile: 0.99, always_ram: true } })
    expect(parseQuantizationConfig({ scalar: { type: 'int8', quantile: 1 } }, 'q')).toEqual({
      scalar: { type: 'int8', quantile: 1 },
    })
    expect(parseQuantizationConfig({ binary: {} }, 'q')).toEqual({ binary: {} })
    expect(parseQuantizationConfig({ binary: { always_ram: false, encoding: 'one_bit' } }, 'q')).toEqual({
      binary: { always_ram: false, encoding: 'one_bit' },
    })
    for (const compression of ['x4', 'x8', 'x16', 'x32', 'x64']) {
      expect(parseQuantizationConfig({ product: { compression } }, 'q')).toEqual({ product: { compression } })
    }
  })

  it('drops null optional fields (as Qdrant sends them)', () => {
    expect(
      parseQuantizationConfig({ scalar: { type: 'int8', quantile: null, always_ram: null } }, 'q'),
    ).toEqual({ scalar: { type: 'int8' } })
    expect(parseQuantizationConfig({ binary: { encoding: null } }, 'q')).toEqual({ binary: {} })
  })

  it('returns a copy: later changes to the input do not leak in', () => {
    const input = { scalar: { type: 'int8', quantile: 0.9 } }
    const out = parseQuantizationConfig(input, 'q')
    input.scalar.quantile = 0.6
    expect(out).toEqual({ scalar: { type: 'int8', quantile: 0.9 } })
  })

  it.each([
    [null, 'quantization_config', /expected \{ "scalar"/],
    [[], 'quantization_config', /an array/],
    ['scalar', 'quantization_config', /string "scalar"/],
    [{}, 'quantization_config', /exactly one of/],
    [{ scalar: { type: 'int8' }, binary: {} }, 'quantization_config', /got 2 keys/],
    [{ turbo: {} }, 'quantization_config.turbo', /unknown field/],
    [{ scalar: true }, 'quantization_config.scalar', /expected an object/],
    [{ scalar: {} }, 'quantization_config.scalar.type', /expected "int8"/],
    [{ scalar: { type: 'int4' } }, 'quantization_config.scalar.type', /"int4"/],
    [{ scalar: { type: 'int8', quantile: 0.49 } }, 'quantization_config.scalar.quantile', /\[0\.5, 1\]/],
    [{ scalar: { type: 'int8', quantile: 1.01 } }, 'quantization_config.scalar.quantile', /1\.01/],
    [{ scalar: { type: 'int8', quantile: '0.9' } }, 'quantization_config.scalar.quantile', /string/],
    [{ scalar: { type: 'int8', bits: 8 } }, 'quantization_config.scalar.bits', /unknown field/],
    [{ scalar: { type: 'int8', always_ram: 1 } }, 'quantization_config.scalar.always_ram', /true or false/],
    [{ binary: { encoding: 'two_bits' } }, 'quantization_config.binary.encoding', /one_bit/],
    [{ binary: { query_encoding: 'scalar8bits' } }, 'quantization_config.binary.query_encoding', /unknown/],
    [{ product: {} }, 'quantization_config.product.compression', /x4, x8, x16, x32, x64/],
    [{ product: { compression: 'x3' } }, 'quantization_config.product.compression', /"x3"/],
    [{ product: { compression: 'x8', bits: 4 } }, 'quantization_config.product.bits', /unknown field/],
  ])('refuses %j with INVALID_CONFIG at %s', (value, path, message) => {
    const err = errorOf(() => parseQuantizationConfig(value, 'quantization_config'))
    expect(err.code).toBe('INVALID_CONFIG')
    expect(err.details).toEqual({ path })
    expect(err.message.startsWith(`${path}: `)).toBe(true)
    expect(err.message).toMatch(message)
  })
})

describe('parseQuantizationSearchParams', () => {
  it('treats absent and null as no parameters', () => {
    expect(parseQuantizationSearchParams(undefined, 'p')).toBeUndefined()
    expect(parseQuantizationSearchParams(null, 'p')).toBeUndefined()
  })

  it('keeps the given fields and drops nulls', () => {
    expect(parseQuantizationSearchParams({}, 'p')).toEqual({})
    expect(parseQuantizationSearchParams({ ignore: true, rescore: false, oversampling: 2.5 }, 'p')).toEqual({
      ignore: true,
      rescore: false,
      oversampling: 2.5,
    })
    expect(parseQuantizationSearchParams({ ignore: null, rescore: null, oversampling: null }, 'p')).toEqual(
      {},
    )
    expect(parseQuantizationSearchParams({ oversampling: 1 }, 'p')).toEqual({ oversampling: 1 })
  })

  it.each([
    [5, 'params.quantization', /number 5/],
    [[], 'params.quantization', /an array/],
    [{ ignore: 'yes' }, 'params.quantization.ignore', /true or false/],
    [{ rescore: 1 }, 'params.quantization.rescore', /true or false/],
    [{ oversampling: 0.5 }, 'params.quantization.oversampling', />= 1/],
    [{ oversampling: '2' }, 'params.quantization.oversampling', /string/],
    [{ oversampling: Number.POSITIVE_INFINITY }, 'params.quantization.oversampling', />= 1/],
    [{ rescoring: true }, 'params.quantization.rescoring', /unknown field/],
  ])('refuses %j with INVALID_ARGUMENT at %s', (value, path, message) => {
    const err = errorOf(() => parseQuantizationSearchParams(value, 'params.quantization'))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.details).toEqual({ path })
    expect(err.message).toMatch(message)
  })
})

// Parsing of Qdrant's quantization JSON: the collection's `quantization_config` and a search's
// `params.quantization`. Errors name the JSON path of the bad value; nothing is defaulted here.
import type { ErrorCode } from '../errors.js'
import { join as at, describe, fail, isPlainObject as isObject, onlyKeys, optBool } from '../json-input.js'
import type { QuantizationConfig, QuantizationSearchParams } from '../types.js'

const COMPRESSIONS = ['x4', 'x8', 'x16', 'x32', 'x64'] as const
type Compression = (typeof COMPRESSIONS)[number]
const KINDS = ['scalar', 'binary', 'product'] as const

/**
 * Qdrant's `quantization_config` -> a normalised copy (only known keys, nulls dropped):
 * `{ scalar: { type: 'int8', quantile?: [0.5, 1], always_ram? } }`,
 * `{ binary: { always_ram?, encoding?: 'one_bit' } }` or
 * `{ product: { compression: 'x4' | 'x8' | 'x16' | 'x32' | 'x64', always_ram? } }` — exactly one key.
 * Throws INVALID_CONFIG naming the JSON path (under `path`) of an unknown key or a bad value.
 * @example parseQuantizationConfig({ scalar: { type: 'int8', quantile: 0.99 } }, 'quantization_config')
 */
export function parseQuantizationConfig(value: unknown, path: string): QuantizationConfig {
  const code: ErrorCode = 'INVALID_CONFIG'
  if (!isObject(value))
    fail(
      path,
      `expected { "scalar": {...} }, { "binary": {...} } or { "product": {...} }, got ${describe(value)}`,
      code,
    )
  const keys = Object.keys(value)
  onlyKeys(value, KINDS, path, code)
  if (keys.length !== 1)
    fail(path, `expected exactly one of "scalar", "binary", "product", got ${keys.length} keys`, code)
  const kind = keys[0] as (typeof KINDS)[number]
  const p = at(path, kind)
  const body = value[kind]
  if (!isObject(body)) fail(p, `expected an object, got ${describe(body)}`, code)
  const alwaysRam = optBool(body, 'always_ram', p, code)
  switch (kind) {
    case 'scalar': {
      onlyKeys(body, ['type', 'quantile', 'always_ram'], p, code)
      if (body.type !== 'int8') fail(at(p, 'type'), `expected "int8", got ${describe(body.type)}`, code)
      const out: { type: 'int8'; quantile?: number; always_ram?: boolean } = { type: 'int8' }
      const q = body.quantile
      if (q !== undefined && q !== null) {
        if (typeof q !== 'number' || !(q >= 0.5 && q <= 1))
          fail(at(p, 'quantile'), `expected a number in [0.5, 1], got ${describe(q)}`, code)
        out.quantile = q
      }
      if (alwaysRam !== undefined) out.always_ram = alwaysRam
      return { scalar: out }
    }
    case 'binary': {
      onlyKeys(body, ['always_ram', 'encoding'], p, code)
      const out: { always_ram?: boolean; encoding?: 'one_bit' } = {}
      const enc = body.encoding
      if (enc !== undefined && enc !== null) {
        if (enc !== 'one_bit')
          fail(
            at(p, 'encoding'),
            `only "one_bit" is supported (Qdrant's two_bits / one_and_half_bits are not), got ${describe(enc)}`,
            code,
          )
        out.encoding = enc
      }
      if (alwaysRam !== undefined) out.always_ram = alwaysRam
      return { binary: out }
    }
    case 'product': {
      onlyKeys(body, ['compression', 'always_ram'], p, code)
      const c = body.compression
      if (typeof c !== 'string' || !(COMPRESSIONS as readonly string[]).includes(c))
        fail(at(p, 'compression'), `expected one of ${COMPRESSIONS.join(', ')}, got ${describe(c)}`, code)
      const out: { compression: Compression; always_ram?: boolean } = { compression: c as Compression }
      if (alwaysRam !== undefined) out.always_ram = alwaysRam
      return { product: out }
    }
  }
}

/**
 * Qdrant's search `params.quantization` -> a normalised copy (nulls dropped):
 * `{ ignore?: boolean, rescore?: boolean, oversampling?: number >= 1 }`. Absent or null -> undefined.
 * Throws INVALID_ARGUMENT naming the JSON path (under `path`) of an unknown key or a bad value.
 * @example parseQuantizationSearchParams({ rescore: true, oversampling: 2 }, 'params.quantization')
 */
export function parseQuantizationSearchParams(
  value: unknown,
  path: string,
): QuantizationSearchParams | undefined {
  const code: ErrorCode = 'INVALID_ARGUMENT'
  if (value === undefined || value === null) return undefined
  if (!isObject(value))
    fail(path, `expected { "ignore"?, "rescore"?, "oversampling"? }, got ${describe(value)}`, code)
  onlyKeys(value, ['ignore', 'rescore', 'oversampling'], path, code)
  const out: QuantizationSearchParams = {}
  const ignore = optBool(value, 'ignore', path, code)
  if (ignore !== undefined) out.ignore = ignore
  const rescore = optBool(value, 'rescore', path, code)
  if (rescore !== undefined) out.rescore = rescore
  const o = value.oversampling
  if (o !== undefined && o !== null) {
    if (typeof o !== 'number' || !Number.isFinite(o) || o < 1)
      fail(at(path, 'oversampling'), `expected a number >= 1, got ${describe(o)}`, code)
    out.oversampling = o
  }
  return out
}

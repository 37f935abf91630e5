// Byte formats shared by the payload indexes (a msgpack document per index, typed arrays carried as
// msgpack `bin` in little-endian host byte order) and the errors they throw.
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../../errors.js'
import type { FieldNode } from '../ast.js'

/** Version of every index document written by `encodeIndex`; restore refuses other versions. */
export const INDEX_FORMAT = 1

/** A `CORRUPTED` error for an index of type `type` whose bytes fail a format check (`why`). */
export function corrupted(type: string, why: string, cause?: unknown): QuiverError {
  return new QuiverError('CORRUPTED', `${type} payload index: ${why}`, { indexType: type }, cause)
}

/** `doc` plus `{ format, type }` as msgpack bytes. */
export function encodeIndex(type: string, doc: Record<string, unknown>): Uint8Array {
  return encode({ format: INDEX_FORMAT, type, ...doc })
}

/**
 * Decodes bytes written by {@link encodeIndex} for an index of type `type`.
 * Throws `CORRUPTED` when they are not msgpack, not a map, or carry another format or type.
 */
export function decodeIndex(type: string, bytes: Uint8Array): Record<string, unknown> {
  let doc: unknown
  try {
    doc = decode(bytes)
  } catch (err) {
    throw corrupted(type, 'bytes are not a msgpack document', err)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || doc instanceof Uint8Array)
    throw corrupted(type, 'expected a map')
  const obj = doc as Record<string, unknown>
  if (obj['format'] !== INDEX_FORMAT) throw corrupted(type, `unknown format ${String(obj['format'])}`)
  if (obj['type'] !== type) throw corrupted(type, `bytes hold a ${String(obj['type'])} index`)
  return obj
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: Uint32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

function binField(type: string, doc: Record<string, unknown>, name: string, unit: number): ArrayBuffer {
  const v = doc[name]
  if (!(v instanceof Uint8Array)) throw corrupted(type, `${name}: expected bytes`)
  if (v.byteLength % unit !== 0)
    throw corrupted(type, `${name}: ${v.byteLength} bytes is not a multiple of ${unit}`)
  return v.slice().buffer
}

/** Field `name` of `doc` as a Uint32Array (copied, so aligned); CORRUPTED when it is not bytes of u32s. */
export function u32Field(type: string, doc: Record<string, unknown>, name: string): Uint32Array<ArrayBuffer> {
  return new Uint32Array(binField(type, doc, name, 4))
}

/** Field `name` of `doc` as a Float64Array (copied); CORRUPTED when it is not bytes of f64s. */
export function f64Field(
  type: string,
  doc: Record<string, unknown>,
  name: string,
): Float64Array<ArrayBuffer> {
  return new Float64Array(binField(type, doc, name, 8))
}

/** Field `name` of `doc`, which must be an array; CORRUPTED otherwise. */
export function arrayField(type: string, doc: Record<string, unknown>, name: string): unknown[] {
  const v = doc[name]
  if (!Array.isArray(v)) throw corrupted(type, `${name}: expected an array`)
  return v
}

/** `a` grown (copied) to hold at least `need` elements, at least doubling; `a` itself when it fits. */
export function grow<T extends Uint8Array | Uint32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 16))
  b.set(a)
  return b
}

/** The INTERNAL error for a filter/estimate call on a node that `supports` refused. */
export function unsupported(type: string, node: FieldNode): QuiverError {
  return new QuiverError('INTERNAL', `a ${type} payload index cannot answer a ${node.kind} condition`)
}

/**
 * Runs a restore: QuiverErrors pass through; anything else thrown while rebuilding from well-formed
 * but wrong bytes (e.g. an allocation for an absurd offset) becomes `CORRUPTED`.
 */
export function restoring<T>(type: string, build: () => T): T {
  try {
    return build()
  } catch (err) {
    if (err instanceof QuiverError) throw err
    throw corrupted(type, 'bytes do not describe a valid index', err)
  }
}

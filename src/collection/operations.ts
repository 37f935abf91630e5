// Update operations as they are logged in the WAL (msgpack) and applied to segments. The same
// decode + apply path serves live writes and crash recovery, so replay rebuilds exactly the
// state that was acknowledged.
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../errors.js'
import { deleteAtPath, parseFilter, parseKeyPath, setAtPath } from '../filter/index.js'
import { parseFieldSchema } from '../filter/payload-index/index.js'
import type { PointVectors, Segment } from '../segment/segment.js'
import type { SparseVector } from '../sparse/sparse-index.js'
import type { Payload, PayloadSchemaParams, PointId } from '../types.js'
import type { ConfigJson } from './persistence.js'

/** Selector as logged: ids, or the filter's JSON (re-parsed at apply time). */
export type LoggedSelector = { ids: PointId[] } | { filter: unknown }

/**
 * A point's vectors as logged: dense float32 bytes by name (`d`, a multivector's rows concatenated)
 * and sparse vectors as [name, indices u32 bytes, values f32 bytes] (`s`). Format 1 logged only the
 * unnamed vector, as `vector`.
 */
export interface LoggedVectors {
  d: [string, Uint8Array][]
  s: [string, Uint8Array, Uint8Array][]
}

export interface LoggedPoint extends LoggedVectors {
  id: PointId
  payload: Payload | null
}

/** A format-1 WAL point (read on replay of an old WAL, never written). */
interface LoggedPointV1 {
  id: PointId
  vector: Uint8Array
  payload: Payload | null
}

export type Operation =
  | { op: 'upsert'; points: LoggedPoint[] }
  /** Replaces the given vectors of existing points; their other vectors and payload stay. */
  | { op: 'update_vectors'; points: ({ id: PointId } & LoggedVectors)[] }
  /** Removes the named vectors from the selected points. */
  | { op: 'delete_vectors'; selector: LoggedSelector; names: string[] }
  /** Several operations applied in order under one WAL seq (`points/batch`). */
  | { op: 'batch'; ops: Operation[] }
  | { op: 'delete'; selector: LoggedSelector }
  | { op: 'set_payload'; selector: LoggedSelector; payload: Payload; key: string | null }
  | { op: 'overwrite_payload'; selector: LoggedSelector; payload: Payload }
  | { op: 'delete_payload'; selector: LoggedSelector; keys: string[] }
  | { op: 'clear_payload'; selector: LoggedSelector }
  | { op: 'create_index'; field: string; params: PayloadSchemaParams }
  | { op: 'delete_index'; field: string }
  /** The collection's whole new config (`updateConfig`), as config.json's body. */
  | { op: 'update_collection'; config: ConfigJson }

export function encodeOperation(op: Operation): Uint8Array {
  return encode(op)
}

/** Throws CORRUPTED if a WAL body is not an operation (the CRC passed, so this is a format bug). */
export function decodeOperation(body: Uint8Array): Operation {
  let op: unknown
  try {
    op = decode(body)
  } catch (err) {
    throw new QuiverError('CORRUPTED', 'WAL record does not decode as an operation', undefined, err)
  }
  if (typeof op !== 'object' || op === null || typeof (op as { op?: unknown }).op !== 'string') {
    throw new QuiverError('CORRUPTED', 'WAL record is not an operation')
  }
  return op as Operation
}

/** Float32Array (or Uint32Array) -> its little-endian bytes (a copy-free view). */
export function vectorBytes(v: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
}

function aligned(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset % 4 === 0) return bytes
  const copy = new Uint8Array(bytes.byteLength) // also when `bytes` is a Buffer, whose slice() is a view
  copy.set(bytes)
  return copy
}

/** Checked vectors -> their logged form. */
export function logVectors(v: PointVectors): LoggedVectors {
  return {
    d: [...v.dense].map(([name, x]) => [name, vectorBytes(x)]),
    s: [...v.sparse].map(([name, x]) => [name, vectorBytes(x.indices), vectorBytes(x.values)]),
  }
}

/** Logged vectors (format 2, or format 1's single `vector`) -> what a segment stores. */
export function loggedVectors(p: LoggedVectors | LoggedPointV1): PointVectors {
  if ('vector' in p && p.vector !== undefined) {
    return { dense: new Map([['', bytesToVector(p.vector)]]), sparse: new Map() }
  }
  const q = p as LoggedVectors
  const dense = new Map<string, Float32Array>()
  for (const [name, bytes] of q.d ?? []) dense.set(name, bytesToVector(bytes))
  const sparse = new Map<string, SparseVector>()
  for (const [name, ib, vb] of q.s ?? []) {
    const i = aligned(ib)
    const v = aligned(vb)
    sparse.set(name, {
      indices: new Uint32Array(i.buffer, i.byteOffset, i.byteLength / 4),
      values: new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4),
    })
  }
  return { dense, sparse }
}

/** Logged vector bytes -> Float32Array (a view when aligned, else a copy). */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  const copy = new Uint8Array(bytes.byteLength) // also when `bytes` is a Buffer, whose slice() is a view
  copy.set(bytes)
  return new Float32Array(copy.buffer)
}

/** The live ids of `segment` a logged selector names (ids that vanished are skipped). */
export function selectIds(segment: Segment, selector: LoggedSelector): PointId[] {
  if ('ids' in selector) return selector.ids.filter((id) => segment.has(id))
  const node = parseFilter(selector.filter)
  return segment.matchingIds(node.kind === 'true' ? null : node)
}

function clonePayload(p: Payload): Payload {
  return structuredClone(p)
}

/**
 * Applies one decoded operation at WAL sequence `seq`. Ids that no longer exist are skipped, so
 * applying is total: it never throws on valid input and replays identically.
 */
export function applyOperation(segment: Segment, op: Operation, seq: number): void {
  switch (op.op) {
    case 'upsert':
      for (const p of op.points) segment.upsert(p.id, loggedVectors(p), p.payload ?? undefined, seq)
      return
    case 'update_vectors':
    case 'delete_vectors':
    case 'batch':
    case 'update_collection':
      // whole-point rewrites and config changes: SegmentHolder.apply turns them into upserts
      throw new QuiverError('INTERNAL', `${op.op} is applied by the segment holder`)
    case 'delete':
      for (const id of selectIds(segment, op.selector)) segment.delete(id)
      return
    case 'set_payload': {
      const path = op.key === null ? undefined : parseKeyPath(op.key)
      for (const id of selectIds(segment, op.selector)) {
        const next = clonePayload(segment.payload(id) ?? {})
        setAtPath(next, clonePayload(op.payload), path)
        segment.replacePayload(id, next, seq)
      }
      return
    }
    case 'overwrite_payload':
      for (const id of selectIds(segment, op.selector))
        segment.replacePayload(id, clonePayload(op.payload), seq)
      return
    case 'delete_payload': {
      const paths = op.keys.map((k) => parseKeyPath(k))
      for (const id of selectIds(segment, op.selector)) {
        const current = segment.payload(id)
        if (current === undefined) continue
        const next = clonePayload(current)
        for (const path of paths) deleteAtPath(next, path)
        segment.replacePayload(id, next, seq)
      }
      return
    }
    case 'clear_payload':
      for (const id of selectIds(segment, op.selector)) segment.replacePayload(id, undefined, seq)
      return
    case 'create_index':
      segment.createFieldIndex(parseFieldSchema(op.field, op.params))
      return
    case 'delete_index':
      segment.deleteFieldIndex(op.field)
      return
    default:
      throw new QuiverError('CORRUPTED', `unknown operation ${JSON.stringify((op as { op: unknown }).op)}`)
  }
}

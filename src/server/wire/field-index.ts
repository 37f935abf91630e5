// Wire format of payload indexes: `PUT .../index` bodies in, `PayloadIndexInfo` out.
import { describe, fail, isAbsent } from '../../json-input.js'
import type {
  PayloadFieldSchema,
  PayloadIndexInfo,
  PayloadSchemaParams,
  PayloadSchemaType,
} from '../../types.js'
import { bodyObject } from './common.js'

/** Qdrant's `PayloadIndexInfo`: the index type, its parameters with defaults filled, indexed points. */
export interface WirePayloadIndexInfo {
  data_type: PayloadSchemaType
  params: PayloadSchemaParams
  points: number
}

export function toWirePayloadIndexInfo(index: PayloadIndexInfo): WirePayloadIndexInfo {
  return { data_type: index.dataType, params: index.params, points: index.points }
}

/**
 * `PUT /collections/{name}/index`: `{ field_name, field_schema }`. Only the envelope is checked here;
 * the engine validates `field_schema` (a type name or `{ type, ...params }`) and the key path.
 * Qdrant infers the type when `field_schema` is null or absent; Quiver requires it (INVALID_ARGUMENT).
 */
export function parseCreateFieldIndex(body: unknown): { field: string; schema: PayloadFieldSchema } {
  const o = bodyObject(body)
  const field = o.field_name
  if (typeof field !== 'string' || field.length === 0)
    fail('field_name', `expected a non-empty string (the payload key to index), got ${describe(field)}`)
  if (isAbsent(o.field_schema))
    fail(
      'field_schema',
      'required: Quiver does not infer the index type; send a type such as "keyword" or { "type": "text", ... }',
    )
  return { field, schema: o.field_schema as PayloadFieldSchema }
}

// Point ids as users see them: unsigned integers or UUID strings (Qdrant's rule). Validation,
// normalisation and the total order used by scroll. Imports only errors.ts and types.ts.
import { QuiverError } from './errors.js'
import type { PointId } from './types.js'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const UUID_SIMPLE_RE = /^[0-9a-f]{32}$/

/**
 * Validates and normalises a point id: a safe unsigned integer stays a number; a UUID string
 * (hyphenated or 32 hex digits, any case) becomes lower-case hyphenated.
 * Throws `INVALID_POINT_ID` for anything else (negative, fractional, > 2^53-1, other strings).
 */
export function parsePointId(input: unknown, where = 'id'): PointId {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input
  } else if (typeof input === 'string') {
    const s = input.toLowerCase()
    if (UUID_RE.test(s)) return s
    if (UUID_SIMPLE_RE.test(s))
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }
  throw new QuiverError(
    'INVALID_POINT_ID',
    `${where}: ${JSON.stringify(input) ?? String(input)} is not a valid point id: expected an unsigned integer or a UUID string`,
    { id: typeof input === 'object' ? null : String(input) },
  )
}

/** Total order of ids: integers ascending, then UUIDs in lexicographic order. */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

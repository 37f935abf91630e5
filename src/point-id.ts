// Point ids as users see them: unsigned integers or UUID strings (Qdrant's rule). Validation,
// normalisation and the total order used by scroll. Imports only errors.ts and types.ts.
import { QuiverError, typeName } from './errors.js'
import type { PointId } from './types.js'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const UUID_SIMPLE_RE = /^[0-9a-f]{32}$/
const EXPECTED = 'expected an unsigned integer up to 2^53 - 1 or a UUID string'

/**
 * Validates and normalises a point id: a safe unsigned integer stays a number; a UUID string
 * (hyphenated or 32 hex digits, any case) becomes lower-case hyphenated.
 * Throws `INVALID_POINT_ID` for anything else (negative, fractional, > 2^53-1, other strings, other
 * types), naming `where`; `details.id` is the value as a string. `literal`, when given, is the text
 * the number was parsed from, which the message quotes instead of the number (`JSON.parse` rounds
 * 18446744073709551616 to 18446744073709552000; the server restores the client's spelling in its
 * answer: `src/server/json-literals.ts`).
 * @example parsePointId('3FA85F6457174562B3FC2C963F66AFA6') // '3fa85f64-5717-4562-b3fc-2c963f66afa6'
 */
export function parsePointId(input: unknown, where = 'id', literal?: string): PointId {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input
  } else if (typeof input === 'string') {
    const s = input.toLowerCase()
    if (UUID_RE.test(s)) return s
    if (UUID_SIMPLE_RE.test(s))
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }
  if (typeof input === 'number' || typeof input === 'string') {
    const shown = typeof input === 'string' ? JSON.stringify(input) : (literal ?? String(input))
    throw new QuiverError('INVALID_POINT_ID', `${where}: ${shown} is not a valid point id: ${EXPECTED}`, {
      id: typeof input === 'string' ? input : shown,
    })
  }
  if (typeof input === 'bigint') {
    throw new QuiverError('INVALID_POINT_ID', `${where}: ${input}n is a bigint: ${EXPECTED} (a number)`, {
      id: String(input),
    })
  }
  throw new QuiverError('INVALID_POINT_ID', `${where} is ${typeName(input)}: ${EXPECTED}`, { id: null })
}

/** Total order of ids: integers ascending, then UUIDs in lexicographic order. */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

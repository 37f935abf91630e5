// The values a field index sees at its key path: what conditions test (Qdrant's value_get, then the
// elements of an array value one level deep, as evaluate.ts's `elementwise` checks them).
import type { JsonValue, Payload } from '../../types.js'
import { type KeyPath, someValue } from '../key-path.js'

/**
 * Calls `fn` with each value at `path` in `payload`, and with each element instead of an array value.
 * Elements that are arrays themselves are passed as they are (no condition matches them).
 * @example forEachValue({ a: [1, [2]] }, parseKeyPath('a'), fn) // fn(1), fn([2])
 */
export function forEachValue(payload: Payload, path: KeyPath, fn: (v: JsonValue) => void): void {
  someValue(payload, path, (v) => {
    if (Array.isArray(v)) for (const x of v) fn(x)
    else fn(v)
    return false
  })
}

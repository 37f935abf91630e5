// Integer literals that JSON.parse rounds (beyond 2^53 - 1): finds them in a body's text and records
// each one's text against the object or array holding it (src/point-id.ts), so that an id error can
// quote 18446744073709551616 as sent rather than the double 18446744073709552000.
import { recordIntegerLiteral } from '../point-id.js'

/**
 * A value whose integer part has 16 or more digits (after `:`, `,` or `[`; fraction digits follow a
 * `.`): the test that gates the scan. About 1 ns per byte, a fifth of `JSON.parse`'s time on a body
 * of float vectors, where a test for any 16-digit run would always pass.
 */
const LONG_INTEGER_RE = /[:,[]\s*-?\d{16}/
const NUMBER_RE = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y

interface Frame {
  /** The parsed object or array this container became (by key from its parent). */
  holder: unknown
  array: boolean
  /** The current key (objects) or index (arrays). */
  key: string | number
}

/** End (exclusive) of the JSON string starting at `text[start] === '"'`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === 0x22) return i + 1
    i += c === 0x5c ? 2 : 1
  }
}

function child(frame: Frame | undefined, root: unknown): unknown {
  if (frame === undefined) return root
  const h = frame.holder
  return typeof h === 'object' && h !== null ? (h as Record<string, unknown>)[frame.key] : undefined
}

/**
 * Records the integer literals of `text` that `value` (its `JSON.parse` result) holds as unsafe
 * integers. Costs one regular-expression test unless the text has a 16+ digit integer; then one
 * pass over it. `text` must be valid JSON. A duplicate key's earlier literal may be recorded for the
 * later value; `integerLiteral` only returns a literal that still spells the value.
 */
export function recordUnsafeIntegerLiterals(text: string, value: unknown): void {
  if (!LONG_INTEGER_RE.test(text)) return
  const stack: Frame[] = []
  let top: Frame | undefined
  let expectKey = false
  for (let i = 0; i < text.length; ) {
    const c = text[i]!
    if (c === '"') {
      const end = stringEnd(text, i)
      if (top !== undefined && !top.array && expectKey) {
        const raw = text.slice(i, end)
        top.key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1)
        expectKey = false
      }
      i = end
    } else if (c === '{' || c === '[') {
      top = { holder: child(top, value), array: c === '[', key: 0 }
      stack.push(top)
      expectKey = c === '{'
      i++
    } else if (c === '}' || c === ']') {
      stack.pop()
      top = stack[stack.length - 1]
      i++
    } else if (c === ',') {
      if (top?.array) top.key = (top.key as number) + 1
      else expectKey = true
      i++
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER_RE.lastIndex = i
      const m = NUMBER_RE.exec(text)!
      const literal = m[0]
      if (
        m[1] === undefined &&
        m[2] === undefined &&
        !Number.isSafeInteger(Number(literal)) &&
        typeof top?.holder === 'object' &&
        top.holder !== null
      ) {
        recordIntegerLiteral(top.holder, top.key, literal)
      }
      i += literal.length
    } else i++ // whitespace, ':', and the letters of true, false, null
  }
}

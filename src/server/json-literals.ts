// Integers beyond 2^53 - 1 in a request body: `JSON.parse` rounds 18446744073709551616 to the double
// 18446744073709552000, so an engine error about such a value would quote a number the client never
// sent. The body parser keeps the text of bodies that hold such literals; on the error path only,
// `withClientLiterals` puts the client's spelling back into the message.

/**
 * A value whose integer part has 16 or more digits (after `:`, `,` or `[`): the cheap test (about
 * 1 ns per byte) that decides whether a body's text is kept for error messages.
 */
const LONG_INTEGER_RE = /[:,[]\s*-?\d{16}/

/** An integer literal of 16+ digits: not part of a longer number, a fraction or an exponent. */
const BODY_INTEGER_RE = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g

/** A number of 16+ digits printed in a message. */
const MESSAGE_INTEGER_RE = /(?<![\d.])-?\d{16,}(?![\d.])/g

/** Whether `text` (a JSON body) may hold an integer that `JSON.parse` rounds. */
export function mayHoldUnsafeIntegers(text: string): boolean {
  return LONG_INTEGER_RE.test(text)
}

/**
 * `message` with every integer it prints beyond 2^53 - 1 replaced by the first integer literal of
 * `body` that `JSON.parse` rounds to the same double, when the body spells it differently. One scan
 * of `body`; a message without such integers returns at once.
 * @example withClientLiterals('ids[0]: 18446744073709552000 is not a valid point id', '{"ids":[18446744073709551616]}')
 * // 'ids[0]: 18446744073709551616 is not a valid point id'
 */
export function withClientLiterals(message: string, body: string | undefined): string {
  if (body === undefined) return message
  const printed = (message.match(MESSAGE_INTEGER_RE) ?? []).filter((t) => !Number.isSafeInteger(Number(t)))
  if (printed.length === 0) return message
  const wanted = new Set(printed.map(Number))
  const spelling = new Map<number, string>()
  for (const m of body.matchAll(BODY_INTEGER_RE)) {
    const v = Number(m[0])
    if (wanted.has(v) && !spelling.has(v)) spelling.set(v, m[0])
    if (spelling.size === wanted.size) break
  }
  return message.replace(MESSAGE_INTEGER_RE, (t) => spelling.get(Number(t)) ?? t)
}

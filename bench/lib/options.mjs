// @ts-check
// Command-line value parsers shared by the benchmark scripts (commander's custom option parsers).
import { InvalidArgumentError } from 'commander'

/** @param {string} msg */
export const log = (msg) => process.stderr.write(`${msg}\n`)

/** @param {string} v */
export function positiveInt(v) {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** A comma-separated list of positive integers, e.g. `--ef 16,32,64`. @param {string} v */
export function intList(v) {
  return v.split(',').map((s) => positiveInt(s.trim()))
}

/** @param {string} v */
export function positiveNumber(v) {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number')
  return n
}

/** A comma-separated list of oversampling factors, each a number >= 1. @param {string} v */
export function oversamplingList(v) {
  return v.split(',').map((s) => {
    const n = Number(s.trim())
    if (!Number.isFinite(n) || n < 1)
      throw new InvalidArgumentError('each oversampling must be a number >= 1')
    return n
  })
}

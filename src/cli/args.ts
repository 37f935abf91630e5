// Argument parsing helpers of the CLI: option value parsers for commander and the usage error
// (exit code 2) for combinations commander cannot check by itself.
import { InvalidArgumentError } from 'commander'

/** A wrong combination or shape of command-line arguments; the CLI exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Commander parser for an integer option >= `min`. */
export function intOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`)
    }
    return n
  }
}

/** Commander parser for a number from 0 to 1 (a fraction, e.g. `0.01`). */
export function fractionOption(): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
      throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`)
    return n
  }
}

/** Commander parser for a comma-separated list of integers >= `min` (e.g. `10,20,40`). */
export function intListOption(min: number): (value: string) => number[] {
  const one = intOption(min)
  return (value) => {
    const parts = value.split(',').map((s) => s.trim())
    if (parts.some((p) => p === ''))
      throw new InvalidArgumentError(`expected integers separated by commas, got "${value}"`)
    return parts.map(one)
  }
}

/** Parses a JSON option value; malformed JSON is a usage error naming the option. */
export function parseJsonOption(value: string, option: string): unknown {
  try {
    return JSON.parse(value)
  } catch (err) {
    throw new UsageError(`${option} is not valid JSON: ${(err as Error).message}`)
  }
}

/** Quotes one argument for display in a shell command line (POSIX single quotes when needed). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

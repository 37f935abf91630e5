// Time budgets of reads (Qdrant's `timeout`): a deadline checked between units of work (segments,
// query stages, batch entries), so a read past its budget stops instead of running to the end.
import { invalid, QuiverError } from '../errors.js'

/** A clock in milliseconds (monotonic); `performance.now` unless a test injects one. */
export type Clock = () => number

/**
 * Rust's `Duration` Debug format, as Qdrant prints timeouts in its messages: `500ms`, `1s`,
 * `2.5s`, `60s`, `1.5µs` for sub-millisecond budgets.
 */
export function formatDuration(seconds: number): string {
  if (seconds >= 1) return `${+seconds.toFixed(9)}s`
  if (seconds >= 1e-3) return `${+(seconds * 1e3).toFixed(6)}ms`
  return `${+(seconds * 1e6).toFixed(3)}µs`
}

/**
 * The budget of one read. `check()` throws TIMEOUT with Qdrant's message (`Timeout error: Operation
 * 'Search' timed out after 1s`) once the clock passed the deadline; a read without a timeout gets
 * `Deadline.none`, whose check never throws.
 */
export class Deadline {
  static readonly none = new Deadline(Number.POSITIVE_INFINITY, 0, '', () => 0)

  private constructor(
    private readonly at: number,
    private readonly seconds: number,
    private readonly operation: string,
    private readonly clock: Clock,
  ) {}

  /**
   * A deadline `timeout` seconds from now (undefined or null: none). `where` names the option in
   * errors; `operation` names the read in the timeout message (Qdrant's names: `Search`, `count`).
   * Throws INVALID_ARGUMENT unless `timeout` is a finite number > 0.
   */
  static after(
    timeout: unknown,
    operation: string,
    clock: Clock = () => performance.now(),
    where = 'timeout',
  ): Deadline {
    if (timeout === undefined || timeout === null) return Deadline.none
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
      throw invalid(`${where} must be a number of seconds > 0, got ${JSON.stringify(timeout)}`)
    return new Deadline(clock() + timeout * 1000, timeout, operation, clock)
  }

  /** Throws TIMEOUT once the deadline has passed. */
  check(): void {
    if (this.at === Number.POSITIVE_INFINITY || this.clock() < this.at) return
    throw new QuiverError(
      'TIMEOUT',
      `Timeout error: Operation '${this.operation}' timed out after ${formatDuration(this.seconds)}`,
      { timeout: this.seconds },
    )
  }
}

/** Checked `WriteOptions` (types.ts): wait for visibility, and for at most `timeoutMs` (or forever). */
/**
 * Over a shared log (several replicas, NATS), the longest a `wait` write without a timeout waits to
 * be applied before it answers `wait_timeout` (it is in the log then, and is applied once the log
 * answers again): no request hangs on a NATS outage.
 */
export const SHARED_APPLY_WAIT_MS = 30_000

export interface ResolvedWrite {
  wait: boolean
  timeoutMs: number | undefined
  /** `WriteOptions.writeId`: the write's idempotency key in a shared log. */
  writeId?: string | undefined
}

const WRITE_ID = /^[A-Za-z0-9_-]{1,64}$/

/** Checks `WriteOptions`; throws INVALID_ARGUMENT for a non-boolean `wait` or a `timeout` not > 0. */
export function resolveWrite(
  options: { wait?: unknown; timeout?: unknown; writeId?: unknown } | undefined,
): ResolvedWrite {
  if (options === undefined || options === null) return { wait: true, timeoutMs: undefined }
  if (typeof options !== 'object') throw invalid('write options must be an object')
  const { wait, timeout } = options
  if (wait !== undefined && typeof wait !== 'boolean')
    throw invalid(`wait must be true or false, got ${JSON.stringify(wait)}`)
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0))
    throw invalid(`timeout must be a number of seconds > 0, got ${JSON.stringify(timeout)}`)
  const writeId = options.writeId
  if (writeId !== undefined && (typeof writeId !== 'string' || !WRITE_ID.test(writeId)))
    throw invalid(`writeId must be 1..64 letters, digits, _ or -, got ${JSON.stringify(writeId)}`)
  return {
    wait: wait ?? true,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    ...(writeId === undefined ? {} : { writeId }),
  }
}

// The write-ahead log: CRC32C-checked, sequence-numbered records in rolled-over files of one directory,
// group commit (one write + one fdatasync per batch), torn-tail recovery and truncation. Knows bytes, not collections.
import type { FileHandle } from 'node:fs/promises'
import { open, readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { invalid, QuiverError } from '../errors.js'
import { crc32c } from './crc32c.js'
import { ensureDir, fsyncDir, ioError, removeFileIfExists, writeFully } from './files.js'

/** Bytes before each record body: u32 LE body length, u32 LE crc32c(seq bytes ++ body), u64 LE seq. */
export const WAL_HEADER_BYTES = 16
/** Largest record body accepted (1 GiB); a larger length field on disk is treated as damage. */
export const WAL_MAX_BODY_BYTES = 1 << 30
/** Default size at which a new WAL file is started (32 MiB). */
export const WAL_DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024

const FILE_RE = /^wal-(\d{20})\.log$/

/** `wal-<firstSeq, zero-padded to 20 digits>.log`: the file whose first record has `firstSeq`. */
export function walFileName(firstSeq: number): string {
  return `wal-${String(firstSeq).padStart(20, '0')}.log`
}

export interface WalOptions {
  /** A file is rolled over when the next batch would take it past this many bytes. Default 32 MiB. */
  segmentBytes?: number
  /**
   * Messages name WAL files relative to this directory (a server's data directory, so that errors
   * it sends name no absolute path); `details.file` keeps the absolute path. Default: absolute.
   */
  relativeTo?: string
}

/** Why a tail was cut off the last WAL file at open. */
export type WalTailProblem = 'short-header' | 'short-body' | 'bad-length' | 'bad-crc' | 'bad-seq'

/** What `Wal.open` found. `discarded` is set when a torn or damaged tail (never acknowledged) was truncated away. */
export interface WalOpenReport {
  readonly files: number
  /** First seq still stored (lastSeq + 1 when the log is empty). */
  readonly firstSeq: number
  readonly lastSeq: number
  readonly discarded: {
    readonly file: string
    /** Byte offset in `file` where the bad record began; the file now ends here. */
    readonly offset: number
    readonly bytes: number
    readonly reason: WalTailProblem
    readonly message: string
  } | null
}

export interface WalRecord {
  readonly seq: number
  /** A view into a buffer holding a whole WAL file; copy it to keep it beyond the replay loop cheaply. */
  readonly body: Uint8Array
  /** Where the record is: its file (absolute; `Wal.shown` names it for messages) and byte offset there. */
  readonly file: string
  readonly offset: number
}

interface WalFile {
  readonly firstSeq: number
  readonly path: string
  size: number
}

interface Problem {
  readonly reason: WalTailProblem
  readonly message: string
}

interface Parsed {
  readonly seq: number
  readonly body: Uint8Array
  readonly next: number
}

interface Waiter {
  readonly bodies: readonly Uint8Array[]
  readonly resolve: (lastSeq: number) => void
  readonly reject: (err: unknown) => void
}

function parseRecord(buf: Buffer, off: number, expectedSeq: number): Parsed | Problem {
  const remaining = buf.length - off
  if (remaining < WAL_HEADER_BYTES)
    return {
      reason: 'short-header',
      message: `${remaining} bytes left, a record header needs ${WAL_HEADER_BYTES}`,
    }
  const len = buf.readUInt32LE(off)
  if (len > WAL_MAX_BODY_BYTES)
    return { reason: 'bad-length', message: `body length ${len} exceeds the maximum ${WAL_MAX_BODY_BYTES}` }
  if (WAL_HEADER_BYTES + len > remaining)
    return {
      reason: 'short-body',
      message: `body length ${len} but only ${remaining - WAL_HEADER_BYTES} bytes left`,
    }
  const stored = buf.readUInt32LE(off + 4)
  const body = buf.subarray(off + WAL_HEADER_BYTES, off + WAL_HEADER_BYTES + len)
  const actual = crc32c(body, crc32c(buf.subarray(off + 8, off + WAL_HEADER_BYTES)))
  if (actual !== stored)
    return {
      reason: 'bad-crc',
      message: `crc32c 0x${actual.toString(16)} does not match stored 0x${stored.toString(16)}`,
    }
  const seq = buf.readUInt32LE(off + 8) + buf.readUInt32LE(off + 12) * 2 ** 32
  if (seq !== expectedSeq)
    return { reason: 'bad-seq', message: `seq ${seq} where ${expectedSeq} was expected` }
  return { seq, body, next: off + WAL_HEADER_BYTES + len }
}

function isProblem(r: Parsed | Problem): r is Problem {
  return 'reason' in r
}

function checkSeqArg(name: string, seq: unknown): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    throw invalid(`${name} must be a non-negative safe integer, got ${String(seq)}`, { [name]: String(seq) })
  return seq
}

async function readWalFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw ioError('read WAL file', path, err)
  }
}

/**
 * A write-ahead log in one directory. Records get consecutive seqs starting at 1; each append is
 * acknowledged only after its bytes are fdatasync'ed. One process owns a directory at a time (the
 * caller holds a `lockDirectory` lock). Format: docs/storage-format.md.
 *
 * @example
 * const wal = await Wal.open('/data/collections/docs/wal')
 * const seq = await wal.append([bytes])
 * for await (const { seq, body } of wal.replay(persistedSeq)) apply(seq, body)
 * await wal.truncateUpTo(persistedSeq)
 * await wal.close()
 */
export class Wal {
  readonly dir: string
  readonly segmentBytes: number
  /** What open found and repaired. */
  readonly openReport: WalOpenReport
  /** How messages name a file or this directory (`WalOptions.relativeTo`). */
  readonly shown: (path: string) => string

  #files: WalFile[]
  #lastSeq: number
  #handle: FileHandle | null = null
  #dirSynced = true
  /** Set when bytes past the last acknowledged offset may be on disk; they must be cut before the next write. */
  #dirty = false
  #queue: Waiter[] = []
  #flushing: Promise<void> | null = null
  #truncating: Promise<void> = Promise.resolve()
  #closing = false

  private constructor(
    dir: string,
    segmentBytes: number,
    files: WalFile[],
    lastSeq: number,
    report: WalOpenReport,
    shown: (path: string) => string,
  ) {
    this.shown = shown
    this.dir = dir
    this.segmentBytes = segmentBytes
    this.#files = files
    this.#lastSeq = lastSeq
    this.openReport = report
  }

  /**
   * Opens (creating `dir` if needed) and scans every WAL file, verifying every record. A damaged
   * or torn tail of the LAST file (short read, bad length, bad CRC, out-of-order seq) was never
   * acknowledged: the file is truncated there and `openReport.discarded` says what was cut.
   * Damage in any earlier file, or a gap between files, throws `CORRUPTED` naming file and offset.
   * Reads one file at a time (memory: the largest file). Throws IO_ERROR, CORRUPTED, INVALID_ARGUMENT.
   */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const segmentBytes = options.segmentBytes ?? WAL_DEFAULT_SEGMENT_BYTES
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1)
      throw invalid(`segmentBytes must be a positive integer, got ${String(segmentBytes)}`)
    const root = options.relativeTo
    const shown = (path: string): string => (root === undefined ? path : relative(root, path))
    await ensureDir(dir)
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      throw ioError('list WAL directory', dir, err)
    }
    const files: WalFile[] = []
    for (const name of names) {
      const m = FILE_RE.exec(name)
      if (!m) continue
      const firstSeq = Number(m[1])
      if (!Number.isSafeInteger(firstSeq) || firstSeq < 1)
        throw new QuiverError(
          'CORRUPTED',
          `WAL file ${shown(join(dir, name))} names an impossible first seq ${m[1]}`,
          {
            file: join(dir, name),
          },
        )
      files.push({ firstSeq, path: join(dir, name), size: 0 })
    }
    files.sort((a, b) => a.firstSeq - b.firstSeq)

    let expected = files[0]?.firstSeq ?? 1
    let discarded: WalOpenReport['discarded'] = null
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!
      const isLast = i === files.length - 1
      if (file.firstSeq !== expected)
        throw new QuiverError(
          'CORRUPTED',
          `WAL file ${shown(file.path)} starts at seq ${file.firstSeq} but the previous file ends at seq ${expected - 1}`,
          { file: file.path, offset: 0 },
        )
      const buf = await readWalFile(file.path)
      let off = 0
      while (off < buf.length) {
        const r = parseRecord(buf, off, expected)
        if (isProblem(r)) {
          if (!isLast)
            throw new QuiverError(
              'CORRUPTED',
              `WAL file ${shown(file.path)} is damaged at byte ${off}: ${r.message}`,
              {
                file: file.path,
                offset: off,
                reason: r.reason,
              },
            )
          discarded = {
            file: file.path,
            offset: off,
            bytes: buf.length - off,
            reason: r.reason,
            message: r.message,
          }
          await truncateFile(file.path, off)
          break
        }
        expected++
        off = r.next
      }
      file.size = off
    }
    const lastSeq = expected - 1
    const report: WalOpenReport = {
      files: files.length,
      firstSeq: files[0]?.firstSeq ?? lastSeq + 1,
      lastSeq,
      discarded,
    }
    return new Wal(dir, segmentBytes, files, lastSeq, report, shown)
  }

  /** Highest seq stored and acknowledged; 0 when nothing was ever appended. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Bytes in the WAL's files. */
  get byteLength(): number {
    let n = 0
    for (const f of this.#files) n += f.size
    return n
  }

  /** Oldest seq still stored (`lastSeq + 1` when the log holds no record). */
  get firstSeq(): number {
    return this.#files[0]?.firstSeq ?? this.#lastSeq + 1
  }

  /** Bytes in all WAL files of this log. */
  sizeBytes(): number {
    let total = 0
    for (const f of this.#files) total += f.size
    return total
  }

  /**
   * Appends one record per body with consecutive seqs and resolves with the last seq once the
   * records are durable. Calls made while a flush is in progress are batched into the next single
   * write + fdatasync (group commit); seqs follow call order. An empty array resolves with
   * `lastSeq` at once. On a write/sync failure the file is cut back to the last acknowledged
   * offset and the call rejects with IO_ERROR; later appends work once the cause is gone.
   * Throws INVALID_ARGUMENT (body not a Uint8Array or > 1 GiB), CLOSED, IO_ERROR.
   */
  append(bodies: readonly Uint8Array[]): Promise<number> {
    if (this.#closing) return Promise.reject(new QuiverError('CLOSED', `WAL ${this.dir} is closed`))
    if (!Array.isArray(bodies)) return Promise.reject(invalid('append expects an array of Uint8Array bodies'))
    for (let i = 0; i < bodies.length; i++) {
      const b: unknown = bodies[i]
      if (!(b instanceof Uint8Array)) return Promise.reject(invalid(`bodies[${i}] is not a Uint8Array`))
      if (b.length > WAL_MAX_BODY_BYTES)
        return Promise.reject(
          invalid(`bodies[${i}] has ${b.length} bytes; a WAL record holds at most ${WAL_MAX_BODY_BYTES}`),
        )
    }
    if (bodies.length === 0 && this.#flushing === null) return Promise.resolve(this.#lastSeq)
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ bodies, resolve, reject })
      this.#flushing ??= this.#flushLoop()
    })
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue
        this.#queue = []
        await this.#writeBatch(batch)
      }
    } finally {
      this.#flushing = null
    }
  }

  async #writeBatch(batch: readonly Waiter[]): Promise<void> {
    let total = 0
    for (const w of batch) for (const b of w.bodies) total += WAL_HEADER_BYTES + b.length
    const buf = Buffer.allocUnsafe(total)
    const ends: number[] = []
    let seq = this.#lastSeq + 1
    let off = 0
    for (const w of batch) {
      for (const b of w.bodies) {
        buf.writeUInt32LE(b.length, off)
        buf.writeUInt32LE(seq >>> 0, off + 8)
        buf.writeUInt32LE(Math.floor(seq / 2 ** 32), off + 12)
        buf.set(b, off + WAL_HEADER_BYTES)
        buf.writeUInt32LE(
          crc32c(
            buf.subarray(off + WAL_HEADER_BYTES, off + WAL_HEADER_BYTES + b.length),
            crc32c(buf.subarray(off + 8, off + 16)),
          ),
          off + 4,
        )
        off += WAL_HEADER_BYTES + b.length
        seq++
      }
      ends.push(seq - 1)
    }
    if (total === 0) {
      for (const w of batch) w.resolve(this.#lastSeq)
      return
    }
    let path = this.dir
    try {
      await this.#repair()
      const file = await this.#activeFile(total)
      path = file.path
      const handle = this.#handle!
      this.#dirty = true
      await writeFully(handle, buf, file.size)
      await handle.datasync()
      this.#dirty = false
      if (!this.#dirSynced) {
        await fsyncDir(this.dir)
        this.#dirSynced = true
      }
      file.size += total
      this.#lastSeq = seq - 1
    } catch (err) {
      const e = ioError('append to WAL', path, err)
      await this.#repair().catch(() => undefined)
      for (const w of batch) w.reject(e)
      return
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(ends[i]!)
  }

  /** Cuts bytes past the last acknowledged offset of the active file (left by a failed write) and syncs that. */
  async #repair(): Promise<void> {
    if (!this.#dirty) return
    const file = this.#files[this.#files.length - 1]
    if (this.#handle === null || file === undefined) {
      this.#dirty = false
      return
    }
    try {
      await this.#handle.truncate(file.size)
      await this.#handle.datasync()
    } catch (err) {
      throw ioError('truncate WAL file after a failed append', file.path, err)
    }
    this.#dirty = false
  }

  /** The file the next `bytes` go to, with `#handle` open on it; rolls over to a new file when full. */
  async #activeFile(bytes: number): Promise<WalFile> {
    let last = this.#files[this.#files.length - 1]
    if (last !== undefined && last.size > 0 && last.size + bytes > this.segmentBytes) {
      if (this.#handle !== null) {
        const h = this.#handle
        this.#handle = null
        await h.close().catch(() => undefined)
      }
      last = undefined
    }
    if (last === undefined) {
      const file: WalFile = {
        firstSeq: this.#lastSeq + 1,
        path: join(this.dir, walFileName(this.#lastSeq + 1)),
        size: 0,
      }
      try {
        this.#handle = await open(file.path, 'w')
      } catch (err) {
        throw ioError('create WAL file', file.path, err)
      }
      this.#files.push(file)
      this.#dirSynced = false
      return file
    }
    if (this.#handle === null) {
      try {
        this.#handle = await open(last.path, 'r+')
      } catch (err) {
        throw ioError('open WAL file', last.path, err)
      }
      this.#dirSynced = false
    }
    return last
  }

  /**
   * Yields the records with seq > `afterSeq`, in order, up to the `lastSeq` current when iteration
   * starts. Reads one whole file at a time (memory: one file, ≤ segmentBytes + one batch); a
   * yielded `body` is a view into that file's buffer. Do not run `truncateUpTo` during a replay.
   * Throws CORRUPTED when records after `afterSeq` were already truncated away or a file was
   * damaged after open, IO_ERROR, INVALID_ARGUMENT.
   */
  async *replay(afterSeq: number): AsyncGenerator<WalRecord, void, undefined> {
    checkSeqArg('afterSeq', afterSeq)
    const end = this.#lastSeq
    if (afterSeq >= end) return
    const files = [...this.#files]
    const oldest = files[0]?.firstSeq ?? end + 1
    if (afterSeq + 1 < oldest)
      throw new QuiverError(
        'CORRUPTED',
        `WAL ${this.shown(this.dir)} no longer holds seqs ${afterSeq + 1}..${oldest - 1}; they were truncated away`,
        { dir: this.dir, afterSeq, firstSeq: oldest },
      )
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!
      const nextFirst = files[i + 1]?.firstSeq ?? Number.POSITIVE_INFINITY
      if (nextFirst - 1 <= afterSeq) continue
      const buf = await readWalFile(file.path)
      let off = 0
      let expected = file.firstSeq
      while (expected <= end && expected < nextFirst) {
        const r = parseRecord(buf, off, expected)
        if (isProblem(r))
          throw new QuiverError(
            'CORRUPTED',
            `WAL file ${this.shown(file.path)} is damaged at byte ${off}: ${r.message}`,
            {
              file: file.path,
              offset: off,
              reason: r.reason,
            },
          )
        if (r.seq > afterSeq) yield { seq: r.seq, body: r.body, file: file.path, offset: off }
        expected++
        off = r.next
      }
    }
  }

  /**
   * Deletes the WAL files all of whose records have seq <= `seq` (the caller has persisted them
   * elsewhere). The active (last) file is always kept, so `lastSeq` survives a reopen. Files are
   * removed oldest first with a directory fsync after each, so a crash leaves a consecutive
   * suffix. Throws IO_ERROR, INVALID_ARGUMENT.
   */
  truncateUpTo(seq: number): Promise<void> {
    try {
      checkSeqArg('seq', seq)
    } catch (err) {
      return Promise.reject(err)
    }
    const run = this.#truncating.then(() => this.#truncate(seq))
    this.#truncating = run.catch(() => undefined)
    return run
  }

  async #truncate(seq: number): Promise<void> {
    for (;;) {
      const first = this.#files[0]
      const second = this.#files[1]
      if (first === undefined || second === undefined || second.firstSeq - 1 > seq) return
      await removeFileIfExists(first.path)
      await fsyncDir(this.dir)
      this.#files.shift()
    }
  }

  /** Waits for queued appends and truncations, then closes the file. Later appends reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true
    if (this.#flushing !== null) await this.#flushing
    await this.#truncating
    const h = this.#handle
    this.#handle = null
    if (h !== null) {
      try {
        await h.close()
      } catch (err) {
        throw ioError('close WAL file', this.dir, err)
      }
    }
  }
}

async function truncateFile(path: string, length: number): Promise<void> {
  try {
    const h = await open(path, 'r+')
    try {
      await h.truncate(length)
      await h.datasync()
    } finally {
      await h.close()
    }
  } catch (err) {
    throw ioError('truncate torn WAL tail', path, err)
  }
}

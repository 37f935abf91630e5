// The seam between a collection and the log that orders and keeps its operations (issue 14): the
// single-node WAL (wal.ts, one directory of files) or a JetStream stream (src/cluster/), chosen by
// the database that opens the collection. A collection only appends, replays, truncates and
// closes; the log is the source of truth for every operation not yet in persisted segments.
import { join } from 'node:path'
import { QuiverError } from '../errors.js'
import { Wal, type WalOpenReport } from './wal.js'

/** One logged operation: its sequence number (1, 2, ... without gaps) and its encoded body. */
export interface LogRecord {
  readonly seq: number
  /** May be a view into a larger buffer: copy it to keep it past the replay loop. */
  readonly body: Uint8Array
  /** Where the record is, for messages (`wal/00000001.wal at byte 120`, `stream QUIVER_docs seq 7`). */
  readonly where: string
}

/**
 * An ordered, durable log of operations. `append` resolves once the bodies are durable (fsynced
 * on disk, or acknowledged by the stream's replicas) with the seq of the last one; seqs grow by
 * one per body. Implementations must keep every record above the last `truncateUpTo`.
 */
export interface OperationLog {
  /** Seq of the newest record (0 when nothing was ever appended). */
  readonly lastSeq: number
  /** Bytes the log holds now (records not yet truncated). */
  readonly byteLength: number
  /** Where the log lives, for messages. */
  readonly location: string
  /**
   * Appends `bodies` as consecutive records and resolves with the seq of the last. `writeId`: an
   * idempotency key of the write (a log that dedupes, JetStream, stores a body appended again with
   * the same key within its dedupe window once, answering the first one's seq; the local WAL,
   * which has one writer, ignores it).
   */
  append(bodies: readonly Uint8Array[], writeId?: string): Promise<number>
  /** The records with seq > `afterSeq`, in order, up to `lastSeq` as it was when the replay began. */
  replay(afterSeq: number): AsyncIterable<LogRecord>
  /** Drops the records with seq <= `seq` (they are in persisted segments). */
  truncateUpTo(seq: number): Promise<void>
  close(): Promise<void>
  /**
   * After `close`, removes what the log keeps outside the collection's directory (a stream); the
   * local WAL has nothing there (it goes with the directory).
   */
  destroy?(): Promise<void>
  /**
   * A shared log (several writers, several replicas; a JetStream stream in shared mode) has these
   * three. `follow` yields every record with seq > `afterSeq` in order, those appended by any writer,
   * as they arrive, until the log closes; the collection applies records only from it, and `append`
   * resolves with the seq the log gave (other writers' records may lie between two of this
   * writer's). `head` is the seq of the newest record the log holds now (asked of the log, not
   * cached). `id` names the log so another replica can attach to it (`OperationLogOptions.attach`).
   * A shared log keeps its records on `truncateUpTo` (other replicas may need them).
   */
  follow?(afterSeq: number): AsyncIterable<LogRecord>
  head?(): Promise<number>
  /**
   * A shared log: the first seq it holds now, asked of the log (`lastSeq + 1` when it holds none);
   * records below it were truncated once a shard snapshot covered them (src/storage/shard-snapshots.ts).
   */
  firstSeq?(): Promise<number>
  readonly id?: string | undefined
}

/** What the database gives a collection to open its log with. */
export interface OperationLogOptions {
  /** The collection's directory (the WAL lives in `<dir>/wal`). */
  readonly dir: string
  /** The collection's name. */
  readonly collection: string
  /** Bytes per WAL file (the local log only). */
  readonly walSegmentBytes: number
  /** Data directory messages name files relative to. */
  readonly relativeTo: string
  /** Called when opening found and cut a torn tail (never acknowledged). */
  readonly onDiscarded?: (cut: NonNullable<WalOpenReport['discarded']>) => void
  /**
   * For a new replica of an existing collection: the `id` of the shared log to attach to (a stream
   * name). Logs that cannot be shared throw INVALID_ARGUMENT.
   */
  readonly attach?: string
}

/** Opens the log of one collection. */
export type OpenOperationLog = (options: OperationLogOptions) => Promise<OperationLog>

/** The single-node log: the collection's WAL directory (`<dir>/wal`). */
export const openLocalLog: OpenOperationLog = async (options) => {
  if (options.attach !== undefined)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      'a collection with a local WAL cannot be a replica of another log; open the database with a shared log (quiver/cluster connectJetStreamLogs({ shared: true }))',
    )
  const wal = await Wal.open(join(options.dir, 'wal'), {
    segmentBytes: options.walSegmentBytes,
    relativeTo: options.relativeTo,
  })
  const cut = wal.openReport.discarded
  if (cut !== null) options.onDiscarded?.(cut)
  return new LocalLog(wal)
}

/** A Wal as an OperationLog. */
class LocalLog implements OperationLog {
  constructor(private readonly wal: Wal) {}

  get lastSeq(): number {
    return this.wal.lastSeq
  }

  get byteLength(): number {
    return this.wal.byteLength
  }

  get location(): string {
    return this.wal.shown(this.wal.dir)
  }

  append(bodies: readonly Uint8Array[]): Promise<number> {
    return this.wal.append(bodies)
  }

  async *replay(afterSeq: number): AsyncIterable<LogRecord> {
    for await (const r of this.wal.replay(afterSeq))
      yield { seq: r.seq, body: r.body, where: `${this.wal.shown(r.file)} at byte ${r.offset}` }
  }

  truncateUpTo(seq: number): Promise<void> {
    return this.wal.truncateUpTo(seq)
  }

  close(): Promise<void> {
    return this.wal.close()
  }
}

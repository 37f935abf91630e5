// A collection's operation log as a NATS JetStream stream (issue 14, first slice): the stream is
// the collection's WAL, its sequence the operation sequence, replicated by NATS's own Raft when
// the stream has replicas. Publishes carry a message id, so a publish retried after a lost ack is
// stored once. Which stream a collection uses is recorded in `<dir>/log.json`, so a collection
// created again under the same name never replays an older collection's stream.
import { createHash, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { QuiverError } from '../errors.js'
import { writeFileAtomic } from '../storage/files.js'
import type { LogRecord, OpenOperationLog, OperationLog } from '../storage/operation-log.js'

/** Options of {@link connectJetStreamLogs}. */
export interface JetStreamLogOptions {
  /** NATS server URLs, e.g. `["nats://127.0.0.1:4222"]` (any of a cluster's servers). */
  servers: readonly string[]
  /** Replicas of each stream (NATS's R; 1, 3 or 5; at most the NATS cluster's size). Default 1. */
  replicas?: number
  /** Stream name prefix, so several Quiver deployments can share one NATS. Default `QUIVER`. */
  prefix?: string
  /** Milliseconds to wait for one publish's acknowledgement before retrying it. Default 5000. */
  publishTimeoutMs?: number
  /** Publish attempts before an append fails with LOG_UNAVAILABLE. Default 5. */
  publishAttempts?: number
  /**
   * Shared logs: a collection's stream may have several writers and several replicas (each a
   * Quiver database that attached to it: `Quiver.attachCollection`). Every replica applies the
   * stream's records in stream order, its own included, so replicas converge; records are kept on
   * persist (other replicas, and replicas yet to attach, replay them). Default false: one writer,
   * which applies its own appends, and the stream is purged below persisted segments.
   */
  shared?: boolean
}

/** The JetStream logs of one database: `openLog` for `Quiver.open`, and the shared connection. */
export interface JetStreamLogs {
  readonly openLog: OpenOperationLog
  readonly connection: NatsConnection
  /** Drains and closes the connection (after the database closed). */
  close(): Promise<void>
}

const LOG_FILE = 'log.json'
/** JetStream's dedupe window: a publish retried within it is stored once. */
const DUPLICATE_WINDOW_NS = 120 * 1e9

/**
 * `docs.v2` -> `docs_dv2`: stream names may not hold `.`, `*`, `>` or spaces; `_` is escaped first.
 * A token over 100 characters (JetStream names end at 255) keeps its first 80 and a hash of the name.
 */
function streamToken(name: string): string {
  const token = name.replace(/_/g, '__').replace(/\./g, '_d')
  if (token.length <= 100) return token
  return `${token.slice(0, 80)}_h${createHash('sha256').update(name).digest('hex').slice(0, 16)}`
}

/** How long `close` lets the connection drain before it closes it. */
const CLOSE_DRAIN_MS = 5000

/**
 * Connects to NATS and returns the log factory of a database whose collections keep their
 * operation log in JetStream (one stream per collection, file storage, `replicas` copies).
 * Throws LOG_UNAVAILABLE when no server answers or JetStream is not enabled (`nats-server -js`).
 * @example const logs = await connectJetStreamLogs({ servers: ['nats://127.0.0.1:4222'] })
 * const db = await Quiver.open('./data', { openLog: logs.openLog }) // ... db.close(); logs.close()
 */
export async function connectJetStreamLogs(options: JetStreamLogOptions): Promise<JetStreamLogs> {
  const replicas = options.replicas ?? 1
  if (![1, 3, 5].includes(replicas))
    throw new QuiverError('INVALID_ARGUMENT', `replicas must be 1, 3 or 5, got ${replicas}`)
  const prefix = options.prefix ?? 'QUIVER'
  if (!/^[A-Za-z0-9_-]+$/.test(prefix))
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `prefix must hold only letters, digits, _ and -, got ${JSON.stringify(prefix)}`,
    )
  let nc: NatsConnection
  try {
    nc = await connect({ servers: [...options.servers], name: 'quiver', maxReconnectAttempts: -1 })
  } catch (err) {
    throw new QuiverError(
      'LOG_UNAVAILABLE',
      `cannot connect to NATS at ${options.servers.join(', ')}: ${(err as Error).message}`,
      undefined,
      err,
    )
  }
  let jsm: JetStreamManager
  try {
    jsm = await jetstreamManager(nc)
  } catch (err) {
    await nc.close()
    throw new QuiverError(
      'LOG_UNAVAILABLE',
      `NATS at ${options.servers.join(', ')} has no JetStream (start nats-server with -js): ${(err as Error).message}`,
      undefined,
      err,
    )
  }
  const js = jetstream(nc)
  const settings: Settings = {
    prefix,
    replicas,
    publishTimeoutMs: options.publishTimeoutMs ?? 5000,
    publishAttempts: options.publishAttempts ?? 5,
    shared: options.shared === true,
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
  }
  const openLog: OpenOperationLog = (o) => JetStreamLog.open(jsm, js, settings, o.dir, o.collection, o.attach)
  return {
    openLog,
    connection: nc,
    close: async () => {
      // drain (finish what is in flight) when NATS answers; with NATS away a drain fails or never
      // ends, and the connection would keep reconnecting (and the process alive): close it then
      if (nc.isClosed()) return
      let timer: ReturnType<typeof setTimeout> | undefined
      const drained = await Promise.race([
        nc.drain().then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), CLOSE_DRAIN_MS)
        }),
      ])
      clearTimeout(timer)
      if (!drained && !nc.isClosed()) await nc.close().catch(() => undefined)
    },
  }
}

interface Settings {
  readonly prefix: string
  readonly replicas: number
  readonly publishTimeoutMs: number
  readonly publishAttempts: number
  readonly shared: boolean
  /** The largest message the NATS server takes (its `max_payload`, 1 MiB by default). */
  readonly maxPayload: () => number
}

/** A follow consumer that delivers nothing this long while the stream has records for it is replaced. */
const FOLLOW_STALL_MS = 3000
/** Bytes of a message's max_payload kept for its headers (the message id). */
const PUBLISH_HEADROOM = 1024

/** `<dir>/log.json`: which stream holds this collection's log. */
interface LogFile {
  stream: string
  subject: string
}

class JetStreamLog implements OperationLog {
  private last: number
  private bytes: number
  private closed = false
  /** Set once a publish failed: writes stop until the log is reopened. */
  private broken: QuiverError | undefined
  /** Appends in flight are published in call order; this chain keeps their seqs in that order. */
  private chain: Promise<unknown> = Promise.resolve()
  /** `head` requests: the one in flight, and the one queued behind it that later callers share. */
  private headInFlight: Promise<number> | undefined
  private headNext: Promise<number> | undefined
  /** The live `follow` consumers, closed with the log. */
  private readonly following = new Set<{ stop(): void }>()

  private constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly settings: Settings,
    private readonly stream: string,
    private readonly subject: string,
    last: number,
    bytes: number,
  ) {
    this.last = last
    this.bytes = bytes
  }

  /** Opens the stream `<dir>/log.json` names, or creates a new one (and the file) for a new collection. */
  static async open(
    jsm: JetStreamManager,
    js: JetStreamClient,
    settings: Settings,
    dir: string,
    collection: string,
    attach?: string,
  ): Promise<JetStreamLog> {
    const file = join(dir, LOG_FILE)
    let recorded: LogFile | undefined
    try {
      recorded = JSON.parse(await readFile(file, 'utf8')) as LogFile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new QuiverError(
          'CORRUPTED',
          `collection ${collection}: ${LOG_FILE} cannot be read: ${(err as Error).message}`,
        )
    }
    if (recorded === undefined && attach !== undefined) {
      if (!settings.shared)
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `collection ${collection}: only a shared log can be attached to (connectJetStreamLogs({ shared: true }))`,
        )
      let subject: string | undefined
      try {
        subject = (await jsm.streams.info(attach)).config.subjects?.[0]
      } catch (err) {
        throw new QuiverError(
          'LOG_NOT_FOUND',
          `no JetStream stream ${JSON.stringify(attach)} to attach collection ${collection} to: ${(err as Error).message}`,
          { stream: attach },
          err,
        )
      }
      if (subject === undefined)
        throw new QuiverError(
          'LOG_NOT_FOUND',
          `JetStream stream ${attach} has no subject; it is not a Quiver log`,
        )
      recorded = { stream: attach, subject }
      await writeFileAtomic(file, JSON.stringify(recorded))
    }
    if (recorded === undefined) {
      const id = randomUUID().replace(/-/g, '').slice(0, 12)
      const token = streamToken(collection)
      const created: LogFile = {
        stream: `${settings.prefix}_${token}_${id}`,
        subject: `${settings.prefix.toLowerCase()}.log.${token}.${id}`,
      }
      await jsm.streams.add({
        name: created.stream,
        subjects: [created.subject],
        storage: StorageType.File,
        num_replicas: settings.replicas,
        duplicate_window: DUPLICATE_WINDOW_NS,
        description: `Quiver operation log of collection ${collection}`,
      })
      await writeFileAtomic(file, JSON.stringify(created))
      return new JetStreamLog(jsm, js, settings, created.stream, created.subject, 0, 0)
    }
    try {
      const info = await jsm.streams.info(recorded.stream)
      return new JetStreamLog(
        jsm,
        js,
        settings,
        recorded.stream,
        recorded.subject,
        info.state.last_seq,
        info.state.bytes,
      )
    } catch (err) {
      throw new QuiverError(
        'CORRUPTED',
        `collection ${collection}: its operation log, JetStream stream ${recorded.stream}, is missing or unreachable: ${(err as Error).message}`,
        { stream: recorded.stream },
        err,
      )
    }
  }

  get lastSeq(): number {
    return this.last
  }

  get byteLength(): number {
    return this.bytes
  }

  get location(): string {
    return `JetStream stream ${this.stream}`
  }

  get id(): string | undefined {
    return this.settings.shared ? this.stream : undefined
  }

  append(bodies: readonly Uint8Array[], writeId?: string): Promise<number> {
    if (this.closed) return Promise.reject(new QuiverError('CLOSED', `${this.location} is closed`))
    // refused before anything is published: NATS would refuse it on every retry
    const max = this.settings.maxPayload() - PUBLISH_HEADROOM
    const big = bodies.find((b) => b.byteLength > max)
    if (big !== undefined)
      return Promise.reject(
        new QuiverError(
          'INVALID_ARGUMENT',
          `the write is ${big.byteLength} bytes once encoded, more than the ${max} bytes a message of ${this.location} may hold (NATS max_payload); split the batch, or raise max_payload in nats-server's config`,
          { bytes: big.byteLength, max },
        ),
      )
    // a writeId dedupes across the writers of a shared log; one writer's own log (its seqs checked
    // to follow each other) takes none: a deduped publish would answer an older seq
    const ids = bodies.map((_, i) =>
      writeId === undefined || !this.settings.shared
        ? randomUUID()
        : bodies.length === 1
          ? writeId
          : `${writeId}-${i}`,
    )
    if (this.settings.shared) return this.appendShared(bodies, ids)
    if (this.broken !== undefined) return Promise.reject(this.broken)
    // every body is published at once (pipelined); acks come back in publish order
    const acks = bodies.map((body, i) => this.publish(body, ids[i]!))
    const done = this.chain.then(async () => {
      let seq = this.last
      for (const ack of acks) {
        const s = await ack
        if (s !== seq + 1)
          throw new QuiverError(
            'INTERNAL',
            `${this.location}: publish stored at seq ${s}, expected ${seq + 1}; another writer appends to this collection's log`,
          )
        seq = s
      }
      this.last = seq
      for (const b of bodies) this.bytes += b.byteLength
      return seq
    })
    // a write whose fate is unknown (it may be stored) leaves this node behind the stream: no
    // later write may be given a seq until a reopen replays the stream
    this.chain = done.catch((err: unknown) => {
      this.broken ??= new QuiverError(
        'LOG_UNAVAILABLE',
        `${this.location}: an earlier write's outcome is unknown (${(err as Error).message}); reopen the collection (restart the server) to resume from the stream`,
        undefined,
        err,
      )
    })
    return done
  }

  /**
   * A shared log's append: the bodies are published in call order (pipelined) and the seq of the
   * last is returned; other writers' records may lie between them. A publish whose fate is
   * unknown fails its append with LOG_UNAVAILABLE (it may still be stored, and is then applied by
   * every replica, as any record of the stream).
   */
  private appendShared(bodies: readonly Uint8Array[], ids: readonly string[]): Promise<number> {
    const acks = bodies.map((body, i) => this.publish(body, ids[i]!))
    const done = this.chain.then(async () => {
      let seq = 0
      for (const ack of acks) seq = await ack
      if (seq > this.last) this.last = seq
      for (const b of bodies) this.bytes += b.byteLength
      return seq
    })
    this.chain = done.catch(() => undefined)
    return done
  }

  /**
   * The stream's last seq, asked of NATS. Concurrent callers share requests: a call made while one
   * is in flight waits for the next one (started after the call, so it still sees every record
   * stored before the call), which every such caller shares: at most two requests in flight's time.
   */
  head(): Promise<number> {
    if (this.headInFlight === undefined) return this.askHead()
    this.headNext ??= this.headInFlight.then(
      () => this.askHead(),
      () => this.askHead(),
    )
    return this.headNext
  }

  /** The first seq the stream holds now (`last_seq + 1` when it holds none), asked of NATS. */
  async firstSeq(): Promise<number> {
    const { first_seq, last_seq, messages } = (await this.jsm.streams.info(this.stream)).state
    return messages === 0 ? last_seq + 1 : first_seq
  }

  private askHead(): Promise<number> {
    const ask = (async () => {
      const info = await this.jsm.streams.info(this.stream)
      if (info.state.last_seq > this.last) this.last = info.state.last_seq
      return info.state.last_seq
    })()
    this.headInFlight = ask
    this.headNext = undefined
    const clear = () => {
      if (this.headInFlight === ask) this.headInFlight = undefined
    }
    ask.then(clear, clear)
    return ask
  }

  /**
   * Every record after `afterSeq`, appended by any writer, as it arrives; ends when the log closes.
   * A consumer that stops delivering while the stream has records past it (its NATS server died,
   * the stream moved to a new leader, the connection was cut) is replaced by a new one from the
   * next seq: a watchdog asks the stream's head every `FOLLOW_STALL_MS` without progress. Records
   * come once each, in order, whatever the number of replacements. Throws CORRUPTED for a gap.
   */
  follow(afterSeq: number): AsyncIterable<LogRecord> {
    const log = this
    return {
      async *[Symbol.asyncIterator]() {
        const info = await log.jsm.streams.info(log.stream)
        if (info.state.first_seq > afterSeq + 1 && info.state.last_seq > afterSeq)
          throw new QuiverError(
            'CORRUPTED',
            `${log.location} starts at seq ${info.state.first_seq} but the collection needs seq ${afterSeq + 1}; records were purged before this replica persisted them`,
          )
        let next = afterSeq + 1
        for (let attempt = 0; !log.closed; attempt++) {
          let messages: Awaited<
            ReturnType<Awaited<ReturnType<JetStreamClient['consumers']['get']>>['consume']>
          >
          try {
            const consumer = await log.js.consumers.get(log.stream, {
              deliver_policy: DeliverPolicy.StartSequence,
              opt_start_seq: next,
            })
            // pulls that expire every 2 s with heartbeats every second
            messages = await consumer.consume({ expires: 2000, idle_heartbeat: 1000 })
          } catch {
            // NATS away or the stream electing a leader: try again, backing off to 2 s
            await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)))
            continue
          }
          log.following.add(messages)
          let progressed = false
          let applying = false
          const consumerOf = messages
          const watchdog = setInterval(() => {
            if (progressed || applying) {
              progressed = false
              return
            }
            log.head().then(
              (head) => {
                // records wait past `next` and this consumer delivered none of them: replace it
                if (head >= next && !progressed && !applying) consumerOf.stop()
              },
              () => undefined,
            )
          }, FOLLOW_STALL_MS)
          watchdog.unref()
          try {
            // closed while the consumer was being made: `close` did not see it
            if (log.closed) return
            for await (const m of messages) {
              if (log.closed) return
              // a replaced consumer's late delivery of a record already yielded
              if (m.seq < next) continue
              if (m.seq !== next)
                throw new QuiverError(
                  'CORRUPTED',
                  `${log.location}: expected seq ${next}, got ${m.seq}; the log has a gap`,
                )
              if (m.seq > log.last) log.last = m.seq
              progressed = true
              applying = true
              try {
                yield { seq: m.seq, body: m.data, where: `${log.location} seq ${m.seq}` }
              } finally {
                applying = false
              }
              next++
              attempt = 0
            }
          } catch (err) {
            if (err instanceof QuiverError) throw err
            // the consumer failed (deleted, connection lost): a new one follows below
          } finally {
            clearInterval(watchdog)
            log.following.delete(messages)
            // stop, not close: close waits for an iteration that may never come
            messages.stop()
          }
          if (!log.closed) await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)))
        }
      },
    }
  }

  /** Publishes one body with message id `msgID`, retrying a lost ack (JetStream stores a retried id once). */
  private async publish(body: Uint8Array, msgID: string): Promise<number> {
    let lastError: unknown
    const started = performance.now()
    // at least `publishAttempts` tries and at least `publishTimeoutMs` of trying: a refusal that comes
    // at once (no responders while a new or moved stream elects its leader) is retried with backoff
    let attempt = 0
    for (
      ;
      attempt < this.settings.publishAttempts || performance.now() - started < this.settings.publishTimeoutMs;
      attempt++
    ) {
      if (attempt > 0) await delay(Math.min(1000, 50 * 2 ** attempt))
      try {
        const ack = await this.js.publish(this.subject, body, {
          msgID,
          timeout: this.settings.publishTimeoutMs,
        })
        return ack.seq
      } catch (err) {
        lastError = err
      }
    }
    throw new QuiverError(
      'LOG_UNAVAILABLE',
      `${this.location}: a write was not acknowledged after ${attempt} attempts (${(lastError as Error)?.message}); it may still be stored and will then be replayed`,
      undefined,
      lastError,
    )
  }

  async *replay(afterSeq: number): AsyncIterable<LogRecord> {
    const info = await this.jsm.streams.info(this.stream)
    const end = info.state.last_seq
    if (end <= afterSeq) return
    if (info.state.first_seq > afterSeq + 1)
      throw new QuiverError(
        'CORRUPTED',
        `${this.location} starts at seq ${info.state.first_seq} but the collection needs seq ${afterSeq + 1}; records were purged before they were persisted`,
      )
    const consumer = await this.js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
    })
    const messages = await consumer.consume()
    let expected = afterSeq + 1
    try {
      for await (const m of messages) {
        if (m.seq !== expected)
          throw new QuiverError(
            'CORRUPTED',
            `${this.location}: expected seq ${expected}, got ${m.seq}; the log has a gap`,
          )
        yield { seq: m.seq, body: m.data, where: `${this.location} seq ${m.seq}` }
        if (m.seq >= end) break
        expected++
      }
    } finally {
      await messages.close()
    }
  }

  async truncateUpTo(seq: number): Promise<void> {
    // a shared stream keeps its history: other replicas (and those yet to attach) replay it
    if (seq <= 0 || this.settings.shared) return
    await this.jsm.streams.purge(this.stream, { seq: seq + 1 })
    const info = await this.jsm.streams.info(this.stream)
    this.bytes = info.state.bytes
  }

  async close(): Promise<void> {
    this.closed = true
    await this.chain
    // ends each follow iteration (its loop sees the stop; nothing waits on it here)
    for (const m of this.following) m.stop()
  }

  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.stream)
  }
}

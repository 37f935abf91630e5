// Shard snapshots in the JetStream Object Store (issue 14; the seam is
// src/storage/shard-snapshots.ts): one bucket `<prefix>_snapshots`, one object per snapshot named
// `<logId>/<seq, 16 digits>`, its metadata carrying the seq and the shard's config. NATS chunks
// the object, replicates it as the bucket's stream and checks its SHA-256 digest on the way back.
import { createReadStream, createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { jetstreamManager } from '@nats-io/jetstream'
import { type ObjectInfo, type ObjectStore, Objm, StorageType } from '@nats-io/obj'
import { QuiverError } from '../errors.js'
import type { LogState, ShardSnapshotInfo, ShardSnapshotStore } from '../storage/shard-snapshots.js'
import type { JetStreamLogs } from './jetstream-log.js'

/** Options of {@link openSnapshotStore}. */
export interface SnapshotStoreOptions {
  /** Copies of the bucket NATS keeps (1, 3 or 5); default 1. Use the streams' `replicas`. */
  replicas?: number
  /** Bucket name prefix, as the logs' stream prefix. Default `QUIVER`. */
  prefix?: string
}

const SEQ_DIGITS = 16

const objectName = (logId: string, seq: number): string => `${logId}/${String(seq).padStart(SEQ_DIGITS, '0')}`

function unavailable(what: string, err: unknown): QuiverError {
  if (err instanceof QuiverError) return err
  return new QuiverError(
    'LOG_UNAVAILABLE',
    `shard snapshot store: ${what} failed: ${(err as Error)?.message ?? String(err)}`,
    undefined,
    err,
  )
}

/** `<logId>/<seq>` apart, or undefined for a name that is not a snapshot's. */
function parseName(name: string): { logId: string; seq: number } | undefined {
  const slash = name.lastIndexOf('/')
  if (slash <= 0) return undefined
  const seq = Number(name.slice(slash + 1))
  return Number.isSafeInteger(seq) && seq >= 1 ? { logId: name.slice(0, slash), seq } : undefined
}

/** An object of the bucket as a ShardSnapshotInfo, or undefined for one that is not a snapshot of `logId`. */
function toInfo(o: ObjectInfo, logId?: string): ShardSnapshotInfo | undefined {
  if (o.deleted) return undefined
  const slash = o.name.lastIndexOf('/')
  if (slash <= 0) return undefined
  const id = o.name.slice(0, slash)
  if (logId !== undefined && id !== logId) return undefined
  const seq = Number(o.metadata?.seq)
  const config = o.metadata?.config
  if (!Number.isSafeInteger(seq) || seq < 1 || typeof config !== 'string') return undefined
  return { logId: id, seq, bytes: o.size, createdAt: o.mtime, config }
}

/**
 * Opens (creating if needed) the snapshot bucket over the logs' NATS connection. Throws
 * INVALID_ARGUMENT for bad `replicas`, LOG_UNAVAILABLE if JetStream refuses the bucket.
 * @example const snapshots = await openSnapshotStore(logs, { replicas: 3 })
 */
export async function openSnapshotStore(
  logs: JetStreamLogs,
  options: SnapshotStoreOptions = {},
): Promise<ShardSnapshotStore> {
  const replicas = options.replicas ?? 1
  if (![1, 3, 5].includes(replicas))
    throw new QuiverError('INVALID_ARGUMENT', `replicas must be 1, 3 or 5, got ${replicas}`)
  const bucket = `${options.prefix ?? 'QUIVER'}_snapshots`
  let os: ObjectStore
  const jsm = await jetstreamManager(logs.connection).catch((err: unknown) => {
    throw unavailable('connecting to JetStream', err)
  })
  try {
    os = await new Objm(logs.connection).create(bucket, {
      replicas,
      storage: StorageType.File,
      description: 'Quiver shard snapshots (docs/cluster.md "Shard snapshots")',
    })
  } catch (err) {
    throw unavailable(`opening bucket ${bucket}`, err)
  }
  const stream = `OBJ_${bucket}`
  const metaPrefix = `$O.${bucket}.M.`
  /** The subject of an object's metadata (the Object Store's: base64url of its name, padded). */
  const metaSubject = (name: string): string =>
    `${metaPrefix}${Buffer.from(name, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`
  /**
   * The names of the bucket's objects, from the stream's per-subject counts of the metadata
   * subjects in one stream-info request: `os.list()` runs a consumer per call, which the server
   * keeps for a while (a periodic check on every node piles them up).
   */
  const names = async (): Promise<string[]> => {
    try {
      const info = await jsm.streams.info(stream, { subjects_filter: `${metaPrefix}>` })
      return Object.keys(info.state.subjects ?? {})
        .filter((s) => s.startsWith(metaPrefix))
        .map((s) => Buffer.from(s.slice(metaPrefix.length), 'base64url').toString('utf8'))
    } catch (err) {
      throw unavailable('listing snapshots', err)
    }
  }
  /**
   * Purges the metadata of a deleted object (its tombstone, and the records before it), so
   * listing by subject sees only live objects. Only up to the tombstone: a put of the same name
   * that landed after the delete keeps its metadata.
   */
  const purgeTombstone = async (name: string): Promise<void> => {
    const subject = metaSubject(name)
    const last = await jsm.streams.getMessage(stream, { last_by_subj: subject })
    if (last === null) return
    let deleted = false
    try {
      deleted = (last.json() as { deleted?: unknown }).deleted === true
    } catch {
      // not an object's metadata: leave it
    }
    await jsm.streams.purge(stream, { filter: subject, seq: deleted ? last.seq + 1 : last.seq })
  }
  const store: ShardSnapshotStore = {
    async put(logId, seq, path, config) {
      try {
        const body = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>
        const info = await os.put(
          {
            name: objectName(logId, seq),
            description: `Quiver shard snapshot of log ${logId} at seq ${seq}`,
            metadata: { seq: String(seq), config },
          },
          body,
        )
        return { logId, seq, bytes: info.size, createdAt: info.mtime, config }
      } catch (err) {
        throw unavailable(`storing the snapshot of ${logId} at seq ${seq}`, err)
      }
    },

    async list(logId) {
      const seqs = (await names()).flatMap((n) => {
        const p = parseName(n)
        return p !== undefined && p.logId === logId ? [p.seq] : []
      })
      const out: ShardSnapshotInfo[] = []
      for (const seq of seqs.sort((a, b) => a - b)) {
        let info: ObjectInfo | null
        try {
          info = await os.info(objectName(logId, seq))
        } catch (err) {
          throw unavailable(`reading snapshot ${objectName(logId, seq)}`, err)
        }
        if (info?.deleted)
          // a tombstone a remove left behind (it failed before purging it): best effort
          await purgeTombstone(objectName(logId, seq)).catch(() => undefined)
        const s = info === null ? undefined : toInfo(info, logId)
        if (s !== undefined) out.push(s)
      }
      return out
    },

    async newestSeqs() {
      const out = new Map<string, number>()
      for (const n of await names()) {
        const p = parseName(n)
        if (p !== undefined && p.seq > (out.get(p.logId) ?? 0)) out.set(p.logId, p.seq)
      }
      return out
    },

    async download(logId, seq, path) {
      const name = objectName(logId, seq)
      let result: Awaited<ReturnType<ObjectStore['get']>>
      try {
        result = await os.get(name)
      } catch (err) {
        throw unavailable(`reading snapshot ${name}`, err)
      }
      if (result === null)
        throw new QuiverError(
          'SNAPSHOT_NOT_FOUND',
          `shard snapshot ${name} is not in the store (removed meanwhile)`,
          {
            logId,
            seq,
          },
        )
      try {
        await pipeline(
          Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>),
          createWriteStream(path, { flags: 'wx' }),
        )
        // resolves with an error when the chunks' digest does not match the object's
        const failed = await result.error
        if (failed) throw failed
      } catch (err) {
        throw unavailable(`reading snapshot ${name}`, err)
      }
    },

    async remove(logId, seq) {
      const name = objectName(logId, seq)
      try {
        await os.delete(name)
        await purgeTombstone(name)
      } catch (err) {
        if (/not found/i.test((err as Error)?.message ?? '')) return
        throw unavailable(`removing snapshot ${name}`, err)
      }
    },

    async removeAll(logId) {
      for (const s of await store.list(logId)) await store.remove(logId, s.seq)
    },

    async logState(logId): Promise<LogState> {
      try {
        const info = await jsm.streams.info(logId)
        const { first_seq, last_seq, bytes, messages } = info.state
        return { firstSeq: messages === 0 ? last_seq + 1 : first_seq, lastSeq: last_seq, bytes }
      } catch (err) {
        if (/stream not found/i.test((err as Error)?.message ?? ''))
          throw new QuiverError('LOG_NOT_FOUND', `no log ${logId}`, { stream: logId })
        throw unavailable(`reading the state of log ${logId}`, err)
      }
    },

    async truncateLog(logId, seq) {
      // a purge without a seq empties the stream: only ever a positive integer here
      if (!Number.isSafeInteger(seq))
        throw new QuiverError('INTERNAL', `refusing to truncate log ${logId} at ${String(seq)}: not a seq`)
      if (seq < 1) return
      try {
        // keeps the records from seq + 1 on
        await jsm.streams.purge(logId, { seq: seq + 1 })
      } catch (err) {
        throw unavailable(`truncating log ${logId} up to seq ${seq}`, err)
      }
    },
  }
  return store
}

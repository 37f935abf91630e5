// Shard snapshots of the cluster mode (issue 14, docs/cluster.md "Shard snapshots"; the store seam
// is src/storage/shard-snapshots.ts): one replica of each shard (the first live one of its
// placement; of a collection held whole, the first live node) writes the shard's segments to the
// store every `everyRecords` log records (or once the log holds `everyBytes`), keeps the newest
// `keep`, and truncates the log below the oldest kept and below every live replica's applied seq.
// A replica opening on a log that no longer holds what it needs, or a new one, loads the newest
// snapshot (`snapshotBootstrap`, the collections' `bootstrap` option) and replays from its seq.
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import type { LogBootstrap, QuiverLogger } from '../collection/collection.js'
import { QuiverError } from '../errors.js'
import { localShards } from '../shards/open.js'
import type { HostedCollection, ImageFile } from '../shards/shard-set.js'
import { extractArchive, writeArchive } from '../storage/archive.js'
import { fsyncDir } from '../storage/files.js'
import type { ShardSnapshotInfo, ShardSnapshotStore } from '../storage/shard-snapshots.js'
import type { ShardTransport } from '../storage/transport.js'

/** When shard snapshots are taken and how many are kept (`OpenOptions.shardSnapshots`). */
export interface ShardSnapshotPolicy {
  /** A snapshot once a shard's log has this many records past the newest one. Default 10000. */
  everyRecords?: number
  /** ... or once the log holds this many bytes (and at least one record past the newest). Default 256 MiB. */
  everyBytes?: number
  /** Snapshots kept per shard (the log keeps the records after the oldest; at least 2, so a replica loading the older one keeps it). Default 2. */
  keep?: number
  /** Milliseconds between two checks. Default 10000. */
  intervalMs?: number
  /** The least milliseconds between two snapshots of one shard by this node (a snapshot copies the whole shard). Default 60000. */
  minIntervalMs?: number
}

/** The transport topic every cluster node answers with the applied seq of each shard it hosts. */
export const APPLIED_TOPIC = 'applied'
/** Milliseconds a node has to say what it applied before the log is left untruncated this time. */
const APPLIED_TIMEOUT_MS = 2000
/** Temporary files of snapshots, under the collections directory (a dot-entry: removed at open). */
const TMP_DIR = '.shard-snapshots'

/** The policy with its defaults; throws INVALID_CONFIG for a field that is not an integer in range. */
export function checkShardSnapshotPolicy(p: ShardSnapshotPolicy): Required<ShardSnapshotPolicy> {
  const int = (v: number | undefined, name: string, min: number, fallback: number): number => {
    if (v === undefined) return fallback
    if (!Number.isSafeInteger(v) || v < min)
      throw new QuiverError('INVALID_CONFIG', `shardSnapshots.${name} must be an integer >= ${min}, got ${v}`)
    return v
  }
  return {
    everyRecords: int(p.everyRecords, 'everyRecords', 1, 10_000),
    everyBytes: int(p.everyBytes, 'everyBytes', 1, 256 * 1024 * 1024),
    keep: int(p.keep, 'keep', 2, 2),
    intervalMs: int(p.intervalMs, 'intervalMs', 100, 10_000),
    minIntervalMs: int(p.minIntervalMs, 'minIntervalMs', 0, 60_000),
  }
}

/** A fresh temporary path under `root` (the collections directory). */
async function tmpPath(root: string, what: string): Promise<string> {
  const dir = join(root, TMP_DIR)
  await mkdir(dir, { recursive: true })
  return join(dir, `${what}-${randomBytes(6).toString('hex')}`)
}

/**
 * The collections' `bootstrap` (CollectionOpenOptions): the newest snapshot from `store`, loaded
 * into a shard directory through a verified archive extraction (archive.ts) under `root`.
 */
export function snapshotBootstrap(
  store: ShardSnapshotStore,
  root: string,
  logger?: QuiverLogger,
): LogBootstrap {
  return {
    async latest(logId) {
      const newest = (await store.list(logId)).at(-1)
      return newest === undefined ? undefined : { seq: newest.seq, config: newest.config }
    },
    async restore(dir, logId, seq) {
      const started = performance.now()
      const work = await tmpPath(root, 'restore')
      try {
        await mkdir(work)
        const archive = join(work, 'snapshot.tar')
        await store.download(logId, seq, archive)
        const files = join(work, 'files')
        await extractArchive(archive, files, { label: `shard snapshot of ${logId} at seq ${seq}` })
        // the manifest goes first and comes last: in between the directory holds no segments, and
        // a crash there loads the snapshot again at the next open
        await rm(join(dir, 'manifest.json'), { force: true })
        await rm(join(dir, 'segments'), { recursive: true, force: true })
        const names = new Set(await readdir(files))
        if (names.has('segments')) await rename(join(files, 'segments'), join(dir, 'segments'))
        await rename(join(files, 'config.json'), join(dir, 'config.json'))
        if (names.has('manifest.json')) await rename(join(files, 'manifest.json'), join(dir, 'manifest.json'))
        await fsyncDir(dir)
        logger?.info(
          { log: logId, seq, ms: Math.round(performance.now() - started) },
          `loaded the shard snapshot of ${logId} at seq ${seq}; the log is replayed from seq ${seq + 1}`,
        )
      } finally {
        await rm(work, { recursive: true, force: true }).catch(() => undefined)
      }
    },
  }
}

/** What the snapshotter asks of the database. */
export interface SnapshotHost {
  readonly nodeId: string
  /** The collections held here now. */
  collections(): Iterable<[string, HostedCollection]>
  /** The nodes hosting each shard of collection `name` (undefined: held whole by every node). */
  placement(name: string): Promise<readonly (readonly string[])[] | undefined>
  /** The live nodes of the cluster, sorted. */
  liveNodes(): Promise<string[]>
}

/** A snapshot written by {@link ShardSnapshotter.runOnce}. */
export interface ShardSnapshotWritten {
  collection: string
  shardId: number
  snapshot: ShardSnapshotInfo
  /** Where the log was truncated to (records <= it dropped); undefined when it was left as it was. */
  truncatedTo: number | undefined
}

/** Takes shard snapshots and truncates the logs they cover; see the file comment. */
export class ShardSnapshotter {
  private readonly policy: Required<ShardSnapshotPolicy>
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<unknown> = Promise.resolve()
  private busy = false
  private stopped = false
  /** When this node last wrote a snapshot of each log, and last asked a log's bytes (ms, performance.now()). */
  private readonly lastWritten = new Map<string, number>()
  private readonly lastSized = new Map<string, number>()

  constructor(
    private readonly store: ShardSnapshotStore,
    private readonly host: SnapshotHost,
    private readonly root: string,
    private readonly transport: ShardTransport | undefined,
    policy: ShardSnapshotPolicy = {},
    private readonly logger?: QuiverLogger,
  ) {
    this.policy = checkShardSnapshotPolicy(policy)
  }

  /** Checks every `intervalMs` (one pass at a time; a failing pass is logged and retried next time). */
  start(): void {
    this.timer = setInterval(() => {
      if (this.busy || this.stopped) return
      void this.runOnce().catch((err: unknown) =>
        this.logger?.warn(
          { err: { message: (err as Error).message } },
          `shard snapshots: ${(err as Error).message}`,
        ),
      )
    }, this.policy.intervalMs)
    this.timer.unref()
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.running.catch(() => undefined)
  }

  /**
   * One pass: for each shard hosted here whose snapshot writer this node is (or every one, with
   * `force`), a snapshot when due (`force`: when the shard applied anything past the newest), the
   * older ones past `keep` removed, the log truncated. Resolves with what it wrote.
   */
  async runOnce(force = false): Promise<ShardSnapshotWritten[]> {
    while (this.busy) await this.running.catch(() => undefined)
    this.busy = true
    const run = this.pass(force)
    this.running = run
    try {
      return await run
    } finally {
      this.busy = false
    }
  }

  private async pass(force: boolean): Promise<ShardSnapshotWritten[]> {
    const live = await this.host.liveNodes()
    const out: ShardSnapshotWritten[] = []
    // one listing of the store per pass (a pass runs every few seconds on every node)
    const newest = force ? new Map<string, number>() : await this.store.newestSeqs()
    for (const [name, c] of [...this.host.collections()]) {
      if (this.stopped) break
      const shards = localShards(c).filter(({ shard }) => shard.logIds.length === 1)
      if (shards.length === 0) continue
      const placement = await this.host.placement(name)
      for (const { shardId, shard } of shards) {
        if (this.stopped) break
        const logId = shard.logIds[0]!
        const replicas = placement?.[shardId] ?? live
        try {
          if (!force && !(await this.due(logId, shard, newest.get(logId) ?? 0))) continue
          if (!force && !(await this.myTurn(logId, replicas, live))) continue
          const written = await this.snapshotShard(name, shardId, shard, logId)
          if (written !== undefined) out.push(written)
        } catch (err) {
          // a shard dropped or re-placed meanwhile: nothing to say; else the next shards go on
          if (err instanceof QuiverError && (err.code === 'CLOSED' || err.code === 'LOG_NOT_FOUND')) continue
          if (force) throw err
          this.logger?.warn(
            { collection: name, shard: shardId, err: { message: (err as Error).message } },
            `shard snapshot of ${name} shard ${shardId}: ${(err as Error).message}`,
          )
        }
      }
    }
    return out
  }

  /**
   * Whether a shard is due a snapshot: it applied `everyRecords` past the newest one, or (its log
   * asked at most once a `minIntervalMs`) its log holds `everyBytes`; never sooner than
   * `minIntervalMs` after this node's last snapshot of it. Cheap when not: no request.
   */
  private async due(logId: string, shard: HostedCollection, newest: number): Promise<boolean> {
    const now = performance.now()
    if (now - (this.lastWritten.get(logId) ?? -Infinity) < this.policy.minIntervalMs) return false
    const applied = shard.stats().appliedSeq
    if (applied <= newest) return false
    if (applied - newest >= this.policy.everyRecords) return true
    if (now - (this.lastSized.get(logId) ?? -Infinity) < this.policy.minIntervalMs) return false
    this.lastSized.set(logId, now)
    return (await this.store.logState(logId)).bytes >= this.policy.everyBytes
  }

  /**
   * Whether this node writes `logId`'s snapshots: the first live replica that hosts the shard (the
   * live ones before it in `replicas` are asked; one still attaching passes its turn, one that does
   * not answer in time makes this pass skip the shard).
   */
  private async myTurn(
    logId: string,
    replicas: readonly string[],
    live: readonly string[],
  ): Promise<boolean> {
    for (const n of replicas) {
      if (!live.includes(n)) continue
      if (n === this.host.nodeId) return true
      const applied = await this.appliedOn(n)
      // no answer: it may be the writer, slow to say so; two writers would race, so skip this pass
      if (applied === undefined || applied.has(logId)) return false
    }
    return false
  }

  private async snapshotShard(
    name: string,
    shardId: number,
    shard: HostedCollection,
    logId: string,
  ): Promise<ShardSnapshotWritten | undefined> {
    const kept = await this.store.list(logId)
    const newest = kept.at(-1)?.seq ?? 0
    const applied = shard.stats().appliedSeq
    if (applied <= newest) return undefined
    this.lastWritten.set(logId, performance.now())
    const started = performance.now()
    const image = await shard.snapshotImage()
    const config = image.files.find((f) => f.path === 'config.json')
    if (config === undefined) return undefined
    // a shared log's collection has no WAL files: what the image holds of one is left out
    const files = image.files.filter((f: ImageFile) => !f.path.startsWith('wal/'))
    const path = await tmpPath(this.root, 'snapshot')
    let snapshot: ShardSnapshotInfo
    try {
      await writeArchive(path, files, { kind: 'shard', collection: name, shardId, logId, seq: image.seq })
      snapshot = await this.store.put(logId, image.seq, path, Buffer.from(config.data).toString('utf8'))
    } finally {
      await rm(path, { force: true }).catch(() => undefined)
      await rm(`${path}.checksum`, { force: true }).catch(() => undefined)
    }
    const all = await this.store.list(logId)
    for (const old of all.slice(0, Math.max(0, all.length - this.policy.keep)))
      await this.store.remove(logId, old.seq)
    const oldest = all.slice(-this.policy.keep)[0]?.seq ?? snapshot.seq
    let truncatedTo: number | undefined
    try {
      // the placement and the live nodes as they are now, not as the pass began (a replica added
      // meanwhile may be replaying from the log's start)
      const placement = await this.host.placement(name)
      const live = await this.host.liveNodes()
      truncatedTo = await this.truncate(
        logId,
        Math.min(oldest, snapshot.seq),
        placement?.[shardId] ?? live,
        live,
      )
    } catch (err) {
      // dropped while the snapshot was written: it goes too
      if (err instanceof QuiverError && err.code === 'LOG_NOT_FOUND')
        await this.store.removeAll(logId).catch(() => undefined)
      throw err
    }
    this.logger?.info(
      {
        collection: name,
        shard: shardId,
        seq: snapshot.seq,
        bytes: snapshot.bytes,
        ms: Math.round(performance.now() - started),
        truncatedTo,
      },
      `shard snapshot of ${name} shard ${shardId} at seq ${snapshot.seq} (${snapshot.bytes} bytes)${truncatedTo === undefined ? '' : `; its log now starts after seq ${truncatedTo}`}`,
    )
    return { collection: name, shardId, snapshot, truncatedTo }
  }

  /**
   * Truncates `logId` up to `upTo`, or below the applied seq of a live replica that is behind it;
   * leaves the log as it is when a live replica cannot say what it applied (or does not hold the
   * shard yet: attaching). Resolves with the seq truncated to, or undefined.
   */
  private async truncate(
    logId: string,
    upTo: number,
    replicas: readonly string[],
    live: readonly string[],
  ): Promise<number | undefined> {
    if (this.transport === undefined) return undefined
    let floor = upTo
    for (const node of replicas) {
      if (!live.includes(node) || node === this.host.nodeId) continue
      const applied = await this.appliedOn(node)
      const seq = applied?.get(logId)
      if (seq === undefined) return undefined
      floor = Math.min(floor, seq)
    }
    const state = await this.store.logState(logId)
    if (floor < state.firstSeq) return undefined
    await this.store.truncateLog(logId, floor)
    return floor
  }

  /** What node `node` applied of each shard it hosts, or undefined when it did not say in time. */
  private async appliedOn(node: string): Promise<Map<string, number> | undefined> {
    try {
      const answer = await this.transport!.request(node, APPLIED_TOPIC, new Uint8Array(0), APPLIED_TIMEOUT_MS)
      const pairs = deserialize(answer) as unknown
      if (!Array.isArray(pairs)) return undefined
      const out = new Map<string, number>()
      for (const p of pairs)
        if (Array.isArray(p) && typeof p[0] === 'string' && Number.isSafeInteger(p[1]) && p[1] >= 0)
          out.set(p[0], p[1])
      return out
    } catch {
      return undefined
    }
  }
}

/** This node's answer on APPLIED_TOPIC: `[logId, appliedSeq]` of every shard it hosts. */
export function appliedAnswer(collections: Iterable<HostedCollection>): Uint8Array {
  const pairs: [string, number][] = []
  for (const c of collections)
    for (const { shard } of localShards(c)) {
      const id = shard.logIds[0]
      if (id === undefined) continue
      try {
        pairs.push([id, shard.stats().appliedSeq])
      } catch {
        // closing meanwhile
      }
    }
  return serialize(pairs)
}

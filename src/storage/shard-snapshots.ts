// The shard-snapshot seam of the cluster mode (issue 14, docs/cluster.md "Shard snapshots"): a
// shared log (a JetStream stream) cannot grow for ever, and a new replica should not rebuild a
// shard by replaying every record since the collection was created. So a replica of each shard
// now and then writes its segments, as of a log seq, to a store every node reaches (the JetStream
// Object Store); the log is then truncated below the oldest snapshot kept (and below every live
// replica's applied seq), and a replica whose log no longer starts where it needs, or a new one,
// loads the newest snapshot and replays the log from its seq. The implementation lives above
// (src/cluster/snapshot-store.ts), so the database and collection layers do not depend on NATS.

/** One shard snapshot in the store. */
export interface ShardSnapshotInfo {
  /** The shard's log id (a JetStream stream name). */
  readonly logId: string
  /** The last log record the snapshot includes: a replica made from it replays from `seq + 1`. */
  readonly seq: number
  /** Bytes of the snapshot archive. */
  readonly bytes: number
  /** When it was stored, ISO 8601 UTC. */
  readonly createdAt: string
  /**
   * The shard's `config.json` as of `seq`, as stored on disk (checksummed text): a node that hosts
   * the shard elsewhere, or attaches to a log whose first records were truncated, takes the
   * config from here.
   */
  readonly config: string
}

/** What a shared log holds now. */
export interface LogState {
  /** The first seq it holds (lastSeq + 1 when it holds none). */
  readonly firstSeq: number
  readonly lastSeq: number
  /** Bytes of the records it holds. */
  readonly bytes: number
}

/**
 * Where the shards' snapshots are kept, and the truncation of the logs they cover. Every call
 * throws LOG_UNAVAILABLE when the store cannot be reached.
 */
export interface ShardSnapshotStore {
  /** Stores the snapshot archive at file `path` (archive.ts format) as log `logId`'s snapshot at `seq`; `config`: ShardSnapshotInfo.config. */
  put(logId: string, seq: number, path: string, config: string): Promise<ShardSnapshotInfo>
  /** The snapshots of log `logId`, oldest first. */
  list(logId: string): Promise<ShardSnapshotInfo[]>
  /** The seq of the newest snapshot of every log that has one (cheap: one request, for a periodic check). */
  newestSeqs(): Promise<ReadonlyMap<string, number>>
  /** Writes the archive of `logId`'s snapshot at `seq` to file `path` (verified on the way). Throws SNAPSHOT_NOT_FOUND when it is gone. */
  download(logId: string, seq: number, path: string): Promise<void>
  /** Removes `logId`'s snapshot at `seq` (nothing when there is none). */
  remove(logId: string, seq: number): Promise<void>
  /** Removes every snapshot of `logId` (its collection was dropped). */
  removeAll(logId: string): Promise<void>
  /** What log `logId` holds now. Throws LOG_NOT_FOUND when there is no such log. */
  logState(logId: string): Promise<LogState>
  /** Drops the records of log `logId` with seq <= `seq` (a snapshot every replica can load covers them). */
  truncateLog(logId: string, seq: number): Promise<void>
}

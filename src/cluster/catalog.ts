// The cluster catalog in a JetStream KV bucket (issue 14): which collections the cluster has (the
// shared logs of their shards), which nodes are alive (heartbeats) and which one holds the
// controller lease. Every node of a cluster opens the same bucket; `Quiver` reconciles its
// collections with it (src/db/quiver.ts), so a collection created or dropped through any node
// appears or goes on every node.
//
// Keys: `collections.<base64url(name)>` -> { logIds, placement? }, `nodes.<nodeId>` -> { nodeId,
// uri, at }, `controller` -> { nodeId, term, at }, `aliases` -> { aliases: [[alias, collection]] }. Times are the writers' wall clocks (ms since the epoch):
// a cluster's machines need synchronized clocks (NTP) for liveness to be judged right.
import { setTimeout as delay } from 'node:timers/promises'
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream'
import { type KV, Kvm, KvWatchInclude } from '@nats-io/kv'
import { QuiverError } from '../errors.js'
import {
  type CatalogEntry,
  type CatalogPeer,
  type CatalogStatus,
  type ClusterCatalog,
  peerIdOf,
} from '../storage/catalog.js'

export { peerIdOf }

import type { JetStreamLogs } from './jetstream-log.js'

/** Options of {@link openCatalog}. */
export interface CatalogOptions {
  /** This node's id: 1..64 letters, digits, `_` or `-`; unique in the cluster, kept across restarts. */
  nodeId: string
  /** Where this node's REST API listens (`http://host:port`), reported to peers; a function is asked at each heartbeat. */
  uri?: string | (() => string | undefined)
  /** Whether this node has loaded its data and takes replicas (asked at each heartbeat); default always. */
  ready?: () => boolean
  /** Milliseconds between heartbeats. Default 1000. A node is dead after 3 missed heartbeats. */
  heartbeatMs?: number
  /** Copies of the bucket NATS keeps (1, 3 or 5); default 1. Use the streams' `replicas`. */
  replicas?: number
  /** Bucket name prefix, as the logs' stream prefix. Default `QUIVER`. */
  prefix?: string
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/

/** The catalog as the node that opened it holds it. */
export interface NodeCatalog extends ClusterCatalog {
  /** Writes a heartbeat now (e.g. once the REST API listens, so peers learn its `uri` at once). */
  announce(): Promise<void>
}

const encodeName = (name: string): string => Buffer.from(name, 'utf8').toString('base64url')
const decodeName = (token: string): string => Buffer.from(token, 'base64url').toString('utf8')

/**
 * Opens (creating if needed) the catalog bucket over the logs' NATS connection and starts this
 * node's heartbeats. Throws INVALID_ARGUMENT for a bad `nodeId` / `heartbeatMs` / `replicas`,
 * LOG_UNAVAILABLE if JetStream refuses the bucket.
 * @example const catalog = await openCatalog(logs, { nodeId: 'n1', uri: 'http://127.0.0.1:6333' })
 */
export async function openCatalog(logs: JetStreamLogs, options: CatalogOptions): Promise<NodeCatalog> {
  if (typeof options.nodeId !== 'string' || !NODE_ID.test(options.nodeId))
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `node id must be 1..64 letters, digits, _ or -, got ${JSON.stringify(options.nodeId)}`,
    )
  const heartbeatMs = options.heartbeatMs ?? 1000
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 50 || heartbeatMs > 60_000)
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `heartbeatMs must be an integer in 50..60000, got ${heartbeatMs}`,
    )
  const replicas = options.replicas ?? 1
  if (![1, 3, 5].includes(replicas))
    throw new QuiverError('INVALID_ARGUMENT', `replicas must be 1, 3 or 5, got ${replicas}`)
  const bucket = `${options.prefix ?? 'QUIVER'}_catalog`
  let kv: KV
  let jsm: JetStreamManager
  try {
    jsm = await jetstreamManager(logs.connection)
    kv = await new Kvm(logs.connection).create(bucket, { history: 1, replicas })
  } catch (err) {
    throw new QuiverError(
      'LOG_UNAVAILABLE',
      `cannot open the cluster catalog (JetStream KV bucket ${bucket}): ${(err as Error).message}`,
      undefined,
      err,
    )
  }
  const uri = options.uri
  const catalog = new KvCatalog(
    kv,
    jsm,
    bucket,
    options.nodeId,
    typeof uri === 'function' ? uri : () => uri,
    heartbeatMs,
    options.ready ?? (() => true),
  )
  // a new replicated bucket answers once its Raft group has a leader: retried for up to 10 s
  const started = performance.now()
  for (let attempt = 1; ; attempt++) {
    try {
      await catalog.beat()
      break
    } catch (err) {
      if (performance.now() - started > 10_000)
        throw unavailable(`the cluster catalog (bucket ${bucket}) does not answer writes`, err)
      await delay(Math.min(1000, 50 * 2 ** attempt))
    }
  }
  catalog.start()
  return catalog
}

class KvCatalog implements NodeCatalog {
  private timer: ReturnType<typeof setInterval> | undefined
  private beating: Promise<void> = Promise.resolve()
  private watcher: { stop(): void } | undefined
  private watching: Promise<void> = Promise.resolve()
  private aliasWatcher: { stop(): void } | undefined
  private watchingAliases: Promise<void> = Promise.resolve()
  private closed = false
  /** The live nodes as of the last heartbeat round (this one always). */
  private live: ReadonlySet<string>
  /** Those of them that are ready (this one when it is). */
  private readySet: ReadonlySet<string>

  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    readonly nodeId: string,
    private readonly uriOf: () => string | undefined,
    private readonly heartbeatMs: number,
    private readonly readyOf: () => boolean,
  ) {
    this.live = new Set([nodeId])
    this.readySet = new Set([nodeId])
  }

  liveNodes(): ReadonlySet<string> {
    return this.live
  }

  /** The live nodes that have loaded their data (`ready`), as of the last heartbeat round. */
  readyNodes(): ReadonlySet<string> {
    return this.readySet
  }

  private get deadAfterMs(): number {
    return this.heartbeatMs * 3 + 500
  }

  start(): void {
    this.timer = setInterval(() => {
      // one beat at a time; a slow NATS skips beats rather than piling them up
      this.beating = this.beating.then(() => this.beat().catch(() => undefined))
    }, this.heartbeatMs)
    this.timer.unref()
  }

  announce(): Promise<void> {
    const run = this.beating.then(() => this.beat())
    this.beating = run.catch(() => undefined)
    return run
  }

  /** Writes this node's heartbeat, and takes or renews the controller lease when it is free or ours. */
  async beat(): Promise<void> {
    if (this.closed) return
    const now = Date.now()
    await this.kv.put(
      `nodes.${this.nodeId}`,
      JSON.stringify({ nodeId: this.nodeId, uri: this.uriOf(), at: now, ready: this.readyOf() }),
    )
    // a node still loading takes no lease (it could not control yet); it renews one it holds
    const ready = this.readyOf()
    const lease = await this.kv.get('controller')
    const held =
      lease?.operation === 'PUT' ? lease.json<{ nodeId: string; term: number; at: number }>() : undefined
    try {
      if (!ready && held?.nodeId !== this.nodeId) {
        // not ready: leave the lease to the others
      } else if (lease === null || held === undefined) {
        await this.kv.create('controller', JSON.stringify({ nodeId: this.nodeId, term: 1, at: now }))
      } else if (held.nodeId === this.nodeId) {
        await this.kv.update('controller', JSON.stringify({ ...held, at: now }), lease.revision)
      } else if (now - held.at > this.deadAfterMs) {
        await this.kv.update(
          'controller',
          JSON.stringify({ nodeId: this.nodeId, term: held.term + 1, at: now }),
          lease.revision,
        )
      }
    } catch {
      // another node won the race for the lease (a wrong last revision): it is theirs
    }
    await this.status()
  }

  async register(name: string, entry: CatalogEntry): Promise<void> {
    try {
      const value =
        entry.placement === undefined
          ? { logIds: entry.logIds }
          : { logIds: entry.logIds, placement: entry.placement }
      await this.kv.create(`collections.${encodeName(name)}`, JSON.stringify(value))
    } catch (err) {
      if (/wrong last sequence|key exists/i.test((err as Error).message))
        throw new QuiverError(
          'COLLECTION_EXISTS',
          `collection ${name} already exists (created through another node)`,
          {
            name,
          },
        )
      throw unavailable(`cannot record collection ${name} in the cluster catalog`, err)
    }
  }

  async unregister(name: string): Promise<boolean> {
    const key = `collections.${encodeName(name)}`
    try {
      const e = await this.kv.get(key)
      if (e === null || e.operation !== 'PUT') return false
      await this.kv.delete(key, { previousSeq: e.revision })
      return true
    } catch (err) {
      throw unavailable(`cannot remove collection ${name} from the cluster catalog`, err)
    }
  }

  async get(name: string): Promise<CatalogEntry | undefined> {
    let e: Awaited<ReturnType<KV['get']>>
    try {
      e = await this.kv.get(`collections.${encodeName(name)}`)
    } catch (err) {
      throw unavailable(`cannot read collection ${name} from the cluster catalog`, err)
    }
    return e === null || e.operation !== 'PUT' ? undefined : parseEntry(e.json())
  }

  async update(name: string, change: (entry: CatalogEntry) => CatalogEntry): Promise<CatalogEntry> {
    const key = `collections.${encodeName(name)}`
    for (let attempt = 0; ; attempt++) {
      let e: Awaited<ReturnType<KV['get']>>
      try {
        e = await this.kv.get(key)
      } catch (err) {
        throw unavailable(`cannot read collection ${name} from the cluster catalog`, err)
      }
      if (e === null || e.operation !== 'PUT')
        throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} does not exist in the cluster`, {
          name,
        })
      const next = change(parseEntry(e.json()))
      const value =
        next.placement === undefined
          ? { logIds: next.logIds }
          : { logIds: next.logIds, placement: next.placement }
      try {
        await this.kv.update(key, JSON.stringify(value), e.revision)
        return next
      } catch (err) {
        // another node changed the entry since it was read: read it again and redo the change
        if (attempt < 20 && /wrong last sequence/i.test((err as Error).message)) continue
        throw unavailable(`cannot change collection ${name} in the cluster catalog`, err)
      }
    }
  }

  async list(): Promise<Map<string, CatalogEntry>> {
    const out = new Map<string, CatalogEntry>()
    try {
      for (const key of await this.keys('collections.>')) {
        const entry = await this.get(decodeName(key.slice('collections.'.length)))
        if (entry !== undefined) out.set(decodeName(key.slice('collections.'.length)), entry)
      }
    } catch (err) {
      if (err instanceof QuiverError) throw err
      throw unavailable('cannot list the cluster catalog', err)
    }
    return out
  }

  /**
   * The keys under `filter` (a KV key pattern), deleted ones included (`get` tells them apart).
   * Read from the bucket stream's per-subject counts in one stream-info request (paged by the
   * client), not `kv.keys()`: that one runs a consumer and can wait forever for its last message
   * once the bucket's Raft group moved (seen after a NATS server restart), and can report a key
   * written meanwhile twice. Throws what the request throws (timeouts included).
   */
  private async keys(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`
    const info = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}${filter}` })
    return Object.keys(info.state.subjects ?? {})
      .filter((s) => s.startsWith(prefix))
      .map((s) => s.slice(prefix.length))
  }

  async watch(onChange: (name: string) => Promise<void>): Promise<void> {
    const it = await this.kv.watch({ key: 'collections.>', include: KvWatchInclude.UpdatesOnly })
    this.watcher = it
    this.watching = (async () => {
      for await (const e of it) {
        if (this.closed) break
        await onChange(decodeName(e.key.slice('collections.'.length))).catch(() => undefined)
      }
    })()
  }

  async aliases(): Promise<ReadonlyMap<string, string> | undefined> {
    let e: Awaited<ReturnType<KV['get']>>
    try {
      e = await this.kv.get(ALIASES_KEY)
    } catch (err) {
      throw unavailable('cannot read the aliases from the cluster catalog', err)
    }
    return e === null || e.operation !== 'PUT' ? undefined : parseAliases(e.json())
  }

  async updateAliases(
    change: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string>,
  ): Promise<ReadonlyMap<string, string>> {
    for (let attempt = 0; ; attempt++) {
      let e: Awaited<ReturnType<KV['get']>>
      try {
        e = await this.kv.get(ALIASES_KEY)
      } catch (err) {
        throw unavailable('cannot read the aliases from the cluster catalog', err)
      }
      const present = e !== null && e.operation === 'PUT'
      const current = present ? parseAliases(e!.json()) : new Map<string, string>()
      const next = change(current)
      // unchanged: nothing written (no revision for every node's watch to follow)
      if (present && next.size === current.size && [...next].every(([k, v]) => current.get(k) === v))
        return next
      const value = JSON.stringify({ aliases: [...next] })
      try {
        if (present) await this.kv.update(ALIASES_KEY, value, e!.revision)
        else await this.kv.create(ALIASES_KEY, value)
        return next
      } catch (err) {
        // changed by another node since it was read: read it again and redo the change
        if (attempt < 20 && /wrong last sequence|key exists/i.test((err as Error).message)) continue
        throw unavailable('cannot change the aliases in the cluster catalog', err)
      }
    }
  }

  async watchAliases(onChange: () => Promise<void>): Promise<void> {
    const it = await this.kv.watch({ key: ALIASES_KEY, include: KvWatchInclude.UpdatesOnly })
    this.aliasWatcher = it
    this.watchingAliases = (async () => {
      for await (const _ of it) {
        if (this.closed) break
        await onChange().catch(() => undefined)
      }
    })()
  }

  async status(): Promise<CatalogStatus> {
    const now = Date.now()
    const peers: CatalogPeer[] = []
    let controller: string | undefined
    let term = 0
    try {
      for (const key of await this.keys('nodes.>')) {
        const e = await this.kv.get(key)
        if (e === null || e.operation !== 'PUT') continue
        const v = e.json<{ nodeId: string; uri?: string; at: number; ready?: unknown }>()
        const seenAgoMs = Math.max(0, now - v.at)
        if (seenAgoMs > this.deadAfterMs && v.nodeId !== this.nodeId) continue
        const ready = v.nodeId === this.nodeId ? this.readyOf() : v.ready !== false
        peers.push({ nodeId: v.nodeId, peerId: peerIdOf(v.nodeId), uri: v.uri, seenAgoMs, ready })
      }
      const lease = await this.kv.get('controller')
      if (lease !== null && lease.operation === 'PUT') {
        const held = lease.json<{ nodeId: string; term: number; at: number }>()
        term = held.term
        if (now - held.at <= this.deadAfterMs) controller = held.nodeId
      }
    } catch (err) {
      throw unavailable('cannot read the cluster membership', err)
    }
    peers.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
    this.live = new Set([this.nodeId, ...peers.map((p) => p.nodeId)])
    this.readySet = new Set(peers.filter((p) => p.ready !== false).map((p) => p.nodeId))
    if (this.readyOf()) (this.readySet as Set<string>).add(this.nodeId)
    const self = peers.find((p) => p.nodeId === this.nodeId) ?? {
      nodeId: this.nodeId,
      peerId: peerIdOf(this.nodeId),
      uri: this.uriOf(),
      seenAgoMs: 0,
      ready: this.readyOf(),
    }
    return { self, peers, controller, term }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.beating
    this.watcher?.stop()
    this.aliasWatcher?.stop()
    await this.watching
    await this.watchingAliases
  }
}

function parseEntry(v: unknown): CatalogEntry {
  const ids = (v as { logIds?: unknown } | null)?.logIds
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => typeof x === 'string' && x.length > 0))
    throw new QuiverError('CORRUPTED', `a cluster catalog entry has no valid logIds: ${JSON.stringify(v)}`)
  const placement = (v as { placement?: unknown }).placement
  if (placement === undefined) return { logIds: ids as string[] }
  if (
    !Array.isArray(placement) ||
    placement.length !== ids.length ||
    !placement.every(
      (p) => Array.isArray(p) && p.length > 0 && p.every((n) => typeof n === 'string' && NODE_ID.test(n)),
    )
  )
    throw new QuiverError('CORRUPTED', `a cluster catalog entry has no valid placement: ${JSON.stringify(v)}`)
  return { logIds: ids as string[], placement: placement as string[][] }
}

const ALIASES_KEY = 'aliases'

/** `{ aliases: [[alias, collection], ...] }` as a Map (never a plain object keyed by user strings). */
function parseAliases(v: unknown): Map<string, string> {
  const list = (v as { aliases?: unknown } | null)?.aliases
  if (
    !Array.isArray(list) ||
    !list.every(
      (p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string',
    )
  )
    throw new QuiverError('CORRUPTED', `the cluster catalog's aliases are not valid: ${JSON.stringify(v)}`)
  return new Map(list as [string, string][])
}

function unavailable(what: string, err: unknown): QuiverError {
  return new QuiverError('LOG_UNAVAILABLE', `${what}: ${(err as Error).message}`, undefined, err)
}

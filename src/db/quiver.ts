// Quiver, the embedded database: opens a data directory (taking its lock), keeps the catalog of
// collections (one sub-directory each under collections/), creates and drops them atomically.
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type CollectionOpenOptions, EmbeddedCollection } from '../collection/collection.js'
import { checkCollectionName, resolveConfig } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import { type DirLock, lockDirectory } from '../storage/dir-lock.js'
import { fsyncDir } from '../storage/files.js'
import type { CreateCollectionOptions } from '../types.js'

export interface OpenOptions extends CollectionOpenOptions {}

const COLLECTIONS = 'collections'

/**
 * An embedded Quiver database over one directory.
 *
 * @example
 * const db = await Quiver.open('./data')
 * const docs = await db.createCollection('docs', { dimension: 3, metric: 'Cosine' })
 * await docs.upsert([{ id: 1, vector: [0.1, 0.9, 0.2], payload: { lang: 'en' } }])
 * const hits = await docs.search([0.1, 0.8, 0.3], { limit: 5 })
 * await db.close()
 */
export class Quiver {
  readonly dir: string
  private readonly lock: DirLock
  private readonly options: OpenOptions
  private readonly collections = new Map<string, EmbeddedCollection>()
  /**
   * Collections whose files failed their checks at open, with the error: they are listed, every
   * access throws that error (CORRUPTED naming the file), and they can be dropped or recovered from
   * a snapshot. The other collections serve as usual.
   */
  private readonly unavailable = new Map<string, QuiverError>()
  /** Collections being created or dropped, so a racing call sees them. */
  private readonly pending = new Set<string>()
  private closed = false

  private constructor(dir: string, lock: DirLock, options: OpenOptions) {
    this.dir = dir
    this.lock = lock
    this.options = options
  }

  /**
   * Opens (creating if needed) a data directory and recovers every collection from its segments
   * and WAL. Throws DIRECTORY_LOCKED if another process has it open, IO_ERROR if the file system
   * refuses. A collection whose files fail their checks does not stop the others: it is listed,
   * and using it throws its CORRUPTED error (see `unavailableCollections`).
   */
  static async open(dir: string, options: OpenOptions = {}): Promise<Quiver> {
    const abs = resolve(dir)
    await mkdir(abs, { recursive: true })
    const lock = await lockDirectory(abs)
    const db = new Quiver(abs, lock, options)
    try {
      const root = join(abs, COLLECTIONS)
      await mkdir(root, { recursive: true })
      for (const entry of await readdir(root, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue
        if (entry.name.startsWith('.')) {
          // an interrupted create or drop: never acknowledged, or already dropped
          await rm(join(root, entry.name), { recursive: true, force: true })
          continue
        }
        try {
          db.collections.set(
            entry.name,
            await EmbeddedCollection.open(join(root, entry.name), entry.name, options),
          )
        } catch (err) {
          if (!(err instanceof QuiverError) || err.code !== 'CORRUPTED') throw err
          db.unavailable.set(entry.name, err)
          options.logger?.error(
            { collection: entry.name, err: { code: err.code, message: err.message, details: err.details } },
            `collection ${entry.name} is unavailable: ${err.message}; drop it or recover it from a snapshot`,
          )
        }
      }
    } catch (err) {
      for (const c of db.collections.values()) await c.close().catch(() => undefined)
      await lock.release()
      throw err
    }
    return db
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('CLOSED', `database ${this.dir} is closed`)
  }

  /**
   * Creates a collection. Throws INVALID_COLLECTION_NAME, INVALID_CONFIG, COLLECTION_EXISTS.
   * @example const docs = await db.createCollection('docs', { dimension: 768, metric: 'Cosine', hnsw: { m: 16, efConstruct: 100 } })
   */
  async createCollection(name: string, options: CreateCollectionOptions): Promise<EmbeddedCollection> {
    this.assertOpen()
    checkCollectionName(name)
    const config = resolveConfig(options)
    if (this.collections.has(name) || this.unavailable.has(name) || this.pending.has(name)) {
      throw new QuiverError('COLLECTION_EXISTS', `collection ${name} already exists`)
    }
    this.pending.add(name)
    try {
      const root = join(this.dir, COLLECTIONS)
      const staging = join(root, `.creating-${randomBytes(8).toString('hex')}`)
      await mkdir(staging)
      const created = await EmbeddedCollection.create(staging, name, config, this.options)
      await created.close()
      await rename(staging, join(root, name))
      await fsyncDir(root)
      const collection = await EmbeddedCollection.open(join(root, name), name, this.options)
      this.collections.set(name, collection)
      return collection
    } finally {
      this.pending.delete(name)
    }
  }

  /**
   * The collection called `name`. Throws COLLECTION_NOT_FOUND.
   * @example const docs = await db.getCollection('docs')
   */
  async getCollection(name: string): Promise<EmbeddedCollection> {
    this.assertOpen()
    const c = this.collections.get(name)
    if (c) return c
    const broken = this.unavailable.get(name)
    if (broken) throw broken
    throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} does not exist`, { name })
  }

  hasCollection(name: string): boolean {
    return this.collections.has(name) || this.unavailable.has(name)
  }

  /** Names of all collections (unavailable ones included), sorted. */
  listCollections(): string[] {
    return [...this.collections.keys(), ...this.unavailable.keys()].sort()
  }

  /** Collections that failed their checks at open, with the reason (a CORRUPTED error naming the file). */
  unavailableCollections(): ReadonlyMap<string, QuiverError> {
    return this.unavailable
  }

  /**
   * Drops a collection and its files; returns false if it did not exist.
   * @example await db.deleteCollection('docs')
   */
  async deleteCollection(name: string): Promise<boolean> {
    this.assertOpen()
    const c = this.collections.get(name)
    if ((!c && !this.unavailable.has(name)) || this.pending.has(name)) return false
    this.pending.add(name)
    try {
      this.collections.delete(name)
      this.unavailable.delete(name)
      const root = join(this.dir, COLLECTIONS)
      const trash = join(root, `.dropping-${randomBytes(8).toString('hex')}`)
      await c?.closeWithoutPersist()
      await rename(join(root, name), trash)
      await fsyncDir(root)
      await rm(trash, { recursive: true, force: true })
      return true
    } finally {
      this.pending.delete(name)
    }
  }

  /** Persists and closes every collection, then releases the directory lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    let first: unknown
    for (const c of this.collections.values()) {
      try {
        await c.close()
      } catch (err) {
        first ??= err
      }
    }
    this.collections.clear()
    await this.lock.release()
    if (first !== undefined) throw first
  }
}

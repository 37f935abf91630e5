// Aliases of the embedded database on real files: resolution everywhere a collection name goes,
// name clashes, all-or-nothing batches, durability across reopen and SIGKILL (a real child process
// switching aliases in a loop), dropped collections, snapshots through an alias, full snapshots
// carrying aliases, and a switch under a concurrent query load with zero failed queries.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type AliasDescription, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'

const CHILD = new URL('./fixtures/alias-switcher.mjs', import.meta.url).pathname

/** Two collections whose point 1 tells them apart (`payload.v`). */
async function twoVersions(db: Quiver): Promise<void> {
  for (const [name, v] of [
    ['docs_v1', 1],
    ['docs_v2', 2],
  ] as const) {
    const c = await db.createCollection(name, { dimension: 2, metric: 'Dot' })
    await c.upsert([
      { id: 1, vector: [1, 0], payload: { v } },
      { id: 2, vector: [0, 1], payload: { v } },
    ])
  }
}

const alias = (aliasName: string, collectionName: string): AliasDescription => ({ aliasName, collectionName })

describe('aliases (embedded)', () => {
  let dir: string
  let db: Quiver
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-aliases-'))
    db = await Quiver.open(dir, { threads: 0 })
    await twoVersions(db)
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('resolves an alias in getCollection and hasCollection, and lists collections without aliases', async () => {
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    expect(await db.getCollection('docs')).toBe(await db.getCollection('docs_v1'))
    expect(db.hasCollection('docs')).toBe(true)
    expect(db.listCollections()).toEqual(['docs_v1', 'docs_v2'])
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
    expect(db.collectionAliases('docs_v1')).toEqual([alias('docs', 'docs_v1')])
    // as Qdrant: an alias has no aliases, an unknown name has none
    expect(db.collectionAliases('docs')).toEqual([])
    expect(db.collectionAliases('nope')).toEqual([])
    const hits = await (await db.getCollection('docs')).search([1, 0], { limit: 1, withPayload: true })
    expect(hits[0]?.payload).toEqual({ v: 1 })
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v2', aliasName: 'docs' } }])
    const after = await (await db.getCollection('docs')).search([1, 0], { limit: 1, withPayload: true })
    expect(after[0]?.payload).toEqual({ v: 2 })
    await expectError(db.getCollection('nope'), 'COLLECTION_NOT_FOUND')
  })

  it('keeps alias and collection names apart, with Qdrant messages', async () => {
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    await expectError(
      db.createCollection('docs', { dimension: 2, metric: 'Dot' }),
      'ALIAS_EXISTS',
      /Can't create collection with name docs\. Alias with the same name already exists/,
    )
    expect(db.listCollections()).toEqual(['docs_v1', 'docs_v2'])
    await expectError(
      db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs_v2' } }]),
      'COLLECTION_EXISTS',
      /Collection `docs_v2` already exists!/,
    )
    await expectError(
      db.updateAliases([{ renameAlias: { oldAliasName: 'docs', newAliasName: 'docs_v2' } }]),
      'COLLECTION_EXISTS',
    )
    // a collection being created reserves its name against a racing alias
    const creating = db.createCollection('racing', { dimension: 2, metric: 'Dot' })
    const aliasing = db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'racing' } }])
    const [created] = await Promise.allSettled([creating, aliasing])
    expect(created.status).toBe('fulfilled')
    await expectError(aliasing, 'COLLECTION_EXISTS')
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
  })

  it('applies a batch all or nothing, on disk too', async () => {
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    const before = await readFile(join(dir, 'aliases.json'), 'utf8')
    await expectError(
      db.updateAliases([
        { deleteAlias: { aliasName: 'docs' } },
        { createAlias: { collectionName: 'docs_v2', aliasName: 'docs' } },
        { createAlias: { collectionName: 'docs_v3', aliasName: 'next' } },
      ]),
      'COLLECTION_NOT_FOUND',
      /Not found: Collection `docs_v3` doesn't exist! \(actions\[2\]\)/,
    )
    await expectError(
      db.updateAliases([
        { createAlias: { collectionName: 'docs_v2', aliasName: 'other' } },
        { renameAlias: { oldAliasName: 'missing', newAliasName: 'x' } },
      ]),
      'ALIAS_NOT_FOUND',
      /Alias missing does not exists!/,
    )
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
    expect(await readFile(join(dir, 'aliases.json'), 'utf8')).toBe(before)
    await db.close()
    db = await Quiver.open(dir, { threads: 0 })
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
  })

  it('keeps aliases across reopen and drops them with their collection', async () => {
    await db.updateAliases([
      { createAlias: { collectionName: 'docs_v1', aliasName: 'a' } },
      { createAlias: { collectionName: 'docs_v1', aliasName: 'b' } },
      { createAlias: { collectionName: 'docs_v2', aliasName: 'c' } },
      { renameAlias: { oldAliasName: 'b', newAliasName: 'bb' } },
    ])
    await db.close()
    db = await Quiver.open(dir, { threads: 0 })
    expect(db.listAliases()).toEqual([alias('a', 'docs_v1'), alias('bb', 'docs_v1'), alias('c', 'docs_v2')])
    expect(await db.deleteCollection('docs_v1')).toBe(true)
    expect(db.listAliases()).toEqual([alias('c', 'docs_v2')])
    await expectError(db.getCollection('a'), 'COLLECTION_NOT_FOUND')
    // a new collection of the old name does not revive the aliases
    await db.createCollection('docs_v1', { dimension: 2, metric: 'Dot' })
    expect(db.collectionAliases('docs_v1')).toEqual([])
    // deleting through an alias deletes nothing, as Qdrant
    expect(await db.deleteCollection('c')).toBe(false)
    await db.close()
    db = await Quiver.open(dir, { threads: 0 })
    expect(db.listAliases()).toEqual([alias('c', 'docs_v2')])
    await db.updateAliases([{ deleteAlias: { aliasName: 'c' } }])
    expect(db.listAliases()).toEqual([])
  })

  it('takes, lists and recovers collection snapshots through an alias', async () => {
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    const snap = await db.createSnapshot('docs')
    expect(snap.name.startsWith('docs_v1-')).toBe(true)
    expect((await db.listSnapshots('docs')).map((s) => s.name)).toEqual([snap.name])
    expect((await db.listSnapshots('docs_v1')).map((s) => s.name)).toEqual([snap.name])
    await (await db.getCollection('docs')).upsert([{ id: 3, vector: [1, 1] }])
    // recovering into the alias replaces the collection it names; the alias stays
    await db.recoverSnapshot('docs', await db.snapshotPath('docs', snap.name))
    expect(await (await db.getCollection('docs_v1')).count()).toBe(2)
    expect(db.listCollections()).toEqual(['docs_v1', 'docs_v2'])
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
    expect(await db.deleteSnapshot('docs', snap.name)).toBe(true)
  })

  it('carries aliases in a full snapshot and restores them', async () => {
    await db.updateAliases([
      { createAlias: { collectionName: 'docs_v2', aliasName: 'docs' } },
      { createAlias: { collectionName: 'docs_v1', aliasName: 'old' } },
    ])
    const full = await db.createFullSnapshot()
    const path = await db.fullSnapshotPath(full.name)

    const fresh = await mkdtemp(join(tmpdir(), 'quiver-aliases-fresh-'))
    const other = await Quiver.open(fresh, { threads: 0 })
    try {
      // a live alias named like a collection of the snapshot gives way; a live alias elsewhere stays
      await other.createCollection('keep', { dimension: 2, metric: 'Dot' })
      await other.createCollection('x', { dimension: 2, metric: 'Dot' })
      await other.updateAliases([
        { createAlias: { collectionName: 'x', aliasName: 'docs_v1' } },
        { createAlias: { collectionName: 'keep', aliasName: 'mine' } },
      ])
      expect((await other.recoverFullSnapshot(path)).sort()).toEqual(['docs_v1', 'docs_v2'])
      expect(other.listAliases()).toEqual([
        alias('docs', 'docs_v2'),
        alias('mine', 'keep'),
        alias('old', 'docs_v1'),
      ])
      const hits = await (await other.getCollection('docs')).search([1, 0], { limit: 1, withPayload: true })
      expect(hits[0]?.payload).toEqual({ v: 2 })
      await other.close()
      const reopened = await Quiver.open(fresh, { threads: 0 })
      expect(reopened.listAliases()).toEqual([
        alias('docs', 'docs_v2'),
        alias('mine', 'keep'),
        alias('old', 'docs_v1'),
      ])
      // a snapshot alias named like a live collection it does not hold: refused before anything changes
      await reopened.deleteCollection('docs_v2')
      await reopened.updateAliases([{ deleteAlias: { aliasName: 'old' } }])
      await reopened.createCollection('old', { dimension: 2, metric: 'Dot' })
      await expectError(reopened.recoverFullSnapshot(path), 'INVALID_ARGUMENT', /alias old/)
      expect(reopened.listCollections()).toEqual(['docs_v1', 'keep', 'old', 'x'])
      expect(reopened.listAliases()).toEqual([alias('mine', 'keep')])
      await reopened.close()
    } finally {
      await other.close()
      await rm(fresh, { recursive: true, force: true })
    }
  })

  it('switches an alias under a concurrent query load with zero failed queries', async () => {
    await db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    const SWITCHES = 100
    let switching = true
    const seen = new Set<unknown>()
    let queries = 0
    const reader = async (): Promise<void> => {
      while (switching) {
        const c = await db.getCollection('docs')
        const { points } = await c.query({ query: [1, 0], limit: 2, withPayload: true })
        // one collection's answer, never a mix
        expect(points.map((p) => p.id)).toEqual([1, 2])
        expect(points[0]?.payload?.['v']).toBe(points[1]?.payload?.['v'])
        seen.add(points[0]?.payload?.['v'])
        queries++
        // an embedded query without worker threads never leaves the microtask queue: let I/O run
        await new Promise<void>((done) => setImmediate(done))
      }
    }
    const readers = [reader(), reader(), reader()]
    for (let i = 0; i < SWITCHES; i++) {
      await db.updateAliases([
        { deleteAlias: { aliasName: 'docs' } },
        { createAlias: { collectionName: i % 2 === 0 ? 'docs_v2' : 'docs_v1', aliasName: 'docs' } },
      ])
    }
    switching = false
    await Promise.all(readers)
    expect(queries).toBeGreaterThan(SWITCHES)
    expect([...seen].sort()).toEqual([1, 2])
    expect(db.listAliases()).toEqual([alias('docs', 'docs_v1')])
  })
})

describe('aliases after SIGKILL (a real child process switching aliases in a loop)', () => {
  it('reopen with the last acknowledged alias set or the one in flight, never a mix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-aliases-crash-'))
    try {
      for (let round = 0; round < 5; round++) {
        const killAfter = 5 + ((round * 37) % 40)
        const child: ChildProcess = spawn(process.execPath, [CHILD, dir], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stderr = ''
        child.stderr!.on('data', (d) => {
          stderr += String(d)
        })
        const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
        let acked = -1
        let inFlight: number | undefined
        let acks = 0
        for await (const line of createInterface({ input: child.stdout! })) {
          const [kind, n] = line.split(' ')
          if (kind === 'begin') inFlight = Number(n)
          if (kind === 'ack') {
            acked = Number(n)
            inFlight = undefined
            if (++acks === killAfter) child.kill('SIGKILL')
          }
        }
        await exited
        if (acks < killAfter) throw new Error(`switcher exited after ${acks} acks: ${stderr}`)
        expect(child.signalCode).toBe('SIGKILL')
        const state = (n: number) => [alias('docs', `v${n % 2}`), alias('mirror', `v${(n + 1) % 2}`)]
        const db = await Quiver.open(dir, { threads: 0 })
        try {
          const got = db.listAliases()
          const allowed = [state(acked), ...(inFlight === undefined ? [] : [state(inFlight)])]
          expect(allowed).toContainEqual(got)
          expect((await db.getCollection('docs')).name).toBe(got[0]?.collectionName)
        } finally {
          await db.close()
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

// `serve()` owns the database: closing the server (by `close()` or by SIGINT/SIGTERM) closes the
// database and releases the data directory, and acknowledged writes are there after a reopen.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Quiver } from '../src/db/quiver.js'
import { serve } from '../src/server/index.js'

describe('serve lifecycle', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-serve-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('closes the database on close(), keeping acknowledged writes', async () => {
    const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false })
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.address).toBe(server.url)
    await expect(
      serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false }),
    ).rejects.toMatchObject({
      code: 'DIRECTORY_LOCKED',
    })
    const client = new QdrantClient({ url: server.url, checkCompatibility: false })
    await client.createCollection('kept', { vectors: { size: 2, distance: 'Euclid' } })
    await client.upsert('kept', { points: [{ id: 1, vector: [1, 2], payload: { ok: true } }] })
    await server.close()
    await server.close()
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow()

    const db = await Quiver.open(dir)
    try {
      const kept = await db.getCollection('kept')
      expect(await kept.get([1], { withPayload: true })).toEqual([{ id: 1, payload: { ok: true } }])
    } finally {
      await db.close()
    }
  })

  it.each(['SIGINT', 'SIGTERM'] as const)('closes the server and the database on %s', async (signal) => {
    const before = process.listeners(signal)
    const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent' })
    const added = process.listeners(signal).filter((l) => !before.includes(l))
    expect(added).toHaveLength(1)
    const dbClose = vi.spyOn(server.db, 'close')
    added[0]!(signal)
    await vi.waitFor(() => expect(dbClose).toHaveBeenCalledTimes(1))
    await dbClose.mock.results[0]!.value
    expect(process.listeners(signal)).toEqual(before)
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow()
    const db = await Quiver.open(dir)
    await db.close()
  })
})

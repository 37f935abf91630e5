// The payload file (on_disk_payload) on a real file: records read back as written (one at a time
// and in sequential passes), changes kept over the file until the next write, and damage detected:
// a flipped bit in a record fails the read of that record, in the tables or header the open, and a
// torn file the open.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openForSyncReads } from '../storage/files.js'
import type { Payload } from '../types.js'
import { PayloadFile, PayloadStore, payloadFileParts } from './payload-store.js'

const N = 10_000
const payloadOf = (o: number): Payload | undefined =>
  o % 7 === 0 ? undefined : { n: o, text: `record ${o}`.repeat(1 + (o % 3)), tags: [o % 2 ? 'odd' : 'even'] }

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-payload-file-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function written(name: string, mutate?: (bytes: Uint8Array) => void): Promise<string> {
  const parts = payloadFileParts(N, payloadOf)
  const bytes = Buffer.concat(parts.parts)
  expect(bytes.byteLength).toBe(parts.bytes)
  mutate?.(bytes)
  const path = join(dir, name)
  await writeFile(path, bytes)
  return path
}

describe('payload file', () => {
  it('reads every record back, alone or in order; a store keeps changes over it', async () => {
    const file = PayloadFile.open(openForSyncReads(await written('a.bin'))!, 'a.bin', N)
    for (const o of [0, 1, 2, 6, 7, 4999, N - 1]) expect(file.get(o)).toEqual(payloadOf(o))
    let seen = 0
    file.forEach((o, p) => {
      expect(p).toEqual(payloadOf(o))
      seen++
    })
    expect(seen).toBe(N)
    const store = new PayloadStore(Array.from({ length: N }, (_, o) => payloadOf(o)))
    store.useFile(file)
    store.set(5, { replaced: true })
    store.set(7, undefined)
    expect(store.get(5)).toEqual({ replaced: true })
    expect(store.get(7)).toBeUndefined()
    expect(store.get(8)).toEqual(payloadOf(8))
    expect(store.changed).toBe(2)
    const all = store.toArray()
    expect(all[5]).toEqual({ replaced: true })
    expect(all[9]).toEqual(payloadOf(9))
    // a delete is not a change; the next file copies unchanged records and empties deleted ones
    store.drop(9)
    expect(store.changed).toBe(2)
    const next = Buffer.concat(store.fileParts((o) => o !== 9).parts)
    await writeFile(join(dir, 'next.bin'), next)
    const again = PayloadFile.open(openForSyncReads(join(dir, 'next.bin'))!, 'next.bin', N)
    expect(again.get(5)).toEqual({ replaced: true })
    expect(again.get(7)).toBeUndefined()
    expect(again.get(9)).toBeUndefined()
    expect(again.get(10)).toEqual(payloadOf(10))
    expect(again.get(N - 1)).toEqual(payloadOf(N - 1))
    store.toMemory()
    expect(store.onDisk).toBeUndefined()
    expect(store.get(5)).toEqual({ replaced: true })
    expect(store.get(9)).toEqual(payloadOf(9))
    expect(() => PayloadFile.open(openForSyncReads(join(dir, 'a.bin'))!, 'a.bin', N + 1)).toThrow(
      /holds 10000 records/,
    )
  })

  it('a damaged record fails its read; damaged tables, header or a torn file fail the open', async () => {
    const tables = 32 + (N + 1) * 8 + N * 4 + 4
    const record = await written('r.bin', (b) => {
      b[tables]! ^= 0x04 // record 0 (msgpack nil: one byte)
    })
    const file = PayloadFile.open(openForSyncReads(record)!, 'r.bin', N)
    expect(() => file.get(0)).toThrow(/payload file r\.bin: record 0 fails its CRC32C check/)
    expect(file.get(1)).toEqual(payloadOf(1))
    expect(() => file.forEach(() => {})).toThrow(/record 0 fails/)
    const table = await written('t.bin', (b) => {
      b[32 + 8 * 100]! ^= 1
    })
    expect(() => PayloadFile.open(openForSyncReads(table)!, 't.bin', N)).toThrow(/record tables fail/)
    const head = await written('h.bin', (b) => {
      b[8]! ^= 1
    })
    expect(() => PayloadFile.open(openForSyncReads(head)!, 'h.bin', N)).toThrow(/header fails/)
    const full = Buffer.concat(payloadFileParts(N, payloadOf).parts)
    await writeFile(join(dir, 'torn.bin'), full.subarray(0, full.byteLength - 10))
    expect(() => PayloadFile.open(openForSyncReads(join(dir, 'torn.bin'))!, 'torn.bin', N)).toThrow(
      /size .*expected/,
    )
  })
})

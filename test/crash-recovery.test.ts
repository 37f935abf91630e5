// fail_recovery: a real child process writes batches and is killed with SIGKILL at a random
// moment; the reopened directory must hold every acknowledged write, no half-written batch, and a
// sound graph. Repeated over several kills on the same directory (persist + WAL replay mixed).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'

const DIM = 16
function vectorFor(id: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.sin(id * 0.37 + j * 1.3) + (j === id % DIM ? 1 : 0))
}

const CHILD = new URL('./fixtures/crash-writer.mjs', import.meta.url).pathname

interface Acks {
  upserted: Set<number>
  deleted: Set<number>
  /** ids of a delete begun but not acknowledged when the writer was killed: may or may not be applied */
  maybeDeleted: Set<number>
}

/** Runs the writer until it has acknowledged `acksBeforeKill` writes, then SIGKILLs it. */
async function runAndKill(
  dir: string,
  start: number,
  acksBeforeKill: number,
  flushBytes: number,
): Promise<Acks> {
  const child: ChildProcess = spawn(process.execPath, [CHILD, dir, String(start), String(flushBytes)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => {
    stderr += String(d)
  })
  const acks: Acks = { upserted: new Set(), deleted: new Set(), maybeDeleted: new Set() }
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  let count = 0
  const lines = createInterface({ input: child.stdout! })
  for await (const line of lines) {
    const [kind, what, first, n] = line.split(' ')
    const ids = Array.from({ length: Number(n) }, (_, i) => Number(first) + i)
    if (kind === 'begin') {
      acks.maybeDeleted = new Set(ids)
      continue
    }
    if (kind !== 'ack') continue
    acks.maybeDeleted = new Set()
    if (what === 'upsert') for (const id of ids) acks.upserted.add(id)
    else for (const id of ids) acks.deleted.add(id)
    // keep reading after the kill: lines already in the pipe were printed before the process died
    if (++count === acksBeforeKill) child.kill('SIGKILL')
  }
  await exited
  if (count < acksBeforeKill) throw new Error(`writer exited early after ${count} acks: ${stderr}`)
  expect(child.signalCode).toBe('SIGKILL')
  return acks
}

describe('crash recovery (SIGKILL during writes)', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  for (const flushBytes of [1 << 30, 48 * 1024]) {
    it(`loses no acknowledged write and shows no half batch (persist every ${flushBytes} WAL bytes)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'quiver-crash-'))
      dirs.push(dir)
      const upserted = new Set<number>()
      const deleted = new Set<number>()
      const maybeDeleted = new Set<number>()
      let start = 0
      const seed = flushBytes % 97
      for (let round = 0; round < 4; round++) {
        const acksBeforeKill = 3 + ((seed + round * 7919) % 17)
        const acks = await runAndKill(dir, start, acksBeforeKill, flushBytes)
        for (const id of acks.upserted) upserted.add(id)
        for (const id of acks.deleted) deleted.add(id)
        for (const id of acks.maybeDeleted) maybeDeleted.add(id)

        const db = await Quiver.open(dir)
        try {
          const docs = await db.getCollection('crash')
          expect(docs.checkIntegrity()).toEqual({ ok: true, problems: [] })
          const all = new Map<number, { batch: number }>()
          let offset: number | string | null = null
          do {
            const page: Awaited<ReturnType<typeof docs.scroll>> = await docs.scroll({ limit: 500, offset })
            for (const p of page.points) all.set(p.id as number, p.payload as { batch: number })
            offset = page.nextPageOffset
          } while (offset !== null)
          // every acknowledged upsert that was not deleted is present, with its own vector
          for (const id of upserted) {
            if (deleted.has(id) || maybeDeleted.has(id)) continue
            expect(all.has(id), `acknowledged point ${id} lost`).toBe(true)
          }
          for (const id of deleted) expect(all.has(id), `deleted point ${id} visible`).toBe(false)
          // writes are atomic: an upserted batch is whole (its last 20 points are never deleted),
          // and a delete of a batch's first 5 points removed all 5 or none
          const byBatch = new Map<number, Set<number>>()
          for (const [id, p] of all) byBatch.set(p.batch, (byBatch.get(p.batch) ?? new Set()).add(id))
          // the payload index survived and agrees with the points
          const info = await docs.info()
          expect(info.payloadSchema['batch']?.points).toBe(all.size)
          for (const batch of [...byBatch.keys()].slice(0, 10)) {
            const n = await docs.count({ filter: { must: [{ key: 'batch', match: { value: batch } }] } })
            expect(n).toBe(byBatch.get(batch)!.size)
          }
          for (const [batch, ids] of byBatch) {
            for (let id = batch + 5; id < batch + 25; id++)
              expect(ids.has(id), `half batch ${batch}`).toBe(true)
            const head = Array.from({ length: 5 }, (_, i) => ids.has(batch + i))
            expect(
              head.every((x) => x === head[0]),
              `half delete in batch ${batch}`,
            ).toBe(true)
          }
          // stored vectors are intact and searchable: each point finds itself first
          const sample = [...all.keys()].filter((_, i) => i % 7 === 0)
          for (const id of sample) {
            const [rec] = await docs.get([id], { withVector: true })
            expect(rec!.vector!.map((x) => Math.fround(x))).toEqual(vectorFor(id).map((x) => Math.fround(x)))
            const [hit] = await docs.search(vectorFor(id), { limit: 1, ef: 64 })
            expect(hit!.id).toBe(id)
          }
          start = Math.max(start, ...all.keys(), ...upserted) + 1000
        } finally {
          await db.close()
        }
      }
      expect(upserted.size).toBeGreaterThan(0)
    })
  }
})

// fail_recovery: a real child process (test/fixtures/crash-writer.mjs) runs a seeded random mix of
// writes and is SIGKILLed at a random acknowledged-write count; the directory is reopened in this
// process and compared with a model of the acknowledged writes. Many kills on one directory, with
// persists (segment writes + WAL truncation) forced mid-run in some iterations.
// Env: QUIVER_CRASH_ITERATIONS (kills per mode, default 20 for `mixed`), QUIVER_CRASH_SEED.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import type { Filter, Payload } from '../src/types.js'
import { rng } from './support/random.js'

const CHILD = new URL('./fixtures/crash-writer.mjs', import.meta.url).pathname
const DIM = 8
const COLLECTION = 'crash'
const ITERATIONS = Number(process.env['QUIVER_CRASH_ITERATIONS'] ?? 20)
const BASE_SEED = Number(process.env['QUIVER_CRASH_SEED'] ?? Math.floor(Math.random() * 1e9))

/** Same as the fixture's `vectorFor`, rounded to float32 as stored. */
function vectorFor(id: number, v: number): number[] {
  return Array.from({ length: DIM }, (_, j) =>
    Math.fround(Math.sin(id * 0.37 + v * 0.011 + j * 1.3) + (j === id % DIM ? 1 : 0)),
  )
}

type Op =
  | { t: 'upsert'; pts: { id: number; v: number; p: Payload }[] }
  | { t: 'delete_ids'; ids: number[] }
  | { t: 'delete_filter'; filter: Filter }
  | { t: 'set_payload'; ids: number[]; p: Payload }
  | { t: 'overwrite_payload'; ids: number[]; p: Payload }
  | { t: 'clear_payload'; ids: number[] }
  | { t: 'delete_payload'; ids: number[]; keys: string[] }
  | { t: 'index'; field: string; schema: string }
  /** `name` is set on the ack (the file name `createSnapshot` returned) */
  | { t: 'snapshot'; name?: string }
  /** a live config change (`updateConfig`) */
  | { t: 'reconfigure'; u: { hnsw?: { m?: number; efConstruct?: number }; quantization?: unknown } }

/** The config fields the reconfigure mode changes (the writer creates m 8, efConstruct 32, no quantization). */
interface ConfigState {
  m: number
  efConstruct: number
  quantization: unknown
}

interface PointState {
  v: number
  p: Payload
}

/** The state acknowledged writes define: points (version + payload) and payload indexes. */
class Model {
  points = new Map<number, PointState>()
  indexes = new Map<string, string>()
  config: ConfigState = { m: 8, efConstruct: 32, quantization: null }

  clone(): Model {
    const m = new Model()
    for (const [id, s] of this.points) m.points.set(id, { v: s.v, p: structuredClone(s.p) })
    m.indexes = new Map(this.indexes)
    m.config = structuredClone(this.config)
    return m
  }

  apply(op: Op): void {
    switch (op.t) {
      case 'upsert':
        for (const { id, v, p } of op.pts) this.points.set(id, { v, p: structuredClone(p) })
        return
      case 'delete_ids':
        for (const id of op.ids) this.points.delete(id)
        return
      case 'delete_filter':
        for (const [id, s] of this.points) if (matches(op.filter, s.p)) this.points.delete(id)
        return
      case 'set_payload':
        for (const id of op.ids) {
          const s = this.points.get(id)
          if (s) s.p = { ...s.p, ...structuredClone(op.p) }
        }
        return
      case 'overwrite_payload':
        for (const id of op.ids) {
          const s = this.points.get(id)
          if (s) s.p = structuredClone(op.p)
        }
        return
      case 'clear_payload':
        for (const id of op.ids) {
          const s = this.points.get(id)
          if (s) s.p = {}
        }
        return
      case 'delete_payload':
        for (const id of op.ids) {
          const s = this.points.get(id)
          if (s) for (const k of op.keys) delete s.p[k]
        }
        return
      case 'index':
        this.indexes.set(op.field, op.schema)
        return
      case 'snapshot':
        return
      case 'reconfigure':
        if (op.u.hnsw?.m !== undefined) this.config.m = op.u.hnsw.m
        if (op.u.hnsw?.efConstruct !== undefined) this.config.efConstruct = op.u.hnsw.efConstruct
        if (op.u.quantization !== undefined) this.config.quantization = op.u.quantization
        return
    }
  }
}

type Condition = { key: string; match?: { value: unknown }; range?: { lt?: number } }

/** The subset of the filter language the writer uses: `must` of `match.value` / `range.lt`. */
function matches(filter: Filter, p: Payload): boolean {
  return ((filter as { must: Condition[] }).must ?? []).every((c) => {
    const value = p[c.key]
    if (c.match) return value === c.match.value
    if (c.range?.lt !== undefined) return typeof value === 'number' && value < c.range.lt
    return false
  })
}

interface Actual {
  points: Map<number, { vector: number[]; payload: Payload }>
  indexes: Map<string, { dataType: string; points: number }>
  config: ConfigState
}

async function readActual(c: HostedCollection): Promise<Actual> {
  const points: Actual['points'] = new Map()
  let offset: number | string | null = null
  do {
    const page: Awaited<ReturnType<HostedCollection['scroll']>> = await c.scroll({
      limit: 256,
      offset,
      withPayload: true,
      withVector: true,
    })
    for (const r of page.points)
      points.set(r.id as number, { vector: r.vector as number[], payload: (r.payload ?? {}) as Payload })
    offset = page.nextPageOffset
  } while (offset !== null)
  const indexes: Actual['indexes'] = new Map()
  for (const [field, info] of Object.entries((await c.info()).payloadSchema))
    indexes.set(field, { dataType: info.dataType, points: info.points })
  const v = c.config.vectors.get('')!
  const config = { m: v.hnsw.m, efConstruct: v.hnsw.efConstruct, quantization: v.quantization ?? null }
  return { points, indexes, config }
}

/** Differences between what is stored and a model (at most 8 listed). */
function diff(actual: Actual, model: Model): string[] {
  const out: string[] = []
  for (const [id, s] of model.points) {
    const a = actual.points.get(id)
    if (!a) out.push(`point ${id} missing`)
    else if (!isDeepStrictEqual(a.vector, vectorFor(id, s.v)))
      out.push(`point ${id}: vector is not version ${s.v}`)
    else if (!isDeepStrictEqual(a.payload, s.p))
      out.push(`point ${id}: payload ${JSON.stringify(a.payload)} != ${JSON.stringify(s.p)}`)
  }
  for (const id of actual.points.keys()) if (!model.points.has(id)) out.push(`point ${id} should not exist`)
  for (const [field, schema] of model.indexes) {
    const a = actual.indexes.get(field)
    if (a?.dataType !== schema) out.push(`payload index ${field}: ${JSON.stringify(a)} != ${schema}`)
  }
  for (const field of actual.indexes.keys())
    if (!model.indexes.has(field)) out.push(`payload index ${field} should not exist`)
  if (!isDeepStrictEqual(actual.config, model.config))
    out.push(`config ${JSON.stringify(actual.config)} != ${JSON.stringify(model.config)}`)
  return out.slice(0, 8)
}

/** Filters, counts, payload-index sizes and search agree with the model (which equals the stored points). */
async function checkConsistency(c: HostedCollection, model: Model, random: () => number): Promise<void> {
  expect(c.checkIntegrity()).toEqual({ ok: true, problems: [] })
  expect(await c.count()).toBe(model.points.size)
  const payloads = [...model.points.values()].map((s) => s.p)
  const filters: Filter[] = [
    ...Array.from({ length: 8 }, (_, g) => ({ must: [{ key: 'g', match: { value: g } }] })),
    { must: [{ key: 'tag', match: { value: 'b' } }] },
    { must: [{ key: 'h', range: { lt: 30 } }] },
    {
      must: [
        { key: 'g', match: { value: 3 } },
        { key: 'h', range: { lt: 50 } },
      ],
    },
  ]
  for (const filter of filters) {
    const expected = payloads.filter((p) => matches(filter, p)).length
    expect(await c.count({ filter }), `count ${JSON.stringify(filter)}`).toBe(expected)
  }
  const info = await c.info()
  for (const field of model.indexes.keys()) {
    const expected = payloads.filter((p) => p[field] !== undefined).length
    expect(info.payloadSchema[field]?.points, `payload index ${field} size`).toBe(expected)
  }
  // exact search finds each sampled point's own vector at distance ~0, filtered or not
  const ids = [...model.points.keys()]
  for (let i = 0; i < Math.min(12, ids.length); i++) {
    const id = ids[Math.floor(random() * ids.length)]!
    const s = model.points.get(id)!
    const [hit] = await c.search(vectorFor(id, s.v), { limit: 1, exact: true })
    expect(hit?.id, `exact search for point ${id}`).toBe(id)
    expect(hit!.score).toBeLessThan(1e-3)
    if (typeof s.p['g'] === 'number') {
      const filter = { must: [{ key: 'g', match: { value: s.p['g'] } }] }
      const [fhit] = await c.search(vectorFor(id, s.v), { limit: 1, exact: true, filter })
      expect(fhit?.id, `filtered exact search for point ${id}`).toBe(id)
    }
  }
  // approximate search returns only live points, with their stored payloads
  for (let i = 0; i < 3 && ids.length > 0; i++) {
    const q = vectorFor(Math.floor(random() * 1000), i)
    for (const hit of await c.search(q, { limit: 10, withPayload: true })) {
      const s = model.points.get(hit.id as number)
      expect(s, `search returned point ${hit.id}, which does not exist`).toBeDefined()
      expect(hit.payload ?? {}).toEqual(s!.p)
    }
  }
}

/**
 * Every acknowledged snapshot is listed and recovers (into a scratch collection) to exactly the
 * state acknowledged before it; a listed snapshot nobody acknowledged (the in-flight one) recovers
 * too. Then they are deleted, so each round starts with none.
 */
async function checkSnapshots(db: Quiver, acked: Map<string, Model>, where: string): Promise<void> {
  const listed = (await db.listSnapshots(COLLECTION)).map((s) => s.name)
  for (const name of acked.keys())
    expect(listed, `${where}: acknowledged snapshot ${name} listed`).toContain(name)
  for (const name of listed) {
    await db.recoverSnapshot('restored', await db.snapshotPath(COLLECTION, name))
    const expected = acked.get(name)
    if (expected) {
      const problems = diff(await readActual(await db.getCollection('restored')), expected)
      expect(problems, `${where}: snapshot ${name} recovered`).toEqual([])
    }
    await db.deleteCollection('restored')
    await db.deleteSnapshot(COLLECTION, name)
  }
}

type Mode = 'mixed' | 'optimizer' | 'snapshot' | 'reconfigure' | 'on-disk'

interface RunResult {
  acked: Op[]
  /** The op begun but not acknowledged when the writer died, if any. */
  inFlight: Op | undefined
  optimizerRan: boolean
  /** The writer reported vectors in vector files (on-disk mode). */
  onDisk: boolean
}

/** Runs the writer until it has acknowledged `killAfter` writes, SIGKILLs it, and reads every line it printed. */
async function runAndKill(
  dir: string,
  mode: Mode,
  seed: number,
  killAfter: number,
  flushBytes: number,
): Promise<RunResult> {
  const args = {
    dir,
    seed,
    flushBytes,
    walSegmentBytes: 8 * 1024,
    mode,
    idSpace: mode === 'optimizer' ? 150 : mode === 'on-disk' ? 600 : 400,
  }
  const child: ChildProcess = spawn(process.execPath, [CHILD, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => {
    stderr += String(d)
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const result: RunResult = { acked: [], inFlight: undefined, optimizerRan: false, onDisk: false }
  // keep reading after the kill: lines already in the pipe were printed before the process died
  for await (const line of createInterface({ input: child.stdout! })) {
    const space = line.indexOf(' ')
    const kind = space < 0 ? line : line.slice(0, space)
    const rest = line.slice(space + 1)
    if (kind === 'begin') result.inFlight = JSON.parse(rest) as Op
    else if (kind === 'ack') {
      result.acked.push(JSON.parse(rest) as Op)
      result.inFlight = undefined
      if (result.acked.length === killAfter) child.kill('SIGKILL')
    } else if (kind === 'stat') {
      const o = JSON.parse(rest) as {
        running: boolean
        completed: { vacuum: number; merge: number; reconfigure: number }
        onDisk?: number
      }
      if ((o.onDisk ?? 0) > 0) result.onDisk = true
      const done = mode === 'reconfigure' ? o.completed.reconfigure : o.completed.vacuum + o.completed.merge
      if (o.running || done > 0) result.optimizerRan = true
    }
  }
  await exited
  if (result.acked.length < killAfter)
    throw new Error(`writer exited after ${result.acked.length} acks (code ${child.exitCode}): ${stderr}`)
  expect(child.signalCode).toBe('SIGKILL')
  return result
}

/**
 * `iterations` kill/reopen rounds on one directory. After each: the stored state equals the model
 * of acknowledged writes, or that model plus the one in-flight write applied whole; then filters,
 * counts, payload indexes and search are checked against it.
 */
async function crashLoop(
  mode: Mode,
  iterations: number,
  seed: number,
): Promise<{ optimizerRan: boolean; onDiskSeen: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), `quiver-crash-${mode}-`))
  const model = new Model()
  if (mode === 'on-disk') model.config.quantization = { scalar: { type: 'int8' } } // as the writer creates it
  let optimizerRan = false
  let onDiskSeen = false
  try {
    for (let i = 0; i < iterations; i++) {
      const round = seed + i * 7919
      const random = rng(round)
      // most rounds persist mid-run (segment files + WAL truncation), some only replay the WAL
      const flushBytes = [1 << 30, 16 * 1024, 4 * 1024][i % 3]!
      const killAfter = 1 + Math.floor(random() * (mode === 'optimizer' ? 60 : 40))
      const where = `mode ${mode}, seed ${seed} (QUIVER_CRASH_SEED), iteration ${i}, flushBytes ${flushBytes}, kill after ack ${killAfter}`
      const run = await runAndKill(dir, mode, round, killAfter, flushBytes)
      optimizerRan ||= run.optimizerRan
      onDiskSeen ||= run.onDisk
      /** model at each acknowledged snapshot, by file name */
      const snapshots = new Map<string, Model>()
      for (const op of run.acked) {
        model.apply(op)
        if (op.t === 'snapshot') snapshots.set(op.name!, model.clone())
      }
      const db = await Quiver.open(dir)
      try {
        const c = await db.getCollection(COLLECTION)
        onDiskSeen ||= c.stats().onDiskVectorBytes > 0
        const actual = await readActual(c)
        const before = diff(actual, model)
        if (before.length > 0) {
          const after = run.inFlight ? model.clone() : undefined
          if (after && run.inFlight) after.apply(run.inFlight)
          const afterDiff = after ? diff(actual, after) : ['no write was in flight']
          if (afterDiff.length > 0) {
            throw new Error(
              `${where}: stored state matches neither the acknowledged writes (${before.join('; ')}) nor them plus the in-flight ${JSON.stringify(run.inFlight)?.slice(0, 200)} (${afterDiff.join('; ')})`,
            )
          }
          model.points = after!.points
          model.indexes = after!.indexes
          model.config = after!.config
        }
        await checkConsistency(c, model, random).catch((err: Error) => {
          err.message = `${where}: ${err.message}`
          throw err
        })
        if (mode === 'snapshot') await checkSnapshots(db, snapshots, where)
        if (mode === 'reconfigure') {
          // an interrupted rebuild resumes: every segment ends up built for the recovered config
          await c.waitForOptimizers()
          expect((await c.info()).status, where).toBe('green')
          await checkConsistency(c, model, random).catch((err: Error) => {
            err.message = `${where} (after the rebuild): ${err.message}`
            throw err
          })
        }
        // no staging directory of an interrupted create/drop/recover survives an open
        const leftovers = (await readdir(join(dir, 'collections'))).filter((n) => n.startsWith('.'))
        expect(leftovers, where).toEqual([])
      } finally {
        await db.close()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  expect(model.points.size + model.indexes.size).toBeGreaterThan(0)
  return { optimizerRan, onDiskSeen }
}

const scaled = (share: number) => Math.max(1, Math.round(ITERATIONS * share))
/** Per-test time limit: about 1 s per kill on 2 shared cores, with headroom. */
const limitFor = (kills: number) => 30_000 + kills * 3_000

describe('crash recovery (SIGKILL during writes, model-checked)', () => {
  afterAll(() => {
    process.stdout.write(`crash-recovery: seed ${BASE_SEED} (QUIVER_CRASH_SEED)\n`)
  })

  it(
    `upserts, deletes (ids, filter), payload updates, index creation: ${ITERATIONS} kills`,
    async () => {
      await crashLoop('mixed', ITERATIONS, BASE_SEED)
    },
    limitFor(ITERATIONS),
  )

  it(
    `replace churn with a vacuum optimizer running: ${scaled(0.3)} kills`,
    async () => {
      const { optimizerRan } = await crashLoop('optimizer', scaled(0.3), BASE_SEED + 1)
      expect(optimizerRan, 'an optimization ran or completed in at least one writer').toBe(true)
    },
    limitFor(scaled(0.3)),
  )

  it(
    `writes mixed with live config changes (segments rebuilt in the background): ${scaled(0.3)} kills`,
    async () => {
      const { optimizerRan } = await crashLoop('reconfigure', scaled(0.3), BASE_SEED + 3)
      expect(optimizerRan, 'a reconfigure optimization ran or completed in at least one writer').toBe(true)
    },
    limitFor(scaled(0.3)),
  )

  it(
    `churn over segments with their vectors and payloads on disk (onDisk, onDiskPayload): ${scaled(0.3)} kills`,
    async () => {
      const { onDiskSeen } = await crashLoop('on-disk', scaled(0.3), BASE_SEED + 4)
      expect(onDiskSeen, 'a sealed segment kept its vectors in a vector file in at least one round').toBe(
        true,
      )
    },
    limitFor(scaled(0.3)),
  )

  it(
    `writes mixed with db.createSnapshot: ${scaled(0.3)} kills`,
    async () => {
      await crashLoop('snapshot', scaled(0.3), BASE_SEED + 2)
    },
    limitFor(scaled(0.3)),
  )
})

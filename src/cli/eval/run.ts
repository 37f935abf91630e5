// `quiver eval` (issue 16 §5, docs/eval.md): the evaluation of a collection on the user's own data,
// through the embedded API (`--data`) or any Qdrant-compatible server (`--url`). Phases, each with
// progress on stderr: the queries (the user's, or points sampled from the collection), their exact
// truth, recall@k and latency at the collection's default, at each `ef` and (Quiver) each
// `target_recall`, throughput at 1..N concurrent clients, a selectivity sweep over a payload field,
// latency under a write load on a scratch collection (created and dropped: never the user's), and
// the cold start; then report.json, report.md and SVG charts, and a recommendation.
import { resolve } from 'node:path'
import { QuiverError } from '../../errors.js'
import { parsePointId } from '../../point-id.js'
import type { PointId } from '../../types.js'
import { UsageError } from '../args.js'
import { formatTable } from '../format.js'
import { createProgress, type Progress } from '../progress.js'
import { openOffline, resolveTarget, type TargetOptions } from '../snapshot.js'
import {
  type EvalQuery,
  exactTruth,
  measureConcurrent,
  measureSetting,
  readQueriesFile,
  recommend,
  reservoir,
  rng,
  type SettingResult,
  type SweepRow,
  selectivityBucket,
  selectivityFilters,
} from './measure.js'
import {
  type EvalReport,
  REPORT_FORMAT,
  type SelectivityRow,
  type TargetRecallRow,
  writeReport,
} from './report.js'
import { type EvalCollection, type EvalTarget, openTarget, scratchName, type WireFilter } from './target.js'

export interface EvalOptions extends TargetOptions {
  collection: string
  /** The dense vector to evaluate (default: the unnamed one, else the only one). */
  vector?: string
  /** JSONL queries file (docs/eval.md). */
  queries?: string
  /** Points to sample as queries (default 200 without --queries). */
  sample?: number
  seed: number
  k: number
  ef: number[]
  concurrency: number[]
  /** Seconds per concurrency level. */
  duration: number
  filterField?: string
  /** Queries per selectivity bucket. */
  filterQueries: number
  /** Seconds of the write-load phase; 0 skips it. */
  writeSeconds: number
  /** Points per second the writer aims at; 0: as fast as one writer goes. */
  writeRate: number
  writeBatch: number
  /** p99 latency budget (ms) of the recommendation. */
  latencyBudget: number
  report: string
  quiet?: boolean
  /** The command line, recorded in the report. */
  command: string
}

export const EVAL_DEFAULTS = {
  sample: 200,
  seed: 1,
  k: 10,
  ef: [16, 32, 64, 128, 256, 512],
  concurrency: [1, 2, 4, 8],
  duration: 3,
  filterQueries: 100,
  writeSeconds: 5,
  writeRate: 0,
  writeBatch: 64,
  latencyBudget: 10,
  report: './eval-report',
} as const

/** Points whose payload the selectivity sweep's filters are made from. */
const PAYLOAD_SAMPLE = 2000
const TARGET_RECALLS = [0.9, 0.95, 0.99]
const WARMUP_QUERIES = 20

/** A progress reporter, or a silent one with --quiet. */
function progress(o: EvalOptions, label: string, total: number, unit = 'queries'): Progress {
  return o.quiet === true ? { update() {}, stop() {} } : createProgress(label, total, { unit })
}

function check(o: EvalOptions): void {
  if (o.queries !== undefined && o.sample !== undefined)
    throw new UsageError('give either --queries or --sample, not both')
  if (o.ef.length === 0) throw new UsageError('--ef needs at least one value')
  if (o.k > 1000) throw new UsageError(`--k ${o.k} is out of range (1..1000)`)
  if ((o.sample ?? 0) > 100_000) throw new UsageError(`--sample ${o.sample} is out of range (1..100000)`)
  if (o.concurrency.some((c) => c > 256)) throw new UsageError('--concurrency values must be 1..256')
  if (o.ef.some((ef) => ef > 100_000)) throw new UsageError('--ef values must be 1..100000')
  if (o.writeBatch > 10_000) throw new UsageError(`--write-batch ${o.writeBatch} is out of range (1..10000)`)
  if (o.filterQueries > 100_000)
    throw new UsageError(`--filter-queries ${o.filterQueries} is out of range (1..100000)`)
  if (o.duration > 3600 || o.writeSeconds > 3600)
    throw new UsageError('--duration and --write-seconds are at most 3600')
}

/** Runs the evaluation and writes the report; prints a summary to `out`. Returns the report. */
export async function runEval(o: EvalOptions, out: NodeJS.WritableStream): Promise<EvalReport> {
  check(o)
  const started = performance.now()
  const where = resolveTarget(o)
  // searches on the core pool as `quiver serve` makes them, so concurrent clients measure the same
  const target = await openTarget(where, (dir) => openOffline(dir, { searchThreads: true }))
  try {
    return await evaluate(o, target, out, started)
  } finally {
    await target.close()
  }
}

async function evaluate(
  o: EvalOptions,
  target: EvalTarget,
  out: NodeJS.WritableStream,
  started: number,
): Promise<EvalReport> {
  const c = await target.describe(o.collection, o.vector)
  if (c.points === 0)
    throw new QuiverError('INVALID_ARGUMENT', `collection ${c.name} is empty: there is nothing to evaluate`)
  const say = (line: string) => {
    if (o.quiet !== true) process.stderr.write(`${line}\n`)
  }
  say(
    `quiver eval: ${c.name} on ${target.label} (${target.server} ${target.version}): ${c.points} points, vector ${JSON.stringify(c.vector)} ${c.dimension}-d ${c.distance}`,
  )

  // the queries and, for the selectivity sweep, a uniform sample of payloads: two reservoirs over
  // one scroll, each with its own stream of the seed (the same seed samples the same queries
  // whatever else is asked)
  const fromFile = o.queries === undefined ? undefined : await readQueriesFile(resolve(o.queries))
  const sampleSize = fromFile === undefined ? (o.sample ?? EVAL_DEFAULTS.sample) : 0
  const payloadSize = o.filterField === undefined ? 0 : PAYLOAD_SAMPLE
  let picked: { id: PointId; vector: number[] }[] = []
  let sampled: { id: PointId; vector: number[]; value: unknown }[] = []
  if (sampleSize + payloadSize > 0) {
    const forQueries = rng(o.seed)
    const queryPool = reservoir<PointId>(sampleSize, forQueries)
    const payloadPool = reservoir<PointId>(payloadSize, rng(o.seed + 0x9e3779b9))
    const bar = progress(o, 'sampling points', c.points, 'points')
    let seen = 0
    await target.scrollIds(c, (ids) => {
      for (const id of ids) {
        queryPool.add(id)
        payloadPool.add(id)
      }
      seen += ids.length
      bar.update(Math.min(seen, c.points))
    })
    bar.stop()
    const ids = queryPool.items
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(forQueries() * (i + 1))
      ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
    }
    // in the sampled order (a server may answer in its own)
    const byId = new Map((await target.retrieve(c, ids)).map((r) => [r.id, r]))
    picked = ids.flatMap((id) => byId.get(id) ?? [])
    if (payloadSize > 0) sampled = await target.retrieve(c, payloadPool.items, o.filterField)
  }
  let queries: EvalQuery[]
  if (fromFile !== undefined) {
    const byId = fromFile.flatMap((x) => ('id' in x ? [x.id] : []))
    // the server answers UUIDs in their canonical spelling
    const found = new Map((await target.retrieve(c, byId)).map((r) => [canonicalId(r.id), r]))
    queries = fromFile.map((x) => {
      const filter = x.filter === undefined ? {} : { filter: x.filter }
      if ('vector' in x) return { vector: x.vector, ...filter }
      const point = found.get(canonicalId(x.id))
      if (point === undefined)
        throw new QuiverError(
          'POINT_NOT_FOUND',
          `${x.where}: point ${JSON.stringify(x.id)} is not in ${c.name}`,
        )
      return { vector: point.vector, exclude: point.id, ...filter }
    })
  } else queries = picked.map((p) => ({ vector: p.vector, exclude: p.id }))
  queries.forEach((q, i) => {
    if (q.vector.length !== c.dimension)
      throw new QuiverError(
        'INVALID_VECTOR',
        `${fromFile?.[i]?.where ?? `query ${i + 1}`}: the query has ${q.vector.length} components; vector ${JSON.stringify(c.vector)} of ${c.name} has ${c.dimension}`,
      )
  })
  if (queries.length === 0) throw new QuiverError('INVALID_ARGUMENT', 'no queries to run')
  const k = o.k

  // the truth, then one client at each setting
  let bar = progress(o, 'exact search (truth)', queries.length)
  let done = 0
  const truth = await exactTruth(target, c, queries, k, undefined, () => bar.update(++done))
  bar.stop()
  // exact search's own latency (the recall 1.0 reference), on at most 100 queries
  const { recall: _, ...exact } = strip(
    await measureSetting(target, c, queries.slice(0, 100), truth, k, { exact: true }),
  )
  const settings = 1 + o.ef.length + (target.targetRecall ? TARGET_RECALLS.length : 0)
  bar = progress(o, 'recall and latency sweep', settings * queries.length)
  done = 0
  const tick = () => bar.update(++done)
  const byDefault = await measureSetting(target, c, queries, truth, k, {}, tick, WARMUP_QUERIES)
  const { sweep, targetRows } = await sweepSettings(o, target, c, queries, truth, undefined, tick)
  bar.stop()
  const recommendation = recommend(sweep, o.latencyBudget, targetRows)
  const chosen = recommendation.ef === null ? byDefault : sweep.find((s) => s.ef === recommendation.ef)!
  const setting = recommendation.ef === null ? {} : { ef: recommendation.ef }

  // throughput at N clients, at the recommended setting
  const concurrency: EvalReport['concurrency'] = []
  if (o.duration > 0 && o.concurrency.length > 0) {
    bar = progress(o, 'concurrent clients', o.concurrency.length * o.duration, 's')
    for (const [i, clients] of o.concurrency.entries()) {
      const r = await measureConcurrent(target, c, queries, k, clients, o.duration * 1000, setting)
      concurrency.push({ clients, ef: recommendation.ef, ...r, seconds: o.duration })
      bar.update((i + 1) * o.duration)
    }
    bar.stop()
  }

  // the later phases: a failure of one (a read-only key refusing the scratch collection, strict
  // mode, a server restart) is reported and the others go on, so what was measured is kept; a
  // signal during the write load ends the run once the report is written
  const errors: { phase: string; message: string }[] = []
  let interrupted: Interrupted | undefined
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
    if (interrupted !== undefined) return null
    try {
      return await run()
    } catch (err) {
      if (err instanceof Interrupted) interrupted = err
      const message = (err as Error).message
      errors.push({ phase: name, message })
      process.stderr.write(`warning: ${name}: ${message}\n`)
      return null
    }
  }
  const selectivity =
    o.filterField === undefined
      ? null
      : await phase('selectivity sweep', () => sweepSelectivity(o, target, c, queries, sampled))
  const writeLoad =
    o.writeSeconds > 0
      ? await phase('write load', () => underWrites(o, target, c, queries, setting, recommendation.ef))
      : null
  const coldStart = await phase('cold start', () => target.coldStart(c, queries[0]!.vector))
  const report: EvalReport = {
    format: REPORT_FORMAT,
    created_at: new Date().toISOString(),
    command: o.command,
    target: { label: target.label, server: target.server, version: target.version },
    collection: { ...c },
    k,
    queries: {
      source: fromFile === undefined ? 'sample' : 'file',
      count: queries.length,
      seed: fromFile === undefined ? o.seed : null,
      self_excluded: queries.filter((q) => q.exclude !== undefined).length,
      ids: fromFile === undefined ? queries.map((q) => q.exclude!) : null,
    },
    recall_at_k: byDefault.recall,
    default: strip(byDefault),
    exact,
    sweep: sweep.map(strip),
    target_recall: targetRows,
    concurrency,
    selectivity,
    write_load: writeLoad,
    cold_start: coldStart,
    recommendation,
    latencies_ms: chosen.times.map((t) => Math.round(t * 1000) / 1000),
    errors,
    seconds: (performance.now() - started) / 1000,
  }
  const written = await writeReport(resolve(o.report), report)
  out.write(summary(report))
  out.write(`report: ${written.join(', ')}\n`)
  if (interrupted !== undefined)
    throw new Error(
      `${interrupted.message}: the scratch collection was dropped; the report holds what was measured`,
    )
  return report
}

/**
 * A point id as servers answer it (`parsePointId`'s normal form: UUIDs lower-case and hyphenated),
 * also from a braced or `urn:uuid:` UUID; anything else as it is.
 */
export function canonicalId(id: PointId): PointId {
  if (typeof id !== 'string') return id
  const bare = id
    .trim()
    .replace(/^urn:uuid:/i, '')
    .replace(/^\{(.*)\}$/, '$1')
  try {
    return parsePointId(bare)
  } catch {
    return id
  }
}

/**
 * One client over `queries` at each `--ef`, then (Quiver) each of TARGET_RECALLS, `filter` (when
 * given) replacing the queries' own; `targetRows` null for a server without target_recall.
 */
async function sweepSettings(
  o: EvalOptions,
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  truth: readonly PointId[][],
  filter: WireFilter | undefined,
  tick: () => void,
): Promise<{ sweep: (SweepRow & { times: number[] })[]; targetRows: TargetRecallRow[] | null }> {
  const f = filter === undefined ? {} : { filter }
  const sweep: (SweepRow & { times: number[] })[] = []
  for (const ef of o.ef)
    sweep.push({
      ef,
      ...(await measureSetting(target, c, queries, truth, o.k, { ef, ...f }, tick, WARMUP_QUERIES)),
    })
  if (!target.targetRecall) return { sweep, targetRows: null }
  const targetRows: TargetRecallRow[] = []
  for (const t of TARGET_RECALLS) {
    const r = await measureSetting(
      target,
      c,
      queries,
      truth,
      o.k,
      { targetRecall: t, ...f },
      tick,
      WARMUP_QUERIES,
    )
    targetRows.push({ target_recall: t, ...strip(r) })
  }
  return { sweep, targetRows }
}

/** A setting's result without its per-query times. */
function strip<T extends SettingResult & { times?: number[] }>(r: T): Omit<T, 'times'> {
  const { times: _, ...rest } = r
  return rest
}

async function sweepSelectivity(
  o: EvalOptions,
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  sampled: readonly { value: unknown }[],
): Promise<NonNullable<EvalReport['selectivity']>> {
  const field = o.filterField!
  const filters = selectivityFilters(
    field,
    sampled.map((p) => p.value),
  )
  const fq = queries.slice(0, o.filterQueries)
  const buckets: SelectivityRow[] = []
  const settings = o.ef.length + (target.targetRecall ? TARGET_RECALLS.length : 0) + 1
  const bar = progress(o, `selectivity sweep over ${field}`, filters.length * settings * fq.length)
  let done = 0
  const tick = () => bar.update(++done)
  for (const { target: aim, filter } of filters) {
    const matching = await target.count(c, filter)
    if (matching === 0) {
      done += settings * fq.length
      continue
    }
    const truth = await exactTruth(target, c, fq, o.k, filter, tick)
    const measured = await sweepSettings(o, target, c, fq, truth, filter, tick)
    const sweep = measured.sweep.map(strip)
    const targetRows = measured.targetRows ?? []
    const sel = matching / c.points
    buckets.push({
      target: aim,
      selectivity: sel,
      bucket: selectivityBucket(sel),
      matching,
      filter,
      queries: fq.length,
      sweep,
      target_recall: targetRows,
    })
  }
  bar.stop()
  if (filters.length === 0 && o.quiet !== true)
    process.stderr.write(
      `selectivity sweep: payload field ${JSON.stringify(field)} holds no numbers, strings or booleans in a sample of ${sampled.length} points: skipped\n`,
    )
  return { field, sample: sampled.length, buckets }
}

/**
 * One writer upserting into a scratch collection (same vector, created here and always dropped)
 * while one client searches the user's collection: the latency then against without the writes.
 */
async function underWrites(
  o: EvalOptions,
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  setting: { ef?: number },
  ef: number | null,
): Promise<NonNullable<EvalReport['write_load']>> {
  const seconds = o.writeSeconds
  const baseline = await measureConcurrent(target, c, queries, o.k, 1, Math.min(seconds, 3) * 1000, setting)
  const scratch = scratchName(c.name)
  // Ctrl-C (or SIGTERM, SIGHUP) stops the writer and the reader; the listeners stay until the
  // scratch collection is dropped, so a second signal cannot cut that short
  let interrupted: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted ??= signal
  }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const sig of signals) process.on(sig, onSignal)
  const bar = progress(o, `write load on ${scratch}`, seconds, 's')
  let done = false
  let writer: Promise<void> = Promise.resolve()
  let failure: unknown
  let result: NonNullable<EvalReport['write_load']> | undefined
  try {
    await target.createScratch(c, scratch)
    const jitter = rng(o.seed + 1)
    let written = 0
    const t0 = performance.now()
    const deadline = t0 + seconds * 1000
    let writeError: unknown
    const stop = () => done || interrupted !== undefined
    writer = (async () => {
      try {
        while (!stop() && performance.now() < deadline) {
          const batch = Array.from({ length: o.writeBatch }, (_, i) => ({
            id: written + i,
            vector: queries[(written + i) % queries.length]!.vector.map((x) => x + (jitter() - 0.5) * 1e-3),
          }))
          await target.upsert(scratch, c.vector, batch)
          written += batch.length
          bar.update(Math.min(seconds, (performance.now() - t0) / 1000))
          if (o.writeRate > 0) {
            const due = t0 + (written / o.writeRate) * 1000
            const wait = Math.min(due, deadline) - performance.now()
            if (wait > 0) await new Promise((r) => setTimeout(r, wait))
          }
        }
      } catch (err) {
        writeError = err
      }
    })()
    // the reader stops when the writer fails too
    const during = await measureConcurrent(
      target,
      c,
      queries,
      o.k,
      1,
      seconds * 1000,
      setting,
      undefined,
      () => stop() || writeError !== undefined,
    )
    done = true
    await writer
    const elapsed = (performance.now() - t0) / 1000
    if (writeError !== undefined) throw writeError
    if (interrupted !== undefined) throw new Interrupted(interrupted)
    result = {
      scratch_collection: scratch,
      seconds: elapsed,
      batch: o.writeBatch,
      points_written: written,
      points_per_s: written / elapsed,
      ef,
      baseline: {
        qps: baseline.qps,
        p50_ms: baseline.p50_ms,
        p95_ms: baseline.p95_ms,
        p99_ms: baseline.p99_ms,
      },
      during,
    }
  } catch (err) {
    failure = err
  }
  done = true
  await writer
  bar.stop()
  let dropFailed: unknown
  try {
    await target.drop(scratch)
  } catch (err) {
    dropFailed = err
  } finally {
    for (const sig of signals) process.removeListener(sig, onSignal)
  }
  if (dropFailed !== undefined) {
    const message = `could not drop the scratch collection ${scratch}: ${(dropFailed as Error).message}; drop it by hand`
    // the first failure is the one to report; this one is said too
    if (failure === undefined) throw new QuiverError('IO_ERROR', message)
    process.stderr.write(`warning: ${message}\n`)
  }
  if (failure !== undefined) throw failure
  return result!
}

/** The run was stopped by a signal (after cleaning up). */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted (${signal})`)
  }
}

function summary(r: EvalReport): string {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-')
  const rows = [
    ['default', f(r.default.recall, 4), f(r.default.qps, 0), f(r.default.p50_ms), f(r.default.p99_ms)],
    ...r.sweep.map((s) => [`ef ${s.ef}`, f(s.recall, 4), f(s.qps, 0), f(s.p50_ms), f(s.p99_ms)]),
    ...(r.target_recall ?? []).map((s) => [
      `target_recall ${s.target_recall}`,
      f(s.recall, 4),
      f(s.qps, 0),
      f(s.p50_ms),
      f(s.p99_ms),
    ]),
  ]
  return `${formatTable(['setting', `recall@${r.k}`, 'QPS', 'p50 ms', 'p99 ms'], rows, [
    'left',
    'right',
    'right',
    'right',
    'right',
  ])}\nrecommendation: ${r.recommendation.reason}\n`
}

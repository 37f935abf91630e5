// Benchmark datasets on disk (layout of ../shared/datasets/README.md): locating the directory,
// reading descriptors, and loading base / query / ground-truth arrays and meta.jsonl payloads.
import { existsSync, statSync } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { endianness } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { invalid, QuiverError } from '../errors.js'
import type { Distance, Payload } from '../types.js'

/** What `NAME.json` says about a dataset, plus where its files are. */
export interface DatasetDescriptor {
  name: string
  /** Base rows. */
  n: number
  /** Vector length. */
  dim: number
  /** Query rows. */
  q: number
  /** Ground-truth neighbours per query (columns of `gt.i32`); 100 in the shipped sets. */
  gtK: number
  metric: Distance
  /** The descriptor's own metric name (`cosine`, `l2`). */
  rawMetric: string
  description: string | undefined
  files: { base: string; query: string; gt: string; meta: string | undefined }
}

export interface Dataset {
  name: string
  /** Base rows loaded (the descriptor's `n`, or `limit` when smaller). */
  n: number
  dim: number
  q: number
  /** The descriptor's `n`; differs from `n` when `limit` subsampled the base. */
  totalN: number
  gtK: number
  metric: Distance
  /** `n x dim` float32, row-major; row i is point id i. */
  base: Float32Array
  /** `q x dim` float32, row-major. */
  queries: Float32Array
  /**
   * `q x gtK` int32, row-major: base row indices of each query's exact nearest neighbours, nearest
   * first, over the full base (it does not apply when `limit` subsampled the base).
   */
  groundTruth: Int32Array
  /** One payload per loaded base row, when `withMeta` was asked and `NAME.meta.jsonl` exists. */
  meta?: Payload[]
}

export interface LoadDatasetOptions {
  /** Read `NAME.meta.jsonl` into `meta` (ignored when the file does not exist). */
  withMeta?: boolean
  /** Load only the first `limit` base rows (and meta lines). */
  limit?: number
}

export interface ResolveDatasetsDirOptions {
  cwd?: string
  env?: Readonly<Record<string, string | undefined>>
}

const DATASET_NAME_RE = /^[A-Za-z0-9_.-]+$/

/** The package root (the folder holding package.json), both from src/cli and dist/cli. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url))

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * The datasets directory: `explicit` (the `--datasets DIR` option), else env `QUIVER_DATASETS`,
 * else `../shared/datasets` relative to the cwd, else `shared/datasets` beside the package root.
 * Returns an absolute path. Throws `INVALID_ARGUMENT` when the chosen directory does not exist or
 * none of the defaults does (the message lists the places tried).
 */
export function resolveDatasetsDir(explicit?: string, options: ResolveDatasetsDirOptions = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const chosen = explicit ?? env['QUIVER_DATASETS']
  if (chosen !== undefined && chosen !== '') {
    const dir = resolve(cwd, chosen)
    if (!isDirectory(dir)) {
      const from = explicit !== undefined ? '--datasets' : 'QUIVER_DATASETS'
      throw invalid(`datasets directory ${dir} (from ${from}) does not exist`, { path: dir })
    }
    return dir
  }
  const candidates = [resolve(cwd, '../shared/datasets'), resolve(PACKAGE_ROOT, '../shared/datasets')]
  const found = candidates.find(isDirectory)
  if (found === undefined) {
    throw invalid(
      `no datasets directory found (tried ${candidates.join(', ')}); pass --datasets DIR or set QUIVER_DATASETS`,
      { tried: candidates },
    )
  }
  return found
}

function metricOf(raw: unknown, path: string): Distance {
  switch (raw) {
    case 'cosine':
      return 'Cosine'
    case 'l2':
    case 'euclidean':
      return 'Euclid'
    case 'ip':
    case 'dot':
      return 'Dot'
    default:
      throw invalid(`${path}: metric ${JSON.stringify(raw)} is not supported (expected "cosine" or "l2")`, {
        path,
      })
  }
}

function positiveInt(desc: Record<string, unknown>, key: string, path: string): number {
  const v = desc[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw invalid(`${path}: field "${key}" must be a positive integer, got ${JSON.stringify(v)}`, { path })
  }
  return v
}

function fileName(desc: Record<string, unknown>, key: string, fallback: string): string {
  const files = desc['files']
  if (typeof files === 'object' && files !== null) {
    const v = (files as Record<string, unknown>)[key]
    if (typeof v === 'string' && v !== '' && !v.includes('/') && !v.includes('\\')) return v
  }
  return fallback
}

/**
 * Reads and checks `DIR/NAME.json`. Throws `INVALID_ARGUMENT` when the name is malformed, the
 * descriptor is missing or not valid JSON, or n / d / q / metric are absent or invalid.
 */
export async function readDescriptor(name: string, dir: string): Promise<DatasetDescriptor> {
  if (!DATASET_NAME_RE.test(name)) throw invalid(`dataset name ${JSON.stringify(name)} is not valid`)
  const path = join(dir, `${name}.json`)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const known = await listDatasets(dir).catch(() => [])
      const hint = known.length > 0 ? `; available: ${known.map((d) => d.name).join(', ')}` : ''
      throw invalid(`dataset "${name}" not found in ${dir} (no ${name}.json)${hint}`, { path })
    }
    throw new QuiverError('IO_ERROR', `cannot read ${path}: ${(err as Error).message}`, { path }, err)
  }
  let desc: unknown
  try {
    desc = JSON.parse(text)
  } catch (err) {
    throw invalid(`${path} is not valid JSON: ${(err as Error).message}`, { path })
  }
  if (typeof desc !== 'object' || desc === null || Array.isArray(desc)) {
    throw invalid(`${path} must hold a JSON object`, { path })
  }
  const d = desc as Record<string, unknown>
  const metaName = fileName(d, 'meta', `${name}.meta.jsonl`)
  return {
    name,
    n: positiveInt(d, 'n', path),
    dim: positiveInt(d, 'd', path),
    q: positiveInt(d, 'q', path),
    gtK: d['k'] === undefined ? 100 : positiveInt(d, 'k', path),
    metric: metricOf(d['metric'], path),
    rawMetric: String(d['metric']),
    description: typeof d['description'] === 'string' ? d['description'] : undefined,
    files: {
      base: join(dir, fileName(d, 'base', `${name}.base.f32`)),
      query: join(dir, fileName(d, 'query', `${name}.query.f32`)),
      gt: join(dir, fileName(d, 'gt', `${name}.gt.i32`)),
      meta: existsSync(join(dir, metaName)) ? join(dir, metaName) : undefined,
    },
  }
}

/**
 * Reads the first `bytes` bytes of a file whose size must be exactly `expectedBytes`.
 * Throws `INVALID_ARGUMENT` naming the file when it is missing or its size differs.
 */
async function readExact(path: string, what: string, expectedBytes: number, bytes: number): Promise<Buffer> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw invalid(`${what} file ${path} is missing`, { path })
    throw new QuiverError('IO_ERROR', `cannot read ${path}: ${(err as Error).message}`, { path }, err)
  }
  if (size !== expectedBytes) {
    throw invalid(
      `${what} file ${path} has ${size} bytes but the descriptor implies ${expectedBytes} bytes; the dataset is truncated or the descriptor is wrong`,
      { path, expectedBytes, actualBytes: size },
    )
  }
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.allocUnsafeSlow(bytes)
    let off = 0
    while (off < bytes) {
      const { bytesRead } = await fh.read(buf, off, bytes - off, off)
      if (bytesRead === 0) throw invalid(`${what} file ${path} ended early`, { path })
      off += bytesRead
    }
    return buf
  } finally {
    await fh.close()
  }
}

function f32(buf: Buffer): Float32Array {
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
}

function i32(buf: Buffer): Int32Array {
  return new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
}

/**
 * Reads the `q x dim` query vectors of a dataset (float32, row-major).
 * Throws `INVALID_ARGUMENT` when the file is missing or its size is not `q·dim·4` bytes.
 */
export async function loadQueries(desc: DatasetDescriptor): Promise<Float32Array> {
  const bytes = desc.q * desc.dim * 4
  return f32(await readExact(desc.files.query, 'query', bytes, bytes))
}

async function loadMeta(path: string, count: number): Promise<Payload[]> {
  const text = await readFile(path, 'utf8')
  const out: Payload[] = []
  let start = 0
  while (out.length < count) {
    if (start >= text.length) {
      throw invalid(`meta file ${path} has ${out.length} lines but ${count} base rows need a payload`, {
        path,
      })
    }
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    const line = text.slice(start, end).trim()
    const lineNo = out.length + 1
    start = end + 1
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      throw invalid(`meta file ${path} line ${lineNo} is not valid JSON: ${(err as Error).message}`, { path })
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalid(`meta file ${path} line ${lineNo} is not a JSON object`, { path, line: lineNo })
    }
    out.push(value as Payload)
  }
  return out
}

/**
 * Loads dataset `name` from `dir`: base (`n x dim`), queries (`q x dim`), ground truth
 * (`q x gtK`) and, with `withMeta`, one payload per base row from `NAME.meta.jsonl`.
 * `limit` loads only the first `limit` base rows.
 * Throws `INVALID_ARGUMENT` for an unknown dataset, a missing file, a file whose size does not
 * match the descriptor, or a malformed meta line; `IO_ERROR` when the file system refuses a read.
 */
export async function loadDataset(
  name: string,
  dir: string,
  options: LoadDatasetOptions = {},
): Promise<Dataset> {
  if (endianness() !== 'LE') throw invalid('datasets are little-endian; this host is big-endian')
  const { limit } = options
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw invalid(`limit must be a positive integer, got ${limit}`)
  }
  const desc = await readDescriptor(name, dir)
  const n = limit === undefined ? desc.n : Math.min(limit, desc.n)
  const rowBytes = desc.dim * 4
  const base = f32(await readExact(desc.files.base, 'base', desc.n * rowBytes, n * rowBytes))
  const queries = await loadQueries(desc)
  const gtBytes = desc.q * desc.gtK * 4
  const groundTruth = i32(await readExact(desc.files.gt, 'ground-truth', gtBytes, gtBytes))
  const dataset: Dataset = {
    name,
    n,
    dim: desc.dim,
    q: desc.q,
    totalN: desc.n,
    gtK: desc.gtK,
    metric: desc.metric,
    base,
    queries,
    groundTruth,
  }
  if (options.withMeta === true && desc.files.meta !== undefined) {
    dataset.meta = await loadMeta(desc.files.meta, n)
  }
  return dataset
}

/** One line of `listDatasets`. */
export interface DatasetSummary {
  name: string
  n: number
  dim: number
  q: number
  metric: Distance
  hasMeta: boolean
}

/**
 * The datasets in `dir` (every `NAME.json` with a valid descriptor whose base file exists), sorted
 * by name. Throws `INVALID_ARGUMENT` when `dir` cannot be read.
 */
export async function listDatasets(dir: string): Promise<DatasetSummary[]> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    throw invalid(`cannot list datasets in ${dir}: ${(err as Error).message}`, { path: dir })
  }
  const out: DatasetSummary[] = []
  for (const entry of entries.sort()) {
    if (!entry.endsWith('.json')) continue
    const name = entry.slice(0, -'.json'.length)
    if (!DATASET_NAME_RE.test(name)) continue
    try {
      const d = await readDescriptor(name, dir)
      if (!existsSync(d.files.base)) continue
      out.push({ name, n: d.n, dim: d.dim, q: d.q, metric: d.metric, hasMeta: d.files.meta !== undefined })
    } catch {
      // not a dataset descriptor
    }
  }
  return out
}

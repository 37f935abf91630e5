// `quiver import`: loads a benchmark dataset into a collection of a data directory, in batches.
import { resolve } from 'node:path'
import { Quiver } from '../db/quiver.js'
import { QuiverError } from '../errors.js'
import type { CreateCollectionOptions, HnswConfig, PointStruct } from '../types.js'
import { loadDataset, resolveDatasetsDir } from './datasets.js'
import { formatCount, formatDuration } from './format.js'
import { createProgress } from './progress.js'

export interface ImportOptions {
  dataset: string
  /** Collection name; default: the dataset name. */
  collection?: string
  /** Data directory of the database. */
  data: string
  datasets?: string
  /** Import only the first `limit` base rows. */
  limit?: number
  /** Points per upsert call. */
  batch: number
  /** HNSW parameters; unset ones take the collection defaults (`DEFAULT_HNSW`, as `quiver bench`). */
  m?: number
  efConstruct?: number
  /** Delete the collection first if it exists. */
  recreate?: boolean
}

/** HNSW options with only the fields given (exactOptionalPropertyTypes). */
export function hnswOptions(m: number | undefined, efConstruct: number | undefined): Partial<HnswConfig> {
  const hnsw: { m?: number; efConstruct?: number } = {}
  if (m !== undefined) hnsw.m = m
  if (efConstruct !== undefined) hnsw.efConstruct = efConstruct
  return hnsw
}

/**
 * Creates the collection (dimension and metric from the dataset; cosine → Cosine, l2 → Euclid),
 * upserts base row i as point id i with meta.jsonl line i as payload, and prints a summary to `out`.
 * Throws QuiverError (COLLECTION_EXISTS unless `recreate`, checked before the dataset is read;
 * INVALID_ARGUMENT for dataset problems, ...).
 */
export async function runImport(
  opts: ImportOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const dir = resolveDatasetsDir(opts.datasets)
  const name = opts.collection ?? opts.dataset
  const db = await Quiver.open(resolve(opts.data))
  try {
    if (opts.recreate !== true && db.hasCollection(name)) {
      throw new QuiverError(
        'COLLECTION_EXISTS',
        `collection ${name} already exists in ${db.dir}: add --recreate to replace it (its points are deleted), or import into another collection with --collection NAME`,
        { name },
      )
    }
    const ds = await loadDataset(
      opts.dataset,
      dir,
      opts.limit === undefined ? { withMeta: true } : { withMeta: true, limit: opts.limit },
    )
    if (opts.recreate === true) await db.deleteCollection(name)
    const create: CreateCollectionOptions = {
      dimension: ds.dim,
      metric: ds.metric,
      hnsw: hnswOptions(opts.m, opts.efConstruct),
    }
    const col = await db.createCollection(name, create)
    const progress = createProgress(`import ${name}`, ds.n, { unit: 'vec' })
    const started = performance.now()
    try {
      for (let start = 0; start < ds.n; start += opts.batch) {
        const end = Math.min(ds.n, start + opts.batch)
        const points: PointStruct[] = []
        for (let i = start; i < end; i++) {
          const point: PointStruct = { id: i, vector: ds.base.subarray(i * ds.dim, (i + 1) * ds.dim) }
          const payload = ds.meta?.[i]
          if (payload !== undefined) point.payload = payload
          points.push(point)
        }
        await col.upsert(points)
        progress.update(end)
      }
    } finally {
      progress.stop()
    }
    const ms = performance.now() - started
    const info = await col.info()
    out.write(
      `Imported ${formatCount(ds.n)} points of ${ds.name} into collection "${name}" ` +
        `(dim ${ds.dim}, ${col.config.vectors.get('')?.metric}, m ${col.config.hnsw.m}, ef_construct ${col.config.hnsw.efConstruct}` +
        `${ds.meta === undefined ? '' : ', with payloads'})\n` +
        `  ${formatDuration(ms)}, ${formatCount(ds.n / Math.max(ms / 1000, 1e-9))} vectors/s; ` +
        `collection holds ${formatCount(info.pointsCount)} points in ${info.segmentsCount} segment(s)\n`,
    )
  } finally {
    await db.close()
  }
}

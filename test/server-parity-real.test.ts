// On a real dataset with payloads (SIGMOD'24 CLIP, 10k x 100, category + timestamp), the official
// Qdrant client over HTTP gets the same ids and scores as the embedded API for plain and filtered
// queries, and filtered results hold only matching points with recall@10 >= 0.95 against the
// dataset's filtered ground truth. Skipped (with a message) where the dataset is not present.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Dataset, loadDataset } from '../src/cli/datasets.js'
import type { HostedCollection } from '../src/index.js'
import type { Filter, Payload } from '../src/types.js'
import { startTestServer, type TestServer } from './server-harness.js'
import { realDatasets } from './support/datasets.js'

const NAME = 'sigmod24-clip-100-euclidean'
const QUERIES = 300
const EF = 100

const datasets = realDatasets('server-parity-real', [NAME])
const dir = datasets.dir
const present = datasets.present(NAME)

interface QueryMeta {
  query_type: number
  category: number | null
  t_low: number | null
  t_high: number | null
}

function filterOf(m: QueryMeta): Filter | undefined {
  const must: Filter['must'] = []
  if (m.category !== null) must.push({ key: 'category', match: { value: m.category } })
  if (m.t_low !== null && m.t_high !== null)
    must.push({ key: 'timestamp', range: { gte: m.t_low, lte: m.t_high } })
  return must.length === 0 ? undefined : { must }
}

describe.skipIf(!present)(`HTTP vs in-process on ${NAME}`, () => {
  let server: TestServer
  let client: QdrantClient
  let local: HostedCollection
  let ds: Dataset
  let metas: QueryMeta[]
  let filteredGt: Int32Array

  beforeAll(async () => {
    ds = await loadDataset(NAME, dir!, { withMeta: true })
    metas = readFileSync(join(dir!, `${NAME}.query.meta.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as QueryMeta)
    filteredGt = new Int32Array(readFileSync(join(dir!, `${NAME}.filtered_gt.i32`)).buffer.slice(0))
    server = await startTestServer()
    client = new QdrantClient({ url: server.url })
    await client.createCollection(NAME, { vectors: { size: ds.dim, distance: 'Euclid' } })
    for (let start = 0; start < ds.n; start += 1000) {
      const end = Math.min(ds.n, start + 1000)
      const points = []
      for (let i = start; i < end; i++) {
        points.push({
          id: i,
          vector: Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)),
          payload: ds.meta![i] as Payload,
        })
      }
      await client.upsert(NAME, { wait: true, points })
    }
    local = (await server.server.db.getCollection(NAME)) as HostedCollection
  })

  afterAll(async () => {
    await server?.close()
  })

  it('answers every query identically over HTTP and in-process, filtered results match', async () => {
    let recallSum = 0
    let recallQueries = 0
    for (let qi = 0; qi < QUERIES; qi++) {
      const vector = Array.from(ds.queries.subarray(qi * ds.dim, (qi + 1) * ds.dim))
      const filter = filterOf(metas[qi]!)
      const inProcess = await local.search(vector, {
        limit: 10,
        ef: EF,
        filter: filter ?? null,
        withPayload: true,
      })
      const overHttp = await client.query(NAME, {
        query: vector,
        limit: 10,
        params: { hnsw_ef: EF },
        with_payload: true,
        ...(filter ? { filter: filter as Record<string, unknown> } : {}),
      })
      expect(overHttp.points.map((p) => p.id)).toEqual(inProcess.map((h) => h.id))
      overHttp.points.forEach((p, i) => {
        expect(p.score).toBeCloseTo(inProcess[i]!.score, 4)
      })
      if (filter === undefined) continue
      const m = metas[qi]!
      for (const h of inProcess) {
        const p = h.payload as { category: number; timestamp: number }
        if (m.category !== null) expect(p.category).toBe(m.category)
        if (m.t_low !== null) expect(p.timestamp).toBeGreaterThanOrEqual(m.t_low)
        if (m.t_high !== null) expect(p.timestamp).toBeLessThanOrEqual(m.t_high)
      }
      const truth = Array.from(filteredGt.subarray(qi * 100, qi * 100 + 10)).filter((x) => x >= 0)
      if (truth.length === 0) {
        expect(inProcess).toEqual([])
        continue
      }
      const got = new Set(inProcess.map((h) => h.id))
      recallSum += truth.filter((t) => got.has(t)).length / truth.length
      recallQueries++
    }
    expect(recallQueries).toBeGreaterThan(50)
    expect(recallSum / recallQueries).toBeGreaterThanOrEqual(0.95)
  })
})

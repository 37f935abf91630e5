// Observability of a real server on 127.0.0.1: /metrics (Prometheus text) counts the requests made and
// reports the collections as the engine does, /telemetry has Qdrant's shape, and every log line of a
// request carries its id. Logs are captured from the pino destination the server writes to.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, serve } from '../src/server/index.js'
import { call } from './server-harness.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

interface Exposition {
  samples: Sample[]
  types: Map<string, string>
}

const LINE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses Prometheus text format 0.0.4; throws on a line that is neither a comment nor a sample. */
function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ')
      types.set(name ?? '', type ?? '')
      continue
    }
    if (line.startsWith('#')) continue
    const m = LINE_RE.exec(line)
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) labels[l[1] ?? ''] = l[2] ?? ''
    const raw = m[3] ?? ''
    samples.push({ name: m[1] ?? '', labels, value: raw === '+Inf' ? Number.POSITIVE_INFINITY : Number(raw) })
  }
  return { samples, types }
}

function find(exp: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exp.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
}

function value(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(exp, name, labels)
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`)
  return found[0]?.value
}

async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseExposition(await res.text())
}

const COLL = 'obs'
const POINTS = Array.from({ length: 6 }, (_, i) => ({
  id: i + 1,
  vector: [i, 1, 0, 0],
  payload: { color: i % 2 === 0 ? 'red' : 'blue', n: i },
}))

describe('server observability', () => {
  let dir: string
  let server: RunningServer
  const logs: Array<Record<string, unknown>> = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-observability-'))
    // a collection directory without its config file: open reports it unavailable (CORRUPTED)
    await mkdir(join(dir, 'collections', 'broken'), { recursive: true })
    server = await serve({
      dataDir: dir,
      port: 0,
      logLevel: 'info',
      handleSignals: false,
      logDestination: { write: (line: string) => logs.push(JSON.parse(line)) },
    })
  })

  afterAll(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('logs a collection that fails its checks at open through the server logger', () => {
    const line = logs.find((l) => l.collection === 'broken')
    expect(line?.level).toBe(50)
    expect(line?.msg).toMatch(/collection broken is unavailable/)
  })

  it('counts requests per route pattern with latency histograms, and reports collections as the engine does', async () => {
    const base = server.url
    const before = await scrape(base)
    expect(value(before, 'quiver_collection_available', { collection: 'broken' })).toBe(0)
    expect(value(before, 'collections_total')).toBe(1)

    expect(
      (await call(base, 'PUT', `/collections/${COLL}`, { vectors: { size: 4, distance: 'Dot' } })).status,
    ).toBe(200)
    expect((await call(base, 'PUT', `/collections/${COLL}/points`, { points: POINTS })).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      expect((await call(base, 'GET', `/collections/${COLL}`)).status).toBe(200)
    }
    expect((await call(base, 'GET', '/collections/missing')).status).toBe(404)
    expect((await call(base, 'GET', '/no/such/endpoint')).status).toBe(404)
    const filtered = await call(base, 'POST', `/collections/${COLL}/points/count`, {
      filter: { must: [{ key: 'color', match: { value: 'red' } }] },
      exact: true,
    })
    expect(filtered.body.result.count).toBe(3)

    // the 4th GET of the collection
    const info = (await call(base, 'GET', `/collections/${COLL}`)).body.result
    const exp = await scrape(base)
    const route = '/collections/:collection_name'
    expect(value(exp, 'quiver_http_requests_total', { method: 'PUT', route, status: '200' })).toBe(1)
    expect(value(exp, 'quiver_http_requests_total', { method: 'GET', route, status: '200' })).toBe(4)
    expect(value(exp, 'quiver_http_requests_total', { method: 'GET', route, status: '404' })).toBe(1)
    expect(
      value(exp, 'quiver_http_requests_total', { method: 'PUT', route: `${route}/points`, status: '200' }),
    ).toBe(1)
    expect(
      value(exp, 'quiver_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    ).toBe(1)
    // the previous scrape was counted before this one started
    expect(
      value(exp, 'quiver_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }),
    ).toBe(1)
    // no raw URL leaks into labels
    expect(find(exp, 'quiver_http_requests_total').some((s) => s.labels.route?.includes(COLL))).toBe(false)

    expect(exp.types.get('quiver_http_request_duration_seconds')).toBe('histogram')
    const buckets = find(exp, 'quiver_http_request_duration_seconds_bucket', {
      method: 'GET',
      route,
      status: '200',
    })
    expect(buckets.map((b) => b.labels.le)).toEqual([
      '0.0005',
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ])
    const counts = buckets.map((b) => b.value)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(counts.at(-1)).toBe(4)
    expect(
      value(exp, 'quiver_http_request_duration_seconds_count', { method: 'GET', route, status: '200' }),
    ).toBe(4)
    expect(
      value(exp, 'quiver_http_request_duration_seconds_sum', { method: 'GET', route, status: '200' }),
    ).toBeGreaterThan(0)

    const c = { collection: COLL }
    expect(value(exp, 'quiver_collection_points', c)).toBe(POINTS.length)
    expect(value(exp, 'quiver_collection_points', c)).toBe(info.points_count)
    expect(value(exp, 'quiver_collection_segments', c)).toBe(info.segments_count)
    expect(value(exp, 'quiver_collection_stored_points', c)).toBeGreaterThanOrEqual(POINTS.length)
    expect(value(exp, 'quiver_collection_available', c)).toBe(1)
    expect(value(exp, 'quiver_collection_available', { collection: 'broken' })).toBe(0)
    expect(value(exp, 'quiver_collection_wal_bytes', c)).toBeGreaterThan(0)
    expect(value(exp, 'quiver_collection_disk_bytes', c)).toBeGreaterThanOrEqual(
      value(exp, 'quiver_collection_wal_bytes', c) ?? Number.POSITIVE_INFINITY,
    )
    expect(value(exp, 'quiver_collection_applied_seq', c)).toBeGreaterThan(0)
    expect(value(exp, 'quiver_collection_optimizer_ok', c)).toBe(1)
    expect(value(exp, 'quiver_collection_status', { ...c, status: info.status })).toBe(1)
    expect(find(exp, 'quiver_collection_status', c).reduce((n, s) => n + s.value, 0)).toBe(1)
    expect(
      find(exp, 'quiver_collection_optimizations_completed_total', c)
        .map((s) => s.labels.kind)
        .sort(),
    ).toEqual(['merge', 'reconfigure', 'vacuum'])
    expect(value(exp, 'quiver_collections')).toBe(2)
    expect(value(exp, 'collections_total')).toBe(2)
    expect(value(exp, 'collections_vector_total')).toBe(POINTS.length)
    expect(value(exp, 'collection_points', { id: COLL })).toBe(POINTS.length)
    expect(value(exp, 'app_info', { name: 'quiver' })).toBe(1)
    expect(
      value(exp, 'rest_responses_total', {
        method: 'GET',
        endpoint: '/collections/{collection_name}',
        status: '200',
      }),
    ).toBe(4)
    expect(value(exp, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(find(exp, 'nodejs_eventloop_lag_seconds')).toHaveLength(1)

    // the filtered count scanned `color` point by point: the counter equals what info reports
    expect(info.unindexed_filter_fields.color).toBeGreaterThanOrEqual(1)
    expect(exp.types.get('quiver_unindexed_filter_requests_total')).toBe('counter')
    expect(value(exp, 'quiver_unindexed_filter_requests_total', { ...c, field: 'color' })).toBe(
      info.unindexed_filter_fields.color,
    )
    await call(base, 'POST', `/collections/${COLL}/points/search`, {
      vector: [1, 0, 0, 0],
      limit: 2,
      filter: { must: [{ key: 'color', match: { value: 'blue' } }] },
    })
    const after = await scrape(base)
    const infoAfter = (await call(base, 'GET', `/collections/${COLL}`)).body.result
    expect(infoAfter.unindexed_filter_fields.color).toBeGreaterThan(info.unindexed_filter_fields.color)
    expect(value(after, 'quiver_unindexed_filter_requests_total', { ...c, field: 'color' })).toBe(
      infoAfter.unindexed_filter_fields.color,
    )
  })

  it('answers /telemetry in Qdrant shape', async () => {
    const base = server.url
    const t0 = await call(base, 'GET', '/telemetry')
    expect(t0.status).toBe(200)
    expect(t0.body.status).toBe('ok')
    expect(typeof t0.body.time).toBe('number')
    const r0 = t0.body.result
    expect(r0.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(r0.app).toMatchObject({ name: 'quiver', features: { recovery_mode: false, gpu: false } })
    expect(Number.isNaN(Date.parse(r0.app.startup))).toBe(false)
    expect(r0.collections).toEqual({ number_of_collections: 2 })
    const put = r0.requests.rest.responses['PUT /collections/{collection_name}']
    expect(put['200'].count).toBe(1)
    const gets = r0.requests.rest.responses['GET /collections/{collection_name}']['200']
    expect(gets.count).toBeGreaterThanOrEqual(3)
    expect(gets.min_duration_micros).toBeLessThanOrEqual(gets.avg_duration_micros)
    expect(gets.avg_duration_micros).toBeLessThanOrEqual(gets.max_duration_micros)
    expect(r0.requests.grpc).toEqual({ responses: {} })

    const t2 = (await call(base, 'GET', '/telemetry?details_level=2')).body.result
    expect(t2.id).toBe(r0.id)
    expect(t2.app.system.cores).toBeGreaterThan(0)
    const full = t2.collections.collections.find((c: { id: string }) => c.id === COLL)
    expect(full.config.params.vectors).toEqual({ size: 4, distance: 'Dot' })
    expect(full.config.hnsw_config.m).toBeGreaterThan(0)
    expect(full.config.wal_config.wal_capacity_mb).toBeGreaterThan(0)
    expect(full.quiver.points_count).toBe(POINTS.length)
    expect(t2.collections.collections.find((c: { id: string }) => c.id === 'broken').quiver.available).toBe(
      false,
    )

    const t1 = (await call(base, 'GET', '/telemetry?details_level=1')).body.result
    expect(t1.collections.collections).toEqual([
      expect.objectContaining({ vectors: POINTS.length, optimizers_status: 'ok' }),
    ])

    const anon = (await call(base, 'GET', '/telemetry?details_level=3&anonymize=true')).body.result
    const ids = anon.collections.collections.map((c: { id: string }) => c.id)
    expect(ids).toHaveLength(2)
    expect(ids).not.toContain(COLL)
    expect(JSON.stringify(anon)).not.toContain('"color"')

    const bad = await call(base, 'GET', '/telemetry?details_level=-1')
    expect(bad.status).toBe(400)
    expect(bad.code).toBe('INVALID_ARGUMENT')
    expect(bad.body.status.error).toMatch(/details_level/)
  })

  it('echoes x-request-id and puts it in every log line of the request', async () => {
    const res = await fetch(`${server.url}/collections/${COLL}`, { headers: { 'x-request-id': 'abc-123' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('abc-123')
    await res.arrayBuffer()
    await expect.poll(() => logs.filter((l) => l.request_id === 'abc-123').length).toBeGreaterThan(0)
    const done = logs.find((l) => l.request_id === 'abc-123' && l.msg === 'request completed')
    expect(done).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/collections/:collection_name',
      url: `/collections/${COLL}`,
      status: 200,
    })
    expect(typeof done?.duration_ms).toBe('number')
    expect(typeof done?.time).toBe('string')

    const failed = await fetch(`${server.url}/collections/nope`, { headers: { 'x-request-id': 'req-404' } })
    expect(failed.headers.get('x-request-id')).toBe('req-404')
    await failed.arrayBuffer()
    await expect
      .poll(() => logs.find((l) => l.request_id === 'req-404' && l.msg === 'request completed'))
      .toMatchObject({ level: 40, status: 404, code: 'COLLECTION_NOT_FOUND' })
  })

  it('generates a request id when none, or an unusable one, is given', async () => {
    const plain = await fetch(`${server.url}/healthz`)
    const generated = plain.headers.get('x-request-id')
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    await plain.arrayBuffer()
    const bad = await fetch(`${server.url}/healthz`, {
      headers: { 'x-request-id': `bad id ${'x'.repeat(200)}` },
    })
    const replaced = bad.headers.get('x-request-id')
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/)
    expect(replaced).not.toBe(generated)
    await bad.arrayBuffer()
    await expect
      .poll(() => logs.some((l) => l.request_id === replaced && l.msg === 'request completed'))
      .toBe(true)
  })
})

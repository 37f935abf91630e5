// A server whose data directory takes seconds to load (20 collections replayed from their WALs)
// listens before it has loaded: /healthz and /livez answer, /readyz and the API answer 503
// (NOT_READY) until it is ready, progress is logged about once a second, and `quiver backup --url`
// started before the server waits for it instead of failing with ECONNREFUSED.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, serve } from '../src/server/index.js'
import { call } from './server-harness.js'
import { CLI_MAIN, runCli, spawnCli } from './support/cli.js'
import { freePort, pollReady } from './support/net.js'

const WRITER = resolve(import.meta.dirname, 'fixtures/wal-only-writer.mjs')
const COLLECTIONS = 20

let root: string
let data: string

beforeAll(async () => {
  if (!existsSync(CLI_MAIN))
    throw new Error(`${CLI_MAIN} is missing: run \`npm run build\` before this suite`)
  root = mkdtempSync(join(tmpdir(), 'quiver-loading-'))
  data = join(root, 'data')
  await promisify(execFile)(process.execPath, [WRITER, data, String(COLLECTIONS), '5000', '32'])
}, 120_000)

afterAll(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true })
})

interface LogLine {
  msg: string
  loaded?: number
  total?: number
  elapsedMs?: number
  ms?: number
}

describe('a server loading a large data directory', () => {
  it('answers probes while loading, says 503 until ready, logs progress; backup --url waits', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const backup = spawnCli(['backup', '--url', url, '--to', join(root, 'backups'), '--keep', '1', '--quiet'])
    const serve = spawnCli(['--data', data, '--port', String(port), '--log-level', 'info'], {
      command: [process.execPath, CLI_MAIN, 'serve'],
    })
    try {
      // the backup is polling a port nobody listens on yet (its first request comes after this line)
      await backup.waitFor(/creating a full snapshot on/)
      const statuses = await pollReady(url)
      expect(statuses.at(-1)).toBe(200)
      const ready = await call(url, 'GET', '/collections')
      expect(ready.body.result.collections).toHaveLength(COLLECTIONS)

      expect(await backup.exited, backup.output()).toBe(0)
      expect(backup.output()).toMatch(/wrote .*\.snapshot\n/)

      await serve.waitFor(/"msg":"ready: loaded 20 collections/)
      const logs = serve
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
      const readyMs = logs.find((l) => l.msg.startsWith('ready:'))?.ms as number
      console.log(`server-loading: ${COLLECTIONS} collections loaded in ${readyMs} ms`)
      expect(logs.find((l) => l.msg.startsWith('loading data directory'))?.msg).toMatch(/readyz answers 503/)
      const progress = logs.filter(
        (l) => l.msg.startsWith('loading data directory') && l.elapsedMs !== undefined,
      )
      // a load of more than a second logs its progress at most once a second (none before the first)
      if (readyMs >= 2000) expect(progress.length).toBeGreaterThanOrEqual(1)
      expect(progress.length).toBeLessThanOrEqual(Math.floor(readyMs / 1000))
      for (const p of progress) expect(p.total).toBe(COLLECTIONS)
      const times = progress.map((p) => p.elapsedMs as number)
      // libuv's timers run on its cached loop time: a 1 s interval may end a millisecond early by performance.now()
      expect(times[0]).toBeGreaterThanOrEqual(990)
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(900)

      // the directory is the server's: a second server refuses it and exits non-zero
      const second = await runCli(['serve', '--data', data, '--port', '0'])
      expect(second.code).toBe(1)
      expect(second.stderr).toMatch(/\[DIRECTORY_LOCKED\]/)
      serve.child.kill('SIGINT')
      expect(await serve.exited).toBe(0)
    } finally {
      await backup.kill()
      await serve.kill()
    }
  }, 120_000)

  it('answers probes and 503 NOT_READY while the load is held, then serves everything', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    let reached!: () => void
    const atFirstCollection = new Promise<void>((done) => {
      reached = done
    })
    let release!: () => void
    const held = new Promise<void>((done) => {
      release = done
    })
    const starting = serve({
      dataDir: data,
      port,
      logLevel: 'silent',
      handleSignals: false,
      // the load stops after its first collection until the test lets it go on
      onLoadProgress: async (p) => {
        if (p.loaded !== 1) return
        reached()
        await held
      },
    })
    let server: RunningServer | undefined
    try {
      await atFirstCollection
      const readyz = await fetch(`${url}/readyz`)
      expect(readyz.status).toBe(503)
      expect(await readyz.text()).toBe('some shards are not ready: loading data directory: 1/20 collections')
      expect((await call(url, 'GET', '/healthz')).status).toBe(200)
      expect((await call(url, 'GET', '/livez')).status).toBe(200)
      for (const [method, path] of [
        ['GET', '/collections'],
        ['GET', '/collections/c0'],
        ['POST', '/collections/c0/points/count'],
      ] as const) {
        const early = await call(url, method, path, method === 'POST' ? {} : undefined)
        expect(early.status, `${method} ${path}`).toBe(503)
        expect(early.code).toBe('NOT_READY')
        expect(early.headers.get('retry-after')).toBe('1')
        expect(early.body.status.error).toBe(
          'the server is loading data directory: 1/20 collections; retry once GET /readyz answers 200',
        )
      }
      release()
      server = await starting
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
      const ready = await call(url, 'GET', '/collections')
      expect(ready.body.result.collections).toHaveLength(COLLECTIONS)
    } finally {
      release()
      server ??= await starting.catch(() => undefined)
      await server?.close()
    }
  })

  it('backup --url gives up after --wait-timeout with the reason', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const started = performance.now()
    const r = await runCli([
      'backup',
      '--url',
      url,
      '--to',
      join(root, 'none'),
      '--keep',
      '1',
      '--wait-timeout',
      '1',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/is not ready after 1 s \(--wait-timeout\): connect ECONNREFUSED .*\[IO_ERROR\]/)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000)
  })
})

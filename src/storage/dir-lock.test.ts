import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { LOCK_FILE, type LockStrategy, lockDirectory } from './dir-lock.js'

let work: string
let childScript: string
let dir: string
let n = 0
const children: ChildProcess[] = []

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quiver-lock-'))
  const entry = join(work, 'child-entry.ts')
  const lockModule = fileURLToPath(new URL('./dir-lock.ts', import.meta.url))
  await writeFile(
    entry,
    `import { lockDirectory } from ${JSON.stringify(lockModule)}
const [dir, strategy] = process.argv.slice(2)
lockDirectory(dir, { strategy }).then(
  () => { process.stdout.write('locked\\n'); setInterval(() => {}, 1 << 30) },
  (err) => { process.stdout.write('failed ' + err.code + '\\n'); process.exit(3) },
)
`,
  )
  childScript = join(work, 'child.mjs')
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: childScript,
    logLevel: 'error',
  })
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})
beforeEach(() => {
  dir = join(work, `data${n++}`)
})
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** Starts a child process that takes the lock and resolves once it reports the outcome. */
async function childLock(strategy: LockStrategy): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [childScript, dir, strategy], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  let out = ''
  child.stdout!.setEncoding('utf8')
  for await (const chunk of child.stdout!) {
    out += chunk as string
    if (out.includes('\n')) break
  }
  return { child, line: out.trim() }
}

async function lockedBy(p: Promise<unknown>): Promise<QuiverError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QuiverError)
  expect((err as QuiverError).code).toBe('DIRECTORY_LOCKED')
  return err as QuiverError
}

for (const strategy of ['socket', 'pidfile'] as const) {
  describe(`lockDirectory (${strategy})`, () => {
    it('a second lock in the same process fails at once; release makes it available again', async () => {
      const lock = await lockDirectory(dir, { strategy })
      expect(lock.info.pid).toBe(process.pid)
      const info = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as {
        pid: number
        strategy: string
      }
      expect(info).toMatchObject({ pid: process.pid, strategy })
      const err = await lockedBy(lockDirectory(dir, { strategy }))
      expect(err.details?.['pid']).toBe(process.pid)
      expect(err.message).toContain(String(process.pid))
      await lock.release()
      await lock.release()
      expect(await readdir(dir)).toEqual([])
      const again = await lockDirectory(join(dir, '.'), { strategy })
      await again.release()
    })

    it('a child process holding the lock blocks us; after SIGKILL of the child the lock can be taken', async () => {
      const { child, line } = await childLock(strategy)
      expect(line).toBe('locked')
      const err = await lockedBy(lockDirectory(dir, { strategy }))
      expect(err.details?.['pid']).toBe(child.pid)
      expect(err.message).toContain(`process ${child.pid}`)

      child.kill('SIGKILL')
      await once(child, 'exit')
      const lock = await lockDirectory(dir, { strategy })
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid })

      const second = await childLock(strategy)
      expect(second.line).toBe('failed DIRECTORY_LOCKED')
      await lock.release()
    })
  })
}

describe('lockDirectory (pidfile) stale files', () => {
  it('replaces a LOCK naming a dead pid or holding garbage, but respects a live pid', async () => {
    const lockPath = join(dir, LOCK_FILE)
    const dead = spawn(process.execPath, ['-e', ''])
    await once(dead, 'exit')
    await lockDirectory(dir, { strategy: 'pidfile' }).then((l) => l.release())
    await writeFile(
      lockPath,
      JSON.stringify({ pid: dead.pid, hostname: hostname(), acquiredAt: 'x', token: 't' }),
    )
    const a = await lockDirectory(dir, { strategy: 'pidfile' })
    await a.release()
    await writeFile(lockPath, '')
    const b = await lockDirectory(dir, { strategy: 'pidfile' })
    await b.release()
    await writeFile(
      lockPath,
      JSON.stringify({ pid: process.ppid, hostname: hostname(), acquiredAt: 'x', token: 't' }),
    )
    const err = await lockedBy(lockDirectory(dir, { strategy: 'pidfile' }))
    expect(err.details?.['pid']).toBe(process.ppid)
    expect(await readdir(dir)).toEqual([LOCK_FILE])
  })
})

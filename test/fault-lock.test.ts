// fail_lock: a data directory is held by one PROCESS at a time, at the Quiver and CLI level
// (src/storage/dir-lock.test.ts covers lockDirectory itself). Proven: a second process fails at once
// with DIRECTORY_LOCKED naming the holder's pid, `quiver serve` on a held directory exits non-zero
// with a clear message, and a SIGKILLed holder leaves no stale lock.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'

const ROOT = resolve(import.meta.dirname, '..')
const MAIN = join(ROOT, 'dist/cli/main.js')
const DIST = join(ROOT, 'dist/index.js')

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

function run(args: string[]): Promise<Exit> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += String(d)
  })
  child.stderr.on('data', (d) => {
    stderr += String(d)
  })
  return once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }))
}

/** A second Node process that tries `Quiver.open(dir)` and prints the outcome as JSON. */
const OPEN_SCRIPT = `
const { Quiver } = await import(${JSON.stringify(DIST)})
const started = Date.now()
try {
  const db = await Quiver.open(process.argv[1])
  await db.close()
  console.log(JSON.stringify({ opened: true }))
} catch (err) {
  console.log(JSON.stringify({ code: err.code, message: err.message, details: err.details, ms: Date.now() - started }))
}
`

let dir: string
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this suite`)
  dir = await mkdtemp(join(tmpdir(), 'quiver-lock-it-'))
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('one process per data directory', () => {
  it('a second process opening a held directory fails at once with DIRECTORY_LOCKED and the holder pid', async () => {
    const db = await Quiver.open(dir)
    try {
      await db.createCollection('docs', { dimension: 2 })
      const r = await run(['--input-type=module', '-e', OPEN_SCRIPT, dir])
      const out = JSON.parse(r.stdout) as {
        code: string
        message: string
        details: { pid: number }
        ms: number
      }
      expect(out.code).toBe('DIRECTORY_LOCKED')
      expect(out.details.pid).toBe(process.pid)
      expect(out.message).toContain(String(process.pid))
      // no waiting or retrying for the holder (generous bound for a loaded 2-core machine)
      expect(out.ms).toBeLessThan(5000)
    } finally {
      await db.close()
    }
    // released on close: the other process opens it now
    const r = await run(['--input-type=module', '-e', OPEN_SCRIPT, dir])
    expect(JSON.parse(r.stdout)).toEqual({ opened: true })
  })

  it('`quiver serve` on a held directory exits non-zero, saying it is locked and by which pid', async () => {
    const db = await Quiver.open(dir)
    try {
      const r = await run([MAIN, 'serve', '--data', dir, '--port', '0'])
      expect(r.code).not.toBe(0)
      expect(r.code).not.toBeNull()
      expect(r.stderr).toMatch(/lock/i)
      expect(r.stderr).toContain(String(process.pid))
    } finally {
      await db.close()
    }
  })

  it('a directory served by a `quiver serve` process is locked to us; after SIGKILL it opens at once', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--data', dir, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += String(d)
    })
    const exited = once(child, 'exit')
    try {
      const lines = createInterface({ input: child.stdout })
      for await (const line of lines) if (line.includes('listening')) break
      expect(child.exitCode, stderr).toBeNull()
      const err = await Quiver.open(dir).then(
        async (db) => {
          await db.close()
          return undefined
        },
        (e: unknown) => e as { details?: { pid?: number } },
      )
      expect(err?.details?.pid).toBe(child.pid)
      await expectError(Quiver.open(dir), 'DIRECTORY_LOCKED', new RegExp(String(child.pid)))
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    const db = await Quiver.open(dir)
    expect(db.listCollections()).toEqual(['docs'])
    await db.close()
  })
})

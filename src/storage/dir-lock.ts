// Exclusive lock on a data directory across processes. On Linux the lock is a bound abstract Unix
// socket (the kernel frees it when the holder dies, even by SIGKILL); elsewhere a pid file. See docs/storage-format.md.
import { randomBytes } from 'node:crypto'
import { link, readFile, rename, stat, unlink } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { QuiverError } from '../errors.js'
import { ensureDir, errnoCode, fsyncDir, ioError, removeFileIfExists, writeFileAtomic } from './files.js'

/** Name of the file in a locked directory that says who holds it (JSON, see `LockInfo`). */
export const LOCK_FILE = 'LOCK'

/** How the lock is held. `socket`: Linux abstract socket; `pidfile`: LOCK file created with link(2) + stale-pid check. */
export type LockStrategy = 'socket' | 'pidfile'

export interface LockOptions {
  /** Default: `socket` on Linux, `pidfile` elsewhere. */
  strategy?: LockStrategy
}

/** Contents of the LOCK file. */
export interface LockInfo {
  readonly pid: number
  readonly hostname: string
  /** ISO 8601 time the lock was taken. */
  readonly acquiredAt: string
  readonly strategy: LockStrategy
  /** Random id of this acquisition (tells two LOCK files with the same pid apart). */
  readonly token: string
}

export interface DirLock {
  /** Absolute path of the locked directory. */
  readonly dir: string
  readonly info: LockInfo
  /** Gives the lock up; idempotent. Throws IO_ERROR only if the LOCK file cannot be removed. */
  release(): Promise<void>
}

/** Directories (by device:inode) locked by this process, so a second lock here fails without a syscall race. */
const heldHere = new Set<string>()

/**
 * Takes an exclusive lock on `dir` (created if missing), held until `release()` or process exit.
 * A second `lockDirectory` on the same directory, in this or another process, fails at once with
 * `DIRECTORY_LOCKED` whose message and `details.pid` name the holder. A lock left by a process that
 * died (SIGKILL included) does not block: with `socket` the kernel drops it; with `pidfile` the
 * LOCK file's pid is found dead and the file is replaced. Throws DIRECTORY_LOCKED, IO_ERROR.
 *
 * @example
 * const lock = await lockDirectory('./data')
 * try { ... } finally { await lock.release() }
 */
export async function lockDirectory(dir: string, options: LockOptions = {}): Promise<DirLock> {
  const abs = resolve(dir)
  const strategy = options.strategy ?? (process.platform === 'linux' ? 'socket' : 'pidfile')
  await ensureDir(abs)
  let key: string
  try {
    const st = await stat(abs, { bigint: true })
    key = `${st.dev}:${st.ino}`
  } catch (err) {
    throw ioError('stat', abs, err)
  }
  if (heldHere.has(key)) throw lockedError(abs, await readLockInfo(abs), 'this process already holds it')
  heldHere.add(key)
  try {
    return strategy === 'socket' ? await lockWithSocket(abs, key) : await lockWithPidFile(abs, key)
  } catch (err) {
    heldHere.delete(key)
    throw err
  }
}

function newInfo(strategy: LockStrategy): LockInfo {
  return {
    pid: process.pid,
    hostname: hostname(),
    acquiredAt: new Date().toISOString(),
    strategy,
    token: randomBytes(8).toString('hex'),
  }
}

function lockedError(dir: string, holder: LockInfo | undefined, why?: string): QuiverError {
  const who = holder
    ? `process ${holder.pid} on ${holder.hostname} (since ${holder.acquiredAt})`
    : 'another process'
  return new QuiverError(
    'DIRECTORY_LOCKED',
    `data directory ${dir} is locked by ${who}${why ? `: ${why}` : ''}; close it first`,
    { dir, pid: holder?.pid ?? null, hostname: holder?.hostname ?? null },
  )
}

function parseInfo(bytes: Uint8Array | string): LockInfo | undefined {
  try {
    const v: unknown = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'))
    if (typeof v !== 'object' || v === null) return undefined
    const o = v as Record<string, unknown>
    if (typeof o['pid'] !== 'number' || typeof o['hostname'] !== 'string') return undefined
    return {
      pid: o['pid'],
      hostname: o['hostname'],
      acquiredAt: typeof o['acquiredAt'] === 'string' ? o['acquiredAt'] : '?',
      strategy: o['strategy'] === 'pidfile' ? 'pidfile' : 'socket',
      token: typeof o['token'] === 'string' ? o['token'] : '',
    }
  } catch {
    return undefined
  }
}

async function readLockInfo(dir: string): Promise<LockInfo | undefined> {
  try {
    return parseInfo(await readFile(join(dir, LOCK_FILE)))
  } catch {
    return undefined
  }
}

// ---- socket: bind `\0quiver-lock:<dev>:<ino>` in the abstract namespace; EADDRINUSE means held. ----

async function lockWithSocket(dir: string, key: string): Promise<DirLock> {
  const server = createServer((conn) => conn.destroy())
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen({ path: `\0quiver-lock:${key}`, exclusive: true }, () => {
        server.off('error', fail)
        ok()
      })
    })
  } catch (err) {
    if (errnoCode(err) === 'EADDRINUSE') throw lockedError(dir, await readLockInfo(dir))
    throw ioError('bind lock socket for', dir, err)
  }
  server.unref()
  const info = newInfo('socket')
  try {
    await writeFileAtomic(join(dir, LOCK_FILE), `${JSON.stringify(info)}\n`)
  } catch (err) {
    await closeServer(server)
    throw err
  }
  let released = false
  return {
    dir,
    info,
    async release() {
      if (released) return
      released = true
      try {
        await removeFileIfExists(join(dir, LOCK_FILE))
      } finally {
        await closeServer(server)
        heldHere.delete(key)
      }
    },
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((ok) => server.close(() => ok()))
}

// ---- pidfile: LOCK appears complete via link(2) (fails with EEXIST when present); a dead pid on this host is stale. ----

function isAlive(info: LockInfo): boolean {
  if (info.hostname !== hostname()) return true
  if (info.pid === process.pid) return false
  try {
    process.kill(info.pid, 0)
    return true
  } catch (err) {
    return errnoCode(err) !== 'ESRCH'
  }
}

async function lockWithPidFile(dir: string, key: string): Promise<DirLock> {
  const lockPath = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 5; attempt++) {
    const info = newInfo('pidfile')
    const tmp = join(dir, `.${LOCK_FILE}.${info.token}`)
    await writeFileAtomic(tmp, `${JSON.stringify(info)}\n`)
    let linked = false
    try {
      await link(tmp, lockPath)
      linked = true
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        await removeFileIfExists(tmp)
        throw ioError('create lock file', lockPath, err)
      }
    }
    await removeFileIfExists(tmp)
    if (linked) {
      await fsyncDir(dir)
      return pidFileLock(dir, key, info)
    }
    const raw = await readFile(lockPath, 'utf8').catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return undefined
      throw ioError('read lock file', lockPath, err)
    })
    if (raw === undefined) continue
    const holder = parseInfo(raw)
    if (holder !== undefined && isAlive(holder)) throw lockedError(dir, holder)
    // Stale (dead holder, or unreadable content). Move it aside atomically, then check it was the file we judged.
    const aside = join(dir, `.${LOCK_FILE}.stale-${info.token}`)
    try {
      await rename(lockPath, aside)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue
      throw ioError('remove stale lock file', lockPath, err)
    }
    const movedRaw = await readFile(aside, 'utf8').catch(() => undefined)
    if (movedRaw !== raw) {
      // A live holder replaced the stale file between our read and rename: put its file back.
      await link(aside, lockPath).catch(() => undefined)
      await removeFileIfExists(aside)
      throw lockedError(dir, movedRaw === undefined ? undefined : parseInfo(movedRaw))
    }
    await removeFileIfExists(aside)
  }
  throw lockedError(dir, await readLockInfo(dir), 'the lock file keeps changing')
}

function pidFileLock(dir: string, key: string, info: LockInfo): DirLock {
  let released = false
  return {
    dir,
    info,
    async release() {
      if (released) return
      released = true
      try {
        const current = await readLockInfo(dir)
        if (current?.token === info.token) {
          await unlink(join(dir, LOCK_FILE)).catch((err: unknown) => {
            if (errnoCode(err) !== 'ENOENT') throw ioError('remove lock file', join(dir, LOCK_FILE), err)
          })
        }
      } finally {
        heldHere.delete(key)
      }
    },
  }
}

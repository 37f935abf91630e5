// Durable file primitives: atomic whole-file writes, directory fsync, full positional writes, and the
// mapping of OS errors (ENOSPC, EROFS, EACCES, ...) to QuiverError('IO_ERROR').
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, read, readFileSync, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { copyFile, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { QuiverError } from '../errors.js'
import { crc32c } from './crc32c.js'

/** The errno code of a Node system error (`'ENOSPC'`, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

/**
 * Wraps an OS error as `QuiverError('IO_ERROR')` whose message names the operation, the path and
 * the errno code; `details` = `{ op, path, errno }`, `cause` = the original error. A QuiverError
 * passes through unchanged.
 */
export function ioError(op: string, path: string, err: unknown): QuiverError {
  if (err instanceof QuiverError) return err
  const code = errnoCode(err) ?? 'UNKNOWN'
  const reason = err instanceof Error ? err.message : String(err)
  return new QuiverError(
    'IO_ERROR',
    `${op} ${path} failed (${code}): ${reason}`,
    { op, path, errno: code },
    err,
  )
}

async function attempt<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw ioError(op, path, err)
  }
}

/**
 * fsyncs a directory so that entries created, renamed or removed in it survive a crash.
 * Throws IO_ERROR. On Windows, where directories cannot be opened for fsync, this is a no-op.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return
  await attempt('fsync directory', dir, async () => {
    const h = await open(dir, 'r')
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  })
}

/**
 * Creates `dir` (and missing parents) and, when it was created, fsyncs its parent so that the
 * new entry is durable. Throws IO_ERROR.
 */
export async function ensureDir(dir: string): Promise<void> {
  const created = await attempt('create directory', dir, () => mkdir(dir, { recursive: true }))
  if (created !== undefined) await fsyncDir(dirname(created))
}

/** The file's bytes, or undefined when it does not exist. Throws IO_ERROR for other failures. */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError('read', path, err)
  }
}

/**
 * A file opened for positioned reads of exactly the bytes asked for, or undefined when it does not
 * exist. `size` is its length when opened; `read(into, position)` fills all of `into` (throws
 * IO_ERROR when the file ends first or a read fails); `close()` once done. Throws IO_ERROR when the
 * file cannot be opened.
 */
export async function openForReads(
  path: string,
): Promise<
  | { size: number; read(into: Uint8Array, position: number): Promise<void>; close(): Promise<void> }
  | undefined
> {
  let h: FileHandle
  try {
    h = await open(path, 'r')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError('open', path, err)
  }
  try {
    const { size } = await h.stat()
    return {
      size,
      async read(into, position) {
        let done = 0
        try {
          while (done < into.byteLength) {
            const { bytesRead } = await h.read(into, done, into.byteLength - done, position + done)
            if (bytesRead === 0)
              throw Object.assign(new Error(`the file ends at byte ${position + done}`), { code: 'EIO' })
            done += bytesRead
          }
        } catch (err) {
          throw ioError('read', path, err)
        }
      },
      close: () => h.close(),
    }
  } catch (err) {
    await h.close()
    throw ioError('stat', path, err)
  }
}

/**
 * A file kept open for synchronous positioned reads (a segment's vector file, read while a search
 * runs), or undefined when it does not exist: `size` when opened; `readSync(into, position)` fills
 * all of `into` (IO_ERROR when the file ends first or a read fails); `close()` once, after which
 * reads throw IO_ERROR. Throws IO_ERROR when the file cannot be opened.
 */
export function openForSyncReads(path: string):
  | {
      size: number
      readSync(into: Uint8Array, position: number): void
      read(into: Uint8Array, position: number): Promise<void>
      close(): void
    }
  | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError('open', path, err)
  }
  let size: number
  try {
    size = fstatSync(fd).size
  } catch (err) {
    closeSync(fd)
    throw ioError('stat', path, err)
  }
  let open = true
  let pending = 0 // async reads in flight
  return {
    size,
    readSync(into, position) {
      if (!open)
        throw ioError('read', path, Object.assign(new Error('the file is closed'), { code: 'EBADF' }))
      let done = 0
      try {
        while (done < into.byteLength) {
          const n = readSync(fd, into, done, into.byteLength - done, position + done)
          if (n === 0)
            throw Object.assign(new Error(`the file ends at byte ${position + done}`), { code: 'EIO' })
          done += n
        }
      } catch (err) {
        throw ioError('read', path, err)
      }
    },
    async read(into, position) {
      let done = 0
      pending++
      try {
        while (done < into.byteLength) {
          if (!open)
            throw ioError('read', path, Object.assign(new Error('the file is closed'), { code: 'EBADF' }))
          const n = await new Promise<number>((resolve, reject) =>
            read(fd, into, done, into.byteLength - done, position + done, (err, bytes) =>
              err ? reject(ioError('read', path, err)) : resolve(bytes),
            ),
          )
          if (n === 0)
            throw ioError(
              'read',
              path,
              Object.assign(new Error(`the file ends at byte ${position + done}`), { code: 'EIO' }),
            )
          done += n
        }
      } finally {
        // a close during the read waits for it: the descriptor must not be reused under it
        if (--pending === 0 && !open) closeSync(fd)
      }
    },
    close() {
      if (!open) return
      open = false
      if (pending === 0) closeSync(fd)
    },
  }
}

/** Removes a file; a missing file is not an error. Throws IO_ERROR for other failures. */
export async function removeFileIfExists(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw ioError('remove', path, err)
  }
}

/**
 * Writes every byte of `data` at byte `position` of an open file, looping over short writes
 * (one `pwrite` syscall in the common case). Raw OS errors propagate; callers wrap them with
 * `ioError` and the path.
 */
export async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done)
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    done += bytesWritten
  }
}

/** Concatenates chunks into one buffer (so that a caller can issue a single write). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  return Buffer.concat(chunks)
}

/**
 * A file's contents: one buffer, its parts in order, or its parts with their size and CRC-32C
 * already computed (a segment's index: views of its WebAssembly memory, written without being copied
 * into one buffer first).
 */
export type FileBody = Uint8Array | readonly Uint8Array[] | FileParts | LinkedFile

/**
 * A file already written (a segment's vector file, which never changes once written): a persist
 * places it in a new segment directory by a hard link (a copy where links fail) instead of writing
 * it again, then sets `path` to the new place (`placeLinked`). `bytes` and `crc32c` are its
 * manifest entry's.
 */
export interface LinkedFile {
  readonly linked: true
  path: string
  readonly bytes: number
  readonly crc32c: number
}

export function isLinked(body: FileBody): body is LinkedFile {
  return !(body instanceof Uint8Array) && 'linked' in body
}

/**
 * Places linked file `body` at `dest` (a new name in an existing directory): a hard link, or a copy
 * (fsynced) when the file system refuses one. The caller fsyncs the directory. Throws IO_ERROR.
 */
export async function placeLinked(body: LinkedFile, dest: string): Promise<void> {
  try {
    await link(body.path, dest)
    return
  } catch (err) {
    const code = errnoCode(err)
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP')
      throw ioError('link', `${body.path} -> ${dest}`, err)
  }
  await attempt('copy', `${body.path} -> ${dest}`, async () => {
    await copyFile(body.path, dest, constants.COPYFILE_EXCL)
    const h = await open(dest, 'r+')
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  })
}

/** Parts of a file in order with their total size and CRC-32C. */
export interface FileParts {
  readonly parts: readonly Uint8Array[]
  readonly bytes: number
  readonly crc32c: number
}

/** The parts of a file body, in order. */
export function bodyParts(body: FileBody): readonly Uint8Array[] {
  if (body instanceof Uint8Array) return [body]
  if (isLinked(body)) return [readFileSyncChecked(body)]
  return 'parts' in body ? body.parts : body
}

/** A linked file's bytes, read whole (a snapshot image of a segment with its vectors on disk). */
function readFileSyncChecked(body: LinkedFile): Uint8Array {
  let data: Buffer
  try {
    data = readFileSync(body.path)
  } catch (err) {
    throw ioError('read', body.path, err)
  }
  if (data.byteLength !== body.bytes || crc32c(data) !== body.crc32c >>> 0)
    throw new QuiverError('CORRUPTED', `${body.path} fails its size or CRC32C check (manifest.json)`, {
      path: body.path,
    })
  return data
}

/** Bytes of a file body. */
export function bodyBytes(body: FileBody): number {
  if (!(body instanceof Uint8Array) && 'bytes' in body) return body.bytes
  let n = 0
  for (const part of bodyParts(body)) n += part.byteLength
  return n
}

/** CRC-32C of a file body (its parts as one stream; the precomputed one of FileParts). */
export function bodyCrc32c(body: FileBody): number {
  if (!(body instanceof Uint8Array) && 'crc32c' in body) return body.crc32c
  let c = 0
  for (const part of bodyParts(body)) c = crc32c(part, c)
  return c
}

/** A copy of a file body in one buffer of its own (never a view of the parts). */
export function bodyCopy(body: FileBody): Uint8Array {
  if (body instanceof Uint8Array) return body.slice()
  if (isLinked(body)) return bodyParts(body)[0]!
  const out = new Uint8Array(bodyBytes(body))
  let pos = 0
  for (const part of bodyParts(body)) {
    out.set(part, pos)
    pos += part.byteLength
  }
  return out
}

/**
 * Replaces the file at `path` atomically and durably: writes a temporary file in the same
 * directory, fsyncs it, renames it over `path`, then fsyncs the directory. After a crash, `path`
 * holds either the old or the new content, never a mix. A string is written as UTF-8; an array
 * of chunks is written chunk by chunk, in order, without being copied into one buffer. Throws IO_ERROR (the temp file is removed on failure).
 *
 * @example await writeFileAtomic('/data/manifest.json', JSON.stringify(manifest))
 */
/**
 * A fresh temp name beside `path` for an atomic replace: `.<name>.tmp-<pid>-<random>`, hidden (a
 * leading dot, so leftover sweeps find it) and at most about 140 bytes, so that a long target name
 * (a 236-character snapshot name) still fits the file system's 255-byte name limit.
 */
export function tempPathFor(path: string): string {
  const name = basename(path)
  const short = name.length > 100 ? name.slice(0, 100) : name
  return join(dirname(path), `.${short}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`)
}

export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
): Promise<void> {
  const parts =
    typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data
  const dir = dirname(path)
  const tmp = tempPathFor(path)
  let stage = 'create'
  try {
    const h = await open(tmp, 'wx')
    try {
      stage = 'write'
      let pos = 0
      for (const part of parts) {
        await writeFully(h, part, pos)
        pos += part.byteLength
      }
      stage = 'fsync'
      await h.sync()
    } finally {
      await h.close()
    }
    stage = 'rename'
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw ioError(`atomic write (${stage})`, stage === 'rename' ? path : tmp, err)
  }
  await fsyncDir(dir)
}

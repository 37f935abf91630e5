// File damage for the fault suites: bit flips and truncation at chosen or random offsets, and
// copying a live data directory (a "crash image": what the disk holds when the process dies now).
import { cp, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Flips bit `bit` (0-7) of the byte at `offset` (negative: from the end). Returns the absolute offset. */
export async function flipBit(path: string, offset: number, bit = 0): Promise<number> {
  const data = await readFile(path)
  const at = offset < 0 ? data.length + offset : offset
  if (at < 0 || at >= data.length) throw new Error(`${path}: offset ${offset} outside ${data.length} bytes`)
  data[at]! ^= 1 << bit
  await writeFile(path, data)
  return at
}

/** Cuts the last `bytes` bytes of a file. */
export async function cutTail(path: string, bytes: number): Promise<void> {
  const { size } = await stat(path)
  await truncate(path, Math.max(0, size - bytes))
}

/**
 * Copies a data directory, live or closed. Every acknowledged write is fsynced before it is
 * acknowledged, so a copy taken between writes is exactly what a SIGKILL at that moment leaves.
 * The lock (an abstract socket keyed by the directory's inode, plus an informational LOCK file)
 * does not travel with it.
 */
export async function copyDir(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true })
}

/** Files of `dir` whose names match, sorted by name. */
export async function filesIn(dir: string, re: RegExp): Promise<string[]> {
  return (await readdir(dir))
    .filter((n) => re.test(n))
    .sort()
    .map((n) => join(dir, n))
}

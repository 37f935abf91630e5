// @ts-check
// Memory and disk figures the scale and on-disk benchmarks share: RSS after a full GC, the peak RSS
// over a stretch (the kernel's VmHWM, reset first, else a 50 ms sampler), bytes under a directory.
import { readFileSync, writeFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

const gc = /** @type {(() => void) | undefined} */ (/** @type {any} */ (globalThis).gc)

/** Resident set size after a full GC (bytes; run node with --expose-gc, else without the GC). */
export async function settledRss() {
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  return process.memoryUsage().rss
}

/**
 * Tracks the peak RSS from now on: the kernel's VmHWM after resetting it, else a 50 ms sampler.
 * @returns {{ peak(): number, stop(): void }}
 */
export function peakTracker() {
  let sampled = process.memoryUsage().rss
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage().rss)
  }, 50)
  let kernel = false
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    kernel = true
  } catch {}
  const hwm = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  }
  return {
    peak: () => Math.max(sampled, process.memoryUsage().rss, kernel ? hwm() : 0),
    stop: () => clearInterval(timer),
  }
}

/** Bytes of every file under `dir`. @param {string} dir */
export async function diskBytes(dir) {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath ?? /** @type {any} */ (e).path, e.name))).size
  }
  return n
}

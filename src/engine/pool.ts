// The process-wide pool of worker threads that search and build over cores' shared memories, so that
// both cores work and the main thread (the server's event loop) stays free. Each thread holds its own
// instance of the core module per shared memory (src/engine/worker.ts).
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { QuiverError } from '../errors.js'
import { wasmModule } from './wasm.js'

interface TaskBase {
  /** Core id from `registerCore`. */
  core: number
  /** State block and arena pointers from the core's owner instance (assembly/index.ts "threads"). */
  state: number
  arena: number
  arenaBytes: number
  heapN: number
  listN: number
  /** Capacity (offsets) the arena was sized for: the thread sees no more of the index than that. */
  capacity: number
}

export interface SearchTask extends TaskBase {
  type: 'search'
  /** n x dimension, row-major. */
  queries: Float32Array
  dimension: number
  paddedDim: number
  k: number
  ef: number
  /** 0 unfiltered, 1 filtered with waypoints, 2 two-hop (HnswIndex.search). */
  mode: number
  quant: number
  candidates: number
  /** Full scan instead of the graph. */
  exact: boolean
  /** Allow bitset (filtered searches). */
  allow?: Uint32Array
}

export interface InsertTask extends TaskBase {
  type: 'insert'
  from: number
  to: number
  step: number
}

export type TaskRequest = (SearchTask | InsertTask) & { job: number }

export type WorkerMessage =
  | TaskRequest
  | { type: 'attach'; core: number; module: WebAssembly.Module; memory: WebAssembly.Memory }
  | { type: 'drop'; core: number }

export interface TaskReply {
  job: number
  error?: string
  /** Search: n x k offsets and distances, and the hit count of each query. */
  ids?: Uint32Array
  distances?: Float32Array
  counts?: Uint32Array
  /**
   * Search: not run, because the index grew past the task's arena after it was dispatched (it
   * would miss the offsets committed since); the host answers these queries itself.
   */
  stale?: boolean
}

interface Pending {
  resolve(reply: TaskReply): void
  reject(err: Error): void
}

class PoolThread {
  readonly worker: Worker
  readonly pending = new Map<number, Pending>()
  readonly attached = new Set<number>()
  dead = false

  constructor(url: URL, onDeath: (t: PoolThread) => void) {
    this.worker = new Worker(url)
    this.worker.unref()
    this.worker.on('message', (reply: TaskReply) => {
      const p = this.pending.get(reply.job)
      if (p === undefined) return
      this.pending.delete(reply.job)
      if (this.pending.size === 0) this.worker.unref()
      if (reply.error !== undefined) p.reject(new QuiverError('INTERNAL', `worker thread: ${reply.error}`))
      else p.resolve(reply)
    })
    const die = (why: string) => {
      if (this.dead) return
      this.dead = true
      for (const p of this.pending.values()) p.reject(new QuiverError('INTERNAL', `worker thread ${why}`))
      this.pending.clear()
      onDeath(this)
    }
    this.worker.on('error', (err) => die(`failed: ${err.message}`))
    this.worker.on('exit', (code) => die(`exited with code ${code}`))
  }

  post(msg: WorkerMessage): void {
    this.worker.postMessage(msg)
  }

  run(task: TaskRequest): Promise<TaskReply> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(task.job, { resolve, reject })
      this.worker.postMessage(task)
    })
  }
}

/** Threads to start: QUIVER_THREADS (0 disables the pool) or the number of CPUs. */
function configuredThreads(): number {
  const env = process.env.QUIVER_THREADS
  if (env !== undefined && env !== '') {
    const n = Number(env)
    if (Number.isInteger(n) && n >= 0 && n <= 256) return n
    throw new QuiverError(
      'INVALID_CONFIG',
      `QUIVER_THREADS must be an integer in 0..256, got ${JSON.stringify(env)}`,
    )
  }
  return availableParallelism()
}

let shared: CorePool | null | undefined
/** Set by CorePool.configure before the pool starts; wins over QUIVER_THREADS. */
let configured: number | undefined

export class CorePool {
  /** Worker threads in the pool. */
  readonly size: number
  private readonly url: URL
  private readonly threads: (PoolThread | undefined)[]
  private readonly memories = new Map<number, WebAssembly.Memory>()
  private nextJob = 1
  private nextCore = 1
  private readonly registry = new FinalizationRegistry<number>((id) => this.dropCore(id))

  private constructor(size: number, url: URL) {
    this.size = size
    this.url = url
    this.threads = new Array(size).fill(undefined)
  }

  /**
   * The process-wide pool, started on first use; undefined when QUIVER_THREADS is 0 or the compiled
   * worker script (dist/engine/worker.js, from `npm run build`) is missing.
   */
  static shared(): CorePool | undefined {
    if (shared !== undefined) return shared ?? undefined
    // src/engine and dist/engine both sit two levels below the package root
    const url = new URL('../../dist/engine/worker.js', import.meta.url)
    const n = configured ?? configuredThreads()
    shared = n > 0 && existsSync(url) ? new CorePool(n, url) : null
    return shared ?? undefined
  }

  /**
   * Sets the number of worker threads (0 = no pool: everything on the calling thread) before the
   * pool starts; wins over QUIVER_THREADS. Throws INVALID_CONFIG outside 0..256, or when the pool
   * already runs with another size.
   */
  static configure(threads: number): void {
    if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
      throw new QuiverError('INVALID_CONFIG', `threads must be an integer in 0..256, got ${threads}`)
    }
    const running = shared === undefined ? undefined : (shared?.size ?? 0)
    if (running !== undefined && running !== threads) {
      throw new QuiverError('INVALID_CONFIG', `the core pool already runs with ${running} threads`)
    }
    configured = threads
  }

  /** Makes a core's memory known to the pool; dropped from the threads when `owner` is collected. */
  registerCore(owner: object, memory: WebAssembly.Memory): number {
    const id = this.nextCore++
    this.memories.set(id, memory)
    this.registry.register(owner, id, owner)
    return id
  }

  /**
   * Forgets core `id` of `owner` now (its index is closed): the threads drop their instances and
   * collect, so its memory is freed once the owner is gone too. Tasks already posted still run;
   * later ones for this core are refused.
   */
  releaseCore(owner: object, id: number): void {
    this.registry.unregister(owner)
    this.dropCore(id)
  }

  private dropCore(id: number): void {
    this.memories.delete(id)
    for (const t of this.threads) {
      if (t?.attached.delete(id)) t.post({ type: 'drop', core: id })
    }
  }

  private thread(i: number): PoolThread {
    let t = this.threads[i]
    if (t === undefined || t.dead) {
      t = new PoolThread(this.url, (dead) => {
        if (this.threads[i] === dead) this.threads[i] = undefined
      })
      this.threads[i] = t
    }
    return t
  }

  /** Tasks handed to the threads since the pool started (a test seam: proves work ran off the calling thread). */
  get tasksStarted(): number {
    return this.nextJob - 1
  }

  /** The thread with the fewest tasks queued (ties: the lowest index). */
  leastBusy(): number {
    let best = 0
    let load = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.size; i++) {
      const n = this.threads[i]?.pending.size ?? 0
      if (n < load) {
        best = i
        load = n
      }
    }
    return best
  }

  /** Runs `task` on thread `i` (0 .. size-1); rejects with INTERNAL if the thread fails. */
  run(i: number, task: SearchTask | InsertTask): Promise<TaskReply> {
    const t = this.thread(i)
    if (!t.attached.has(task.core)) {
      const memory = this.memories.get(task.core)
      if (memory === undefined)
        return Promise.reject(new QuiverError('INTERNAL', `core ${task.core} is not registered`))
      t.post({ type: 'attach', core: task.core, module: wasmModule(), memory })
      t.attached.add(task.core)
    }
    return t.run({ ...task, job: this.nextJob++ })
  }
}

// A thread of the core pool (src/engine/pool.ts): keeps one instance of the core module per shared
// memory it is sent and runs search and insert tasks on it. It never allocates in a core's memory:
// each task names the state block and the arena that the core's owner prepared for this thread.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { parentPort } from 'node:worker_threads'
import type { TaskReply, TaskRequest, WorkerMessage } from './pool.js'
import { attachCore, type CoreExports } from './wasm.js'

const cores = new Map<number, CoreExports>()

/**
 * A full GC of this thread's heap. A dropped core's shared memory (often hundreds of MiB) is freed
 * only once every thread that attached it has collected its instance, and an idle worker never
 * collects on its own: measured, 500 MiB stayed resident until the worker collected. The V8 flag
 * is process-wide but only takes effect in contexts created after it: `gc` is taken from a fresh
 * context here (and would be a global in later ones, which this process does not create).
 */
const collect: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
})()
let collecting: ReturnType<typeof setTimeout> | undefined

/** Collects once after a burst of drops (closing a collection drops each of its cores). */
function collectSoon(): void {
  if (collect === undefined || collecting !== undefined) return
  collecting = setTimeout(() => {
    collecting = undefined
    collect()
  }, 10)
}

function run(task: TaskRequest): TaskReply {
  const core = cores.get(task.core)
  if (core === undefined) throw new Error(`core ${task.core} is not attached to this thread`)
  const current = core.attachThread(
    task.state,
    task.arena,
    task.arenaBytes,
    task.heapN,
    task.listN,
    task.capacity,
  )
  if (task.type === 'search' && current === 0) return { job: task.job, stale: true }
  if (task.type === 'insert') {
    core.insertRange(task.from, task.to, task.step)
    return { job: task.job }
  }
  const { k, paddedDim, dimension } = task
  const n = task.queries.length / dimension
  const ids = new Uint32Array(n * k)
  const distances = new Float32Array(n * k)
  const counts = new Uint32Array(n)
  if (task.allow !== undefined) {
    const words = (core.getCapacity() + 31) >>> 5
    const bits = new Uint32Array(core.memory.buffer, core.allowPtr(), words)
    bits.set(task.allow.subarray(0, words))
    bits.fill(0, task.allow.length)
  }
  for (let i = 0; i < n; i++) {
    const staging = new Float32Array(core.memory.buffer, core.stagingPtr(), paddedDim)
    staging.set(task.queries.subarray(i * dimension, (i + 1) * dimension))
    const got = task.exact
      ? core.searchFlat(k, task.allow === undefined ? 0 : 1, task.quant, task.candidates)
      : core.searchKnn(k, task.ef, task.mode, task.quant, task.candidates)
    const buf = core.memory.buffer
    ids.set(new Uint32Array(buf, core.outIdsPtr(), got), i * k)
    distances.set(new Float32Array(buf, core.outDistPtr(), got), i * k)
    counts[i] = got
  }
  return { job: task.job, ids, distances, counts }
}

parentPort?.on('message', (msg: WorkerMessage) => {
  if (msg.type === 'attach') {
    cores.set(msg.core, attachCore(msg.module, msg.memory))
    return
  }
  if (msg.type === 'drop') {
    cores.delete(msg.core)
    collectSoon()
    return
  }
  let reply: TaskReply
  try {
    reply = run(msg)
  } catch (err) {
    reply = { job: msg.job, error: err instanceof Error ? err.message : String(err) }
  }
  const transfer = reply.ids ? [reply.ids.buffer, reply.distances!.buffer, reply.counts!.buffer] : []
  parentPort!.postMessage(reply, transfer as ArrayBuffer[])
})

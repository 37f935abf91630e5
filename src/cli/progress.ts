// Progress reporting for long CLI operations: a cli-progress bar when stderr is a terminal,
// otherwise plain lines every 10 % (logs and CI stay readable).
import { SingleBar } from 'cli-progress'
import { formatCount } from './format.js'

export interface Progress {
  /** Sets the number of items done so far (0 .. total). */
  update(done: number): void
  /** Ends the bar (or prints the final line) once. */
  stop(): void
}

export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream
  /** Unit shown in the rate, e.g. `vec`. */
  unit?: string
}

function etaText(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`
}

/** Starts reporting progress of `label` towards `total` items (rate in items/s, ETA). */
export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr
  const unit = options.unit ?? 'items'
  const started = performance.now()
  const rate = (done: number): number => done / Math.max((performance.now() - started) / 1000, 1e-9)
  let stopped = false
  if (stream.isTTY === true) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate} ${unit}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 10,
    })
    bar.start(total, 0, { rate: '0' })
    return {
      update(done) {
        bar.update(done, { rate: formatCount(rate(done)) })
      },
      stop() {
        if (stopped) return
        stopped = true
        bar.stop()
      },
    }
  }
  let nextStep = 1
  let last = 0
  const print = (done: number): void => {
    const r = rate(done)
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100)
    stream.write(
      `${label}: ${formatCount(done)}/${formatCount(total)} (${pct}%) ${formatCount(r)} ${unit}/s ETA ${etaText((total - done) / r)}\n`,
    )
  }
  return {
    update(done) {
      last = done
      if (total > 0 && done < total && done >= (nextStep * total) / 10) {
        while (done >= (nextStep * total) / 10) nextStep++
        print(done)
      }
    },
    stop() {
      if (stopped) return
      stopped = true
      print(last)
    },
  }
}

// Runs the built `quiver` CLI (dist/cli/main.js) as a real child process: to completion (`runCli`)
// or in the background, watching its output (`spawnCli`, e.g. a `quiver serve`).
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'

/** The built CLI entry point; `npm run build` makes it. */
export const CLI_MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js')

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `quiver ...args` to completion (60 s at most) with `env` added to this process's environment. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        done({ code, stdout, stderr })
      },
    )
  })
}

export interface CliProcess {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far, interleaved as it arrived. */
  output(): string
  /** The first output line matching `re` (already written or still to come); rejects if the process exits first. */
  waitFor(re: RegExp): Promise<string>
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** SIGKILLs the process if it still runs, and waits for its exit. */
  kill(): Promise<void>
}

/** Starts `quiver ...args` (or, with `command`, any argv) in the background. */
export function spawnCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; command?: readonly string[] } = {},
): CliProcess {
  const [file, ...argv] = options.command ?? [process.execPath, CLI_MAIN]
  const child = spawn(file as string, [...argv, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  })
  let text = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer): void => {
    text += chunk.toString()
    for (const w of waiters) w()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const waitFor = (re: RegExp): Promise<string> =>
    new Promise((done, fail) => {
      const check = (): boolean => {
        const line = text.split('\n').find((l) => re.test(l))
        if (line === undefined) return false
        waiters.delete(check)
        done(line)
        return true
      }
      if (check()) return
      waiters.add(check)
      exited.then((code) => {
        if (waiters.delete(check)) fail(new Error(`exited with ${code} before printing ${re}:\n${text}`))
      })
    })
  return {
    child,
    output: () => text,
    waitFor,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

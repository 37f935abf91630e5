// Runs the built `quiver` CLI (dist/cli/main.js) as a real child process.
import { execFile } from 'node:child_process'
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

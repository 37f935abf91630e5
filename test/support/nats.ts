// Real nats-server processes for the cluster suites: JetStream on, loopback only, a random port,
// its store in a temporary directory. `natsServerMissing` says how to install it when it is absent.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Why the cluster suites cannot run here (nats-server not on PATH), or null when they can. */
export const natsServerMissing: string | null = (() => {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  return r.status === 0
    ? null
    : 'nats-server is not installed: `apt-get install -y nats-server` (Debian/Ubuntu, as root; .ci/run does it) or see https://docs.nats.io/running-a-nats-service/introduction/installation'
})()

export interface NatsServer {
  readonly url: string
  readonly process: ChildProcess
  /** Stops it (SIGTERM) and removes its store. */
  stop(): Promise<void>
}

/** Starts `nats-server -js` on 127.0.0.1 and resolves once it listens for clients. */
export async function startNats(): Promise<NatsServer> {
  const store = await mkdtemp(join(tmpdir(), 'quiver-nats-'))
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    let log = ''
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)))
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString()
      const m = /Listening for client connections on ([\d.]+:\d+)/.exec(log)
      if (m) resolve(`nats://${m[1]}`)
    })
  })
  return {
    url,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
      await rm(store, { recursive: true, force: true })
    },
  }
}

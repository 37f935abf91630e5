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

export interface NatsCluster {
  /** Client URLs of the servers, index = server. */
  readonly urls: readonly string[]
  /** The servers' names (`nats0` ..), as JetStream reports a stream's leader. */
  readonly names: readonly string[]
  /** Server `i`'s process (SIGKILL / SIGSTOP it to test failures). */
  process(i: number): ChildProcess
  /** Restarts server `i` (after it was killed) on its store, ports and routes. */
  restart(i: number): Promise<void>
  /** Stops every server (SIGTERM; SIGKILL after SIGSTOP) and removes the stores. */
  stop(): Promise<void>
}

/**
 * Starts `size` nats-servers as one JetStream cluster on 127.0.0.1 (random ports, routes between
 * all) and resolves once each listens for clients and the cluster has a JetStream meta leader.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const { freePort } = await import('./net.js')
  const stores = await Promise.all(
    Array.from({ length: size }, () => mkdtemp(join(tmpdir(), 'quiver-natsc-'))),
  )
  const clientPorts: number[] = []
  const routePorts: number[] = []
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort())
    routePorts.push(await freePort())
  }
  const names = Array.from({ length: size }, (_, i) => `nats${i}`)
  const children: ChildProcess[] = []
  const exits: Promise<void>[] = []
  const launch = (i: number): Promise<void> => {
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`)
    const child = spawn(
      'nats-server',
      [
        '-js',
        '-n',
        names[i]!,
        '-a',
        '127.0.0.1',
        '-p',
        String(clientPorts[i]),
        '-sd',
        stores[i]!,
        '--cluster_name',
        'quiver-test',
        '--cluster',
        `nats://127.0.0.1:${routePorts[i]}`,
        '--routes',
        routes.join(','),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    children[i] = child
    exits[i] = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    return new Promise<void>((resolve, reject) => {
      let log = ''
      child.once('exit', (code) => reject(new Error(`nats-server ${names[i]} exited with ${code}: ${log}`)))
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString()
        // ready once it serves clients and JetStream knows its meta leader
        if (
          /Listening for client connections/.test(log) &&
          /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(log)
        )
          resolve()
      })
    })
  }
  await Promise.all(names.map((_, i) => launch(i)))
  return {
    urls: clientPorts.map((p) => `nats://127.0.0.1:${p}`),
    names,
    process: (i) => children[i]!,
    restart: (i) => launch(i),
    stop: async () => {
      for (const [i, c] of children.entries()) {
        if (c.exitCode !== null || c.signalCode !== null) continue
        c.kill('SIGCONT')
        c.kill('SIGTERM')
        await exits[i]
      }
      for (const s of stores) await rm(s, { recursive: true, force: true })
    },
  }
}

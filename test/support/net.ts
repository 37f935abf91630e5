// Network helpers of the server tests: a free TCP port on 127.0.0.1 and bounded polls of a starting server.
import { createServer } from 'node:net'

/** A TCP port that was free on 127.0.0.1 a moment ago (bind it soon: another process could take it). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise<void>((done) => server.close(() => done()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * Polls `GET url/readyz` every 50 ms until it answers 200, returning the statuses seen (`0` for a
 * refused connection). Throws after `timeoutMs`.
 */
export async function pollReady(url: string, timeoutMs = 60_000): Promise<number[]> {
  const seen: number[] = []
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const status = await fetch(`${url}/readyz`).then(
      async (res) => {
        await res.text()
        return res.status
      },
      () => 0,
    )
    if (seen.at(-1) !== status) seen.push(status)
    if (status === 200) return seen
    await new Promise((done) => setTimeout(done, 50))
  }
  throw new Error(`${url}/readyz did not answer 200 within ${timeoutMs} ms (saw ${seen.join(', ')})`)
}

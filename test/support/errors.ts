// Asserts that a promise rejects with a QuiverError of the given code (and message pattern), and
// reads what the official Qdrant client throws for a non-2xx reply.
import { expect } from 'vitest'
import { QuiverError } from '../../src/index.js'

export async function expectError(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QuiverError)
  expect((err as QuiverError).code).toBe(code)
  if (message) expect((err as QuiverError).message).toMatch(message)
}

/** What the official client throws for a non-2xx reply: the status and Qdrant's error envelope. */
export async function apiError(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } }
    return { status: e.status ?? 0, message: e.data?.status?.error ?? String(err) }
  }
  throw new Error('expected the request to fail')
}

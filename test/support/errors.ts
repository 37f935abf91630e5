// Asserts that a promise rejects with a QuiverError of the given code (and message pattern).
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

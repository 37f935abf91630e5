import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, type ErrorCode, type ErrorKind, QuiverError } from '../errors.js'
import { frameworkError, HTTP_STATUS_BY_KIND, toHttpError } from './errors.js'
import { HTTP_ERROR_STATUS, type HttpErrorCode } from './http-error.js'

const KINDS: readonly ErrorKind[] = [
  'invalid_argument',
  'out_of_range',
  'not_found',
  'already_exists',
  'failed_precondition',
  'resource_exhausted',
  'rate_limited',
  'timeout',
  'closed',
  'unavailable',
  'corrupted',
  'internal',
]

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')

describe('error code table', () => {
  it('gives every ErrorKind an HTTP status', () => {
    for (const kind of KINDS) expect(HTTP_STATUS_BY_KIND[kind], kind).toBeGreaterThanOrEqual(400)
    for (const spec of Object.values(ERROR_CODES)) expect(KINDS).toContain(spec.kind)
  })

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])(
    'documents %s in docs/errors.md with its kind and status',
    (code) => {
      const { kind } = ERROR_CODES[code]
      const row = doc.split('\n').find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line))
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined()
      const cells = row!.split('|').map((c) => c.trim())
      expect(cells[2]).toBe(`\`${kind}\``)
      expect(cells[3]).toBe(String(HTTP_STATUS_BY_KIND[kind]))
    },
  )

  it('maps QuiverErrors through the kind table and hides unexpected errors', () => {
    expect(toHttpError(new QuiverError('COLLECTION_NOT_FOUND', 'no such collection'))).toMatchObject({
      statusCode: 404,
      code: 'COLLECTION_NOT_FOUND',
      message: 'no such collection',
      serverFault: false,
    })
    const internal = toHttpError(new TypeError('x is undefined at secret/path.ts'))
    expect(internal.statusCode).toBe(500)
    expect(internal.message).not.toContain('secret')
    const ctx = { bodyLimit: 1024, maxParamLength: 1024, contentType: 'text/plain' }
    const tooBig = Object.assign(new Error('too big'), {
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    })
    expect(toHttpError(frameworkError(tooBig, ctx))).toMatchObject({
      statusCode: 413,
      code: 'PAYLOAD_TOO_LARGE',
    })
    const media = Object.assign(new Error('x'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })
    expect(toHttpError(frameworkError(media, ctx))).toMatchObject({
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: expect.stringContaining('"text/plain"'),
    })
  })

  it.each(Object.keys(HTTP_ERROR_STATUS) as HttpErrorCode[])(
    'documents the HTTP-layer code %s in docs/errors.md with its status',
    (code) => {
      const row = doc.split('\n').find((line) => line.startsWith('|') && line.includes(`| \`${code}\``))
      expect(row, `docs/errors.md has no HTTP-layer row for ${code}`).toBeDefined()
      const cells = row!.split('|').map((c) => c.trim())
      expect(cells.at(-3)).toBe(String(HTTP_ERROR_STATUS[code]))
    },
  )
})

// Request ids (accepted or generated) and the parsing of /telemetry's query.
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { requestIdOf } from './logging.js'
import { parseTelemetryQuery } from './routes/observability.js'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function req(header?: string | string[]): IncomingMessage {
  return { headers: header === undefined ? {} : { 'x-request-id': header } } as unknown as IncomingMessage
}

describe('requestIdOf', () => {
  it('keeps a sane incoming id', () => {
    expect(requestIdOf(req('abc-123'))).toBe('abc-123')
    expect(requestIdOf(req('0af7651916cd43dd8448eb211c80319c'))).toBe('0af7651916cd43dd8448eb211c80319c')
    expect(requestIdOf(req('x'.repeat(128)))).toBe('x'.repeat(128))
  })

  it('generates a UUID when the id is missing, too long, repeated or has other characters', () => {
    for (const bad of [undefined, '', 'x'.repeat(129), 'a b', 'a\u00e9', '{"a":1}', ['a', 'b']]) {
      expect(requestIdOf(req(bad))).toMatch(UUID_RE)
    }
    expect(requestIdOf(req())).not.toBe(requestIdOf(req()))
  })
})

describe('parseTelemetryQuery', () => {
  it("reads Qdrant's parameters with their defaults", () => {
    expect(parseTelemetryQuery({})).toEqual({ detailsLevel: 0, anonymize: false })
    expect(
      parseTelemetryQuery({ details_level: '3', anonymize: 'true', per_collection: 'false', timeout: '5' }),
    ).toEqual({
      detailsLevel: 3,
      anonymize: true,
    })
  })

  it('rejects malformed values naming the parameter', () => {
    for (const [q, name] of [
      [{ details_level: '-1' }, 'details_level'],
      [{ details_level: '1.5' }, 'details_level'],
      [{ anonymize: 'yes' }, 'anonymize'],
      [{ timeout: '0' }, 'timeout'],
      [{ per_collection: '2' }, 'per_collection'],
    ] as const) {
      let err: unknown
      try {
        parseTelemetryQuery(q)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(QuiverError)
      expect((err as QuiverError).code).toBe('INVALID_ARGUMENT')
      expect((err as QuiverError).message).toContain(name)
    }
  })
})

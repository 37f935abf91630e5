// Full-text payload indexes with Qdrant's language options: `stopwords` (a language or
// `{ languages, custom }`), `stemmer: { type: 'snowball', language }` and `ascii_folding`. Stop words
// are dropped from documents and queries, tokens are stemmed, accents folded; the options persist
// with the index and bad ones are refused naming the field, creating nothing.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HostedCollection } from '../src/index.js'
import { Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'

const TEXTS = [
  'The running dogs of the village',
  'A dog runs',
  'Cats are sleeping',
  'São Paulo à noite',
  'the and of',
]

describe('text index stop words, stemming and folding', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-text-lang-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('c', { dimension: 2, metric: 'Dot' })
    await c.upsert(TEXTS.map((text, id) => ({ id, vector: [1, id], payload: { text } })))
    await c.createPayloadIndex('text', {
      type: 'text',
      stopwords: { languages: ['english'], custom: ['village'] },
      stemmer: { type: 'snowball', language: 'english' },
      ascii_folding: true,
    })
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const ids = async (text: string) =>
    (await c.scroll({ filter: { must: [{ key: 'text', match: { text } }] }, limit: 10 })).points.map(
      (p) => p.id,
    )

  it('stems documents and queries, drops stop words and folds accents', async () => {
    expect(await ids('run dog')).toEqual([0, 1]) // running/runs -> run, dogs -> dog
    expect(await ids('the running')).toEqual([0, 1]) // "the" is a stop word: only "run" must match
    expect(await ids('sleep cat')).toEqual([2])
    expect(await ids('sao paulo')).toEqual([3])
    expect(await ids('village')).toEqual([]) // a custom stop word: no token to match... and none indexed
    const info = await c.info()
    expect(info.payloadSchema.text!.params).toMatchObject({
      stopwords: { languages: ['english'], custom: ['village'] },
      stemmer: { type: 'snowball', language: 'english' },
      ascii_folding: true,
    })
  })

  it('keeps the options across a reopen', async () => {
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('c')
    expect(await ids('dog')).toEqual([0, 1])
    expect(await ids('são')).toEqual([3])
  })

  it('refuses unknown languages and malformed options, creating nothing', async () => {
    await expectError(
      c.createPayloadIndex('other', { type: 'text', stopwords: 'klingon' } as never),
      'INVALID_ARGUMENT',
      /field_schema\.stopwords: unknown language/,
    )
    await expectError(
      c.createPayloadIndex('other', { type: 'text', stemmer: { type: 'porter' } } as never),
      'INVALID_ARGUMENT',
      /field_schema\.stemmer\.type/,
    )
    expect(Object.keys((await c.info()).payloadSchema)).toEqual(['text'])
  })
})

// The alias catalog on its own: planning a batch of actions (order, atomicity, clashes, Qdrant's
// semantics for re-pointing and deleting), and the file (atomic replace, reload, damage).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import {
  ALIASES_FILE,
  type AliasAction,
  AliasCatalog,
  type CollectionNames,
  decodeAliasList,
  encodeAliases,
  planAliases,
} from './aliases.js'

const collections = new Set(['docs_v1', 'docs_v2', 'other'])
const names: CollectionNames = { exists: (n) => collections.has(n), taken: (n) => collections.has(n) }
const create = (aliasName: string, collectionName: string): AliasAction => ({
  createAlias: { aliasName, collectionName },
})

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (err instanceof QuiverError) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('expected a QuiverError')
}

describe('planAliases', () => {
  it('applies actions in order and leaves the current map untouched', () => {
    const current = new Map([['docs', 'docs_v1']])
    const next = planAliases(
      current,
      [
        { deleteAlias: { aliasName: 'docs' } },
        create('docs', 'docs_v2'),
        create('tmp', 'other'),
        { renameAlias: { oldAliasName: 'tmp', newAliasName: 'misc' } },
      ],
      names,
    )
    expect([...next].sort()).toEqual([
      ['docs', 'docs_v2'],
      ['misc', 'other'],
    ])
    expect([...current]).toEqual([['docs', 'docs_v1']])
  })

  it('re-points an existing alias on create and ignores deleting a missing one, as Qdrant', () => {
    const next = planAliases(
      new Map([['docs', 'docs_v1']]),
      [create('docs', 'docs_v2'), { deleteAlias: { aliasName: 'never' } }],
      names,
    )
    expect([...next]).toEqual([['docs', 'docs_v2']])
  })

  it('refuses the whole batch at the first invalid action, naming it', () => {
    const current = new Map([['docs', 'docs_v1']])
    const cases: [AliasAction[], string, RegExp][] = [
      [
        [create('a', 'docs_v2'), create('b', 'missing')],
        'COLLECTION_NOT_FOUND',
        /Collection `missing` doesn't exist! \(actions\[1\]\)/,
      ],
      [[create('b', 'docs')], 'COLLECTION_NOT_FOUND', /docs is an alias/],
      [[create('docs_v2', 'docs_v1')], 'COLLECTION_EXISTS', /Collection `docs_v2` already exists!/],
      [
        [{ renameAlias: { oldAliasName: 'nope', newAliasName: 'x' } }],
        'ALIAS_NOT_FOUND',
        /Alias nope does not exists!/,
      ],
      [
        [{ renameAlias: { oldAliasName: 'docs', newAliasName: 'other' } }],
        'COLLECTION_EXISTS',
        /`other` already exists/,
      ],
      [
        [create('.hidden', 'docs_v1')],
        'INVALID_COLLECTION_NAME',
        /actions\[0\]\.createAlias\.aliasName: alias name/,
      ],
      [[create('', 'docs_v1')], 'INVALID_COLLECTION_NAME', /alias name ""/],
      [
        [{ dropAlias: { aliasName: 'docs' } } as unknown as AliasAction],
        'INVALID_ARGUMENT',
        /unknown action "dropAlias"/,
      ],
      [
        [{ createAlias: { aliasName: 3 } } as unknown as AliasAction],
        'INVALID_ARGUMENT',
        /createAlias\.aliasName: expected a string/,
      ],
      [[{} as AliasAction], 'INVALID_ARGUMENT', /actions\[0\]: expected one of/],
    ]
    for (const [actions, code, message] of cases) {
      const e = codeOf(() => planAliases(current, actions, names))
      expect(e.code, JSON.stringify(actions)).toBe(code)
      expect(e.message).toMatch(message)
      expect([...current]).toEqual([['docs', 'docs_v1']])
    }
  })

  it('refuses alias names reserved by a collection being created', () => {
    const reserving: CollectionNames = {
      exists: names.exists,
      taken: (n) => n === 'coming' || names.taken(n),
    }
    expect(codeOf(() => planAliases(new Map(), [create('coming', 'docs_v1')], reserving)).code).toBe(
      'COLLECTION_EXISTS',
    )
  })

  it('keeps user names out of prototypes', () => {
    const next = planAliases(
      new Map(),
      [create('__proto__', 'docs_v1'), create('constructor', 'docs_v2')],
      names,
    )
    expect(next.get('__proto__')).toBe('docs_v1')
    expect(Object.prototype).not.toHaveProperty('docs_v1')
    const round = decodeAliasList(JSON.parse(encodeAliases(next)).aliases, 'test')
    expect([...round].sort()).toEqual([
      ['__proto__', 'docs_v1'],
      ['constructor', 'docs_v2'],
    ])
  })
})

describe('AliasCatalog', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-aliases-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('starts empty without a file, and a commit is what a reload reads', async () => {
    const catalog = await AliasCatalog.load(dir)
    expect(catalog.current.size).toBe(0)
    await catalog.exclusive(() => catalog.commit(new Map([['docs', 'docs_v1']])))
    expect(catalog.resolve('docs')).toBe('docs_v1')
    const again = await AliasCatalog.load(dir)
    expect([...again.current]).toEqual([['docs', 'docs_v1']])
    expect(JSON.parse(await readFile(join(dir, ALIASES_FILE), 'utf8'))).toEqual({
      format: 1,
      aliases: [{ alias: 'docs', collection: 'docs_v1' }],
    })
    // no temp file stays behind a commit
    expect(await readdir(dir)).toEqual([ALIASES_FILE])
  })

  it('runs exclusive calls one at a time in call order, past failures', async () => {
    const catalog = await AliasCatalog.load(dir)
    const order: string[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const first = catalog.exclusive(async () => {
      order.push('first:start')
      await gate
      order.push('first:end')
      throw new Error('boom')
    })
    const second = catalog.exclusive(() => {
      order.push('second')
      return 2
    })
    expect(order).toEqual([])
    await Promise.resolve()
    release()
    await expect(first).rejects.toThrow('boom')
    expect(await second).toBe(2)
    expect(order).toEqual(['first:start', 'first:end', 'second'])
  })

  it('refuses a damaged file with CORRUPTED naming it, and removes temp files of a cut-short write', async () => {
    await writeFile(join(dir, `.${ALIASES_FILE}.tmp-1-abc`), '{"format":1,"ali')
    const ok = await AliasCatalog.load(dir)
    expect(ok.current.size).toBe(0)
    expect(await readdir(dir)).toEqual([])
    for (const text of [
      '{"format":1,"ali',
      '{"format":2,"aliases":[]}',
      '{"format":1,"aliases":[{"alias":"a"}]}',
    ]) {
      await writeFile(join(dir, ALIASES_FILE), text)
      const err = await AliasCatalog.load(dir).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(QuiverError)
      expect((err as QuiverError).code).toBe('CORRUPTED')
      expect((err as QuiverError).message).toContain(ALIASES_FILE)
    }
  })

  it('forgets aliases of collections that are gone, in memory only', async () => {
    const catalog = await AliasCatalog.load(dir)
    await catalog.commit(
      new Map([
        ['a', 'docs_v1'],
        ['b', 'gone'],
      ]),
    )
    expect(catalog.forgetDangling((n) => n === 'docs_v1')).toEqual([
      { aliasName: 'b', collectionName: 'gone' },
    ])
    expect([...catalog.current]).toEqual([['a', 'docs_v1']])
    expect((await AliasCatalog.load(dir)).current.size).toBe(2)
  })
})

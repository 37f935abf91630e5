// Quiver's OpenAPI document against Qdrant's: every operation and field Quiver declares is Qdrant's
// (same operationId, parameters, component names and property names) or is marked
// `x-quiver-extension`. The reference is test/fixtures/qdrant-openapi.json, extracted from Qdrant's
// docs/redoc/v1.19.x (and v1.18.x) openapi.json by scripts/qdrant-openapi.mjs.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  compareWithQdrant,
  extractQdrantReference,
  type QdrantReference,
} from '../src/server/schema/compare.js'
import { buildOpenApiDocument, PENDING_ROUTE_SCHEMAS, ROUTE_SCHEMAS } from '../src/server/schema/document.js'

const reference = JSON.parse(
  readFileSync(new URL('./fixtures/qdrant-openapi.json', import.meta.url), 'utf8'),
) as QdrantReference
// what the server declares, plus the routes declared for features still to land
const doc = () =>
  buildOpenApiDocument({
    version: 'test',
    qdrantApiVersion: 'test',
    routes: [...ROUTE_SCHEMAS, ...PENDING_ROUTE_SCHEMAS],
  })
// biome-ignore lint/suspicious/noExplicitAny: the document is edited by shape
type Any = any

describe("the OpenAPI document against Qdrant's", () => {
  it('declares only what Qdrant has, or marks it x-quiver-extension', () => {
    const { mismatches, missing } = compareWithQdrant(doc(), reference)
    expect(mismatches).toEqual([])
    // the known gaps, as docs/rest-api.md lists them
    expect(missing).toContain('GET /collections/{collection_name}/shards: endpoint')
    expect(missing).not.toContain('GET /collections/{collection_name}: endpoint')
    expect(missing).not.toContain('GET /collections/{collection_name}/optimizations: endpoint')
    expect(missing).not.toContain('POST /collections/aliases: endpoint')
  })

  it('finds an unmarked field, a wrongly marked one, a renamed operation and an unknown route', () => {
    const d: Any = doc()
    d.components.schemas.CollectionInfo.properties.made_up = { type: 'integer' }
    d.components.schemas.ScoredPoint.properties.score['x-quiver-extension'] = true
    d.paths['/collections/{collection_name}'].get.operationId = 'collection_info'
    d.paths['/made/up'] = { get: { operationId: 'made_up', parameters: [], responses: {} } }
    d.paths['/collections/{collection_name}/points/scroll'].post.parameters.push({
      name: 'fast',
      in: 'query',
    })
    const { mismatches } = compareWithQdrant(d, reference)
    expect(mismatches).toEqual(
      expect.arrayContaining([
        "CollectionInfo.made_up: not in Qdrant's schema (mark it x-quiver-extension)",
        'ScoredPoint.score: marked x-quiver-extension but Qdrant has it',
        "GET /collections/{collection_name}: operationId collection_info, Qdrant's is get_collection",
        "GET /made/up: not in Qdrant's API (mark it x-quiver-extension)",
        "POST /collections/{collection_name}/points/scroll: query parameter fast is not Qdrant's (mark it x-quiver-extension)",
      ]),
    )
  })

  const repo = process.env.QDRANT_REPO
  it.skipIf(repo === undefined)(
    "the committed reference is what Qdrant's spec says (set QDRANT_REPO to a qdrant git checkout to run)",
    () => {
      const show = (path: string) =>
        JSON.parse(
          execFileSync('git', ['-C', repo!, 'show', `HEAD:${path}`], {
            encoding: 'utf8',
            maxBuffer: 64 << 20,
          }),
        )
      const live = extractQdrantReference(
        show('docs/redoc/v1.19.x/openapi.json'),
        show('docs/redoc/v1.18.x/openapi.json'),
        doc(),
        reference.source,
      )
      expect({ ...live, source: '' }).toEqual({ ...reference, source: '' })
    },
  )
})

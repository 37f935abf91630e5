#!/usr/bin/env node
// Extracts the reference Quiver's OpenAPI document is checked against from a Qdrant git checkout
// (bare or not) into test/fixtures/qdrant-openapi.json, and prints how the two differ.
// Usage: npm run build:ts && node scripts/qdrant-openapi.mjs <qdrant-git-dir> [ref=HEAD]
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compareWithQdrant, extractQdrantReference } from '../dist/server/schema/compare.js'
import { buildOpenApiDocument, PENDING_ROUTE_SCHEMAS, ROUTE_SCHEMAS } from '../dist/server/schema/document.js'

const [dir, ref = 'HEAD'] = process.argv.slice(2)
if (dir === undefined) {
  console.error('usage: node scripts/qdrant-openapi.mjs <qdrant-git-dir> [ref=HEAD]')
  process.exit(2)
}
const show = (path) =>
  JSON.parse(
    execFileSync('git', ['-C', dir, 'show', `${ref}:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }),
  )
const commit = execFileSync('git', ['-C', dir, 'rev-parse', ref], { encoding: 'utf8' }).trim()
// the routes declared for features still to land are checked too
const doc = buildOpenApiDocument({
  version: 'check',
  qdrantApiVersion: 'check',
  routes: [...ROUTE_SCHEMAS, ...PENDING_ROUTE_SCHEMAS],
})
const reference = extractQdrantReference(
  show('docs/redoc/v1.19.x/openapi.json'),
  show('docs/redoc/v1.18.x/openapi.json'),
  doc,
  `qdrant ${commit.slice(0, 12)}: docs/redoc/v1.19.x/openapi.json (+ v1.18.x for what 1.19 dropped)`,
)
const out = new URL('../test/fixtures/qdrant-openapi.json', import.meta.url)
// one operation or component a line: small diffs when Qdrant's spec changes
const lines = (o) =>
  Object.entries(o)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(',\n')
writeFileSync(
  out,
  `{\n"source": ${JSON.stringify(reference.source)},\n"operations": {\n${lines(reference.operations)}\n},\n"components": {\n${lines(reference.components)}\n}\n}\n`,
)
// as the linter formats it
execFileSync(
  fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url)),
  ['format', '--write', fileURLToPath(out)],
  {
    stdio: 'ignore',
  },
)
const { mismatches, missing } = compareWithQdrant(doc, reference)
console.log(
  `wrote ${out.pathname}: ${Object.keys(reference.operations).length} operations, ${Object.keys(reference.components).length} components`,
)
console.log(`\nmismatches (${mismatches.length}):`)
for (const m of mismatches) console.log(`  ${m}`)
console.log(`\nin Qdrant, not declared by Quiver (${missing.length}):`)
for (const m of missing) console.log(`  ${m}`)

// Layering of Quiver (docs/architecture.md): assembly <- engine <- index <- segment <- collection <- shards <- db <- server, cli;
// cluster (storage seams over NATS) is injected from above and imports only storage and the leaves.
// filter, storage and sparse serve segment/collection and never import them; errors.ts and types.ts import nothing;
// json-input.ts (the one home of JSON-input checking) imports only errors.ts and types.ts.
const layer = (name, forbidden, { testsExempt = false } = {}) => ({
  name: `${name}-layering`,
  severity: 'error',
  comment: `src/${name} must not import ${forbidden.join(', ')}${testsExempt ? ' (its tests may)' : ''}`,
  from: testsExempt ? { path: `^src/${name}/`, pathNot: '\\.test\\.ts$' } : { path: `^src/${name}/` },
  to: { path: `^src/(${forbidden.join('|')})/` },
})

module.exports = {
  forbidden: [
    layer('engine', [
      'index',
      'quantization',
      'filter',
      'storage',
      'segment',
      'collection',
      'db',
      'server',
      'cli',
    ]),
    layer('index', ['filter', 'storage', 'segment', 'collection', 'db', 'server', 'cli']),
    // quantizers are exercised on real HNSW cores in their tests
    layer('quantization', ['index', 'filter', 'storage', 'segment', 'collection', 'db', 'server', 'cli'], {
      testsExempt: true,
    }),
    layer('filter', [
      'engine',
      'index',
      'quantization',
      'storage',
      'segment',
      'collection',
      'db',
      'server',
      'cli',
    ]),
    layer('storage', [
      'engine',
      'index',
      'quantization',
      'filter',
      'segment',
      'collection',
      'db',
      'server',
      'cli',
    ]),
    // sparse vectors (inverted index, BM25) import only the leaves (errors.ts, types.ts, json-input.ts) and npm packages
    layer('sparse', [
      'engine',
      'index',
      'quantization',
      'filter',
      'storage',
      'segment',
      'collection',
      'db',
      'server',
      'cli',
    ]),
    layer('segment', ['collection', 'shards', 'cluster', 'db', 'server', 'cli']),
    layer('collection', ['shards', 'cluster', 'db', 'server', 'cli']),
    // a sharded collection routes over shards (local collections today) and merges their answers;
    // its tests build shards through a database
    layer('shards', ['cluster', 'db', 'server', 'cli'], { testsExempt: true }),
    // the distributed mode's pieces (JetStream log, ...) plug into collection seams (OperationLog)
    layer('cluster', [
      'engine',
      'index',
      'quantization',
      'filter',
      'segment',
      'collection',
      'db',
      'server',
      'cli',
    ]),
    layer('db', ['server', 'cli']),
    layer('server', ['cli']),
    {
      name: 'leaf-modules-import-nothing',
      severity: 'error',
      comment: 'src/errors.ts and src/types.ts import nothing local',
      from: { path: '^src/(errors|types)\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'json-input-is-a-leaf',
      severity: 'error',
      comment: 'src/json-input.ts imports only src/errors.ts and src/types.ts',
      from: { path: '^src/json-input\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(errors|types)\\.ts$' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'no-test-imports-in-src',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '(^test/|\\.test\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}

// The `quiver` command line: subcommands, options, and the mapping of failures to exit codes
// (0 ok, 1 QuiverError or other failure, 2 usage error).
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { DEFAULT_HNSW } from '../collection/validate.js'
import { isQuiverError } from '../errors.js'
import { fractionOption, intListOption, intOption, shellQuote, UsageError } from './args.js'
import { type BackupOptions, runBackup } from './backup.js'
import { type BenchOptions, benchCommand } from './bench.js'
import { listDatasets, resolveDatasetsDir } from './datasets.js'
import { EVAL_DEFAULTS, type EvalOptions, runEval } from './eval/run.js'
import { formatCount, formatTable } from './format.js'
import { type ImportOptions, runImport } from './import.js'
import { runSearch, type SearchCommandOptions } from './search.js'
import { runServe, type ServeCommandOptions } from './serve.js'
import { addServeSecurityOptions } from './serve-security.js'
import {
  DEFAULT_WAIT_TIMEOUT_S,
  runSnapshotCreate,
  runSnapshotDelete,
  runSnapshotList,
  runSnapshotRestore,
  type SnapshotCommandOptions,
} from './snapshot.js'

export interface CliIo {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown
  }
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
}

const DATA_OPTION = ['--data <dir>', 'data directory of the database', './data'] as const
const DATASETS_OPTION = [
  '--datasets <dir>',
  'datasets directory (default: $QUIVER_DATASETS, else ../shared/datasets)',
] as const

/** Builds the commander program; `command` is the command line recorded by `bench` reports. */
export function buildProgram(io: CliIo, command: string): Command {
  const program = new Command()
  program
    .name('quiver')
    .description('Quiver vector database: server, data import, search and benchmarks')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)

  const serveCommand = program
    .command('serve')
    .description('serve the Qdrant-compatible REST API over a data directory')
    .option(...DATA_OPTION)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', intOption(0), 6333)
    .option(
      '--threads <n>',
      'worker threads that build and search (0 = none; default: one per CPU, or $QUIVER_THREADS)',
      intOption(0),
    )
    .option(
      '--query-cache-mb <n>',
      'query-result cache budget in MiB, 0 = off (default 32, or $QUIVER__QUERY_CACHE_MB)',
      intOption(0),
    )
    .option(
      '--recall-sample-rate <r>',
      'fraction of searches re-run exactly for the live recall estimate, 0..1 (default 0.01)',
      fractionOption(),
    )
    .option(
      '--health-min-recall <r>',
      'GET /health warns when a recall estimate is below this, 0..1 (default 0.9)',
      fractionOption(),
    )
    .option(
      '--health-max-p99-ms <ms>',
      'GET /health warns when a collection search p99 exceeds this (default 100)',
      intOption(1),
    )
    .option(
      '--cluster <urls>',
      'cluster mode: NATS JetStream URLs, comma-separated (or $QUIVER__CLUSTER__URL; docs/cluster.md)',
    )
    .option(
      '--node-id <id>',
      "cluster mode: this node's id, unique in the cluster (or $QUIVER__CLUSTER__NODE_ID)",
    )
    .option(
      '--read-barrier-ms <ms>',
      'cluster mode: longest a read waits to catch up with writes made through other nodes; 0 = reads never wait (default 1000)',
      intOption(0),
    )
    .option(
      '--no-rebalance',
      'cluster mode: this node, when it holds the controller lease, never moves shards by itself (docs/cluster.md "Rebalancing")',
    )
    .option(
      '--shard-snapshot-records <n>',
      'cluster mode: log records between two shard snapshots in the JetStream Object Store, below which the logs are truncated; 0 = no snapshots, the logs keep every record (default 10000; docs/cluster.md "Shard snapshots")',
      intOption(0),
    )
    .option(
      '--cluster-replicas <n>',
      'cluster mode: copies NATS keeps of each log, 1, 3 or 5 (default 1, or $QUIVER__CLUSTER__REPLICAS)',
      intOption(1),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async (o: ServeCommandOptions) => {
      if (o.port > 65535) throw new UsageError(`--port ${o.port} is out of range (0..65535)`)
      if (o.threads !== undefined && o.threads > 256)
        throw new UsageError(`--threads ${o.threads} is out of range (0..256)`)
      await runServe(o, io.out)
    })
  addServeSecurityOptions(serveCommand)

  program
    .command('import')
    .description('load a benchmark dataset (base vectors, meta.jsonl payloads) into a collection')
    .argument('<dataset>', 'dataset name, e.g. sift-5k-euclidean')
    .option('--collection <name>', 'collection to create (default: the dataset name)')
    .option(...DATA_OPTION)
    .option(...DATASETS_OPTION)
    .option('--limit <n>', 'import only the first n base vectors', intOption(1))
    .option('--batch <n>', 'points per upsert', intOption(1), 1000)
    .option('--m <m>', 'HNSW links per node', intOption(2), DEFAULT_HNSW.m)
    .option('--ef-construct <n>', 'HNSW build candidate list size', intOption(1), DEFAULT_HNSW.efConstruct)
    .option('--recreate', 'replace the collection if it exists (its points are deleted)')
    .action(async (dataset: string, o: Omit<ImportOptions, 'dataset'>) => {
      await runImport({ ...o, dataset }, io.out)
    })

  program
    .command('search')
    .description('search a collection with one vector')
    .requiredOption('--collection <name>', 'collection to search')
    .option(...DATA_OPTION)
    .option('--vector <json>', 'query vector as a JSON array, e.g. "[0.1,0.2]"')
    .option('--dataset <name>', 'take the query vector from this dataset (with --query)')
    .option('--query <i>', 'query row of --dataset', intOption(0))
    .option(...DATASETS_OPTION)
    .option('--limit <n>', 'hits to return', intOption(1), 10)
    .option('--filter <json>', 'filter in Qdrant JSON, e.g. \'{"must":[{"key":"a","match":{"value":1}}]}\'')
    .option('--ef <n>', 'HNSW search candidate list size', intOption(1))
    .option('--exact', 'brute-force search (no index)')
    .option('--json', 'print hits as JSON')
    .action(async (o: SearchCommandOptions) => {
      await runSearch(o, io.out)
    })

  program
    .command('bench')
    .description(
      'build an index from a dataset in a temporary directory; report build speed, memory, recall, QPS, latency',
    )
    .argument('<dataset>', 'dataset name, e.g. sift-5k-euclidean')
    .option(...DATASETS_OPTION)
    // the defaults of `import` (and of any new collection), so a bench measures what an import builds
    .option('--m <m>', 'HNSW links per node', intOption(2), DEFAULT_HNSW.m)
    .option('--ef-construct <n>', 'HNSW build candidate list size', intOption(1), DEFAULT_HNSW.efConstruct)
    .option(
      '--ef <list>',
      'query-time ef values, comma-separated',
      intListOption(1),
      [10, 20, 40, 80, 160, 320],
    )
    .option('--queries <n>', 'use only the first n queries', intOption(1))
    .option(
      '--limit <n>',
      'build from only the first n base vectors (ground truth by exact search)',
      intOption(1),
    )
    .option('--k <k>', 'neighbours per query for recall@k', intOption(1), 10)
    .option('--batch <n>', 'points per upsert while building', intOption(1), 1000)
    .option('--json <file>', 'also write the report as JSON')
    .option('--markdown <file>', 'also write the report as a Markdown section (BENCHMARKS.md)')
    .option('--quiet', 'no progress output')
    .action(async (dataset: string, o: Omit<BenchOptions, 'dataset' | 'command'>) => {
      await benchCommand({ ...o, dataset, command }, io.out)
    })

  const target = (cmd: Command): Command =>
    cmd
      .option(
        '--data <dir>',
        'work offline on this data directory (default ./data; must not be in use by a server)',
      )
      .option('--url <url>', 'work through a running server instead, e.g. http://127.0.0.1:6333')
      .option('--api-key <key>', 'API key for --url (sent as the api-key header)')
      .option(
        '--wait-timeout <seconds>',
        `with --url: seconds to wait for a starting server to answer /readyz (default ${DEFAULT_WAIT_TIMEOUT_S})`,
        intOption(0),
      )
  const snapshot = program
    .command('snapshot')
    .description(
      'create, list, delete and restore snapshots of a collection (--collection) or the whole store (--full)',
    )
  const scoped = (cmd: Command): Command =>
    target(cmd)
      .option('--collection <name>', 'the collection')
      .option('--full', 'the whole store (every collection)')
  scoped(snapshot.command('create').description('take a snapshot'))
    .option('--json', 'print the snapshot as JSON')
    .action(async (o: SnapshotCommandOptions) => {
      await runSnapshotCreate(o, io.out)
    })
  scoped(snapshot.command('list').description('list snapshots, oldest first'))
    .option('--json', 'print as JSON')
    .action(async (o: SnapshotCommandOptions) => {
      await runSnapshotList(o, io.out)
    })
  scoped(snapshot.command('delete').description('delete a snapshot'))
    .requiredOption('--name <snapshot>', 'snapshot file name')
    .action(async (o: SnapshotCommandOptions) => {
      await runSnapshotDelete(o, io.out)
    })
  scoped(
    snapshot
      .command('restore')
      .description('restore a collection (replacing it) or every collection of a full snapshot from a file'),
  )
    .requiredOption('--from <file>', 'the .snapshot file (its .checksum beside it is verified when present)')
    .option('--checksum <sha256>', 'expected SHA-256 of the file')
    .action(async (o: SnapshotCommandOptions) => {
      await runSnapshotRestore(o, io.out)
    })

  target(program.command('backup'))
    .description('take a full snapshot into a directory, verify it, and keep only the newest N backups there')
    .requiredOption('--to <dir>', 'backup directory')
    .requiredOption('--keep <n>', 'backups to keep (the newest)', intOption(1))
    .option('--quiet', 'no progress output')
    .action(async (o: BackupOptions) => {
      await runBackup(o, io.out)
    })

  target(program.command('eval'))
    .description(
      'evaluate a collection on its own data: recall@k against exact search, latency and QPS per ef and concurrent clients, a selectivity sweep, latency under writes, cold start; writes report.json, report.md and SVG charts (docs/eval.md)',
    )
    .requiredOption('--collection <name>', 'the collection to evaluate')
    .option('--vector <name>', 'the dense vector to evaluate (default: the unnamed one, else the only one)')
    .option(
      '--queries <file>',
      'JSONL queries: per line a vector ([...]), {"vector": [...]} or {"id": ID} (a stored point, left out of its own truth), optionally with "filter"',
    )
    .option(
      '--sample <n>',
      `sample n points of the collection as queries (default ${EVAL_DEFAULTS.sample})`,
      intOption(1),
    )
    .option('--seed <n>', 'seed of the sampling', intOption(0), EVAL_DEFAULTS.seed)
    .option('--k <k>', 'neighbours per query for recall@k', intOption(1), EVAL_DEFAULTS.k)
    .option('--ef <list>', 'HNSW ef values of the sweep, comma-separated', intListOption(1), [
      ...EVAL_DEFAULTS.ef,
    ])
    .option('--concurrency <list>', 'concurrent clients, comma-separated', intListOption(1), [
      ...EVAL_DEFAULTS.concurrency,
    ])
    .option(
      '--duration <seconds>',
      'seconds per concurrency level (0 skips them)',
      intOption(0),
      EVAL_DEFAULTS.duration,
    )
    .option(
      '--filter-field <key>',
      'payload field of the selectivity sweep (filters matching 0.1% to 90% of the points)',
    )
    .option(
      '--filter-queries <n>',
      'queries per selectivity bucket',
      intOption(1),
      EVAL_DEFAULTS.filterQueries,
    )
    .option(
      '--write-seconds <seconds>',
      'seconds of searching while one writer upserts into a scratch collection (created and dropped); 0 skips it',
      intOption(0),
      EVAL_DEFAULTS.writeSeconds,
    )
    .option(
      '--write-rate <n>',
      'points per second the writer aims at (0: as fast as it goes)',
      intOption(0),
      EVAL_DEFAULTS.writeRate,
    )
    .option('--write-batch <n>', 'points per upsert of the writer', intOption(1), EVAL_DEFAULTS.writeBatch)
    .option(
      '--latency-budget <ms>',
      'p99 latency budget (ms, one client) the recommended ef must meet',
      intOption(1),
      EVAL_DEFAULTS.latencyBudget,
    )
    .option('--report <dir>', 'directory of report.json, report.md and the SVG charts', EVAL_DEFAULTS.report)
    .option('--quiet', 'no progress output')
    .action(async (o: Omit<EvalOptions, 'command'>) => {
      await runEval({ ...o, command }, io.out)
    })

  program
    .command('datasets')
    .description('list the benchmark datasets found')
    .option(...DATASETS_OPTION)
    .action(async (o: { datasets?: string }) => {
      const dir = resolveDatasetsDir(o.datasets)
      const list = await listDatasets(dir)
      io.out.write(`${dir}\n`)
      io.out.write(
        `${formatTable(
          ['name', 'n', 'dim', 'queries', 'metric', 'payloads'],
          list.map((d) => [
            d.name,
            formatCount(d.n),
            String(d.dim),
            formatCount(d.q),
            d.metric,
            d.hasMeta ? 'yes' : 'no',
          ]),
          ['left', 'right', 'right', 'right', 'left', 'left'],
        )}\n`,
      )
    })

  return program
}

/**
 * Runs the CLI on `argv` (process.argv layout: node, script, args...) and returns the exit code:
 * 0 on success (and for --help / --version), 1 when a QuiverError or another failure occurred
 * (one line `error: <message> [CODE]` on stderr), 2 for a usage error.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const command = ['quiver', ...argv.slice(2).map(shellQuote)].join(' ')
  const program = buildProgram(io, command)
  try {
    await program.parseAsync(argv as string[])
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    if (err instanceof UsageError) {
      io.err.write(`error: ${err.message} (add --help for usage)\n`)
      return 2
    }
    if (isQuiverError(err)) {
      io.err.write(`error: ${err.message} [${err.code}]\n`)
      return 1
    }
    const e = err instanceof Error ? err : new Error(String(err))
    io.err.write(`error: ${e.message}\n`)
    if (process.env['QUIVER_DEBUG'] !== undefined && e.stack !== undefined) io.err.write(`${e.stack}\n`)
    return 1
  }
}

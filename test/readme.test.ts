// The code blocks of README.md, BENCHMARKS.md, bench/README.md and docs/*.md, run as written, so the
// docs cannot drift from the code. The convention (README.md, "Code blocks in the docs"):
// - ```ts and ```js blocks are whole programs. Each is type-checked (ts) and run twice with a real
//   Node, in file order, in one fresh working directory per Markdown file, from a project that has
//   the package in node_modules as `npm install /path/to/quiver` puts it (a symlink to this
//   checkout) next to the other packages the blocks import.
// - ```ts fragment / ```js fragment blocks (excerpts that need context) are not run.
// - ```sh blocks are shown, not run, and call the CLI as `npx quiver`; a ```sh run block runs:
//   its `npx quiver serve ...` line starts the server in the background, the other lines run in
//   `sh -e` once the server is ready, `curl` failing on an HTTP error.
// A block that talks to a server (it imports @qdrant/js-client-rest) gets one: the `sh run` block's,
// or a `quiver serve` started for it. The port 6333 in a block becomes that server's free port.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_MAIN, spawnCli } from './support/cli.js'
import { freePort, pollReady } from './support/net.js'

const ROOT = resolve(import.meta.dirname, '..')
/** One block's run (or server start) at most; below the test's timeout, so it kills what it started. */
const BLOCK_TIMEOUT_MS = 30_000
const DOCS = [
  'README.md',
  'BENCHMARKS.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
]

interface Block {
  file: string
  /** 1-based line of the opening fence. */
  line: number
  lang: string
  flags: string[]
  code: string
}

/** The fenced blocks of a Markdown file (fences at the start of a line). */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i] as string)
    if (open === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string)
    const [lang = '', rest = ''] = open.slice(1)
    blocks.push({
      file,
      line: start + 1,
      lang,
      flags: rest.split(/\s+/).filter(Boolean),
      code: body.join('\n'),
    })
  }
  return blocks
}

const RUNNABLE = new Set(['ts', 'js'])
const isProgram = (b: Block): boolean => RUNNABLE.has(b.lang) && !b.flags.includes('fragment')
const isShRun = (b: Block): boolean => b.lang === 'sh' && b.flags.includes('run')
const label = (b: Block): string => `${b.file}:${b.line} \`\`\`${[b.lang, ...b.flags].join(' ')}`
const needsServer = (b: Block): boolean => b.code.includes("'@qdrant/js-client-rest'")
const withPort = (code: string, port: number): string => code.replaceAll('6333', String(port))

/** Bare package names a block imports (`quiver`, `quiver/server` and `node:` builtins aside). */
function importedPackages(code: string): string[] {
  const names = new Set<string>()
  for (const m of code.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'\s*\)/g)) {
    const spec = (m[1] ?? m[2]) as string
    if (spec.startsWith('.') || spec.startsWith('node:')) continue
    const parts = spec.split('/')
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string)
    if (name !== 'quiver') names.add(name)
  }
  return [...names]
}

const all = DOCS.map((file) => ({ file, blocks: blocksOf(file) }))
const tmp = mkdtempSync(join(tmpdir(), 'quiver-readme-'))
const project = join(tmp, 'project')
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** What `npm install /path/to/quiver` (plus the blocks' other packages) leaves in a project. */
function makeProject(): void {
  const modules = join(project, 'node_modules')
  mkdirSync(join(modules, '.bin'), { recursive: true })
  mkdirSync(join(project, 'blocks'))
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'reader', private: true, type: 'module' }),
  )
  symlinkSync(ROOT, join(modules, 'quiver'), 'dir')
  // npm links the package's bin and makes its target executable
  chmodSync(CLI_MAIN, 0o755)
  symlinkSync('../quiver/dist/cli/main.js', join(modules, '.bin', 'quiver'))
  const packages = new Set(['@types/node'])
  for (const { blocks } of all)
    for (const b of blocks.filter(isProgram)) for (const p of importedPackages(b.code)) packages.add(p)
  for (const p of packages) {
    mkdirSync(dirname(join(modules, p)), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules', p), join(modules, p), 'dir')
  }
}
makeProject()

const blockFile = (b: Block, ext: string): string =>
  join(project, 'blocks', `${b.file.replaceAll('/', '_')}-L${b.line}.${ext}`)

/** Runs one program block with Node in `cwd`; rejects with its output when it exits non-zero. */
async function runBlock(b: Block, cwd: string, port: number): Promise<string> {
  const code = withPort(b.code, port)
  const js =
    b.lang === 'ts'
      ? ts.transpileModule(code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText
      : code
  const file = blockFile(b, 'mjs')
  writeFileSync(file, js)
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd, timeout: BLOCK_TIMEOUT_MS })
    return stdout
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    throw new Error(`${label(b)} exited with ${e.code}:\n${e.stderr ?? ''}${e.stdout ?? ''}`)
  }
}

/** A `quiver serve` for the blocks of one file (the `sh run` block's, or one of the test's own). */
interface Server {
  url: string
  stop(): Promise<void>
}

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once('exit', () => done())
    process.kill(-(child.pid as number), 'SIGTERM')
  })
}

/** Runs a `sh run` block: its `npx quiver serve` line in the background, then the rest in `sh -e`. */
async function runShBlock(b: Block, cwd: string, port: number): Promise<Server> {
  const lines = withPort(b.code, port).split('\n')
  const serveAt = lines.findIndex((l) => /^npx quiver serve\b/.test(l))
  expect(serveAt, `${label(b)} has a \`npx quiver serve\` line`).toBeGreaterThanOrEqual(0)
  // its own process group, so stopping it stops npx and the server below it
  const server = spawn('sh', ['-c', `exec ${lines[serveAt]}`], {
    cwd,
    detached: true,
    stdio: 'ignore',
    // npx must find the project's quiver, never fetch one
    env: { ...process.env, npm_config_offline: 'true' },
  })
  const url = `http://127.0.0.1:${port}`
  const stop = (): Promise<void> => stopGroup(server)
  try {
    await pollReady(url, BLOCK_TIMEOUT_MS)
    const script = [
      'set -e',
      // a reader sees the body either way; the test also needs curl to fail on an HTTP error
      'curl() { command curl --fail-with-body -sS "$@"; echo; }',
      ...lines.filter((_, i) => i !== serveAt),
    ].join('\n')
    await promisify(execFile)('sh', ['-c', script], { cwd, timeout: BLOCK_TIMEOUT_MS }).catch((err) => {
      const e = err as { stdout?: string; stderr?: string }
      throw new Error(`${label(b)} failed:\n${e.stderr ?? ''}${e.stdout ?? ''}`)
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { url, stop }
}

async function startServer(cwd: string, port: number): Promise<Server> {
  const p = spawnCli([
    'serve',
    '--data',
    join(cwd, '.server-data'),
    '--port',
    String(port),
    '--log-level',
    'warn',
  ])
  await pollReady(`http://127.0.0.1:${port}`, BLOCK_TIMEOUT_MS)
  return { url: `http://127.0.0.1:${port}`, stop: p.kill }
}

describe('code blocks in the docs', () => {
  it('use only the known info strings, and `npx quiver` in shell blocks', () => {
    for (const { blocks } of all) {
      for (const b of blocks) {
        if (RUNNABLE.has(b.lang))
          expect(
            b.flags.filter((f) => f !== 'fragment'),
            label(b),
          ).toEqual([])
        if (b.lang === 'sh') {
          expect(
            b.flags.filter((f) => f !== 'run'),
            label(b),
          ).toEqual([])
          const bare = b.code.split('\n').filter((l) => /^(\w+=\S*\s+)*quiver\s/.test(l))
          expect(bare, `${label(b)}: after \`npm install\` the CLI is \`npx quiver\``).toEqual([])
        }
      }
    }
  })

  it('type-check (every ts program block)', () => {
    const blocks = all.flatMap((f) => f.blocks).filter((b) => isProgram(b) && b.lang === 'ts')
    for (const b of blocks) writeFileSync(blockFile(b, 'ts'), b.code)
    const program = ts.createProgram(
      blocks.map((b) => blockFile(b, 'ts')),
      {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        types: ['node'],
      },
    )
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const b = blocks.find((x) => d.file?.fileName === blockFile(x, 'ts'))
      const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0
      const where = b === undefined ? (d.file?.fileName ?? '?') : `${b.file}:${b.line + 1 + at}`
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
    expect(problems).toEqual([])
  })

  for (const { file, blocks } of all) {
    const runs = blocks.filter((b) => isProgram(b) || isShRun(b))
    if (runs.length === 0) continue
    describe(file, () => {
      // inside the project, as a reader's script would be (npx finds the project's quiver from here)
      const cwd = join(project, 'work', file.replaceAll('/', '_'))
      mkdirSync(cwd, { recursive: true })
      let port = 0
      let server: Server | undefined
      afterAll(async () => {
        await server?.stop()
      })
      for (const b of runs) {
        it(
          label(b),
          async () => {
            if (port === 0) port = await freePort()
            if (isShRun(b)) {
              await server?.stop()
              server = await runShBlock(b, cwd, port)
              return
            }
            if (needsServer(b)) server ??= await startServer(cwd, port)
            // a reader may well run an example twice
            await runBlock(b, cwd, port)
            await runBlock(b, cwd, port)
          },
          4 * BLOCK_TIMEOUT_MS,
        )
      }
    })
  }
})

// `quiver serve` options for security and request limits: the flags, the QUIVER__SERVICE__* environment
// variables (so keys need not appear in `ps`), and their mapping to `serve()` options.
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { SecurityOptions, ServerLimits } from '../server/index.js'
import { intOption, UsageError } from './args.js'

/** Values of the flags `addServeSecurityOptions` adds (commander's camelCase names). */
export interface ServeSecurityFlags {
  apiKey?: string
  readOnlyApiKey?: string
  jwtRbac?: boolean
  tlsCert?: string
  tlsKey?: string
  corsOrigin?: string[]
  bodyLimit?: number
  maxConcurrentRequests?: number
  maxBatchPoints?: number
  maxBatchSearches?: number
  maxPayloadBytes?: number
  maxFilterDepth?: number
  maxJsonDepth?: number
  maxLimit?: number
  requestTimeout?: number
  snapshotUrlAllow?: string[]
}

/** Environment variables read when the matching flag is absent (Qdrant's `QDRANT__SERVICE__*` names). */
export const SECURITY_ENV = {
  apiKey: 'QUIVER__SERVICE__API_KEY',
  readOnlyApiKey: 'QUIVER__SERVICE__READ_ONLY_API_KEY',
  jwtRbac: 'QUIVER__SERVICE__JWT_RBAC',
} as const

const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
]

/** Adds the security and limit flags to the `serve` command. */
export function addServeSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--api-key <key>', `read-write API key (default: $${SECURITY_ENV.apiKey})`)
    .option('--read-only-api-key <key>', `read-only API key (default: $${SECURITY_ENV.readOnlyApiKey})`)
    .option('--jwt-rbac', `accept JWTs signed with the API key (default: $${SECURITY_ENV.jwtRbac})`)
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--cors-origin <origin>',
      'allow CORS from this origin (repeatable or comma list; * = any)',
      collect,
    )
    .option('--body-limit <bytes>', 'largest request body (default 32 MiB)', intOption(1))
    .option('--max-concurrent-requests <n>', 'requests in flight before 429 (default 256)', intOption(1))
    .option('--max-batch-points <n>', 'points or ids per request (default 10000)', intOption(1))
    .option('--max-batch-searches <n>', 'searches per batch request (default 1000)', intOption(1))
    .option('--max-payload-bytes <n>', 'payload JSON bytes per point (default 1048576)', intOption(1))
    .option('--max-filter-depth <n>', 'filter clause nesting (default 16)', intOption(1))
    .option('--max-json-depth <n>', 'JSON nesting of a request body (default 64)', intOption(1))
    .option('--max-limit <n>', 'largest limit/top of a search or scroll (default 100000)', intOption(1))
    .option(
      '--request-timeout <ms>',
      'time to receive a whole request, 0 = none (default 60000)',
      intOption(0),
    )
    .option(
      '--snapshot-url-allow <host[:port]>',
      'hosts snapshot recovery may fetch http(s) URLs from besides loopback (repeatable or comma list; * = any)',
      collect,
    )
}

function envFlag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined
  if (/^(1|true|yes)$/i.test(value)) return true
  if (/^(0|false|no)$/i.test(value)) return false
  throw new UsageError(`${name} must be true or false, got "${value}"`)
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as Error).message}`)
  }
}

/**
 * Maps the flags (which win) and `env` to `serve()`'s `security`, `limits`, `bodyLimit` and
 * `snapshotUrlAllow`.
 * Throws UsageError for `--tls-cert` without `--tls-key` (or the reverse), an unreadable PEM file,
 * `--jwt-rbac` without an API key, or a malformed boolean environment variable.
 */
export function serveSecurityOptions(
  flags: ServeSecurityFlags,
  env: NodeJS.ProcessEnv = process.env,
): {
  security: SecurityOptions
  limits: Partial<ServerLimits>
  bodyLimit?: number
  snapshotUrlAllow?: string[]
} {
  const security: SecurityOptions = {}
  const apiKey = flags.apiKey ?? env[SECURITY_ENV.apiKey]
  const readOnlyApiKey = flags.readOnlyApiKey ?? env[SECURITY_ENV.readOnlyApiKey]
  if (apiKey !== undefined && apiKey !== '') security.apiKey = apiKey
  if (readOnlyApiKey !== undefined && readOnlyApiKey !== '') security.readOnlyApiKey = readOnlyApiKey
  const jwtRbac = flags.jwtRbac ?? envFlag(env[SECURITY_ENV.jwtRbac], SECURITY_ENV.jwtRbac)
  if (jwtRbac === true) {
    if (security.apiKey === undefined)
      throw new UsageError(`--jwt-rbac needs --api-key (or $${SECURITY_ENV.apiKey}): JWTs are signed with it`)
    security.jwtRbac = true
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together')
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined)
    security.tls = { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey, '--tls-key') }
  if (flags.corsOrigin !== undefined && flags.corsOrigin.length > 0) security.corsOrigins = flags.corsOrigin

  const limits: Partial<ServerLimits> = {}
  const names = [
    'maxConcurrentRequests',
    'maxBatchPoints',
    'maxBatchSearches',
    'maxPayloadBytes',
    'maxFilterDepth',
    'maxJsonDepth',
    'maxLimit',
  ] as const
  for (const name of names) {
    const v = flags[name]
    if (v !== undefined) limits[name] = v
  }
  if (flags.requestTimeout !== undefined) limits.requestTimeoutMs = flags.requestTimeout
  return {
    security,
    limits,
    ...(flags.bodyLimit !== undefined && { bodyLimit: flags.bodyLimit }),
    ...(flags.snapshotUrlAllow !== undefined && { snapshotUrlAllow: flags.snapshotUrlAllow }),
  }
}

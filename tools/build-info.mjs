// Writes dist/build-info.json ({ commit }) at build time, so an installed Quiver answers its commit
// in `GET /` without running git: the git HEAD of the checkout being built, or nothing outside git.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'

let commit = null
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim()
  if (!/^[0-9a-f]{40}$/.test(commit)) commit = null
} catch {
  commit = null
}
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true })
writeFileSync(new URL('../dist/build-info.json', import.meta.url), `${JSON.stringify({ commit })}\n`)

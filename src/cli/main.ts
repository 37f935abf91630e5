#!/usr/bin/env node
// The `quiver` executable (package.json "bin"): runs the CLI and sets the process exit code.
import { runCli } from './program.js'

process.exitCode = await runCli(process.argv)

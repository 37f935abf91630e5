// Every function and value the TypeScript side declares in a `...CoreExports` interface (the typed
// view of the WebAssembly core's exports, src/engine/wasm.ts and the interfaces extending it) exists
// in the compiled module, so a renamed or removed export fails here rather than at run time.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { wasmModule } from '../src/engine/wasm.js'

const SRC = join(import.meta.dirname, '..', 'src')

/** `name -> members` of every interface whose name ends in CoreExports under src/ (tests excluded). */
function declaredInterfaces(): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'),
  )
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8')
    if (!text.includes('CoreExports')) continue
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
    source.forEachChild((node) => {
      if (!ts.isInterfaceDeclaration(node) || !node.name.text.endsWith('CoreExports')) return
      const members = node.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : []))
      out.set(`${file}: ${node.name.text}`, members)
    })
  }
  return out
}

describe('the core exports the TypeScript side declares', () => {
  it('every member of every ...CoreExports interface is an export of build/quiver.wasm', () => {
    const exported = new Set(WebAssembly.Module.exports(wasmModule()).map((e) => e.name))
    const interfaces = declaredInterfaces()
    expect(interfaces.size).toBeGreaterThanOrEqual(6) // CoreExports and the quantizers', k-means', IVF's
    const missing: string[] = []
    let members = 0
    for (const [where, names] of interfaces) {
      for (const name of names) {
        members++
        if (!exported.has(name)) missing.push(`${where}.${name}`)
      }
    }
    expect(members).toBeGreaterThan(50)
    expect(missing).toEqual([])
  })
})

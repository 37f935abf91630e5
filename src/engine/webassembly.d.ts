// The slice of the WebAssembly JS API that src/engine uses. @types/node does not declare it and
// the DOM lib would pull browser globals into a Node package.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer)
    /** The module's exports by name and kind (test/core-exports.test.ts checks the declared ones). */
    static exports(module: Module): { name: string; kind: string }[]
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>)
    readonly exports: Record<string, unknown>
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean })
    /** A SharedArrayBuffer for shared memories (typed as ArrayBuffer: typed-array views accept both). */
    readonly buffer: ArrayBuffer
  }
}

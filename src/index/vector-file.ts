// A segment's float32 vectors kept on disk (Qdrant's `on_disk: true`): the rows exactly as the core
// stores them (padded, normalised for Cosine), each with its own CRC-32C, read with positioned reads
// only to rescore the best candidates and to answer exact searches. Format (docs/storage-format.md):
//   header   16 u32: magic 'QVVF', version, dimension, paddedDim, count, metric id, normalised,
//            datatype (0 = float32, 1 = float16), rowBytes, 6 reserved zeros, CRC-32C of words 0..14
//   rows     count x rowBytes (paddedDim f32, or f16 for a float16 vector; padding zero)
//   crcs     count u32: row i's CRC-32C, computed continuing from i (a row read from the wrong place fails)
//   tail     u32: CRC-32C of the crcs section
// Knows offsets and bytes only; the file itself (open, read, close) is the caller's (`RowFile`).
import { type CoreExports, chunkRuns, coreCrc32c, fileParts } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import type { IndexFileParts, RowFile } from './types.js'

const MAGIC = 0x46565651 // 'QVVF'
const FORMAT_VERSION = 1
const HEADER_WORDS = 16
const HEADER_BYTES = HEADER_WORDS * 4
const DATATYPE_FLOAT32 = 0
const DATATYPE_FLOAT16 = 1

/** How a vector file stores its rows: float32 as the core holds them, or float16 (half the bytes). */
export type RowType = 'float32' | 'float16'

/** Bytes of one row of `paddedDim` values stored as `type`. */
export function rowBytesOf(paddedDim: number, type: RowType): number {
  return paddedDim * (type === 'float16' ? 2 : 4)
}
/** Bytes a sequential scan reads at a time (the core's row scratch never grows past about this). */
export const SCAN_BYTES = 1 << 20

/** What a vector file must agree with (its index's parameters). */
export interface VectorFileShape {
  readonly dimension: number
  readonly paddedDim: number
  readonly metricId: number
  readonly normalized: boolean
}

function header(shape: VectorFileShape, count: number, core: CoreExports, type: RowType): Uint32Array {
  const h = new Uint32Array(HEADER_WORDS)
  h.set([
    MAGIC,
    FORMAT_VERSION,
    shape.dimension,
    shape.paddedDim,
    count,
    shape.metricId,
    shape.normalized ? 1 : 0,
    type === 'float16' ? DATATYPE_FLOAT16 : DATATYPE_FLOAT32,
    rowBytesOf(shape.paddedDim, type),
  ])
  h[15] = coreCrc32c(core, new Uint8Array(h.buffer, 0, 60))
  return h
}

/** Bytes of a vector file of `count` rows. */
export function vectorFileBytes(shape: VectorFileShape, count: number, type: RowType = 'float32'): number {
  return HEADER_BYTES + count * (rowBytesOf(shape.paddedDim, type) + 4) + 4
}

/**
 * The vector file of the first `count` stored vectors of `core` (which holds them): float32 rows
 * as views of its memory (valid until the core next changes), or float16 rows converted by the core
 * into buffers of their own; the header and CRCs computed here.
 */
export function vectorFileParts(
  core: CoreExports,
  shape: VectorFileShape,
  count: number,
  type: RowType = 'float32',
): IndexFileParts {
  const rowBytes = rowBytesOf(shape.paddedDim, type)
  const crcs = new Uint32Array(count)
  const out = fileParts(core)
  out.outside(new Uint8Array(header(shape, count, core, type).buffer))
  chunkRuns(core, core.vectorPtr, 0, count, (ptr, first, rows) => {
    if (type === 'float32') {
      for (let r = 0; r < rows; r++)
        crcs[first + r] = core.crc32c(ptr + r * rowBytes, rowBytes, first + r) >>> 0
      out.inCore(ptr, rows * rowBytes)
      return
    }
    // float16: converted a chunk run at a time through a block of the core's memory
    const block = core.allocBlock(rows * rowBytes)
    try {
      core.toFloat16(ptr, block, rows * shape.paddedDim)
      for (let r = 0; r < rows; r++)
        crcs[first + r] = core.crc32c(block + r * rowBytes, rowBytes, first + r) >>> 0
      out.outside(new Uint8Array(core.memory.buffer, block, rows * rowBytes).slice())
    } finally {
      core.freeBlock(block)
    }
  })
  const table = new Uint8Array(crcs.buffer)
  out.outside(table)
  out.outside(new Uint8Array(Uint32Array.of(coreCrc32c(core, table)).buffer))
  return out.done()
}

/**
 * An open vector file: its row CRCs in memory (4 bytes per row), rows read on demand into a core's
 * memory and checked there. Throws CORRUPTED (naming the file) when a row or the file's frame fails
 * its check, IO_ERROR when a read fails.
 */
export class VectorFile {
  readonly count: number
  readonly rowBytes: number
  /** How the rows are stored (rescoring widens float16 rows: `rescoreRows16`). */
  readonly type: RowType
  private readonly file: RowFile
  private readonly crcs: Uint32Array
  private readonly name: string

  private constructor(
    file: RowFile,
    name: string,
    count: number,
    rowBytes: number,
    type: RowType,
    crcs: Uint32Array,
  ) {
    this.type = type
    this.file = file
    this.name = name
    this.count = count
    this.rowBytes = rowBytes
    this.crcs = crcs
  }

  /**
   * Checks `file`'s header against `shape` and `count` (the index's offsets), its size, and its
   * CRC table (read into memory); `core` computes the checksums. `name` names the file in errors.
   */
  static open(
    file: RowFile,
    name: string,
    shape: VectorFileShape,
    count: number,
    core: CoreExports,
  ): VectorFile {
    const corrupt = (what: string, details?: Record<string, unknown>) =>
      new QuiverError('CORRUPTED', `vector file ${name}: ${what}`, { file: name, ...details })
    if (file.size < HEADER_BYTES) throw corrupt(`too short (${file.size} bytes)`)
    const head = new Uint8Array(HEADER_BYTES)
    file.readSync(head, 0)
    const h = new Uint32Array(head.buffer)
    if (h[0] !== MAGIC) throw corrupt('bad magic number')
    if (coreCrc32c(core, head.subarray(0, 60)) !== h[15]) throw corrupt('header fails its CRC32C check')
    if (h[1] !== FORMAT_VERSION) throw corrupt(`unsupported format version ${h[1]}`)
    if (h[7] !== DATATYPE_FLOAT32 && h[7] !== DATATYPE_FLOAT16) throw corrupt(`unsupported datatype ${h[7]}`)
    const type: RowType = h[7] === DATATYPE_FLOAT16 ? 'float16' : 'float32'
    if (
      h[2] !== shape.dimension ||
      h[3] !== shape.paddedDim ||
      h[5] !== shape.metricId ||
      h[6] !== (shape.normalized ? 1 : 0) ||
      h[8] !== rowBytesOf(shape.paddedDim, type)
    )
      throw corrupt('dimension or metric differ from the collection config')
    if (h[4] !== count) throw corrupt(`holds ${h[4]} rows, the index has ${count}`)
    const expected = vectorFileBytes(shape, count, type)
    if (file.size !== expected) throw corrupt(`size ${file.size}, expected ${expected}`)
    const rowBytes = rowBytesOf(shape.paddedDim, type)
    const table = new Uint8Array(count * 4 + 4)
    file.readSync(table, HEADER_BYTES + count * rowBytes)
    const tail = new DataView(table.buffer).getUint32(count * 4, true)
    if (coreCrc32c(core, table.subarray(0, count * 4)) !== tail)
      throw corrupt('row checksums fail their CRC32C check')
    return new VectorFile(file, name, count, rowBytes, type, new Uint32Array(table.buffer, 0, count))
  }

  /**
   * Reads rows `offsets[0..n-1]` (ascending) into `core`'s memory at `ptr` (row i at ptr + i x
   * rowBytes) and checks each row's CRC there; runs of consecutive offsets are read at once.
   */
  readRows(core: CoreExports, offsets: Uint32Array, n: number, ptr: number): void {
    for (let i = 0; i < n; ) {
      let j = i + 1
      while (j < n && offsets[j] === offsets[j - 1]! + 1) j++
      this.readRun(core, offsets[i]!, j - i, ptr + i * this.rowBytes)
      i = j
    }
  }

  /**
   * Calls `fn(first, rows, ptr)` for consecutive runs covering offsets 0..count-1, each read into
   * `core`'s scratch at `ptr` (from `scratch(bytes)`) and checked: a sequential scan of the file.
   */
  scan(
    core: CoreExports,
    scratch: (bytes: number) => number,
    fn: (first: number, rows: number, ptr: number) => void,
  ): void {
    const per = Math.max(1, Math.floor(SCAN_BYTES / this.rowBytes))
    for (let first = 0; first < this.count; first += per) {
      const rows = Math.min(per, this.count - first)
      const ptr = scratch(rows * this.rowBytes)
      this.readRun(core, first, rows, ptr)
      fn(first, rows, ptr)
    }
  }

  /**
   * `scan` reading on the libuv thread pool: each run is read into a block of its own in `core`'s
   * memory, checked, handed to `fn` (synchronously, so `fn` may use the core's search state), then
   * freed; the calling thread is free while a run is read. `allowed` (ascending) restricts it to
   * those rows. Throws like `readRows`.
   */
  async scanAsync(
    core: CoreExports,
    fn: (ids: Uint32Array, ptr: number) => void,
    allowed?: Uint32Array,
  ): Promise<void> {
    const per = Math.max(1, Math.floor(SCAN_BYTES / this.rowBytes))
    const total = allowed === undefined ? this.count : allowed.length
    for (let at = 0; at < total; at += per) {
      const n = Math.min(per, total - at)
      const ids =
        allowed === undefined
          ? Uint32Array.from({ length: n }, (_, i) => at + i)
          : allowed.subarray(at, at + n)
      const block = core.allocBlock(n * this.rowBytes)
      try {
        // consecutive ids as one read, the others row by row (all in flight at once)
        const reads: Promise<void>[] = []
        for (let i = 0; i < n; ) {
          let j = i + 1
          while (j < n && ids[j] === ids[j - 1]! + 1) j++
          const view = new Uint8Array(core.memory.buffer, block + i * this.rowBytes, (j - i) * this.rowBytes)
          reads.push(this.file.read(view, HEADER_BYTES + ids[i]! * this.rowBytes))
          i = j
        }
        await Promise.all(reads)
        for (let i = 0; i < n; i++) this.checkRow(core, ids[i]!, block + i * this.rowBytes)
        fn(ids, block)
      } finally {
        core.freeBlock(block)
      }
    }
  }

  private checkRow(core: CoreExports, o: number, ptr: number): void {
    if (core.crc32c(ptr, this.rowBytes, o) >>> 0 !== this.crcs[o])
      throw new QuiverError('CORRUPTED', `vector file ${this.name}: row ${o} fails its CRC32C check`, {
        file: this.name,
        offset: o,
      })
  }

  private readRun(core: CoreExports, first: number, rows: number, ptr: number): void {
    if (first + rows > this.count)
      throw new RangeError(`row ${first + rows - 1} is past the file's ${this.count} rows`)
    const bytes = rows * this.rowBytes
    this.file.readSync(new Uint8Array(core.memory.buffer, ptr, bytes), HEADER_BYTES + first * this.rowBytes)
    for (let r = 0; r < rows; r++) this.checkRow(core, first + r, ptr + r * this.rowBytes)
  }

  /** Bytes of memory this file keeps (its row checksums). */
  get memoryBytes(): number {
    return this.crcs.byteLength
  }

  close(): void {
    this.file.close()
  }
}

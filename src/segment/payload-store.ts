// A segment's payloads by offset: in memory, or (Qdrant's `on_disk_payload`) in a payload file of
// checked msgpack records read on demand, with the changes made since the file was written kept in
// memory until the segment is persisted again. Format (docs/storage-format.md):
//   header   8 u32: magic 'QVPL', version, count, 4 zero, CRC-32C of words 0..6
//   starts   (count + 1) f64: record i is data[starts[i] .. starts[i+1]) (byte offsets in `data`)
//   crcs     count u32: record i's CRC-32C, computed continuing from i
//   tail     u32: CRC-32C of the starts and crcs sections
//   data     the records: msgpack of each payload, nil for none
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../errors.js'
import type { RowFile } from '../index/types.js'
import { crc32c } from '../storage/crc32c.js'
import type { FileParts } from '../storage/files.js'
import type { Payload } from '../types.js'

const MAGIC = 0x4c505651 // 'QVPL'
const FORMAT_VERSION = 1
const HEADER_BYTES = 32

/** Records read by `forEach` at a time (a sequential pass over the file). */
const SCAN_RECORDS = 4096

/** msgpack nil: the record of an offset without a payload. */
const NIL = Uint8Array.of(0xc0)

/** The payload file of `count` records from `at(o)`: its parts (encoded here), size and CRC-32C. */
export function payloadFileParts(count: number, at: (offset: number) => Payload | undefined): FileParts {
  return recordFileParts(count, (o) => {
    const p = at(o)
    return p === undefined ? NIL : encode(p)
  })
}

/** The payload file of `count` already encoded records (`record(o)`, each called once, in order). */
function recordFileParts(count: number, record: (offset: number) => Uint8Array): FileParts {
  const records: Uint8Array[] = []
  const starts = new Float64Array(count + 1)
  const crcs = new Uint32Array(count)
  let pos = 0
  for (let o = 0; o < count; o++) {
    const r = record(o)
    records.push(r)
    starts[o] = pos
    crcs[o] = crc32c(r, o)
    pos += r.byteLength
  }
  starts[count] = pos
  const header = new Uint32Array(HEADER_BYTES / 4)
  header.set([MAGIC, FORMAT_VERSION, count])
  header[7] = crc32c(new Uint8Array(header.buffer, 0, 28))
  const startBytes = new Uint8Array(starts.buffer)
  const crcBytes = new Uint8Array(crcs.buffer)
  const tail = new Uint8Array(Uint32Array.of(crc32c(crcBytes, crc32c(startBytes))).buffer)
  const parts = [new Uint8Array(header.buffer), startBytes, crcBytes, tail, ...records]
  let bytes = 0
  let crc = 0
  for (const p of parts) {
    bytes += p.byteLength
    crc = crc32c(p, crc)
  }
  return { parts, bytes, crc32c: crc }
}

/** An open payload file: record positions and CRCs in memory (12 bytes per point), records read on demand. */
export class PayloadFile {
  readonly count: number
  private readonly file: RowFile
  private readonly name: string
  private readonly starts: Float64Array
  private readonly crcs: Uint32Array
  private readonly dataAt: number

  private constructor(file: RowFile, name: string, count: number, starts: Float64Array, crcs: Uint32Array) {
    this.file = file
    this.name = name
    this.count = count
    this.starts = starts
    this.crcs = crcs
    this.dataAt = HEADER_BYTES + (count + 1) * 8 + count * 4 + 4
  }

  /** Checks `file`'s header against `count` (the segment's offsets), its size and its tables; throws CORRUPTED naming `name`. */
  static open(file: RowFile, name: string, count: number): PayloadFile {
    const corrupt = (what: string) =>
      new QuiverError('CORRUPTED', `payload file ${name}: ${what}`, { file: name })
    if (file.size < HEADER_BYTES) throw corrupt(`too short (${file.size} bytes)`)
    const head = new Uint8Array(HEADER_BYTES)
    file.readSync(head, 0)
    const h = new Uint32Array(head.buffer)
    if (h[0] !== MAGIC) throw corrupt('bad magic number')
    if (crc32c(head.subarray(0, 28)) !== h[7]) throw corrupt('header fails its CRC32C check')
    if (h[1] !== FORMAT_VERSION) throw corrupt(`unsupported format version ${h[1]}`)
    if (h[2] !== count) throw corrupt(`holds ${h[2]} records, the segment has ${count} points`)
    const tables = new Uint8Array((count + 1) * 8 + count * 4 + 4)
    if (file.size < HEADER_BYTES + tables.byteLength) throw corrupt(`too short (${file.size} bytes)`)
    file.readSync(tables, HEADER_BYTES)
    const startBytes = tables.subarray(0, (count + 1) * 8)
    const crcBytes = tables.subarray((count + 1) * 8, (count + 1) * 8 + count * 4)
    const tail = new DataView(tables.buffer).getUint32(tables.byteLength - 4, true)
    if (crc32c(crcBytes, crc32c(startBytes)) !== tail) throw corrupt('record tables fail their CRC32C check')
    const starts = new Float64Array(tables.buffer, 0, count + 1)
    const expected = HEADER_BYTES + tables.byteLength + starts[count]!
    if (file.size !== expected) throw corrupt(`size ${file.size}, expected ${expected}`)
    for (let o = 0; o < count; o++)
      if (!(starts[o + 1]! >= starts[o]!)) throw corrupt(`record ${o} has a negative length`)
    return new PayloadFile(file, name, count, starts, new Uint32Array(tables.buffer, (count + 1) * 8, count))
  }

  /** The payload of record `o` (checked). */
  get(o: number): Payload | undefined {
    const from = this.starts[o]!
    const bytes = new Uint8Array(this.starts[o + 1]! - from)
    this.file.readSync(bytes, this.dataAt + from)
    return this.decode(o, bytes)
  }

  /** Calls `fn(o, payload)` for records from..to-1, reading the file sequentially. */
  forEach(fn: (o: number, payload: Payload | undefined) => void, from = 0, to = this.count): void {
    this.forEachRecord((o, bytes) => fn(o, (decode(bytes) as Payload | null) ?? undefined), from, to)
  }

  /** Calls `fn(o, bytes)` with each record's encoded bytes (checked), reading the file sequentially. */
  forEachRecord(fn: (o: number, bytes: Uint8Array) => void, from = 0, to = this.count): void {
    for (let first = from; first < to; first += SCAN_RECORDS) {
      const last = Math.min(to, first + SCAN_RECORDS)
      const base = this.starts[first]!
      const block = new Uint8Array(this.starts[last]! - base)
      this.file.readSync(block, this.dataAt + base)
      for (let o = first; o < last; o++) {
        const bytes = block.subarray(this.starts[o]! - base, this.starts[o + 1]! - base)
        this.check(o, bytes)
        fn(o, bytes)
      }
    }
  }

  private check(o: number, bytes: Uint8Array): void {
    if (crc32c(bytes, o) !== this.crcs[o])
      throw new QuiverError('CORRUPTED', `payload file ${this.name}: record ${o} fails its CRC32C check`, {
        file: this.name,
        offset: o,
      })
  }

  private decode(o: number, bytes: Uint8Array): Payload | undefined {
    this.check(o, bytes)
    const p = decode(bytes) as Payload | null
    return p ?? undefined
  }

  /** Bytes of memory the file keeps (its tables). */
  get memoryBytes(): number {
    return this.starts.byteLength + this.crcs.byteLength
  }

  close(): void {
    this.file.close()
  }
}

/**
 * Payloads by offset. In memory by default; `useFile` puts every offset below the file's count on
 * the file, after which `set` on those offsets keeps the new payload in memory (`changed`) until a
 * persist writes a new file. Offsets past the file (none in a sealed segment) stay in memory.
 */
export class PayloadStore {
  private mem: (Payload | undefined)[]
  private file: PayloadFile | undefined
  /** Changes of offsets on the file since it was written. */
  private overlay = new Map<number, Payload | undefined>()

  constructor(payloads: (Payload | undefined)[]) {
    this.mem = payloads
  }

  get onDisk(): PayloadFile | undefined {
    return this.file
  }

  /** Offsets stored. */
  get length(): number {
    return this.file === undefined ? this.mem.length : this.file.count + this.mem.length
  }

  /** Payloads changed since the file was written (0 without a file). */
  get changed(): number {
    return this.overlay.size
  }

  get(o: number): Payload | undefined {
    const f = this.file
    if (f === undefined) return this.mem[o]
    if (o >= f.count) return this.mem[o - f.count]
    if (this.overlay.has(o)) return this.overlay.get(o)
    return f.get(o)
  }

  set(o: number, payload: Payload | undefined): void {
    const f = this.file
    if (f === undefined) this.mem[o] = payload
    else if (o >= f.count) this.mem[o - f.count] = payload
    else this.overlay.set(o, payload)
  }

  push(payload: Payload | undefined): void {
    this.mem.push(payload)
  }

  /**
   * Offset `o` was deleted: its payload is never read again. In memory it is dropped; on the file
   * nothing changes (a delete alone does not make the file rewritten), except that a pending change
   * of it is forgotten.
   */
  drop(o: number): void {
    const f = this.file
    if (f === undefined) this.mem[o] = undefined
    else if (o >= f.count) this.mem[o - f.count] = undefined
    else this.overlay.delete(o)
  }

  /**
   * The payload file of every offset, live ones (`live(o)`) with their payloads and deleted ones
   * empty: unchanged records are copied from the current file as stored (read in sequential
   * blocks, checked, not decoded), changed ones encoded.
   */
  fileParts(live: (o: number) => boolean): FileParts {
    const f = this.file
    if (f === undefined) return payloadFileParts(this.length, (o) => (live(o) ? this.mem[o] : undefined))
    const raw = new Array<Uint8Array>(f.count)
    f.forEachRecord((o, bytes) => {
      raw[o] = bytes
    })
    return recordFileParts(this.length, (o) => {
      if (!live(o)) return NIL
      if (o >= f.count) {
        const p = this.mem[o - f.count]
        return p === undefined ? NIL : encode(p)
      }
      if (this.overlay.has(o)) {
        const p = this.overlay.get(o)
        return p === undefined ? NIL : encode(p)
      }
      return raw[o]!
    })
  }

  /** Every payload in offset order (null for none), read from the file where it holds them. */
  toArray(): (Payload | null)[] {
    const out = new Array<Payload | null>(this.length)
    this.forEach((o, p) => {
      out[o] = p ?? null
    })
    return out
  }

  /** Calls `fn` for every offset in order (a sequential read of the file). */
  forEach(fn: (o: number, payload: Payload | undefined) => void): void {
    const f = this.file
    if (f === undefined) {
      for (let o = 0; o < this.mem.length; o++) fn(o, this.mem[o])
      return
    }
    f.forEach((o, p) => {
      fn(o, this.overlay.has(o) ? this.overlay.get(o) : p)
    })
    for (let i = 0; i < this.mem.length; i++) fn(f.count + i, this.mem[i])
  }

  /** Serves offsets 0..file.count-1 from `file` (written from this store's payloads) from now on. */
  useFile(file: PayloadFile): void {
    if (file.count !== this.length)
      throw new QuiverError('INTERNAL', 'payload file does not cover the segment')
    this.file?.close()
    this.file = file
    this.mem = []
    this.overlay = new Map()
  }

  /** Back to memory: every payload read from the file, which is closed. */
  toMemory(): void {
    if (this.file === undefined) return
    const all = this.toArray().map((p) => p ?? undefined)
    this.file.close()
    this.file = undefined
    this.overlay = new Map()
    this.mem = all
  }

  close(): void {
    this.file?.close()
  }
}

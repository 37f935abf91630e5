// The geo payload index: every `{ lat, lon }` value of one field, kept sorted by latitude so that a geo
// condition scans only its shape's latitude band, then applies the exact test of ../geo.ts.
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../../errors.js'
import type { JsonValue, Payload } from '../../types.js'
import type { FieldNode, GeoNode } from '../ast.js'
import { Bitset } from '../bitset.js'
import { asGeoPoint, geoLatBand, geoPointTest } from '../geo.js'
import { someValue } from '../key-path.js'
import type { Cardinality, FieldIndex, FieldIndexSpec } from './types.js'

const FORMAT = 'quiver.geo-index'
const VERSION = 1

/**
 * Serialized form (msgpack): parallel typed arrays as bytes in the platform's byte order (little-endian
 * on every Node target), sorted by `lat`.
 */
interface GeoIndexFile {
  format: typeof FORMAT
  version: typeof VERSION
  /** Float64 latitudes (degrees), non-decreasing. */
  lat: Uint8Array
  /** Float64 longitudes (degrees). */
  lon: Uint8Array
  /** Uint32 point offsets. */
  offset: Uint8Array
}

function isGeoNode(node: FieldNode): node is GeoNode {
  return node.kind === 'geo_radius' || node.kind === 'geo_bounding_box' || node.kind === 'geo_polygon'
}

/** First i in [0, n) with a[i] >= x (n when none). */
function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** First i in [0, n) with a[i] > x (n when none). */
function upperBound(a: Float64Array, n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Share of longitudes [0, 1] a shape spans, for the expected cardinality. */
function lonFraction(node: GeoNode, band: readonly [number, number]): number {
  switch (node.kind) {
    case 'geo_bounding_box':
      return (node.left <= node.right ? node.right - node.left : 360 - (node.left - node.right)) / 360
    case 'geo_radius': {
      if (band[0] <= -90 || band[1] >= 90) return 1
      const halfLat = (band[1] - band[0]) / 2
      return Math.min(1, (2 * halfLat) / Math.cos((node.lat * Math.PI) / 180) / 360)
    }
    case 'geo_polygon': {
      let min = 180
      let max = -180
      for (const p of node.exterior) {
        if (p.lon < min) min = p.lon
        if (p.lon > max) max = p.lon
      }
      return Math.max(0, max - min) / 360
    }
  }
}

function corrupted(why: string): never {
  throw new QuiverError('CORRUPTED', `geo payload index: ${why}`)
}

/**
 * Geo index of one field in one segment (Qdrant's `geo` payload index type). Holds one entry
 * (lat, lon, offset) per geo value (Qdrant's `{ lat, lon }` objects, directly at the path or as array
 * elements; see `asGeoPoint` in ../geo.ts).
 *
 * Layout: a main run of entries sorted by latitude (parallel typed arrays) plus an unsorted append
 * buffer. Writes go to the buffer; a query merges it in (sort + linear merge) once it exceeds 32 +
 * main/32 entries and scans it linearly otherwise, so n inserts then a query cost O(n log n). An
 * offset's entries carry the version of the `set` that wrote them; re-setting or removing an offset
 * retires that version in O(1), leaving tombstones that the next merge drops (a merge is forced when
 * they outnumber live entries by more than 32).
 *
 * @example
 * const idx = new GeoIndex({ field: 'loc', path: parseKeyPath('loc'), params: { type: 'geo' } })
 * idx.set(0, { loc: { lat: 52.52, lon: 13.4 } })
 * idx.filter(parseFilter({ must: { key: 'loc', geo_radius: { center: { lat: 52.5, lon: 13.4 }, radius: 5000 } } }) as GeoRadiusNode, 1)
 */
export class GeoIndex implements FieldIndex {
  readonly spec: FieldIndexSpec
  readonly type = 'geo' as const

  private lats = new Float64Array(0)
  private lons = new Float64Array(0)
  private offs = new Uint32Array(0)
  private vers = new Float64Array(0)
  private mainLen = 0

  private bufLats: number[] = []
  private bufLons: number[] = []
  private bufOffs: number[] = []
  private bufVers: number[] = []

  /** Per offset: the version its live entries carry (0: none) and how many there are. */
  private current = new Float64Array(0)
  private counts = new Uint32Array(0)
  private nextVersion = 1
  private liveEntries = 0
  private deadEntries = 0
  private points = 0

  /** An empty index. Throws `INVALID_ARGUMENT` unless `spec.params.type` is `geo`. */
  constructor(spec: FieldIndexSpec) {
    if (spec.params.type !== 'geo')
      throw new QuiverError('INVALID_ARGUMENT', `GeoIndex needs params.type 'geo', got '${spec.params.type}'`)
    this.spec = spec
  }

  /**
   * Rebuilds an index from {@link serialize}'s bytes. Throws `CORRUPTED` when they are not a geo index
   * of this format (undecodable, wrong lengths, coordinates out of range, latitudes out of order).
   */
  static restore(spec: FieldIndexSpec, bytes: Uint8Array): GeoIndex {
    const index = new GeoIndex(spec)
    let file: unknown
    try {
      file = decode(bytes)
    } catch (err) {
      throw new QuiverError('CORRUPTED', 'geo payload index: undecodable bytes', undefined, err)
    }
    if (typeof file !== 'object' || file === null) corrupted('not an object')
    const f = file as Partial<Record<keyof GeoIndexFile, unknown>>
    if (f.format !== FORMAT || f.version !== VERSION) corrupted('unknown format or version')
    if (!(f.lat instanceof Uint8Array && f.lon instanceof Uint8Array && f.offset instanceof Uint8Array))
      corrupted('missing arrays')
    const n = f.lat.byteLength / 8
    if (!Number.isInteger(n) || f.lon.byteLength !== n * 8 || f.offset.byteLength !== n * 4)
      corrupted('array lengths disagree')
    const lats = new Float64Array(f.lat.slice().buffer)
    const lons = new Float64Array(f.lon.slice().buffer)
    const offs = new Uint32Array(f.offset.slice().buffer)
    for (let i = 0; i < n; i++) {
      const lat = lats[i]!
      const lon = lons[i]!
      if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) corrupted(`entry ${i} is out of range`)
      if (i > 0 && lat < lats[i - 1]!) corrupted(`entry ${i} is out of latitude order`)
    }
    const vers = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const o = offs[i]!
      index.ensureOffset(o)
      if (index.current[o] === 0) {
        index.current[o] = index.nextVersion++
        index.points++
      }
      index.counts[o]!++
      vers[i] = index.current[o]!
    }
    index.lats = lats
    index.lons = lons
    index.offs = offs
    index.vers = vers
    index.mainLen = n
    index.liveEntries = n
    return index
  }

  /** Offsets holding at least one valid geo value. */
  get pointCount(): number {
    return this.points
  }

  /** Indexes every geo value of `payload` at the field's path (replacing the offset's previous values). */
  set(offset: number, payload: Payload | undefined): void {
    if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff)
      throw new QuiverError('INVALID_ARGUMENT', `offset must be a u32, got ${offset}`)
    this.remove(offset)
    if (payload === undefined) return
    const version = this.nextVersion
    let n = 0
    const add = (v: JsonValue): void => {
      const p = asGeoPoint(v)
      if (p === null) return
      this.bufLats.push(p.lat)
      this.bufLons.push(p.lon)
      this.bufOffs.push(offset)
      this.bufVers.push(version)
      n++
    }
    someValue(payload, this.spec.path, (v) => {
      if (Array.isArray(v)) for (const x of v) add(x)
      else add(v)
      return false
    })
    if (n === 0) return
    this.nextVersion++
    this.ensureOffset(offset)
    this.current[offset] = version
    this.counts[offset] = n
    this.liveEntries += n
    this.points++
  }

  remove(offset: number): void {
    if (!(offset >= 0 && offset < this.current.length) || this.current[offset] === 0) return
    const n = this.counts[offset]!
    this.current[offset] = 0
    this.counts[offset] = 0
    this.liveEntries -= n
    this.deadEntries += n
    this.points--
  }

  supports(node: FieldNode): boolean {
    return isGeoNode(node)
  }

  /** Offsets < size with a value inside the node's shape; throws `INTERNAL` for a non-geo node. */
  filter(node: FieldNode, size: number): Bitset {
    const geo = this.geoNode(node)
    this.maintain(false)
    const out = new Bitset(size)
    const [lo, hi] = geoLatBand(geo)
    const test = geoPointTest(geo)
    const { lats, lons, offs, vers, current } = this
    for (let i = lowerBound(lats, this.mainLen, lo); i < this.mainLen && lats[i]! <= hi; i++) {
      const o = offs[i]!
      if (o < size && vers[i] === current[o] && !out.has(o) && test(lats[i]!, lons[i]!)) out.add(o)
    }
    const { bufLats, bufLons, bufOffs, bufVers } = this
    for (let i = 0; i < bufLats.length; i++) {
      const lat = bufLats[i]!
      const o = bufOffs[i]!
      if (lat >= lo && lat <= hi && o < size && bufVers[i] === current[o] && test(lat, bufLons[i]!))
        out.add(o)
    }
    return out
  }

  /**
   * `max`: the entries in the shape's latitude band (tombstones included), capped by pointCount; `min`
   * 0; `exp`: `max` scaled by the share of longitudes the shape spans.
   */
  estimate(node: FieldNode): Cardinality {
    const geo = this.geoNode(node)
    this.maintain(false)
    const band = geoLatBand(geo)
    let inBand = upperBound(this.lats, this.mainLen, band[1]) - lowerBound(this.lats, this.mainLen, band[0])
    for (const lat of this.bufLats) if (lat >= band[0] && lat <= band[1]) inBand++
    const max = Math.max(0, Math.min(inBand, this.points))
    const exp = Math.min(max, Math.round(max * lonFraction(geo, band)))
    return { min: 0, exp, max }
  }

  /** msgpack `{ format, version, lat, lon, offset }` of the live entries, sorted by latitude. */
  serialize(): Uint8Array {
    this.maintain(true)
    const n = this.mainLen
    const bytes = (a: Float64Array | Uint32Array): Uint8Array =>
      new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT)
    const file: GeoIndexFile = {
      format: FORMAT,
      version: VERSION,
      lat: bytes(this.lats),
      lon: bytes(this.lons),
      offset: bytes(this.offs),
    }
    return encode(file)
  }

  private geoNode(node: FieldNode): GeoNode {
    if (!isGeoNode(node)) throw new QuiverError('INTERNAL', `GeoIndex cannot answer a ${node.kind} condition`)
    return node
  }

  private ensureOffset(offset: number): void {
    if (offset < this.current.length) return
    const size = Math.max(offset + 1, this.current.length * 2, 64)
    const current = new Float64Array(size)
    current.set(this.current)
    const counts = new Uint32Array(size)
    counts.set(this.counts)
    this.current = current
    this.counts = counts
  }

  /** Merges the buffer into the main run and drops tombstones when due (or always with `force`). */
  private maintain(force: boolean): void {
    const buffered = this.bufLats.length
    const due = force
      ? buffered > 0 || this.deadEntries > 0
      : buffered > 32 + (this.mainLen >>> 5) || this.deadEntries > 32 + this.liveEntries
    if (!due) return
    const { bufLats, bufLons, bufOffs, bufVers, current } = this
    const order = new Uint32Array(buffered)
    let m = 0
    for (let i = 0; i < buffered; i++) if (bufVers[i] === current[bufOffs[i]!]) order[m++] = i
    const live = order.subarray(0, m).sort((a, b) => bufLats[a]! - bufLats[b]!)
    const n = this.liveEntries
    const lats = new Float64Array(n)
    const lons = new Float64Array(n)
    const offs = new Uint32Array(n)
    const vers = new Float64Array(n)
    let i = 0
    let j = 0
    let k = 0
    while (i < this.mainLen || j < m) {
      if (i < this.mainLen && this.vers[i] !== current[this.offs[i]!]) {
        i++
        continue
      }
      if (j >= m || (i < this.mainLen && this.lats[i]! <= bufLats[live[j]!]!)) {
        lats[k] = this.lats[i]!
        lons[k] = this.lons[i]!
        offs[k] = this.offs[i]!
        vers[k] = this.vers[i]!
        i++
      } else {
        const b = live[j]!
        lats[k] = bufLats[b]!
        lons[k] = bufLons[b]!
        offs[k] = bufOffs[b]!
        vers[k] = bufVers[b]!
        j++
      }
      k++
    }
    if (k !== n) throw new QuiverError('INTERNAL', `geo index lost track of its entries (${k} != ${n})`)
    this.lats = lats
    this.lons = lons
    this.offs = offs
    this.vers = vers
    this.mainLen = n
    this.bufLats = []
    this.bufLons = []
    this.bufOffs = []
    this.bufVers = []
    this.deadEntries = 0
  }
}

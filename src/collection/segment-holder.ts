// The segments of one collection: the sealed ones, then the appendable one (last) that takes new
// points. Every live point id is in exactly one segment. Applies logged operations across them,
// seals the appendable segment when it is full, and swaps in segments rebuilt by the optimizers.

import { type PointVectors, Segment } from '../segment/segment.js'
import type { CollectionConfig, Payload, PointId } from '../types.js'
import { applyOperation, loggedVectors, type Operation, selectIds } from './operations.js'
import { configFromJson, FORMAT_VERSION } from './persistence.js'
import { segmentNeedsRebuild } from './reconfigure.js'

/** KiB of float32 vectors that `points` stored points of dimension `dim` take. */
export function vectorKiB(points: number, dim: number): number {
  return (points * dim * 4) / 1024
}

/**
 * Floats one point's dense vectors take (the sum of the dense dimensions; a multivector counts one
 * row; at least 1), the unit of `maxSegmentSize` and the optimizers' sizes.
 */
export function floatsPerPoint(config: CollectionConfig): number {
  let n = 0
  for (const v of config.vectors.values()) n += v.dimension
  return Math.max(1, n)
}

export class SegmentHolder {
  private replaced = 0
  /** The collection's current config (new segments are built with it). */
  private current: CollectionConfig
  private list: Segment[]
  /** Called with every segment this holder creates (the collection applies its planner settings). */
  private readonly onCreate: (segment: Segment) => void

  /** `segments`: sealed ones first, the appendable one last (an empty one is added when none). */
  constructor(
    config: CollectionConfig,
    segments: Segment[],
    onCreate: (segment: Segment) => void = () => {},
  ) {
    this.current = config
    this.onCreate = onCreate
    this.list = segments.length > 0 ? segments : [this.newSegment(undefined)]
  }

  get config(): CollectionConfig {
    return this.current
  }

  /**
   * Makes `config` the collection's config: segments whose index data it would not change adopt it
   * at once; an empty appendable segment built for the old one is replaced; the others keep theirs
   * until the optimizers rebuild them (reconfigure.ts, optimizer.ts).
   */
  reconfigure(config: CollectionConfig): void {
    this.current = config
    for (const s of this.list) {
      if (segmentNeedsRebuild(s.config, config)) continue
      s.adoptConfig(config)
      this.onCreate(s) // the collection's planner settings again
    }
    const last = this.appendable
    if (last.config !== config && last.storedCount === 0)
      this.list[this.list.length - 1] = this.newSegment(last)
  }

  get segments(): readonly Segment[] {
    return this.list
  }

  /** The segment that takes new points (the last one). */
  get appendable(): Segment {
    return this.list[this.list.length - 1]!
  }

  /** Segments other than the appendable one. */
  get sealed(): readonly Segment[] {
    return this.list.slice(0, -1)
  }

  /** The segment holding live point `id`. */
  segmentOf(id: PointId): Segment | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]!.has(id)) return this.list[i]
    return undefined
  }

  /** An empty segment with the same payload indexes as `like`. */
  newSegment(like: Segment | undefined): Segment {
    const segment = Segment.create(this.current)
    for (const spec of like?.fieldIndexSpecs() ?? []) segment.createFieldIndex(spec)
    this.onCreate(segment)
    return segment
  }

  /**
   * Seals the appendable segment: a new empty appendable segment (same payload indexes) takes the
   * next points. No-op when the appendable segment is empty.
   */
  seal(): void {
    const current = this.appendable
    if (current.storedCount === 0) return
    this.list.push(this.newSegment(current))
  }

  /** Most points one upsert batch can carry: what an empty segment holds. */
  get batchCapacity(): number {
    return this.appendable.capacity
  }

  /** Seals first when `n` more points would not fit the appendable segment or pass `maxSegmentSize`. */
  private makeRoom(n: number): void {
    const a = this.appendable
    if (a.storedCount === 0) return
    const tooBig =
      vectorKiB(a.storedCount + n, floatsPerPoint(this.config)) > this.config.optimizers.maxSegmentSize
    if (a.freeSlots < n || tooBig) this.seal()
  }

  /**
   * Applies one decoded operation at WAL seq `seq`. Upserts go to the appendable segment (a point
   * that lived in a sealed segment moves: it is deleted there); other point operations reach every
   * segment (each holds its own points); payload index definitions reach every segment so that all
   * answer filters alike; after an upsert batch the appendable segment's quantizer and IVF lists
   * train once it has enough vectors. Total on valid input: replays identically. Other updates wait for it (the update chain).
   */
  async apply(op: Operation, seq: number): Promise<void> {
    switch (op.op) {
      case 'upsert':
        return this.upsertPoints(
          op.points.map((p) => ({ id: p.id, vectors: loggedVectors(p), payload: p.payload ?? undefined })),
          seq,
        )
      case 'update_vectors': {
        // a vector update stores the point anew (with its other vectors and payload) in the appendable segment
        const points: { id: PointId; vectors: PointVectors; payload: Payload | undefined }[] = []
        // an id given twice gets both updates, in order (each merges into the result of the last)
        const at = new Map<PointId, number>()
        for (const p of op.points) {
          const seen = at.get(p.id)
          const segment = this.segmentOf(p.id)
          const current = seen !== undefined ? points[seen]!.vectors : segment?.vectors(p.id)
          if (segment === undefined || current === undefined) continue
          const given = loggedVectors(p)
          const dense = new Map(current.dense)
          for (const [k, v] of given.dense) dense.set(k, v)
          const sparse = new Map(current.sparse)
          for (const [k, v] of given.sparse) sparse.set(k, v)
          const point = { id: p.id, vectors: { dense, sparse }, payload: segment.payload(p.id) }
          if (seen !== undefined) points[seen] = point
          else {
            at.set(p.id, points.length)
            points.push(point)
          }
        }
        return this.upsertPoints(points, seq)
      }
      case 'delete_vectors': {
        const points: { id: PointId; vectors: PointVectors; payload: Payload | undefined }[] = []
        for (const segment of this.list) {
          for (const id of selectIds(segment, op.selector)) {
            const current = segment.vectors(id)!
            const dense = new Map(current.dense)
            const sparse = new Map(current.sparse)
            for (const name of op.names) {
              dense.delete(name)
              sparse.delete(name)
            }
            points.push({ id, vectors: { dense, sparse }, payload: segment.payload(id) })
          }
        }
        return this.upsertPoints(points, seq)
      }
      case 'batch':
        for (const o of op.ops) await this.apply(o, seq)
        return
      case 'update_collection':
        return this.reconfigure(configFromJson(FORMAT_VERSION, op.config))
      default:
        for (const segment of this.list) applyOperation(segment, op, seq)
    }
  }

  /** Stores whole points in the appendable segment, removing them from any other in the same step. */
  private async upsertPoints(
    points: readonly { id: PointId; vectors: PointVectors; payload: Payload | undefined }[],
    seq: number,
  ): Promise<void> {
    if (points.length === 0) return
    const cap = this.batchCapacity
    if (points.length > cap) {
      // a filter-selected vector rewrite can exceed one segment: in segment-sized slices, in order
      for (let i = 0; i < points.length; i += cap) await this.upsertPoints(points.slice(i, i + cap), seq)
      return
    }
    this.makeRoom(points.length)
    const target = this.appendable
    // large batches are linked on every core (Segment.upsertMany); points that move out of a sealed
    // segment leave it in the same synchronous step as they appear here, never earlier
    await target.upsertMany(points, seq, () => {
      for (const p of points) {
        for (const segment of this.list) if (segment !== target) segment.delete(p.id)
      }
    })
    // once per batch: a quantizer (and IVF lists) train when the segment first holds enough vectors
    target.trainQuantizer()
    target.trainIndex()
  }

  /** Swaps made by `replace` (rebuilt, merged or vacuumed segments): the query cache keys on it. */
  get generation(): number {
    return this.replaced
  }

  /**
   * Replaces `sources` (sealed segments) by `target` at the position of the first source; an empty
   * target is dropped. The caller has made `target` hold exactly the sources' live points.
   */
  replace(sources: readonly Segment[], target: Segment): void {
    this.replaced++
    const at = this.list.indexOf(sources[0]!)
    const rest = this.list.filter((s) => !sources.includes(s))
    if (target.pointCount > 0) rest.splice(Math.min(at, rest.length - 1), 0, target)
    this.list = rest
    for (const s of sources) s.retire()
    if (target.pointCount === 0) target.close()
  }
}

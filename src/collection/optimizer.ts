// The background optimizers of a collection (Qdrant's vacuum and merge optimizers): which
// segments to rebuild, and the rebuild itself, copied in short time slices so that reads and
// writes keep being served between slices. The swap is the caller's (on its update chain).
import type { Segment } from '../segment/segment.js'
import type { CollectionConfig, PointId } from '../types.js'
import { segmentNeedsRebuild } from './reconfigure.js'
import { vectorKiB } from './segment-holder.js'

export type OptimizationKind = 'reconfigure' | 'vacuum' | 'merge'

export interface OptimizationPlan {
  readonly kind: OptimizationKind
  /** Segments rebuilt into one; the appendable one only for a vacuum or reconfigure (it is sealed first). */
  readonly sources: readonly Segment[]
}

/** Deleted fraction of a segment's stored points. */
function deletedFraction(s: Segment): number {
  return s.storedCount === 0 ? 0 : (s.storedCount - s.pointCount) / s.storedCount
}

/**
 * The next optimization, or undefined when the segments are in shape.
 * - reconfigure (Qdrant's config-mismatch optimizer): the first segment holding points whose index
 *   data `collection` (the collection's current config) would build differently: it is rebuilt with
 *   the new config;
 * - vacuum: the segment with the largest deleted fraction above `deletedThreshold`, among those
 *   with at least `vacuumMinVectorNumber` stored points;
 * - merge: when the non-empty sealed segments plus the appendable one are more than
 *   `defaultSegmentNumber`, the smallest sealed ones (two or more) whose points together stay
 *   within `maxSegmentSize` and `maxPoints` (what one segment can hold).
 * `segments`: sealed first, appendable last.
 */
export function planOptimization(
  segments: readonly Segment[],
  collection: CollectionConfig,
  dimension: number,
  maxPoints: number,
): OptimizationPlan | undefined {
  for (const s of segments) {
    if (s.storedCount > 0 && segmentNeedsRebuild(s.config, collection))
      return { kind: 'reconfigure', sources: [s] }
  }
  const config = collection.optimizers
  let worst: Segment | undefined
  for (const s of segments) {
    if (s.storedCount < Math.max(1, config.vacuumMinVectorNumber)) continue
    const f = deletedFraction(s)
    if (f > config.deletedThreshold && (worst === undefined || f > deletedFraction(worst))) worst = s
  }
  if (worst !== undefined) return { kind: 'vacuum', sources: [worst] }

  // the appendable segment is never merged: sealing it would only put a new one in its place, so
  // the count would not drop and every write would make the same merge due again
  const sealed = segments.slice(0, -1).filter((s) => s.pointCount > 0)
  if (sealed.length + 1 <= config.defaultSegmentNumber) return undefined
  sealed.sort((a, b) => a.pointCount - b.pointCount)
  const picked: Segment[] = []
  let points = 0
  for (const s of sealed) {
    if (vectorKiB(points + s.pointCount, dimension) > config.maxSegmentSize) break
    if (points + s.pointCount > maxPoints) break
    picked.push(s)
    points += s.pointCount
  }
  return picked.length >= 2 ? { kind: 'merge', sources: picked } : undefined
}

/** Yields to the event loop so that queued requests run between slices. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Milliseconds of copying between two yields. */
export const SLICE_MS = 8

/**
 * Copies the points `ids[i]` of `sources[i]` that are still live into `target` (vector, payload and
 * version), in slices of about SLICE_MS, yielding between slices. Points changed meanwhile are
 * the caller's to replay (the sources track them). Resolves false if `cancelled()` turned true.
 */
export async function copyPoints(
  sources: readonly Segment[],
  ids: readonly (readonly PointId[])[],
  target: Segment,
  cancelled: () => boolean,
): Promise<boolean> {
  for (let s = 0; s < sources.length; s++) {
    const source = sources[s]!
    const list = ids[s]!
    let i = 0
    while (i < list.length) {
      if (cancelled()) return false
      const until = performance.now() + SLICE_MS
      do {
        const id = list[i++]!
        const vectors = source.vectors(id)
        if (vectors !== undefined) target.upsert(id, vectors, source.payload(id), source.version(id)!)
      } while (i < list.length && performance.now() < until)
      await yieldToEventLoop()
    }
  }
  return !cancelled()
}

/**
 * Makes `target` (a copy of `sources` begun when their change tracking started) equal to their
 * current live points: replays the tracked changes and aligns the payload indexes. Synchronous:
 * call it on the update chain, right before the swap.
 */
export function catchUp(sources: readonly Segment[], target: Segment): void {
  for (const source of sources) {
    for (const id of source.takeChanges()) {
      const vectors = source.vectors(id)
      if (vectors === undefined) target.delete(id)
      else if (target.has(id)) target.replacePayload(id, source.payload(id), source.version(id)!)
      else target.upsert(id, vectors, source.payload(id), source.version(id)!)
    }
  }
  const wanted = new Map(sources[0]!.fieldIndexSpecs().map((spec) => [spec.field, spec]))
  const have = new Map(target.fieldIndexSpecs().map((spec) => [spec.field, spec]))
  for (const field of have.keys()) if (!wanted.has(field)) target.deleteFieldIndex(field)
  for (const [field, spec] of wanted) {
    const current = have.get(field)
    if (current === undefined || JSON.stringify(current.params) !== JSON.stringify(spec.params)) {
      target.createFieldIndex(spec)
    }
  }
}

// Geometry of the geo conditions, shared by the evaluator and the geo payload index (both must agree):
// reading a payload value as a point, haversine distance, point in box and point in polygon.
import type { GeoNode, GeoPointValue } from './ast.js'

/** Mean Earth radius in metres (IUGG), the one Qdrant's `geo` crate uses (`MEAN_EARTH_RADIUS`). */
export const EARTH_RADIUS_M = 6371008.8

const RAD = Math.PI / 180

/**
 * The payload value `v` as a geo point, or null: it must be an object (not an array) whose `lat` is a
 * number in [-90, 90] and whose `lon` is a number in [-180, 180]; other keys are ignored. Returns `v`
 * itself (no allocation). Qdrant's geo index accepts the same values; its unindexed checker would also
 * accept out-of-range numbers, which Quiver never matches so that index and evaluator agree.
 * @example asGeoPoint({ lat: 52.52, lon: 13.4, name: 'Berlin' }) // the same object
 */
export function asGeoPoint(v: unknown): GeoPointValue | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const { lat, lon } = v as { lat?: unknown; lon?: unknown }
  if (typeof lat !== 'number' || typeof lon !== 'number') return null
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null
  return v as GeoPointValue
}

/**
 * Great-circle distance in metres between two points given in degrees, by the haversine formula on a
 * sphere of radius {@link EARTH_RADIUS_M} (Sinnott, "Virtues of the Haversine", Sky & Telescope 68(2),
 * 1984; the same computation as the `geo` crate's `Haversine.distance`, which Qdrant uses).
 * @example haversineDistance(0, 0, 0, 1) // 111195.08... (one degree of the equator)
 */
export function haversineDistance(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const sinDLat = Math.sin((lat2 - lat1) * RAD * 0.5)
  const sinDLon = Math.sin((lon2 - lon1) * RAD * 0.5)
  const a = sinDLat * sinDLat + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * sinDLon * sinDLon
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)))
}

/**
 * True when (lat, lon) lies strictly less than `radius` metres from the centre (Qdrant's
 * `GeoRadius::check_point` uses `<`, so radius 0 matches nothing).
 */
export function inRadius(
  lat: number,
  lon: number,
  centerLat: number,
  centerLon: number,
  radius: number,
): boolean {
  return haversineDistance(centerLat, centerLon, lat, lon) < radius
}

/**
 * The latitudes [min, max] in degrees that hold every point within `radius` metres of a centre at
 * latitude `centerLat`: a point's great-circle distance is at least `R · |Δlat|` (in radians), so the
 * band is `centerLat ± radius / R`, widened by 1e-9° against rounding and clamped to [-90, 90] (a band
 * reaching a pole covers every longitude there).
 */
export function radiusLatBand(centerLat: number, radius: number): [number, number] {
  const d = radius / EARTH_RADIUS_M / RAD + 1e-9
  return [Math.max(-90, centerLat - d), Math.min(90, centerLat + d)]
}

/**
 * True when (lat, lon) is inside the box, edges included: bottom <= lat <= top, and left <= lon <= right
 * or, when left > right (the box crosses the antimeridian), lon >= left or lon <= right. All in degrees.
 * Qdrant's check uses strict inequalities; Quiver includes the edges.
 */
export function inBoundingBox(
  lat: number,
  lon: number,
  top: number,
  bottom: number,
  left: number,
  right: number,
): boolean {
  if (lat < bottom || lat > top) return false
  return left <= right ? lon >= left && lon <= right : lon >= left || lon <= right
}

/** Where a point lies relative to a ring: outside, on its boundary, or inside. */
export const OUTSIDE = 0
export const ON_BOUNDARY = 1
export const INSIDE = 2
export type RingLocation = typeof OUTSIDE | typeof ON_BOUNDARY | typeof INSIDE

/**
 * Locates (lat, lon) relative to a closed ring (first point = last), treating degrees as planar
 * coordinates (x = lon, y = lat) like Qdrant's `geo` crate does: boundary when the point lies on an edge
 * (exact collinearity test), else inside/outside by the even-odd crossing rule (W. R. Franklin,
 * "PNPOLY - Point Inclusion in Polygon Test", 1970/2006). Edges are never wrapped across the antimeridian.
 */
export function locateInRing(lat: number, lon: number, ring: readonly GeoPointValue[]): RingLocation {
  let inside = false
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i]!
    const b = ring[i + 1]!
    const ax = a.lon
    const ay = a.lat
    const bx = b.lon
    const by = b.lat
    if (
      (bx - ax) * (lat - ay) === (by - ay) * (lon - ax) &&
      lon >= Math.min(ax, bx) &&
      lon <= Math.max(ax, bx) &&
      lat >= Math.min(ay, by) &&
      lat <= Math.max(ay, by)
    )
      return ON_BOUNDARY
    if (ay > lat !== by > lat && lon < ax + ((lat - ay) * (bx - ax)) / (by - ay)) inside = !inside
  }
  return inside ? INSIDE : OUTSIDE
}

/**
 * True when (lat, lon) is in the interior of the polygon: strictly inside `exterior` and neither inside
 * nor on any ring of `interiors` (holes). Points on any boundary are outside, as in the `geo` crate's
 * `Polygon::contains`, which Qdrant's `geo_polygon` uses.
 */
export function inPolygon(
  lat: number,
  lon: number,
  exterior: readonly GeoPointValue[],
  interiors: readonly (readonly GeoPointValue[])[],
): boolean {
  if (locateInRing(lat, lon, exterior) !== INSIDE) return false
  for (const hole of interiors) if (locateInRing(lat, lon, hole) !== OUTSIDE) return false
  return true
}

/** A test of one point (degrees) against a geo condition's shape. */
export type GeoPointTest = (lat: number, lon: number) => boolean

/**
 * The exact point test of a geo node: {@link inRadius}, {@link inBoundingBox} or {@link inPolygon}.
 * @example geoPointTest(node)(52.5, 13.4)
 */
export function geoPointTest(node: GeoNode): GeoPointTest {
  switch (node.kind) {
    case 'geo_radius': {
      const { lat: cLat, lon: cLon, radius } = node
      return (lat, lon) => inRadius(lat, lon, cLat, cLon, radius)
    }
    case 'geo_bounding_box': {
      const { top, bottom, left, right } = node
      return (lat, lon) => inBoundingBox(lat, lon, top, bottom, left, right)
    }
    case 'geo_polygon': {
      const { exterior, interiors } = node
      return (lat, lon) => inPolygon(lat, lon, exterior, interiors)
    }
  }
}

/**
 * Latitudes [min, max] (degrees, inclusive) outside which no point passes {@link geoPointTest}: the
 * box's [bottom, top], the circle's {@link radiusLatBand}, the exterior ring's latitude extent.
 */
export function geoLatBand(node: GeoNode): [number, number] {
  switch (node.kind) {
    case 'geo_radius':
      return radiusLatBand(node.lat, node.radius)
    case 'geo_bounding_box':
      return [node.bottom, node.top]
    case 'geo_polygon': {
      let min = 90
      let max = -90
      for (const p of node.exterior) {
        if (p.lat < min) min = p.lat
        if (p.lat > max) max = p.lat
      }
      return [min, max]
    }
  }
}

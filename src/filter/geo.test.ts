import { describe, expect, it } from 'vitest'
import {
  asGeoPoint,
  EARTH_RADIUS_M,
  haversineDistance,
  INSIDE,
  inBoundingBox,
  inPolygon,
  inRadius,
  locateInRing,
  ON_BOUNDARY,
  OUTSIDE,
  radiusLatBand,
} from './geo.js'

const ring = (...pts: [number, number][]) => pts.map(([lon, lat]) => ({ lat, lon }))

describe('asGeoPoint', () => {
  it('accepts objects with numeric lat/lon in range, extra keys ignored', () => {
    const p = { lat: 1, lon: 2, name: 'x' }
    expect(asGeoPoint(p)).toBe(p)
    expect(asGeoPoint({ lat: -90, lon: 180 })).not.toBeNull()
  })

  it('refuses everything else', () => {
    for (const v of [
      null,
      1,
      'x',
      [1, 2],
      [{ lat: 1, lon: 2 }],
      { lat: '1', lon: 2 },
      { lat: 1 },
      { lon: 1 },
      { lat: 90.5, lon: 0 },
      { lat: 0, lon: -180.1 },
      { lat: Number.NaN, lon: 0 },
    ])
      expect(asGeoPoint(v)).toBeNull()
  })
})

describe('haversineDistance', () => {
  it('one degree along the equator and a meridian is R·π/180', () => {
    const deg = (EARTH_RADIUS_M * Math.PI) / 180
    expect(haversineDistance(0, 0, 0, 1)).toBeCloseTo(deg, 6)
    expect(haversineDistance(10, 20, 11, 20)).toBeCloseTo(deg, 6)
    expect(deg).toBeCloseTo(111195.08, 1)
  })

  it('is symmetric, zero for equal points, and wraps across the antimeridian', () => {
    expect(haversineDistance(52.52, 13.405, 48.8566, 2.3522)).toBeCloseTo(
      haversineDistance(48.8566, 2.3522, 52.52, 13.405),
      9,
    )
    expect(haversineDistance(12.3, 45.6, 12.3, 45.6)).toBe(0)
    expect(haversineDistance(0, 179.5, 0, -179.5)).toBeCloseTo(haversineDistance(0, 0, 0, 1), 6)
  })

  it('Berlin to Paris is about 878 km; antipodes are R·π apart', () => {
    expect(haversineDistance(52.520008, 13.404954, 48.856613, 2.352222) / 1000).toBeCloseTo(877.5, 0)
    expect(haversineDistance(90, 0, -90, 0)).toBeCloseTo(EARTH_RADIUS_M * Math.PI, 3)
    expect(haversineDistance(0, 0, 0, 180)).toBeCloseTo(EARTH_RADIUS_M * Math.PI, 3)
  })

  it('all longitudes at a pole are the same point', () => {
    expect(haversineDistance(90, 0, 90, 123)).toBeLessThan(1e-6)
  })
})

describe('inRadius / radiusLatBand', () => {
  it('is strict: radius 0 matches nothing, the boundary is outside', () => {
    expect(inRadius(1, 1, 1, 1, 0)).toBe(false)
    const d = haversineDistance(0, 0, 0, 1)
    expect(inRadius(0, 1, 0, 0, d)).toBe(false)
    expect(inRadius(0, 1, 0, 0, d + 1e-6)).toBe(true)
  })

  it('the band holds every point within the radius and is clamped at the poles', () => {
    const [lo, hi] = radiusLatBand(10, 111195.08)
    expect(lo).toBeCloseTo(9, 6)
    expect(hi).toBeCloseTo(11, 6)
    expect(radiusLatBand(89.5, 200_000)).toEqual([expect.closeTo(87.7, 1), 90])
    expect(radiusLatBand(-89.5, 200_000)).toEqual([-90, expect.closeTo(-87.7, 1)])
    expect(radiusLatBand(0, 3e7)).toEqual([-90, 90])
    // Near the North Pole a circle covers points on the far side of the pole.
    expect(inRadius(89.5, 170, 89.5, -10, 200_000)).toBe(true)
  })
})

describe('inBoundingBox', () => {
  it('includes the edges', () => {
    expect(inBoundingBox(10, 20, 10, 0, 0, 20)).toBe(true)
    expect(inBoundingBox(0, 0, 10, 0, 0, 20)).toBe(true)
    expect(inBoundingBox(10.0001, 5, 10, 0, 0, 20)).toBe(false)
    expect(inBoundingBox(5, -0.0001, 10, 0, 0, 20)).toBe(false)
  })

  it('crosses the antimeridian when left > right', () => {
    const box = [10, -10, 170, -170] as const
    expect(inBoundingBox(0, 175, ...box)).toBe(true)
    expect(inBoundingBox(0, -175, ...box)).toBe(true)
    expect(inBoundingBox(0, 180, ...box)).toBe(true)
    expect(inBoundingBox(0, -180, ...box)).toBe(true)
    expect(inBoundingBox(0, 170, ...box)).toBe(true)
    expect(inBoundingBox(0, 0, ...box)).toBe(false)
    expect(inBoundingBox(0, 169, ...box)).toBe(false)
  })

  it('a degenerate box is one line or point', () => {
    expect(inBoundingBox(5, 5, 5, 5, 5, 5)).toBe(true)
    expect(inBoundingBox(5, 5.1, 5, 5, 5, 5)).toBe(false)
  })
})

describe('locateInRing / inPolygon', () => {
  const square = ring([0, 0], [10, 0], [10, 10], [0, 10], [0, 0])
  const hole = ring([4, 4], [6, 4], [6, 6], [4, 6], [4, 4])

  it('inside, outside and on edges or vertices', () => {
    expect(locateInRing(5, 5, square)).toBe(INSIDE)
    expect(locateInRing(5, 11, square)).toBe(OUTSIDE)
    expect(locateInRing(-1, 5, square)).toBe(OUTSIDE)
    expect(locateInRing(0, 5, square)).toBe(ON_BOUNDARY)
    expect(locateInRing(10, 10, square)).toBe(ON_BOUNDARY)
    expect(locateInRing(5, 0, square)).toBe(ON_BOUNDARY)
  })

  it('handles concave rings and rays through vertices', () => {
    // A "C" shape open to the east.
    const c = ring([0, 0], [10, 0], [10, 3], [3, 3], [3, 7], [10, 7], [10, 10], [0, 10], [0, 0])
    expect(locateInRing(5, 1, c)).toBe(INSIDE)
    expect(locateInRing(5, 5, c)).toBe(OUTSIDE)
    expect(locateInRing(5, 2, c)).toBe(INSIDE)
    // The horizontal ray from (lat 3) passes along an edge and through vertices.
    expect(locateInRing(3, 1, c)).toBe(INSIDE)
    expect(locateInRing(7, 11, c)).toBe(OUTSIDE)
    const diamond = ring([5, 0], [10, 5], [5, 10], [0, 5], [5, 0])
    expect(locateInRing(5, 5, diamond)).toBe(INSIDE)
    expect(locateInRing(5, -1, diamond)).toBe(OUTSIDE)
    expect(locateInRing(5, 11, diamond)).toBe(OUTSIDE)
    expect(locateInRing(7.5, 7.5, diamond)).toBe(ON_BOUNDARY)
  })

  it('holes exclude their inside and their boundary; the exterior boundary is outside', () => {
    expect(inPolygon(2, 2, square, [hole])).toBe(true)
    expect(inPolygon(5, 5, square, [hole])).toBe(false)
    expect(inPolygon(4, 5, square, [hole])).toBe(false)
    expect(inPolygon(5, 5, square, [])).toBe(true)
    expect(inPolygon(0, 5, square, [])).toBe(false)
    expect(inPolygon(20, 20, square, [])).toBe(false)
  })

  it('a ring in either orientation gives the same answer', () => {
    const reversed = [...square].reverse()
    for (const [lat, lon] of [
      [5, 5],
      [0, 5],
      [11, 5],
      [3.3, 9.9],
    ] as const)
      expect(locateInRing(lat, lon, reversed)).toBe(locateInRing(lat, lon, square))
  })
})

import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { RecallBudget, RecallSampler, recallAtK, selectivityBucket } from './recall-sampler.js'

const hit = (id: number, score: number) => ({ id, score })

describe('recallAtK', () => {
  it('counts the exact top k found, for similarities and distances', () => {
    const truth = [hit(1, 0.9), hit(2, 0.8), hit(3, 0.7), hit(4, 0.6)]
    expect(recallAtK([hit(1, 0.9), hit(2, 0.8), hit(3, 0.7), hit(4, 0.6)], truth)).toBe(1)
    expect(recallAtK([hit(1, 0.9), hit(9, 0.5), hit(3, 0.7)], truth)).toBe(0.5)
    expect(recallAtK([], truth)).toBe(0)
    expect(recallAtK([hit(1, 0)], [])).toBe(1)
    expect(recallAtK([hit(5, 1), hit(6, 2.5)], [hit(5, 1), hit(7, 2)])).toBe(0.5)
  })
  it('lets a point tied at the k-th score stand in for a missed one, once per missed tied point', () => {
    const truth = [hit(1, 0.9), hit(2, 0.5), hit(3, 0.5)]
    // 8 ties with 2 and 3 at 0.5: it stands in for one of them
    expect(recallAtK([hit(1, 0.9), hit(2, 0.5), hit(8, 0.5)], truth)).toBe(1)
    // two stand-ins for one missed tied point: only one counts
    expect(
      recallAtK([hit(1, 0.9), hit(8, 0.5), hit(9, 0.5)], [hit(1, 0.9), hit(3, 0.6), hit(2, 0.5)]),
    ).toBeCloseTo(2 / 3)
    // a better-scored wrong point (say from approximate codes) is not a tie
    expect(recallAtK([hit(1, 0.9), hit(2, 0.5), hit(8, 0.95)], truth)).toBeCloseTo(2 / 3)
  })
})

describe('RecallBudget', () => {
  it('refills at its CPU share, saves up at most 2 s, and waits for a full budget for a costly run', () => {
    let now = 1000
    const b = new RecallBudget(0.1, () => now)
    expect(b.allows(50)).toBe(true) // 100 ms at the start
    b.take(300)
    expect(b.allows(1)).toBe(false) // -200 ms
    now += 2000 // +200 ms
    expect(b.allows(1)).toBe(false) // exactly 0: not > 0
    now += 100
    expect(b.allows(5)).toBe(true)
    now += 1_000_000
    expect(b.allows(5000)).toBe(true) // capped at 2000 ms: a costlier run waits for a full budget
    b.take(1)
    expect(b.allows(5000)).toBe(false)
  })
  it('refuses a share outside (0, 1]', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new RecallBudget(bad)).toThrow(QuiverError)
  })
})

describe('RecallSampler', () => {
  it('samples at its rate (or a given one), and keeps a Wilson interval that never collapses', () => {
    let i = 0
    const draws = [0.5, 0.05, 0.005]
    const s = new RecallSampler({ rate: 0.01, random: () => draws[i++ % draws.length]! })
    expect([s.shouldSample(), s.shouldSample(), s.shouldSample()]).toEqual([false, false, true])
    expect(s.shouldSample(1)).toBe(true)
    expect(s.shouldSample(0)).toBe(false)
    const cls = { vector: '', class: 'unfiltered', quantized: false } as const
    for (let k = 0; k < 20; k++) s.record(cls, 1)
    const [e] = s.estimates()
    expect(e).toMatchObject({ estimate: 1, upper: 1, window: 20, samples: 20 })
    expect(e!.lower).toBeLessThan(0.9) // 20 samples cannot prove recall 1
    expect(e!.lower).toBeGreaterThan(0.8)
    for (let k = 0; k < 1000; k++) s.record(cls, k % 2)
    const [f] = s.estimates()
    expect(f).toMatchObject({ window: 500, samples: 1020 })
    expect(f!.estimate).toBeCloseTo(0.5)
    expect(f!.upper - f!.lower).toBeLessThan(0.1)
  })
  it('buckets selectivity', () => {
    expect([0, 0.009, 0.01, 0.099, 0.1, 0.5, 0.51, 1].map(selectivityBucket)).toEqual([
      'lt_1pct',
      'lt_1pct',
      '1_10pct',
      '1_10pct',
      '10_50pct',
      '10_50pct',
      'gt_50pct',
      'gt_50pct',
    ])
  })
})

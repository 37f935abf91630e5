// @ts-check
// Filter workloads of the filtered-search benchmark: the seeded synthetic payload and the selectivity
// sweep conditions for glove, and the per-query predicates of sigmod24 (query.meta.jsonl).
// Every condition carries both its Qdrant filter JSON (for Quiver) and an independent JS predicate
// (for the ground truth, the violation check and hnswlib's filter callback).

/**
 * @typedef {import('../../dist/index.js').Payload} Payload
 * @typedef {import('../../dist/index.js').Filter} Filter
 */

/**
 * A filter condition of the sweep.
 * @typedef {object} Condition
 * @property {string} name Row label, e.g. `tags = s5`.
 * @property {'none' | 'keyword' | 'range' | 'must' | 'should' | 'must_not'} kind
 * @property {number} expected Selectivity the synthetic payload was designed for (fraction 0..1).
 * @property {Filter | null} filter Qdrant filter JSON; null = unfiltered.
 * @property {(payload: Payload) => boolean} test The same predicate, evaluated in JS.
 */

/**
 * mulberry32: a small seeded PRNG with uniform output in [0, 1).
 * @param {number} seed any integer
 * @returns {() => number}
 */
export function seededRng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Tags of the synthetic `tags` field: each point holds tag `name` independently with probability `p`. */
export const TAGS = /** @type {const} */ ([
  { name: 's0.1', p: 0.001 },
  { name: 's1', p: 0.01 },
  { name: 's5', p: 0.05 },
  { name: 's20', p: 0.2 },
  { name: 's50', p: 0.5 },
  { name: 's90', p: 0.9 },
])

/** Values of the synthetic `bucket` field: uniform integers 0 .. BUCKETS-1. */
export const BUCKETS = 1000

/**
 * Synthetic payloads `{ tags: string[], bucket: integer }`, one per base row, from a seeded RNG
 * (the same seed always gives the same payloads).
 * @param {number} n rows
 * @param {number} seed
 * @returns {{ tags: string[], bucket: number }[]}
 */
export function syntheticPayloads(n, seed) {
  const rng = seededRng(seed)
  const out = []
  for (let i = 0; i < n; i++) {
    const tags = []
    for (const t of TAGS) if (rng() < t.p) tags.push(t.name)
    out.push({ tags, bucket: Math.floor(rng() * BUCKETS) })
  }
  return out
}

/** @param {Payload} p @param {string} tag */
const hasTag = (p, tag) => Array.isArray(p['tags']) && p['tags'].includes(tag)
/** @param {Payload} p @param {number} lt */
const bucketBelow = (p, lt) => typeof p['bucket'] === 'number' && p['bucket'] < lt

/**
 * The glove selectivity sweep: the unfiltered baseline, a keyword match and a numeric range at each
 * selectivity of TAGS, and compound `must` / `should` / `must_not` filters.
 * @returns {Condition[]}
 */
export function sweepConditions() {
  /** @type {Condition[]} */
  const rows = [{ name: 'unfiltered', kind: 'none', expected: 1, filter: null, test: () => true }]
  for (const { name: tag, p } of TAGS) {
    rows.push({
      name: `tags = ${tag}`,
      kind: 'keyword',
      expected: p,
      filter: { must: [{ key: 'tags', match: { value: tag } }] },
      test: (pl) => hasTag(pl, tag),
    })
  }
  for (const { p } of TAGS) {
    const lt = Math.round(p * BUCKETS)
    rows.push({
      name: `bucket < ${lt}`,
      kind: 'range',
      expected: lt / BUCKETS,
      filter: { must: [{ key: 'bucket', range: { lt } }] },
      test: (pl) => bucketBelow(pl, lt),
    })
  }
  /** @type {[string, number, number][]} tag AND bucket < lt */
  const musts = [
    ['s5', 200, 0.05 * 0.2],
    ['s20', 500, 0.2 * 0.5],
    ['s90', 900, 0.9 * 0.9],
  ]
  for (const [tag, lt, expected] of musts) {
    rows.push({
      name: `tags = ${tag} AND bucket < ${lt}`,
      kind: 'must',
      expected,
      filter: {
        must: [
          { key: 'tags', match: { value: tag } },
          { key: 'bucket', range: { lt } },
        ],
      },
      test: (pl) => hasTag(pl, tag) && bucketBelow(pl, lt),
    })
  }
  /** @type {[string, number, number][]} tag OR bucket < lt */
  const shoulds = [
    ['s1', 10, 1 - 0.99 * 0.99],
    ['s20', 500, 1 - 0.8 * 0.5],
  ]
  for (const [tag, lt, expected] of shoulds) {
    rows.push({
      name: `tags = ${tag} OR bucket < ${lt}`,
      kind: 'should',
      expected,
      filter: {
        should: [
          { key: 'tags', match: { value: tag } },
          { key: 'bucket', range: { lt } },
        ],
      },
      test: (pl) => hasTag(pl, tag) || bucketBelow(pl, lt),
    })
  }
  rows.push({
    name: 'NOT tags = s90',
    kind: 'must_not',
    expected: 0.1,
    filter: { must_not: [{ key: 'tags', match: { value: 's90' } }] },
    test: (pl) => !hasTag(pl, 's90'),
  })
  return rows
}

/**
 * One sigmod24 query's predicates (a line of query.meta.jsonl).
 * @typedef {object} SigmodQueryMeta
 * @property {0 | 1 | 2 | 3} query_type 0 plain, 1 category ==, 2 timestamp range, 3 both
 * @property {number | null} category
 * @property {number | null} t_low
 * @property {number | null} t_high
 */

/** Labels of the sigmod24 query types. */
export const SIGMOD_QUERY_TYPES = ['0 plain', '1 category ==', '2 timestamp range', '3 both']

/**
 * The filter of one sigmod24 query (`category == v`, `t_low <= timestamp <= t_high`, or both) as
 * Qdrant JSON and as a JS predicate over `{ category, timestamp }` payloads.
 * Throws Error when the predicates contradict `query_type`.
 * @param {SigmodQueryMeta} q
 * @returns {{ filter: Filter | null, test: (payload: Payload) => boolean }}
 */
export function sigmodFilter(q) {
  const wantCategory = q.query_type === 1 || q.query_type === 3
  const wantRange = q.query_type === 2 || q.query_type === 3
  const { category, t_low: lo, t_high: hi } = q
  if (wantCategory !== (category !== null) || wantRange !== (lo !== null && hi !== null)) {
    throw new Error(`sigmod query meta ${JSON.stringify(q)}: predicates do not match query_type`)
  }
  /** @type {import('../../dist/index.js').Condition[]} */
  const must = []
  if (category !== null) must.push({ key: 'category', match: { value: category } })
  if (lo !== null && hi !== null) must.push({ key: 'timestamp', range: { gte: lo, lte: hi } })
  return {
    filter: must.length === 0 ? null : { must },
    test: (p) =>
      (category === null || p['category'] === category) &&
      (lo === null ||
        hi === null ||
        (typeof p['timestamp'] === 'number' && p['timestamp'] >= lo && p['timestamp'] <= hi)),
  }
}

/**
 * The rows of `payloads` that pass `test`, as a 0/1 mask.
 * @param {readonly Payload[]} payloads
 * @param {(payload: Payload) => boolean} test
 * @returns {Uint8Array}
 */
export function maskOf(payloads, test) {
  const mask = new Uint8Array(payloads.length)
  for (let i = 0; i < payloads.length; i++) if (test(/** @type {Payload} */ (payloads[i]))) mask[i] = 1
  return mask
}

/**
 * Fraction of 1s in a mask.
 * @param {Uint8Array} mask
 */
export function selectivityOf(mask) {
  let c = 0
  for (let i = 0; i < mask.length; i++) c += /** @type {number} */ (mask[i])
  return mask.length === 0 ? 0 : c / mask.length
}

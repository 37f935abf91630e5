// Compares Quiver's OpenAPI document with Qdrant's: a reference extracted from Qdrant's spec
// (`extractQdrantReference`, run by scripts/qdrant-openapi.mjs over a Qdrant checkout, committed as
// test/fixtures/qdrant-openapi.json) and the check of Quiver's document against it (`compareWithQdrant`).

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked by shape
type Any = any

/**
 * A schema reduced to what the comparison reads: the components it refers to (through unions,
 * arrays and maps) and its inline object properties, each reduced the same way.
 */
export interface Shape {
  refs?: string[]
  props?: { [name: string]: Shape }
  /** Quiver's `x-quiver-extension` on this schema (never set in Qdrant's). */
  ext?: true
}

export interface QdrantOperation {
  /** Which spec has it: "1.19", or "1.18" for the legacy endpoints 1.19 dropped. */
  spec: string
  operationId: string
  query: string[]
  /** Component name of the JSON request body, if it is one. */
  body?: string
  /** Component name of `result` in the 200 envelope (or of the unenveloped answer), if it is one. */
  result?: string
}

/** What Quiver's document is compared with: Qdrant's operations and component shapes. */
export interface QdrantReference {
  source: string
  /** `"METHOD /path"` -> operation. */
  operations: { [key: string]: QdrantOperation }
  components: { [name: string]: Shape }
}

function refName(s: Any): string | undefined {
  return typeof s?.$ref === 'string' ? s.$ref.split('/').pop() : undefined
}

/** Reduces `schema` to a `Shape` (refs not followed). */
export function shapeOf(schema: Any): Shape {
  const refs = new Set<string>()
  const props = new Map<string, Shape>()
  let ext = false
  const walk = (y: Any): void => {
    if (y === null || typeof y !== 'object') return
    if (y['x-quiver-extension'] === true) ext = true
    const name = refName(y)
    if (name !== undefined) {
      refs.add(name)
      return
    }
    for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(y[k])) for (const b of y[k]) walk(b)
    if (y.items !== undefined) walk(y.items)
    if (typeof y.additionalProperties === 'object') walk(y.additionalProperties)
    if (typeof y.patternProperties === 'object') for (const v of Object.values(y.patternProperties)) walk(v)
    if (typeof y.properties === 'object')
      for (const [p, v] of Object.entries(y.properties as object)) {
        const prev = props.get(p)
        const next = shapeOf(v)
        props.set(p, prev === undefined ? next : mergeShapes(prev, next))
      }
  }
  walk(schema)
  const out: Shape = {}
  if (refs.size > 0) out.refs = [...refs].sort()
  if (props.size > 0) out.props = Object.fromEntries([...props].sort(([a], [b]) => (a < b ? -1 : 1)))
  if (ext) out.ext = true
  return out
}

function mergeShapes(a: Shape, b: Shape): Shape {
  const out: Shape = {}
  const refs = new Set([...(a.refs ?? []), ...(b.refs ?? [])])
  if (refs.size > 0) out.refs = [...refs].sort()
  const props = new Map(Object.entries(a.props ?? {}))
  for (const [p, s] of Object.entries(b.props ?? {})) {
    const prev = props.get(p)
    props.set(p, prev === undefined ? s : mergeShapes(prev, s))
  }
  if (props.size > 0) out.props = Object.fromEntries(props)
  if (a.ext || b.ext) out.ext = true
  return out
}

function operationsOf(spec: Any, label: string): Map<string, QdrantOperation> {
  const out = new Map<string, QdrantOperation>()
  for (const [path, item] of Object.entries(spec.paths as object))
    for (const [method, op] of Object.entries(item as object)) {
      const json = (op as Any).responses?.['200']?.content?.['application/json']?.schema
      const result = refName(json?.properties?.result ?? json)
      const body = refName((op as Any).requestBody?.content?.['application/json']?.schema)
      out.set(`${method.toUpperCase()} ${path}`, {
        spec: label,
        operationId: (op as Any).operationId,
        query: ((op as Any).parameters ?? []).filter((p: Any) => p.in === 'query').map((p: Any) => p.name),
        ...(body === undefined ? {} : { body }),
        ...(result === undefined ? {} : { result }),
      })
    }
  return out
}

/**
 * Extracts the reference from Qdrant's 1.19 spec and, for what 1.19 dropped (the legacy search,
 * recommend and discover endpoints and their components), the 1.18 spec: every operation, and the
 * shapes of the components reachable from the components Quiver's document names.
 */
export function extractQdrantReference(
  spec119: Any,
  spec118: Any,
  quiverDoc: Any,
  source: string,
): QdrantReference {
  const operations = operationsOf(spec119, '1.19')
  for (const [k, op] of operationsOf(spec118, '1.18')) if (!operations.has(k)) operations.set(k, op)
  const schemas = (name: string): Any =>
    spec119.components.schemas[name] ?? spec118.components.schemas[name] ?? undefined
  const components = new Map<string, Shape>()
  const queue = Object.keys(quiverDoc.components.schemas).filter((n) => schemas(n) !== undefined)
  while (queue.length > 0) {
    const name = queue.pop()!
    if (components.has(name)) continue
    const shape = shapeOf(schemas(name))
    components.set(name, shape)
    const visit = (s: Shape): void => {
      for (const r of s.refs ?? []) if (!components.has(r) && schemas(r) !== undefined) queue.push(r)
      for (const p of Object.values(s.props ?? {})) visit(p)
    }
    visit(shape)
  }
  const full: QdrantReference = {
    source,
    operations: Object.fromEntries([...operations].sort(([a], [b]) => (a < b ? -1 : 1))),
    components: Object.fromEntries([...components].sort(([a], [b]) => (a < b ? -1 : 1))),
  }
  // keep only the components the comparison reads, so that the committed reference stays small
  const read = new Set<string>()
  const tracking = new Proxy(full.components, {
    get(target, name) {
      if (typeof name === 'string' && Object.hasOwn(target, name)) read.add(name)
      return Reflect.get(target, name)
    },
  })
  compareWithQdrant(quiverDoc, { ...full, components: tracking })
  return {
    ...full,
    components: Object.fromEntries(Object.entries(full.components).filter(([name]) => read.has(name))),
  }
}

export interface Comparison {
  /** Where Quiver's document disagrees with Qdrant's (a test fails on any). */
  mismatches: string[]
  /** Qdrant's operations and fields Quiver does not declare (the known gaps, for the docs). */
  missing: string[]
}

/**
 * Checks Quiver's document against Qdrant's reference: an operation not marked
 * `x-quiver-extension` exists in Qdrant with the same operationId, query parameters, body and
 * result component names; a marked one does not exist there; every property Quiver declares in a
 * component that Qdrant also has (followed into nested objects and referenced components) exists
 * in Qdrant's, unless marked, and a marked one does not.
 */
export function compareWithQdrant(doc: Any, ref: QdrantReference): Comparison {
  const mismatches: string[] = []
  const missing: string[] = []
  const ours = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths as object))
    for (const [method, op] of Object.entries(item as object)) {
      const key = `${method.toUpperCase()} ${path}`
      ours.add(key)
      const theirs = ref.operations[key]
      if ((op as Any)['x-quiver-extension'] === true) {
        if (theirs !== undefined) mismatches.push(`${key}: marked x-quiver-extension but Qdrant has it`)
        continue
      }
      if (theirs === undefined) {
        mismatches.push(`${key}: not in Qdrant's API (mark it x-quiver-extension)`)
        continue
      }
      if ((op as Any).operationId !== theirs.operationId)
        mismatches.push(`${key}: operationId ${(op as Any).operationId}, Qdrant's is ${theirs.operationId}`)
      for (const p of (op as Any).parameters ?? []) {
        if (p.in !== 'query') continue
        const known = theirs.query.includes(p.name)
        if (!known && p['x-quiver-extension'] !== true)
          mismatches.push(`${key}: query parameter ${p.name} is not Qdrant's (mark it x-quiver-extension)`)
        if (known && p['x-quiver-extension'] === true)
          mismatches.push(`${key}: query parameter ${p.name} is marked x-quiver-extension but Qdrant has it`)
      }
      for (const q of theirs.query)
        if (!((op as Any).parameters ?? []).some((p: Any) => p.in === 'query' && p.name === q))
          missing.push(`${key}: query parameter ${q}`)
      const body = refName((op as Any).requestBody?.content?.['application/json']?.schema)
      if (theirs.body !== undefined && body !== theirs.body)
        mismatches.push(`${key}: request body ${body ?? '(none)'}, Qdrant's is ${theirs.body}`)
      const json = (op as Any).responses?.['200']?.content?.['application/json']?.schema
      const result = refName(json?.properties?.result ?? json)
      if (theirs.result !== undefined && result !== undefined && result !== theirs.result)
        mismatches.push(`${key}: result ${result}, Qdrant's is ${theirs.result}`)
    }
  for (const key of Object.keys(ref.operations))
    if (!ours.has(key) && ref.operations[key]!.spec === '1.19') missing.push(`${key}: endpoint`)

  const quiver = doc.components.schemas as { [name: string]: Any }
  const resolveOurs = (s: Shape): Shape =>
    (s.refs ?? []).reduce(
      (acc, r) => (quiver[r] === undefined ? acc : mergeShapes(acc, shapeOf(quiver[r]))),
      {
        ...s,
        refs: [],
      } as Shape,
    )
  const resolveTheirs = (s: Shape, depth: number): Shape =>
    depth > 3
      ? s
      : (s.refs ?? []).reduce(
          (acc, r) => {
            const c = ref.components[r]
            return c === undefined ? acc : mergeShapes(acc, resolveTheirs(c, depth + 1))
          },
          { ...s, refs: [] } as Shape,
        )
  const seen = new Set<string>()
  const compare = (where: string, mine: Shape, theirs: Shape, depth: number): void => {
    if (depth > 6) return
    const a = resolveOurs(mine)
    const b = resolveTheirs(theirs, 0)
    if (b.props === undefined) return // a free-form map or a scalar in Qdrant: nothing to name
    for (const [p, s] of Object.entries(a.props ?? {})) {
      const there = b.props[p]
      const at = `${where}.${p}`
      if (there === undefined) {
        if (!s.ext && !resolveOurs(s).ext)
          mismatches.push(`${at}: not in Qdrant's schema (mark it x-quiver-extension)`)
        continue
      }
      if (s.ext) mismatches.push(`${at}: marked x-quiver-extension but Qdrant has it`)
      const k = `${at}`
      if (seen.has(k)) continue
      seen.add(k)
      compare(at, s, there, depth + 1)
    }
    if (depth === 0)
      for (const p of Object.keys(b.props)) if (a.props?.[p] === undefined) missing.push(`${where}.${p}`)
  }
  for (const name of Object.keys(quiver).sort()) {
    const theirs = ref.components[name]
    if (theirs === undefined) continue
    if (shapeOf(quiver[name]).ext) {
      mismatches.push(`${name}: marked x-quiver-extension but Qdrant has a component of that name`)
      continue
    }
    compare(name, shapeOf(quiver[name]), theirs, 0)
  }
  return { mismatches, missing }
}

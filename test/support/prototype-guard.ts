// Runs in every test file (vitest `setupFiles`): fails the file if anything it ran (the server in
// process, the engine) added, removed or replaced a property of Object.prototype, Array.prototype,
// Function.prototype or Object, e.g. through a user-supplied key such as `__proto__` reaching a plain object.
import { afterAll, expect } from 'vitest'

type Snapshot = Map<PropertyKey, unknown>

function snapshot(proto: object): Snapshot {
  const out: Snapshot = new Map()
  for (const key of Reflect.ownKeys(proto)) {
    const d = Reflect.getOwnPropertyDescriptor(proto, key)
    out.set(key, d && ('value' in d ? d.value : [d.get, d.set]))
  }
  return out
}

function changes(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = []
  for (const [k, v] of after) {
    if (!before.has(k)) out.push(`added ${String(k)}`)
    else {
      const was = before.get(k)
      const same =
        Array.isArray(v) && Array.isArray(was) ? v.every((x, i) => x === was[i]) : Object.is(v, was)
      if (!same) out.push(`replaced ${String(k)}`)
    }
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`removed ${String(k)}`)
  return out
}

const objectBefore = snapshot(Object.prototype)
const arrayBefore = snapshot(Array.prototype)
const functionBefore = snapshot(Function.prototype)
const objectCtorBefore = snapshot(Object)

afterAll(() => {
  expect(changes(objectBefore, snapshot(Object.prototype)), 'Object.prototype changed').toEqual([])
  expect(changes(arrayBefore, snapshot(Array.prototype)), 'Array.prototype changed').toEqual([])
  expect(changes(functionBefore, snapshot(Function.prototype)), 'Function.prototype changed').toEqual([])
  expect(changes(objectCtorBefore, snapshot(Object)), 'Object changed').toEqual([])
})

// Public API of the `quiver` package (re-exports only).
export * from './errors.js'
export { comparePointIds, parsePointId } from './point-id.js'
export type * from './types.js'

// Binary (1-bit) quantization of the stored vectors. STUB: the owner replaces every body; the signatures of
// the bqReserve / bqEncode / bqPrepare / bqDistance hooks are the contract with codes.ts.

/** Pointer to this quantizer's shared state in memory (0 = not configured). */
export let bqState: usize = 0

export function bqReserve(oldCap: i32, newCap: i32): void {}

export function bqEncode(node: i32, v: usize): void {}

export function bqPrepare(q: usize): void {}

@inline export function bqDistance(node: i32): f32 {
  return 0
}

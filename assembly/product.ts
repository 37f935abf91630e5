// Product quantization of the stored vectors. STUB: the owner replaces every body; the signatures of
// the pqReserve / pqEncode / pqPrepare / pqDistance hooks are the contract with codes.ts.

/** Pointer to this quantizer's shared state in memory (0 = not configured). */
export let pqState: usize = 0

export function pqReserve(oldCap: i32, newCap: i32): void {}

export function pqEncode(node: i32, v: usize): void {}

export function pqPrepare(q: usize): void {}

@inline export function pqDistance(node: i32): f32 {
  return 0
}

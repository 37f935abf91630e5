// Scalar (int8) quantization of the stored vectors. STUB: the owner replaces every body; the signatures of
// the sqReserve / sqEncode / sqPrepare / sqDistance hooks are the contract with codes.ts.

/** Pointer to this quantizer's shared state in memory (0 = not configured). */
export let sqState: usize = 0

export function sqReserve(oldCap: i32, newCap: i32): void {}

export function sqEncode(node: i32, v: usize): void {}

export function sqPrepare(q: usize): void {}

@inline export function sqDistance(node: i32): f32 {
  return 0
}

// IVF (inverted file) search over the stored vectors. STUB: the owner replaces this file.

/** Pointer to the IVF shared state in memory (0 = not configured). */
export let ivfState: usize = 0

// Helpers of the cluster suites that drive `quiver serve --cluster` processes with the Qdrant client.
import type { QdrantClient } from '@qdrant/js-client-rest'
import type { CliProcess } from './cli.js'

/** A `quiver serve --cluster` child process and a Qdrant client on it. */
export interface QuiverNode {
  nodeId: string
  dir: string
  proc: CliProcess
  url: string
  client: QdrantClient
}

/** A deterministic vector in [-1, 1)^dim for `seed` (`salt` separates the suites' data). */
export function seededVector(seed: number, dim: number, salt: number): number[] {
  let s = (seed * 2654435761 + salt) % 2147483648
  return Array.from({ length: dim }, () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * 2 - 1
  })
}

/** Every point id collection `name` holds on `node` (scrolled in pages of 1000). */
export async function idsOn(node: QuiverNode, name: string): Promise<Set<number>> {
  const out = new Set<number>()
  let offset: number | string | null | undefined
  do {
    const page = await node.client.scroll(name, {
      limit: 1000,
      with_payload: false,
      ...(offset == null ? {} : { offset }),
    })
    for (const p of page.points) out.add(p.id as number)
    offset = page.next_page_offset as number | string | null | undefined
  } while (offset != null)
  return out
}

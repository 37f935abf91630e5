// `GET /issues` and `DELETE /issues` (Qdrant's issues report, "Beta"): configuration suggestions
// drawn from what the collections observed; today fields filtered on without a payload index.
import type { FastifyInstance } from 'fastify'
import { UNINDEXED_OTHER } from '../../collection/collection.js'
import type { ServerDatabase } from '../database.js'
import { sendOk } from '../reply.js'

/** Qdrant's `IssueRecord`; `solution` is Qdrant's externally tagged `Solution` (`refactor` here). */
export interface WireIssue {
  /** `UNINDEXED_FIELD/<collection>/<field>`, as Qdrant's `<code>/<instance>`. */
  id: string
  description: string
  solution: { refactor: string }
  /** When this server first saw the issue (ISO 8601). */
  timestamp: string
  related_collection: string | null
}

/** Qdrant's `IssuesReport`. */
export interface WireIssuesReport {
  issues: WireIssue[]
}

/**
 * Keeps, per issue, when it was first seen and how often its cause had been observed when the
 * issues were last cleared: a cleared issue comes back only when it happens again.
 */
export class IssueBoard {
  private readonly firstSeen = new Map<string, string>()
  private readonly clearedAt = new Map<string, number>()

  constructor(
    private readonly db: Pick<ServerDatabase, 'listCollections' | 'getCollection'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async observed(): Promise<{ id: string; collection: string; field: string; count: number }[]> {
    const out: { id: string; collection: string; field: string; count: number }[] = []
    for (const name of this.db.listCollections()) {
      let info: Awaited<ReturnType<Awaited<ReturnType<ServerDatabase['getCollection']>>['info']>>
      try {
        info = await (await this.db.getCollection(name)).info()
      } catch {
        continue // dropped meanwhile, or unavailable (reported by /telemetry)
      }
      for (const [field, count] of Object.entries(info.unindexedFilterFields)) {
        if (field === UNINDEXED_OTHER) continue
        out.push({ id: `UNINDEXED_FIELD/${name}/${field}`, collection: name, field, count })
      }
    }
    return out
  }

  /** The current issues, in collection then field order of discovery. */
  async report(): Promise<WireIssuesReport> {
    const issues: WireIssue[] = []
    for (const o of await this.observed()) {
      if (o.count <= (this.clearedAt.get(o.id) ?? 0)) continue
      let at = this.firstSeen.get(o.id)
      if (at === undefined) {
        at = this.now().toISOString()
        this.firstSeen.set(o.id, at)
      }
      issues.push({
        id: o.id,
        description: `Unindexed field '${o.field}' might be slowing queries down in collection '${o.collection}'`,
        solution: {
          refactor: `Create a payload index on field '${o.field}' in collection '${o.collection}' (PUT /collections/${o.collection}/index with the field's schema); Qdrant's documentation: https://qdrant.tech/documentation/concepts/indexing/#payload-index`,
        },
        timestamp: at,
        related_collection: o.collection,
      })
    }
    return { issues }
  }

  /** Clears every issue reported so far. */
  async clear(): Promise<void> {
    for (const o of await this.observed()) {
      this.clearedAt.set(o.id, o.count)
      this.firstSeen.delete(o.id)
    }
  }
}

/** `GET /issues` -> `{ result: { issues }, status, time }`; `DELETE /issues` -> `{ result: true }`. */
export function registerIssueRoutes(app: FastifyInstance, db: ServerDatabase): void {
  const board = new IssueBoard(db)
  app.get('/issues', async (_req, reply) => sendOk(reply, await board.report()))
  app.delete('/issues', async (_req, reply) => {
    await board.clear()
    return sendOk(reply, true)
  })
}

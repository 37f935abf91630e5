// LangChain's QdrantVectorStore (@langchain/qdrant, over the official client) against a real Quiver
// server, with a deterministic fake Embeddings (a fixed table, no network): add documents, then
// similaritySearch, similaritySearchWithScore, maxMarginalRelevanceSearch and an MMR retriever.
// The documents hold three near-duplicates about cats: plain similarity returns those three, MMR
// returns one of them and then the most relevant documents on other topics.
import { Embeddings } from '@langchain/core/embeddings'
import { QdrantVectorStore } from '@langchain/qdrant'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './server-harness.js'

/** Text -> embedding (4 dimensions, as Cosine sees them: direction only). */
const TABLE = new Map<string, number[]>([
  ['Cats purr when they are happy.', [1, 0.02, 0, 0]],
  ['A happy cat purrs.', [1, 0.03, 0.01, 0]],
  ['Purring is how cats show they are happy.', [0.99, 0.04, 0, 0.01]],
  ['Dogs wag their tails when they are happy.', [0.6, 0.8, 0, 0]],
  ['Happy birds sing in the morning.', [0.5, 0, 0.85, 0]],
  ['Stock prices fell sharply today.', [0, 0, 0, 1]],
  // queries
  ['happy cat', [0.9, 0.3, 0.3, 0]],
  ['markets', [0, 0.1, 0, 1]],
  // QdrantVectorStore embeds "test" to learn the dimension when it creates the collection
  ['test', [0, 0, 0, 1]],
])
const CATS = [...TABLE.keys()].slice(0, 3)
const DOCS = [...TABLE.keys()].slice(0, 6)

/** Looks texts up in TABLE; an unknown text is a bug in the test, so it throws. */
class TableEmbeddings extends Embeddings {
  constructor() {
    super({})
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.lookup(t))
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.lookup(text)
  }
  private lookup(text: string): number[] {
    const v = TABLE.get(text)
    if (v === undefined) throw new Error(`no embedding for ${JSON.stringify(text)}`)
    return v
  }
}

function cosine(a: readonly number[], b: readonly number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0)
  return dot / (Math.hypot(...a) * Math.hypot(...b))
}

describe('LangChain QdrantVectorStore against Quiver', () => {
  let srv: TestServer
  let store: QdrantVectorStore
  const embeddings = new TableEmbeddings()

  beforeAll(async () => {
    srv = await startTestServer()
    const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    store = new QdrantVectorStore(embeddings, { client, collectionName: 'lc-docs' })
    await store.addDocuments(
      DOCS.map((text, i) => ({ pageContent: text, metadata: { n: i, topic: i < 3 ? 'cats' : 'other' } })),
    )
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('created a Cosine collection and stored every document with its metadata', async () => {
    const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    const info = await client.getCollection('lc-docs')
    expect(info.config.params.vectors).toEqual({ size: 4, distance: 'Cosine' })
    expect(info.points_count).toBe(DOCS.length)
  })

  it('similaritySearch returns the nearest documents: the three near-duplicates', async () => {
    const docs = await store.similaritySearch('happy cat', 3)
    expect(docs.map((d) => d.pageContent).sort()).toEqual([...CATS].sort())
    for (const d of docs) expect(d.metadata.topic).toBe('cats')
    const filtered = await store.similaritySearch('happy cat', 2, {
      must: [{ key: 'metadata.topic', match: { value: 'other' } }],
    })
    expect(filtered.map((d) => d.pageContent)).toEqual([
      'Dogs wag their tails when they are happy.',
      'Happy birds sing in the morning.',
    ])
  })

  it('similaritySearchWithScore gives Cosine scores, best first', async () => {
    const q = TABLE.get('markets')!
    const hits = await store.similaritySearchWithScore('markets', 6)
    expect(hits).toHaveLength(6)
    expect(hits[0]![0].pageContent).toBe('Stock prices fell sharply today.')
    for (const [doc, score] of hits) expect(score).toBeCloseTo(cosine(q, TABLE.get(doc.pageContent)!), 5)
    for (let i = 1; i < hits.length; i++) expect(hits[i]![1]).toBeLessThanOrEqual(hits[i - 1]![1])
  })

  // @langchain/qdrant sends LangChain's lambda (1 = relevance) as Qdrant's diversity (1 = diversity):
  // 0.5 means the same on both sides
  it('maxMarginalRelevanceSearch picks one near-duplicate, then diverse documents', async () => {
    const docs = await store.maxMarginalRelevanceSearch('happy cat', { k: 3, fetchK: 6, lambda: 0.5 })
    const texts = docs.map((d) => d.pageContent)
    expect(texts).toHaveLength(3)
    expect(texts.filter((t) => CATS.includes(t))).toHaveLength(1)
    // MMR with diversity 0.5: after the best cat document, the birds (less similar to it than the
    // dogs are) and then the dogs; the stock document is irrelevant to the query
    expect(texts.slice(1)).toEqual([
      'Happy birds sing in the morning.',
      'Dogs wag their tails when they are happy.',
    ])
  })

  it('an MMR retriever (asRetriever({ searchType: "mmr" })) returns the same diverse documents', async () => {
    const retriever = store.asRetriever({ searchType: 'mmr', k: 3, searchKwargs: { fetchK: 6, lambda: 0.5 } })
    const docs = await retriever.invoke('happy cat')
    const mmr = await store.maxMarginalRelevanceSearch('happy cat', { k: 3, fetchK: 6, lambda: 0.5 })
    expect(docs.map((d) => d.pageContent)).toEqual(mmr.map((d) => d.pageContent))
    const plain = await store.asRetriever({ k: 3 }).invoke('happy cat')
    expect(plain.map((d) => d.pageContent).sort()).toEqual([...CATS].sort())
    expect(docs.filter((d) => CATS.includes(d.pageContent))).toHaveLength(1)
  })
})

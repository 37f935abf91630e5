// Public surface of the sparse module: the inverted index of a segment's sparse vectors and
// Qdrant's server-side BM25 model (docs/sparse.md).
export {
  type Bm25Options,
  type Bm25Tokenizer,
  bm25Document,
  bm25Query,
  bm25Tokens,
  foldToAscii,
  isBm25Model,
  MAX_BM25_TEXT_LENGTH,
  murmur3x86_32,
  parseBm25Options,
  stemWord,
  tokenId,
} from './bm25.js'
export { idf, SparseIndex, type SparseVector, toSparseVector } from './sparse-index.js'

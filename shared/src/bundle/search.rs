//! Searching a whole bundle (format version 1): passages from the HNSW graph and from BM25, fused
//! by [`fuse`]. The steps are public one by one so that callers can time them; [`Bundle::search`]
//! runs them all.

use super::Bundle;
use crate::hnsw;
use crate::search::{fuse, Hit, Mode, SearchOptions};
use crate::text::Analyzer;
use crate::topk::top_k;

impl Bundle {
    /// The `n` passages closest to `query` (a unit vector from the bundle's model), best first.
    pub fn dense_passages(&self, query: &[f32], n: usize, ef: Option<usize>) -> Vec<(u32, f32)> {
        let ef = ef.unwrap_or(self.manifest.hnsw.ef_search).max(n);
        let prepared = self.vectors.prepare(query);
        if !self.vectors.quantization().rescores() {
            return hnsw::search(&self.graph, n, ef, |row| self.vectors.score(&prepared, row));
        }
        let found = hnsw::search(&self.graph, ef, ef, |row| self.vectors.score(&prepared, row));
        top_k(found.into_iter().map(|(row, _)| (row, self.vectors.rescore(&prepared, row))), n)
    }

    /// The `n` best passages for `query` by BM25, best first.
    pub fn bm25_passages(&self, analyzer: &Analyzer, query: &str, n: usize) -> Vec<(u32, f32)> {
        self.bm25.search(&analyzer.analyze(query), n)
    }

    /// Fuses the passage lists `mode` uses and keeps each document's best passage, `k` documents.
    pub fn fuse(&self, mode: Mode, dense: &[(u32, f32)], lexical: &[(u32, f32)], k: usize) -> Vec<Hit> {
        fuse(mode, dense, lexical, k, |passage| self.docs.passages[passage as usize].doc)
    }

    /// Runs a whole search. `vector` is the query's embedding; without one, dense retrieval adds nothing.
    pub fn search(&self, analyzer: &Analyzer, query: &str, vector: Option<&[f32]>, options: &SearchOptions) -> Vec<Hit> {
        let n = options.candidates.max(options.k);
        let dense = match (options.mode.is_dense(), vector) {
            (true, Some(vector)) => self.dense_passages(vector, n, options.ef),
            _ => Vec::new(),
        };
        let lexical = if options.mode == Mode::Dense { Vec::new() } else { self.bm25_passages(analyzer, query, n) };
        self.fuse(options.mode, &dense, &lexical, options.k)
    }
}

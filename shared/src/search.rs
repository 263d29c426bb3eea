//! Searching a bundle: passages from the HNSW graph and from BM25, fused by Reciprocal Rank
//! Fusion, then grouped into documents, each shown by its best passage.
//!
//! The steps are public one by one so that callers can time them; [`Bundle::search`] runs them all.

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::fusion::{reciprocal_rank_fusion, RRF_K};
use crate::hnsw;
use crate::text::Analyzer;
use crate::topk::top_k;

/// Which retrievers answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Dense and BM25, fused by RRF.
    #[default]
    Hybrid,
    Dense,
    Bm25,
}

impl Mode {
    /// Whether this mode needs the query's vector.
    pub fn is_dense(self) -> bool {
        self != Self::Bm25
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "dense" => Ok(Self::Dense),
            "bm25" => Ok(Self::Bm25),
            _ => Err(format!("unknown mode {s:?} (hybrid, dense, bm25)")),
        }
    }
}

/// How one search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOptions {
    /// Documents returned.
    pub k: usize,
    pub mode: Mode,
    /// Beam width on the graph's bottom layer; `None` takes the bundle's default.
    pub ef: Option<usize>,
    /// Passages each retriever hands to fusion (at least `k`).
    pub candidates: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { k: 10, mode: Mode::Hybrid, ef: None, candidates: 100 }
    }
}

/// One document in the results, with the passage that ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    pub doc: u32,
    pub passage: u32,
    pub score: f32,
}

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

/// Fuses the passage lists `mode` uses and keeps each document's best passage, `k` documents;
/// `doc_of` names a passage's document. A whole bundle and one fetched in fragments share it.
pub fn fuse(mode: Mode, dense: &[(u32, f32)], lexical: &[(u32, f32)], k: usize, doc_of: impl Fn(u32) -> u32) -> Vec<Hit> {
    let limit = dense.len() + lexical.len();
    let ranked = match mode {
        Mode::Hybrid => reciprocal_rank_fusion(&[dense, lexical], RRF_K, limit),
        Mode::Dense => dense.to_vec(),
        Mode::Bm25 => lexical.to_vec(),
    };
    let mut seen = std::collections::HashSet::new();
    ranked
        .into_iter()
        .filter_map(|(passage, score)| {
            let doc = doc_of(passage);
            seen.insert(doc).then_some(Hit { doc, passage, score })
        })
        .take(k)
        .collect()
}

//! What every search shares: the mode, the options, a hit, and
//! [`fuse`], which merges the dense and BM25 passage lists by Reciprocal Rank Fusion and groups
//! them into documents, each shown by its best passage.

use serde::{Deserialize, Serialize};

use crate::filters::Filters;
use crate::fusion::{reciprocal_rank_fusion, RRF_K};

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

    /// The name `FromStr` reads and serde writes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Dense => "dense",
            Self::Bm25 => "bm25",
        }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOptions {
    /// Documents returned.
    pub k: usize,
    pub mode: Mode,
    /// Candidates the passages' sign codes pick for rescoring with their vectors; `None` takes the
    /// bundle's calibrated depth.
    pub rescore: Option<usize>,
    /// Passages each retriever hands to fusion (at least `k`).
    pub candidates: usize,
    /// The last term matches every term it begins, as while a visitor types it (BM25 only; see
    /// [`crate::bm25_shards`]).
    pub prefix: bool,
    /// Only documents that pass these ([`crate::filters`]); none: every document.
    pub filters: Filters,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { k: 10, mode: Mode::Hybrid, rescore: None, candidates: 100, prefix: false, filters: Filters::new() }
    }
}

/// One document in the results, with the passage that ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    pub doc: u32,
    pub passage: u32,
    pub score: f32,
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

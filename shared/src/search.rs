//! What every search shares: the mode, the options, a hit,
//! [`fuse`], which merges the dense and BM25 passage lists (and a generative retriever's, put in
//! passages by [`document_passages`]) by Reciprocal Rank Fusion and groups them into documents,
//! each shown by its best passage, and [`feedback_query`], which moves a hybrid search's query
//! vector toward the passages its first fused ranking puts on top (Rocchio feedback).

use std::collections::{HashMap, HashSet};

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
    /// Hybrid search only: the first fused ranking's top passages whose vectors move the query
    /// ([`feedback_query`]) before the dense list is searched again and fused again; 0 searches
    /// once.
    pub feedback: usize,
}

impl SearchOptions {
    /// Whether a search with a query vector feeds its first ranking back ([`SearchOptions::feedback`]).
    pub fn feeds_back(&self) -> bool {
        self.mode == Mode::Hybrid && self.feedback > 0
    }
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            k: 10,
            mode: Mode::Hybrid,
            rescore: None,
            candidates: 100,
            prefix: false,
            filters: Filters::new(),
            feedback: FEEDBACK_PASSAGES,
        }
    }
}

/// Passages a hybrid search feeds back by default: results/models.md ("Feedback") measured 3 and
/// 5, weights 0.5 and 1, on every collection here.
pub const FEEDBACK_PASSAGES: usize = 3;
/// The weight of the fed-back passages' mean against the query's own vector.
pub const FEEDBACK_WEIGHT: f32 = 0.5;

/// Rocchio feedback in the passages' vector space: the unit vector along `query` plus
/// [`FEEDBACK_WEIGHT`] times the mean of the `passages`' unit vectors. A query encoder that is
/// cheaper than the passages' model (a static one, say) misplaces queries that the passages the
/// first ranking trusts most place better; the fused ranking is more often right at its top than
/// either list alone, which is why dense search alone does not feed back.
pub fn feedback_query(query: &[f32], passages: &[Vec<f32>]) -> Vec<f32> {
    let unit = |v: &[f32]| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| if norm > 0.0 { x / norm } else { 0.0 }).collect::<Vec<f32>>()
    };
    let mut moved = unit(query);
    let weight = FEEDBACK_WEIGHT / passages.len().max(1) as f32;
    for passage in passages {
        for (m, p) in moved.iter_mut().zip(unit(passage)) {
            *m += weight * p;
        }
    }
    unit(&moved)
}

/// One document in the results, with the passage that ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    pub doc: u32,
    pub passage: u32,
    pub score: f32,
}

/// Fuses the passage lists `mode` uses and keeps each document's best passage, `k` documents;
/// `doc_of` names a passage's document. `generative` is a third list that hybrid mode fuses (empty:
/// none). A whole bundle and one fetched in fragments share it.
pub fn fuse(
    mode: Mode,
    dense: &[(u32, f32)],
    lexical: &[(u32, f32)],
    generative: &[(u32, f32)],
    k: usize,
    doc_of: impl Fn(u32) -> u32,
) -> Vec<Hit> {
    let limit = dense.len() + lexical.len() + generative.len();
    let ranked = match mode {
        Mode::Hybrid => reciprocal_rank_fusion(&[dense, lexical, generative], RRF_K, limit),
        Mode::Dense => dense.to_vec(),
        Mode::Bm25 => lexical.to_vec(),
    };
    let mut seen = HashSet::new();
    ranked
        .into_iter()
        .filter_map(|(passage, score)| {
            let doc = doc_of(passage);
            seen.insert(doc).then_some(Hit { doc, passage, score })
        })
        .take(k)
        .collect()
}

/// A generative retriever's ranked documents as passages, to fuse with the passage `lists`: each
/// document stands for its passage that comes first in them, so the lists reinforce one
/// another, else for `first_passage(doc)`; `doc_of` names a passage's document.
pub fn document_passages(
    docs: &[(u32, f32)],
    lists: &[&[(u32, f32)]],
    doc_of: impl Fn(u32) -> u32,
    first_passage: impl Fn(u32) -> u32,
) -> Vec<(u32, f32)> {
    let mut ranked: HashMap<u32, u32> = HashMap::new();
    for &(passage, _) in lists.iter().flat_map(|list| list.iter()) {
        ranked.entry(doc_of(passage)).or_insert(passage);
    }
    docs.iter().map(|&(doc, score)| (ranked.get(&doc).copied().unwrap_or_else(|| first_passage(doc)), score)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passages 0-1 belong to document 0, 2-3 to 1, 4-5 to 2.
    fn doc_of(passage: u32) -> u32 {
        passage / 2
    }

    #[test]
    fn feedback_moves_the_query_toward_the_passages_by_half_their_mean() {
        let moved = feedback_query(&[2.0, 0.0], &[vec![0.0, 3.0], vec![0.0, 1.0]]);
        let norm = (1.0f32 + 0.25).sqrt();
        assert!((moved[0] - 1.0 / norm).abs() < 1e-6 && (moved[1] - 0.5 / norm).abs() < 1e-6, "{moved:?}");
        let alone = feedback_query(&[0.6, 0.8], &[]);
        assert!((alone[0] - 0.6).abs() < 1e-6 && (alone[1] - 0.8).abs() < 1e-6, "no passages leave the query as it was: {alone:?}");
        assert!(SearchOptions::default().feeds_back());
        assert!(!SearchOptions { mode: Mode::Dense, ..SearchOptions::default() }.feeds_back());
        assert!(!SearchOptions { feedback: 0, ..SearchOptions::default() }.feeds_back());
    }

    #[test]
    fn generative_documents_take_the_passage_the_other_lists_rank_and_fuse_as_a_third_list() {
        let dense = [(3, 0.9), (0, 0.5)];
        let lexical = [(1, 7.0)];
        let docs = [(1, -0.1), (2, -0.2)];
        let passages = document_passages(&docs, &[&dense, &lexical], doc_of, |doc| doc * 2);
        assert_eq!(passages, vec![(3, -0.1), (4, -0.2)], "document 1 is shown by the passage dense ranked; 2 by its first");
        // Passages 3 and 1 tie at 1/61; the lower number comes first.
        let two = fuse(Mode::Hybrid, &dense, &lexical, &[], 3, doc_of);
        assert_eq!(two.iter().map(|h| (h.doc, h.passage)).collect::<Vec<_>>(), vec![(0, 1), (1, 3)]);
        let three = fuse(Mode::Hybrid, &dense, &lexical, &passages, 3, doc_of);
        assert_eq!(three.iter().map(|h| (h.doc, h.passage)).collect::<Vec<_>>(), vec![(1, 3), (0, 1), (2, 4)]);
        assert_eq!(fuse(Mode::Dense, &dense, &lexical, &passages, 3, doc_of), fuse(Mode::Dense, &dense, &lexical, &[], 3, doc_of));
    }
}

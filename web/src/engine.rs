//! One query in the browser, start to end: encode it, search the graph and BM25, fuse, and turn the
//! hits into what the page shows, timing each step.

use dowse_core::bundle::Bundle;
use dowse_core::search::{Mode, SearchOptions};
use dowse_core::text::{snippet, Analyzer, Snippet};

use crate::clock::now_ms;
use crate::encoder::QueryEncoder;

/// Snippet length in bytes.
const SNIPPET_BYTES: usize = 240;

/// A loaded bundle and the encoder for its queries.
pub struct Engine {
    pub bundle: Bundle,
    pub encoder: QueryEncoder,
    analyzer: Analyzer,
}

/// One document in the results.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultItem {
    pub doc_id: String,
    pub title: String,
    pub heading: String,
    pub url: Option<String>,
    pub snippet: Snippet,
    /// The whole passage, for the reranker.
    pub text: String,
    pub passage: u32,
    pub score: f32,
}

/// Milliseconds per step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Word pieces (or a DSSM's trigrams) encoded; 0 for BM25 alone.
    pub tokens: usize,
    /// What `tokens` counts; empty for BM25 alone.
    pub unit: &'static str,
    pub tokenize: f64,
    pub encode: f64,
    pub search: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub query: String,
    pub items: Vec<ResultItem>,
    pub timings: Timings,
    /// Where the query falls on the embedding map; none for BM25 alone.
    pub point: Option<[f32; 2]>,
}

impl Engine {
    pub fn new(bundle: Bundle, encoder: QueryEncoder) -> Self {
        Self { bundle, encoder, analyzer: Analyzer::default() }
    }

    /// Encodes a short text once so that the first real query does not pay for shader
    /// compilation and first allocations.
    pub async fn warm_up(&self) -> Result<(), String> {
        self.encoder.encode("warm up the query encoder").await.map(|_| ())
    }

    pub async fn search(&self, query: &str, mode: Mode, k: usize) -> Result<Outcome, String> {
        let mut timings = Timings::default();
        let encoding = if mode.is_dense() { Some(self.encoder.encode(query).await?) } else { None };
        if let Some(encoding) = &encoding {
            timings.tokens = encoding.tokens;
            timings.unit = encoding.unit;
            timings.tokenize = encoding.tokenize_ms;
            timings.encode = encoding.encode_ms;
        }
        let start = now_ms();
        let options = SearchOptions { k, mode, ..SearchOptions::default() };
        let hits = self.bundle.search(&self.analyzer, query, encoding.as_ref().map(|e| e.vector.as_slice()), &options);
        timings.search = now_ms() - start;
        let items = hits
            .iter()
            .map(|hit| {
                let doc = &self.bundle.docs.documents[hit.doc as usize];
                let passage = &self.bundle.docs.passages[hit.passage as usize];
                ResultItem {
                    doc_id: doc.id.clone(),
                    title: doc.title.clone(),
                    heading: passage.heading.clone(),
                    url: self.bundle.docs.passage_url(hit.passage).map(str::to_string),
                    snippet: snippet(&self.analyzer, &passage.text, query, SNIPPET_BYTES),
                    text: self.bundle.docs.passage_text(hit.passage),
                    passage: hit.passage,
                    score: hit.score,
                }
            })
            .collect();
        let point = encoding.map(|e| self.bundle.map.project(&e.vector));
        Ok(Outcome { query: query.to_string(), items, timings, point })
    }
}

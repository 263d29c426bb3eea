//! The optional server: `/api/health` says whether a cross-encoder is there, `/api/rerank`
//! reorders the client's top results. Any failure leaves the client's order in place.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::fetch::fetch_json;

/// How long the probe at start may take.
const PROBE_TIMEOUT_MS: i32 = 3_000;
/// How long a rerank may take before the client order is shown instead.
pub const RERANK_TIMEOUT_MS: i32 = 5_000;
/// How many of the client's results the server reranks.
pub const RERANK_DEPTH: usize = 30;

// The wire types below are the client's side of the server's (trainer/src/serve/api.rs:
// `RerankRequest`, `RerankDocument`, `RerankResult`, and the `rerank` object `health` answers):
// a change to one is a change to both.

#[derive(Deserialize)]
struct Health {
    rerank: Option<RerankHealth>,
}

#[derive(Deserialize)]
struct RerankHealth {
    available: bool,
    model: Option<String>,
}

#[derive(Serialize)]
struct Request<'a> {
    query: &'a str,
    documents: Vec<Candidate<'a>>,
}

#[derive(Serialize)]
struct Candidate<'a> {
    id: String,
    text: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<Reranked>,
}

#[derive(Deserialize)]
struct Reranked {
    id: String,
    score: f64,
}

/// The reranker's name when the server at `api` has one.
pub async fn probe(api: &str) -> Option<String> {
    let health: Health = parse(&fetch_json(&format!("{api}health"), None, PROBE_TIMEOUT_MS).await.ok()?).ok()?;
    let rerank = health.rerank.filter(|rerank| rerank.available)?;
    Some(rerank.model.unwrap_or_else(|| "reranker".to_string()))
}

/// The server's order of `texts` for `query`: indices into `texts`, best first, with scores.
pub async fn rerank(api: &str, query: &str, texts: &[&str]) -> Result<Vec<(usize, f32)>, String> {
    let documents = texts.iter().enumerate().map(|(i, &text)| Candidate { id: i.to_string(), text }).collect();
    let request = serde_json::to_string(&Request { query, documents }).expect("a request serializes");
    let answer: Answer = parse(&fetch_json(&format!("{api}rerank"), Some(request), RERANK_TIMEOUT_MS).await?)?;
    answer
        .results
        .into_iter()
        .map(|r| match r.id.parse::<usize>() {
            Ok(i) if i < texts.len() => Ok((i, r.score as f32)),
            _ => Err(format!("a result names no document sent: \"{}\"", r.id)),
        })
        .collect()
}

/// An answer of the server, or why it is not one.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not the answer expected: {e}"))
}

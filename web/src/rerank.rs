//! The optional server: `/api/health` says whether a cross-encoder is there, `/api/rerank`
//! reorders the client's top results. Any failure leaves the client's order in place.

use serde_json::json;

use crate::fetch::fetch_json;

/// How long the probe at start may take.
const PROBE_TIMEOUT_MS: i32 = 3_000;
/// How long a rerank may take before the client order is shown instead.
pub const RERANK_TIMEOUT_MS: i32 = 5_000;
/// How many of the client's results the server reranks.
pub const RERANK_DEPTH: usize = 30;

/// The reranker's name when the server at `api` has one.
pub async fn probe(api: &str) -> Option<String> {
    let health = fetch_json(&format!("{api}health"), None, PROBE_TIMEOUT_MS).await.ok()?;
    let rerank = health.get("rerank")?;
    rerank.get("available")?.as_bool()?.then(|| rerank.get("model").and_then(|m| m.as_str()).unwrap_or("reranker").to_string())
}

/// The server's order of `texts` for `query`: indices into `texts`, best first, with scores.
pub async fn rerank(api: &str, query: &str, texts: &[&str]) -> Result<Vec<(usize, f32)>, String> {
    let documents: Vec<_> = texts.iter().enumerate().map(|(i, text)| json!({"id": i.to_string(), "text": text})).collect();
    let answer = fetch_json(&format!("{api}rerank"), Some(&json!({"query": query, "documents": documents})), RERANK_TIMEOUT_MS).await?;
    let results = answer.get("results").and_then(|r| r.as_array()).ok_or("the answer has no `results`")?;
    results
        .iter()
        .map(|r| {
            let id = r.get("id").and_then(|i| i.as_str()).and_then(|i| i.parse::<usize>().ok()).filter(|&i| i < texts.len());
            let score = r.get("score").and_then(|s| s.as_f64());
            id.zip(score).map(|(i, s)| (i, s as f32)).ok_or_else(|| format!("a result is malformed: {r}"))
        })
        .collect()
}

//! The JSON API: `/api/health`, `/api/search`, `/api/rerank` (docs/api.md has examples).
//! Every failure is a 4xx or 5xx with `{"error": {"code", "message"}}`, never a panic.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dowse_core::docstore::passage_url;
use dowse_core::filters::{one_or_many, Filters};
use dowse_core::fragments::Missing;
use dowse_core::passage::passage_text;
use dowse_core::search::{Mode, SearchOptions, FEEDBACK_PASSAGES};
use dowse_core::text::Analyzer;
use dowse_core::topk::top_k;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;

/// An error answer: status, a stable code and a message for people.
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn model(message: String) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "model_error", message)
    }

    /// A fragment the search needed was not loaded: the served bundle is inconsistent.
    fn bundle(missing: Missing) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "bundle_error", missing.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

/// Malformed JSON, wrong types, a wrong content type or too large a body.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_json",
        };
        Self::new(status, code, rejection.body_text())
    }
}

pub async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let manifest = &state.bundle.manifest;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "bundle": {
            "id": state.bundle_id,
            "documents": manifest.documents,
            "passages": manifest.passages,
            "model": manifest.model.id,
            "quantization": manifest.quantization,
        },
        "rerank": {
            "available": state.models.reranker.is_some(),
            "model": state.models.reranker.as_ref().map(|r| r.name.clone()),
        },
        "dsi": {
            "available": state.models.generative.is_some(),
            "model": state.config.dsi.as_ref().map(|dir| dir.display().to_string()),
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    query: String,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    rerank: bool,
    /// Only documents that pass these: key to the value or values wanted (any of them), every key.
    #[serde(default, deserialize_with = "one_or_many")]
    filters: Filters,
    /// Hybrid only: the first ranking's top passages that move the query before it searches
    /// again; 0 ranks once.
    #[serde(default = "default_feedback")]
    feedback: usize,
}

fn default_k() -> usize {
    10
}

fn default_feedback() -> usize {
    FEEDBACK_PASSAGES
}

#[derive(Debug, Serialize)]
struct SearchResult {
    doc_id: String,
    title: String,
    url: Option<String>,
    /// The page's `data-dowse-meta` fields.
    meta: serde_json::Value,
    text: String,
    score: f32,
    rank: usize,
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Json(request) = body?;
    let limits = &state.config.limits;
    let query = check_query(&request.query, limits.max_query_chars)?;
    if request.k == 0 || request.k > limits.max_k {
        return Err(ApiError::bad_request(format!("`k` must be between 1 and {}", limits.max_k)));
    }
    if request.feedback > limits.max_k {
        return Err(ApiError::bad_request(format!("`feedback` must be between 0 and {}", limits.max_k)));
    }
    let reranker = match (request.rerank, &state.models.reranker) {
        (false, _) => None,
        (true, Some(reranker)) => Some(reranker),
        (true, None) => return Err(no_reranker()),
    };
    let vector = if request.mode.is_dense() {
        Some(state.models.encoder.run(vec![query.to_string()]).await.map_err(ApiError::model)?.remove(0))
    } else {
        None
    };
    let generative = match (&state.models.generative, request.mode) {
        (Some(dsi), Mode::Hybrid) => dsi.run(vec![query.to_string()]).await.map_err(ApiError::model)?.remove(0),
        _ => Vec::new(),
    };
    let depth = if reranker.is_some() { request.k.max(limits.rerank_depth) } else { request.k };
    let options =
        SearchOptions { k: depth, mode: request.mode, filters: request.filters, feedback: request.feedback, ..SearchOptions::default() };
    let index = &state.bundle.index;
    let mut hits = state.bundle.search(&Analyzer::default(), query, vector.as_deref(), &generative, &options).map_err(ApiError::bundle)?;
    if let Some(reranker) = reranker {
        let pairs = hits
            .iter()
            .map(|h| {
                let (doc, passage) = index.passage(h.passage)?;
                Ok((query.to_string(), passage_text(&doc.title, &passage.heading, &passage.text)))
            })
            .collect::<Result<_, Missing>>()
            .map_err(ApiError::bundle)?;
        let scores = reranker.pairs.run(pairs).await.map_err(ApiError::model)?;
        hits.iter_mut().zip(scores).for_each(|(hit, score)| hit.score = score);
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
    }
    hits.truncate(request.k);
    let results: Vec<SearchResult> = hits
        .iter()
        .enumerate()
        .map(|(rank, hit)| {
            let (doc, passage) = index.passage(hit.passage)?;
            Ok(SearchResult {
                doc_id: doc.id.clone(),
                title: doc.title.clone(),
                url: passage_url(doc, passage).map(str::to_string),
                meta: crate::search::meta_json(&doc.meta),
                text: passage.text.clone(),
                score: hit.score,
                rank: rank + 1,
            })
        })
        .collect::<Result<_, Missing>>()
        .map_err(ApiError::bundle)?;
    Ok(Json(json!({
        "query": request.query,
        "results": results,
        "total_results": results.len(),
        "reranked": reranker.is_some(),
        "latency_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    query: String,
    documents: Vec<RerankDocument>,
    #[serde(default)]
    top_k: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RerankDocument {
    id: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct RerankResult {
    id: String,
    score: f32,
    rank: usize,
}

pub async fn rerank(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RerankRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Json(request) = body?;
    let limits = &state.config.limits;
    let reranker = state.models.reranker.as_ref().ok_or_else(no_reranker)?;
    let query = check_query(&request.query, limits.max_query_chars)?;
    if request.documents.is_empty() || request.documents.len() > limits.max_rerank_documents {
        return Err(ApiError::bad_request(format!("`documents` must hold 1 to {} documents", limits.max_rerank_documents)));
    }
    if let Some(long) = request.documents.iter().find(|d| d.text.chars().count() > limits.max_document_chars) {
        return Err(ApiError::bad_request(format!("document {:?} is longer than {} characters", long.id, limits.max_document_chars)));
    }
    let pairs = request.documents.iter().map(|d| (query.to_string(), d.text.clone())).collect();
    let scores = reranker.pairs.run(pairs).await.map_err(ApiError::model)?;
    let keep = request.top_k.unwrap_or(scores.len());
    let ranked = top_k(scores.into_iter().enumerate().map(|(i, score)| (i as u32, score)), keep);
    let results: Vec<RerankResult> = ranked
        .iter()
        .enumerate()
        .map(|(rank, &(i, score))| RerankResult { id: request.documents[i as usize].id.clone(), score, rank: rank + 1 })
        .collect();
    Ok(Json(json!({"results": results, "latency_ms": started.elapsed().as_secs_f64() * 1e3})))
}

/// The trimmed query, which must be non-empty and not too long.
fn check_query(query: &str, max_chars: usize) -> Result<&str, ApiError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(ApiError::bad_request("`query` is empty"));
    }
    if query.chars().count() > max_chars {
        return Err(ApiError::bad_request(format!("`query` is longer than {max_chars} characters")));
    }
    Ok(query)
}

fn no_reranker() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "rerank_unavailable", "this server has no reranker (start it with --reranker DIR)")
}

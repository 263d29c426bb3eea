//! Per-request limits around the API: the body size, a concurrency cap (503 with Retry-After when full), a
//! timeout (504), and the metrics and log line of every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::AppState;

pub async fn limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
    let method = request.method().clone();
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let max_body = state.config.limits.max_body_bytes;
    let response = match state.permits.clone().try_acquire_owned() {
        // Refused before reading: a body announced too large is never received.
        _ if declared.is_some_and(|len| len > max_body) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("bodies are limited to {max_body} bytes"))
                .into_response()
        }
        Err(_) => {
            let mut response =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many requests in flight; retry shortly").into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Ok(_permit) => {
            let timeout = Duration::from_millis(state.config.limits.request_timeout_ms);
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", format!("no answer within {} ms", timeout.as_millis()))
                    .into_response(),
            }
        }
    };
    let elapsed = started.elapsed();
    state.metrics.observe(&route, response.status().as_u16(), elapsed);
    tracing::info!(%method, route, status = response.status().as_u16(), ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}

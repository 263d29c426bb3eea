//! Per-request limits around the API. [`observe`] times every API request into the metrics and
//! the log. [`limit`], on the model routes only, reads the body first (bounded in bytes and in
//! time, and outside the concurrency cap, so slow senders hold no slot), then takes a slot (503
//! with Retry-After when all are taken) and bounds the handler's time (504). Health and metrics
//! never wait for a slot. An answer sent before a body was read whole closes the connection
//! (`Connection: close`), so a keep-alive client is never left writing into a dropped socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::AppState;

/// Metrics and a log line for every API request.
pub async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
    let method = request.method().clone();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    state.metrics.observe(&route, response.status().as_u16(), elapsed);
    tracing::info!(%method, route, status = response.status().as_u16(), ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}

/// The body read whole, then a concurrency slot, then the handler within the timeout.
pub async fn limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    let max_body = limits.max_body_bytes;
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_body) {
        return closing(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("bodies are limited to {max_body} bytes"),
        ));
    }
    let (parts, body) = request.into_parts();
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let body = match tokio::time::timeout(body_timeout, axum::body::to_bytes(body, max_body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return closing(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("bodies are limited to {max_body} bytes"),
            ))
        }
        Err(_) => {
            let message = format!("the request body did not arrive within {} ms", body_timeout.as_millis());
            return closing(ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", message));
        }
    };
    let request = Request::from_parts(parts, Body::from(body));
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        let mut response =
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many requests in flight; retry shortly").into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", format!("no answer within {} ms", timeout.as_millis())).into_response()
        }
    }
}

/// An error answer that also closes the connection: the rest of the body was never read.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

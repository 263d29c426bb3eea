//! Prometheus metrics at `/metrics`: requests by route and status, and a latency histogram per route.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Latency {
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
}

impl Metrics {
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        *self.requests.lock().expect("metrics lock").entry((route.to_string(), status)).or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let entry = latency.entry(route.to_string()).or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            *bucket += u64::from(seconds <= bound);
        }
        entry.count += 1;
        entry.sum += seconds;
    }

    fn text(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP dowse_requests_total Requests answered, by route and status.\n# TYPE dowse_requests_total counter\n");
        for ((route, status), count) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "dowse_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}");
        }
        out.push_str("# HELP dowse_request_seconds Time to answer, by route.\n# TYPE dowse_request_seconds histogram\n");
        for (route, latency) in self.latency.lock().expect("metrics lock").iter() {
            for (bound, count) in BUCKETS.iter().zip(latency.buckets) {
                let _ = writeln!(out, "dowse_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "dowse_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", latency.count);
            let _ = writeln!(out, "dowse_request_seconds_sum{{route=\"{route}\"}} {}", latency.sum);
            let _ = writeln!(out, "dowse_request_seconds_count{{route=\"{route}\"}} {}", latency.count);
        }
        out
    }
}

pub async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.text())
}

//! `dowse serve`: hosts the web app (`--dist`, or the one the binary carries) and a bundle,
//! answers searches (`/api/search`, fusing a DSI model's ranking when given one) and reranks with
//! a cross-encoder (`/api/rerank`), behind limits that keep it up under load.
//!
//! [`config`] holds the settings (flags or a TOML file), [`models`] starts the model threads
//! ([`batcher`]), [`api`] has the handlers, [`guard`] the per-request limits, [`files`] the static
//! hosting, [`metrics`] the Prometheus counters, and this file builds the router and runs it until a shutdown signal.

mod api;
mod batcher;
pub mod config;
mod files;
mod guard;
mod metrics;
mod models;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use dowse_core::bundle::Bundle;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::app_inside;
use crate::bundle_io;
use crate::device::run_on;
pub use config::{ServeArgs, ServeConfig};
use models::{LoadModels, Models};

/// What every handler shares.
pub struct AppState {
    pub config: ServeConfig,
    pub bundle: Bundle,
    pub bundle_id: String,
    pub models: Models,
    pub metrics: metrics::Metrics,
    pub permits: Arc<Semaphore>,
    pub started: Instant,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let mut config = args.config()?;
    // Without --dist, the app this binary carries, if any, from a folder that lives as long as this.
    let app_inside = if config.dist.is_none() && !app_inside::FILES.is_empty() { Some(unpack_app_inside()?) } else { None };
    if let Some(folder) = &app_inside {
        config.dist = Some(folder.path().to_path_buf());
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let bundle = bundle_io::read(&config.bundle)?;
    let encoder = config.device.encoder(bundle.manifest.model.max_len, config.limits.max_batch);
    let job = LoadModels {
        bundle: &bundle,
        bundle_dir: &config.bundle,
        encoder,
        reranker: config.reranker.as_deref(),
        dsi: config.dsi.as_deref(),
        limits: &config.limits,
    };
    let models = run_on(config.device, job)??;
    let state = Arc::new(AppState {
        bundle_id: bundle.id(),
        permits: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
        config,
        bundle,
        models,
        metrics: metrics::Metrics::default(),
        started: Instant::now(),
    });
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(state))
}

/// The app this binary carries, written into a temporary folder for the static files.
fn unpack_app_inside() -> Result<tempfile::TempDir> {
    let folder = tempfile::Builder::new().prefix("dowse-app-").tempdir().context("creating a folder for the app inside dowse")?;
    for (name, bytes) in app_inside::FILES {
        let path = folder.path().join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(folder)
}

/// The whole application: API routes under the limits, then static files.
pub fn router(state: Arc<AppState>) -> Router {
    let config = &state.config;
    let models = Router::new()
        .route("/api/search", post(api::search))
        .route("/api/rerank", post(api::rerank))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::limit))
        .layer(DefaultBodyLimit::max(config.limits.max_body_bytes));
    let api = Router::new()
        .route("/api/health", get(api::health))
        .route("/metrics", get(metrics::render))
        .merge(models)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::observe));
    let mut app = api.nest_service("/bundle", files::folder(&config.bundle));
    if let Some(dist) = &config.dist {
        app = app.fallback_service(files::folder(dist));
    }
    let origins: Vec<_> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
    // A bundle's fragments (files without an extension: application/octet-stream) are stored
    // deflated; compressing them again would cost time and save nothing.
    let compressible = DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream"));
    app.layer(CompressionLayer::new().compress_when(compressible))
        .layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([axum::http::header::CONTENT_TYPE]),
        )
        .with_state(state)
}

async fn serve(state: Arc<AppState>) -> Result<()> {
    let addr = state.config.addr;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, bundle = %state.bundle_id, rerank = state.models.reranker.is_some(), "serving");
    println!("listening on http://{local}");
    let header_timeout = Duration::from_millis(state.config.limits.header_timeout_ms);
    let app = router(state);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: the next accept may succeed.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out as soon as they are written: with Nagle's algorithm a response written
        // in pieces (headers, then gzip's chunks) waits for the client's delayed ACK, about 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
        // HTTP/1.1 with a bound on how long a client may take to send its headers: a client
        // trickling a byte a second is cut off instead of holding a connection for ever.
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    tracing::info!("stopped after draining in-flight requests");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

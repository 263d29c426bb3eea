//! The server's settings: a TOML file (`--config`), with command-line flags taking precedence.
//!
//! ```toml
//! bundle = "scifact-bundle"
//! reranker = "models/reranker"
//! dsi = "models/dsi-scifact"
//! addr = "127.0.0.1:8080"
//! cors_origins = ["https://example.org"]
//! [limits]
//! max_concurrent_requests = 64
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;

use crate::device::Device;

/// What requests may ask for and how long they may take.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Longest query, in characters.
    pub max_query_chars: usize,
    /// Most results one search may ask for.
    pub max_k: usize,
    /// Most documents one rerank request may send.
    pub max_rerank_documents: usize,
    /// Longest document text in a rerank request, in characters.
    pub max_document_chars: usize,
    /// Requests handled at once; beyond it, 503 with Retry-After.
    pub max_concurrent_requests: usize,
    /// A request still running after this many milliseconds gets 504.
    pub request_timeout_ms: u64,
    /// A client that has not sent its whole request headers after this many milliseconds is
    /// disconnected.
    pub header_timeout_ms: u64,
    /// A request body not received whole after this many milliseconds gets 408; slow bodies
    /// hold no concurrency slot while they arrive.
    pub body_timeout_ms: u64,
    /// Documents a search with `rerank: true` hands to the cross-encoder.
    pub rerank_depth: usize,
    /// Items (queries or pairs) per forward pass of a model thread.
    pub max_batch: usize,
    /// How long a model thread waits for more requests to fill a batch, in milliseconds.
    pub max_batch_wait_ms: u64,
    /// Documents the DSI model (`dsi`) returns for a hybrid search, and prefixes its beam search
    /// keeps a step.
    pub dsi_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_query_chars: 1_000,
            max_k: 100,
            max_rerank_documents: 100,
            max_document_chars: 20_000,
            max_concurrent_requests: 64,
            request_timeout_ms: 30_000,
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            rerank_depth: 50,
            max_batch: 32,
            max_batch_wait_ms: 5,
            dsi_depth: 20,
        }
    }
}

/// Everything `dowse serve` runs with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub bundle: PathBuf,
    #[serde(default)]
    pub reranker: Option<PathBuf>,
    /// A DSI model (`dowse train dsi`) trained on the bundle's documents, fused into hybrid search.
    #[serde(default)]
    pub dsi: Option<PathBuf>,
    /// The built web app (`dist/`), served at `/`; without it, the app the binary carries, if any.
    #[serde(default)]
    pub dist: Option<PathBuf>,
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    /// Origins allowed to call the API from a browser (none by default: same origin only).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    #[serde(default = "default_device")]
    pub device: Device,
    #[serde(default)]
    pub limits: Limits,
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_device() -> Device {
    Device::Cpu
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below and a `[limits]` table (keys in docs/api.md); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The bundle to search and host at /bundle/.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// A cross-encoder in Hugging Face layout (config.json, model.safetensors, tokenizer.json with a
    /// `classifier` head); without one, /api/rerank answers 503 and health says rerank is off.
    #[arg(long)]
    pub reranker: Option<PathBuf>,
    /// A DSI model (`dowse train dsi`) trained on the bundle's documents: hybrid searches fuse its
    /// ranking as a third list.
    #[arg(long)]
    pub dsi: Option<PathBuf>,
    /// The built web app to serve at / (a folder scripts/build-app.sh wrote); without it, the app this binary carries
    /// (scripts/build-app.sh), if it carries one.
    #[arg(long)]
    pub dist: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free one and prints it).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// An origin allowed to call the API from browsers; repeat for several.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Where the models run: cpu, wgpu or cuda.
    #[arg(long, value_enum)]
    pub device: Option<Device>,
    /// Requests handled at once before answering 503.
    #[arg(long)]
    pub max_concurrent_requests: Option<usize>,
    /// Per-request timeout in milliseconds (504 after it).
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
}

impl ServeArgs {
    /// The TOML file's settings with the flags applied over them.
    pub fn config(&self) -> Result<ServeConfig> {
        let mut config = match &self.config {
            Some(path) => read_toml(path)?,
            None => {
                let Some(bundle) = &self.bundle else { bail!("pass --bundle DIR (or --config FILE naming a bundle)") };
                ServeConfig {
                    bundle: bundle.clone(),
                    reranker: None,
                    dsi: None,
                    dist: None,
                    addr: default_addr(),
                    cors_origins: Vec::new(),
                    device: default_device(),
                    limits: Limits::default(),
                }
            }
        };
        if let Some(bundle) = &self.bundle {
            config.bundle = bundle.clone();
        }
        config.reranker = self.reranker.clone().or(config.reranker);
        config.dsi = self.dsi.clone().or(config.dsi);
        config.dist = self.dist.clone().or(config.dist);
        config.addr = self.addr.unwrap_or(config.addr);
        config.device = self.device.unwrap_or(config.device);
        config.cors_origins.extend(self.cors_origins.iter().cloned());
        config.limits.max_concurrent_requests = self.max_concurrent_requests.unwrap_or(config.limits.max_concurrent_requests).max(1);
        config.limits.request_timeout_ms = self.request_timeout_ms.unwrap_or(config.limits.request_timeout_ms);
        Ok(config)
    }
}

fn read_toml(path: &Path) -> Result<ServeConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<&Path>, flags: &[&str]) -> ServeArgs {
        let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve").no_binary_name(true));
        let mut flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        if let Some(path) = config {
            flags.extend(["--config".to_string(), path.display().to_string()]);
        }
        <ServeArgs as clap::FromArgMatches>::from_arg_matches(&command.get_matches_from(flags)).unwrap()
    }

    #[test]
    fn toml_settings_with_flags_over_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(&file, "bundle = \"b\"\naddr = \"0.0.0.0:9000\"\ncors_origins = [\"https://a.example\"]\n[limits]\nmax_k = 20\n")
            .unwrap();
        let config = args(Some(&file), &["--cors-origin", "https://b.example", "--max-concurrent-requests", "3"]).config().unwrap();
        assert_eq!(config.bundle, PathBuf::from("b"));
        assert_eq!(config.addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!((config.limits.max_k, config.limits.max_concurrent_requests), (20, 3));
        assert_eq!(config.limits.max_body_bytes, Limits::default().max_body_bytes);

        std::fs::write(&file, "bundle = \"b\"\n[limits]\nmax_kk = 20\n").unwrap();
        let error = args(Some(&file), &[]).config().unwrap_err().to_string();
        assert!(error.contains("serve.toml") && error.contains("max_kk"), "{error}");
        assert!(args(None, &[]).config().unwrap_err().to_string().contains("--bundle"));
    }
}

//! Helpers for the end-to-end tests: where the shared data and the fetched model live.
//!
//! `DOWSE_SHARED` points at the shared folder (default: `../shared` beside the checkout);
//! `DOWSE_HOME` at dowse's cache (default: `~/.cache/dowse`), where `dowse model fetch` puts models.

use std::path::PathBuf;

/// The shared data and fixtures folder.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("DOWSE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// A file or folder under `shared/data`.
pub fn data(path: &str) -> PathBuf {
    shared_dir().join("data").join(path)
}

/// A file under `shared/fixtures`.
pub fn fixture(path: &str) -> PathBuf {
    shared_dir().join("fixtures").join(path)
}

/// Reads a file the tests need, failing with its path when it is missing.
pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (set DOWSE_SHARED to the shared folder)", path.display()))
}

/// The folder of the fetched all-MiniLM-L6-v2, failing with the command that fetches it.
pub fn minilm_dir() -> PathBuf {
    let home = std::env::var_os("DOWSE_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/dowse")
    });
    let dir = home.join("models/all-MiniLM-L6-v2");
    assert!(dir.join("model.safetensors").is_file(), "{} has no model: run `cargo run --release --bin dowse -- model fetch`", dir.display());
    dir
}

//! Helpers for the end-to-end tests: where the shared data and the fetched model live.
//!
//! `DOWSE_SHARED` points at the shared folder (default: `../shared` beside the checkout);
//! `DOWSE_HOME` at dowse's cache (default: `~/.cache/dowse`), where `dowse model fetch` puts models.

use std::path::PathBuf;

/// The shared data and fixtures folder.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("DOWSE_SHARED").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
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
    let home = std::env::var_os("DOWSE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/dowse"));
    let dir = home.join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} has no model: run `cargo run --release --bin dowse -- model fetch`",
        dir.display()
    );
    dir
}

/// `n` unit vectors of `dim` Gaussian components from a fixed seed (splitmix64 + Box-Muller),
/// the same on every machine.
pub fn random_unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut matrix: Vec<f32> = (0..n * dim)
        .map(|_| {
            let (u, v) = (uniform().max(f64::MIN_POSITIVE), uniform());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect();
    for row in matrix.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    matrix
}

/// The fraction of `exact` (the true top ids) that `found` holds.
pub fn recall(found: &[u32], exact: &[u32]) -> f64 {
    let hits = exact.iter().filter(|id| found.contains(id)).count();
    hits as f64 / exact.len().max(1) as f64
}

//! Embedding a corpus (and its queries) with an on-disk cache of the passage vectors, keyed by
//! the model's files and the exact texts, so a second `dowse eval`, `index` or `mine` over the
//! same corpus with the same model does not re-encode.
//!
//! File layout (little-endian): magic `DEMB`, u32 version, u64 rows, u32 dim, rows*dim f32.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::model::{EncoderConfig, Side};
use sha2::{Digest, Sha256};

use crate::device::{run_on, Device};
use crate::encode::EncodeJob;
use crate::{atomic, home, model_fetch, model_folder};

/// Row-major unit vectors of the queries and the passages.
pub struct Embedded {
    pub queries: Vec<f32>,
    pub passages: Vec<f32>,
    pub dim: usize,
}

/// Encodes `queries` and `passages` with the model in `model_dir` on `device`. The passages'
/// vectors come from the cache when it has them (unless `use_cache` is false) and go into it when
/// they were encoded.
pub fn embed(
    model_dir: &Path,
    config: EncoderConfig,
    device: Device,
    queries: &[String],
    passages: &[String],
    use_cache: bool,
) -> Result<Embedded> {
    let key = key(model_dir, config.max_len, passages)?;
    let cached = if use_cache { load(&key, passages.len())? } else { None };
    let mut inputs = Vec::new();
    if !queries.is_empty() {
        inputs.push(("queries", Side::Query, queries));
    }
    match &cached {
        Some(_) => eprintln!("passage embeddings: cached ({key})"),
        None => inputs.push(("passages", Side::Passage, passages)),
    }
    let job = EncodeJob { model_dir, config, inputs };
    let mut encoded = run_on(device, job)?.with_context(|| format!("encoding with {}", model_dir.display()))?;
    let dim = encoded.dim;
    let queries = if queries.is_empty() { Vec::new() } else { encoded.matrices.remove(0) };
    let passages = match cached {
        Some((matrix, cached_dim)) if cached_dim == dim => matrix,
        Some((_, cached_dim)) => bail!("cached embeddings have {cached_dim} dimensions, the model {dim}"),
        None => {
            let matrix = encoded.matrices.remove(0);
            store(&key, &matrix, dim)?;
            matrix
        }
    };
    Ok(Embedded { queries, passages, dim })
}

const MAGIC: &[u8; 4] = b"DEMB";
const VERSION: u32 = 1;
const HEADER: usize = 4 + 4 + 8 + 4;

/// The cache key of `texts` encoded by the model in `model_dir` at `max_len` tokens.
fn key(model_dir: &Path, max_len: usize, texts: &[String]) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(model_fetch::sha256_file(&model_dir.join("model.safetensors"))?);
    for path in [model_dir.join("config.json"), model_folder::tokenizer_file(model_dir)] {
        hasher.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    hasher.update((max_len as u64).to_le_bytes());
    for text in texts {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

fn path(key: &str) -> Result<PathBuf> {
    Ok(home::dowse_home()?.join("cache/embeddings").join(format!("{key}.bin")))
}

/// The cached matrix for `key`, if there is a complete one of `rows` rows.
fn load(key: &str, rows: usize) -> Result<Option<(Vec<f32>, usize)>> {
    let path = path(key)?;
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    if bytes.len() < HEADER || &bytes[..4] != MAGIC || bytes[4..8] != VERSION.to_le_bytes() {
        return Ok(None);
    }
    let cached_rows = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let dim = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")) as usize;
    if cached_rows != rows || bytes.len() != HEADER + rows * dim * 4 {
        return Ok(None);
    }
    let values = bytes[HEADER..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    Ok(Some((values, dim)))
}

/// Stores a `[rows, dim]` matrix under `key`.
fn store(key: &str, values: &[f32], dim: usize) -> Result<()> {
    let rows = values.len() / dim;
    let mut bytes = Vec::with_capacity(HEADER + values.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(rows as u64).to_le_bytes());
    bytes.extend_from_slice(&(dim as u32).to_le_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    atomic::write(&path(key)?, &bytes)
}

//! Embedding texts with an on-disk cache of each passage's vector, keyed by the model (its
//! weights, config, tokenizer and the token limit) and the passage's exact text. A second
//! `dowse eval`, `index` or `mine` over the same corpus encodes nothing, and re-indexing a site
//! where one page changed encodes only that page's passages.
//!
//! One file per model, `$DOWSE_HOME/cache/embeddings/<model key>.vec`, appended to (little-endian):
//! a header (magic `DEMC`, u32 version, u32 dim), then records of the text's sha256 (32 bytes),
//! `dim` f32 and a 4-byte check (the first bytes of the sha256 of the rest of the record). A
//! record cut short by a kill, or damaged, fails its check and is encoded again; nothing else is
//! lost.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::model::{EncoderConfig, Side};
use sha2::{Digest, Sha256};

use crate::device::Device;
use crate::encode::encode_all;
use crate::{home, model_fetch, model_folder};

/// Row-major unit vectors of the queries, and of every cached text in the order given.
pub struct Embedded {
    pub queries: Vec<f32>,
    pub passages: Vec<f32>,
    pub dim: usize,
}

/// Named lists of texts encoded as passages through the cache (`("passage", &texts)`): one model
/// load serves them all, and each prints its own cached count.
pub type Cached<'a> = [(&'a str, &'a [String])];

/// Encodes `queries` and every text of `cached` with the model in `model_dir` on `device`. Texts
/// already in the model's cache (unless `use_cache` is false) are read from it; the others are
/// encoded and added to it.
pub fn embed(
    model_dir: &Path,
    config: EncoderConfig,
    device: Device,
    queries: &[String],
    cached: &Cached,
    use_cache: bool,
) -> Result<Embedded> {
    let path = cache_path(model_dir, config.max_len)?;
    let texts: Vec<&String> = cached.iter().flat_map(|(_, texts)| texts.iter()).collect();
    let keys: Vec<TextKey> = texts.iter().map(|text| Sha256::digest(text.as_bytes()).into()).collect();
    let cache = if use_cache { Cache::read(&path)? } else { Cache::default() };
    let mut missing: Vec<usize> = Vec::new();
    let mut seen = HashMap::new();
    let mut start = 0;
    for (label, group) in cached.iter().filter(|(_, group)| !group.is_empty()) {
        let before = missing.len();
        for (i, key) in keys.iter().enumerate().skip(start).take(group.len()) {
            if !cache.vectors.contains_key(key) && seen.insert(*key, i).is_none() {
                missing.push(i);
            }
        }
        let new = missing.len() - before;
        eprintln!("{label} embeddings: {} of {} cached, {new} to encode", group.len() - new, group.len());
        start += group.len();
    }
    let to_encode: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
    let mut inputs = Vec::new();
    if !queries.is_empty() {
        inputs.push(("queries", Side::Query, queries));
    }
    if !to_encode.is_empty() {
        inputs.push(("passages", Side::Passage, to_encode.as_slice()));
    }
    let (query_matrix, new_matrix, dim) = if inputs.is_empty() {
        (Vec::new(), Vec::new(), cache.dim)
    } else {
        let mut encoded =
            encode_all(device, model_dir, config, &inputs).with_context(|| format!("encoding with {}", model_dir.display()))?;
        let queries = if queries.is_empty() { Vec::new() } else { encoded.matrices.remove(0) };
        let new = if to_encode.is_empty() { Vec::new() } else { encoded.matrices.remove(0) };
        (queries, new, encoded.dim)
    };
    if cache.dim != 0 && cache.dim != dim && !cache.vectors.is_empty() {
        bail!("{}: cached embeddings have {} dimensions, the model {dim}", path.display(), cache.dim);
    }
    let new: HashMap<TextKey, &[f32]> = missing.iter().zip(new_matrix.chunks_exact(dim.max(1))).map(|(&i, v)| (keys[i], v)).collect();
    if !new.is_empty() {
        append(&path, dim, missing.iter().map(|&i| (&keys[i], new[&keys[i]])))?;
    }
    let mut matrix = Vec::with_capacity(texts.len() * dim);
    for key in &keys {
        match new.get(key) {
            Some(vector) => matrix.extend_from_slice(vector),
            None => matrix.extend_from_slice(&cache.vectors[key]),
        }
    }
    Ok(Embedded { queries: query_matrix, passages: matrix, dim })
}

type TextKey = [u8; 32];

const MAGIC: &[u8; 4] = b"DEMC";
const VERSION: u32 = 2;
const HEADER: usize = 4 + 4 + 4;
const CHECK: usize = 4;

/// The cache file of the model in `model_dir` read at `max_len` tokens.
fn cache_path(model_dir: &Path, max_len: usize) -> Result<PathBuf> {
    let mut hasher = Sha256::new();
    hasher.update(model_fetch::sha256_file(&model_dir.join("model.safetensors"))?);
    for path in [model_dir.join("config.json"), model_folder::tokenizer_file(model_dir)] {
        hasher.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    hasher.update((max_len as u64).to_le_bytes());
    let key = hex::encode(hasher.finalize());
    Ok(home::dowse_home()?.join("cache/embeddings").join(format!("{key}.vec")))
}

/// The vectors of one model's cache file.
#[derive(Default)]
struct Cache {
    dim: usize,
    vectors: HashMap<TextKey, Vec<f32>>,
}

impl Cache {
    /// Reads every whole, intact record; a missing or foreign file is an empty cache.
    fn read(path: &Path) -> Result<Self> {
        let Ok(bytes) = std::fs::read(path) else { return Ok(Self::default()) };
        let Some(dim) = header_dim(&bytes) else { return Ok(Self::default()) };
        let mut vectors = HashMap::new();
        for record in bytes[HEADER..].chunks_exact(record_len(dim)) {
            let (body, check) = record.split_at(record.len() - CHECK);
            if record_check(body) != check {
                continue;
            }
            let key: TextKey = body[..32].try_into().expect("32 bytes");
            let vector = body[32..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
            vectors.insert(key, vector);
        }
        Ok(Self { dim, vectors })
    }
}

fn header_dim(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC || bytes[4..8] != VERSION.to_le_bytes() {
        return None;
    }
    Some(u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize).filter(|&dim| dim > 0)
}

fn record_len(dim: usize) -> usize {
    32 + dim * 4 + CHECK
}

fn record_check(body: &[u8]) -> [u8; CHECK] {
    Sha256::digest(body)[..CHECK].try_into().expect("CHECK bytes")
}

/// Appends records to the cache file, starting it (or restarting a foreign or damaged one) with
/// a header; one `write` per call, after which the file is synced.
fn append<'a>(path: &Path, dim: usize, records: impl Iterator<Item = (&'a TextKey, &'a [f32])>) -> Result<()> {
    let parent = path.parent().expect("the cache file is in a folder");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let existing = std::fs::read(path).ok();
    let fresh = existing.as_deref().and_then(header_dim) != Some(dim);
    let mut bytes = Vec::new();
    if fresh {
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(dim as u32).to_le_bytes());
    } else if let Some(existing) = &existing {
        // A record cut short by a kill would shift every later one: pad it out to a whole record.
        let partial = (existing.len() - HEADER) % record_len(dim);
        if partial != 0 {
            bytes.resize(record_len(dim) - partial, 0);
        }
    }
    for (key, vector) in records {
        let start = bytes.len();
        bytes.extend_from_slice(key);
        vector.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        let check = record_check(&bytes[start..]);
        bytes.extend_from_slice(&check);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(!fresh)
        .write(true)
        .truncate(fresh)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(&bytes).and_then(|()| file.sync_data()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_cut_and_a_damaged_one_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.vec");
        let keys: Vec<TextKey> = (0..3u8).map(|i| [i; 32]).collect();
        let vectors = [vec![1.0f32, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]];
        append(&path, 2, keys.iter().zip(vectors.iter().map(Vec::as_slice)).take(2)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 5);
        std::fs::write(&path, &bytes).unwrap();
        append(&path, 2, std::iter::once((&keys[2], vectors[2].as_slice()))).unwrap();
        let cache = Cache::read(&path).unwrap();
        assert_eq!(cache.vectors.len(), 2, "the cut record is gone, the one after it is whole");
        assert_eq!(cache.vectors[&keys[0]], vectors[0]);
        assert_eq!(cache.vectors[&keys[2]], vectors[2]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(!Cache::read(&path).unwrap().vectors.contains_key(&keys[0]), "a flipped byte fails the check");
    }
}

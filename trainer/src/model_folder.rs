//! Model folders: Hugging Face layout (config.json, model.safetensors, tokenizer.json), or a
//! DSSM's (vocab.txt in place of tokenizer.json): finding the default one and reading one into memory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::bundle::ModelBytes;

use crate::{home, model_fetch};

/// `dir`, or the fetched default model; either must hold a model.
pub fn resolve(dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => home::model_dir(model_fetch::DEFAULT_MODEL)?,
    };
    if !dir.join("model.safetensors").is_file() {
        bail!("{}: no model.safetensors (run `dowse model fetch`, or pass --model DIR)", dir.display());
    }
    Ok(dir)
}

/// The three files of the model in `dir`.
pub fn read(dir: &Path) -> Result<ModelBytes> {
    let (config, tokenizer) = read_config_and_tokenizer(dir)?;
    Ok(ModelBytes { config, weights: read_file(dir.join("model.safetensors"))?, tokenizer })
}

/// The config and tokenizer of the model in `dir`, without its weights.
pub fn read_config_and_tokenizer(dir: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    Ok((read_file(dir.join("config.json"))?, read_file(tokenizer_file(dir))?))
}

fn read_file(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// The tokenizer of the model in `dir`: tokenizer.json, or a DSSM's vocab.txt when there is none.
pub fn tokenizer_file(dir: &Path) -> PathBuf {
    let json = dir.join("tokenizer.json");
    if !json.exists() && dir.join("vocab.txt").is_file() {
        return dir.join("vocab.txt");
    }
    json
}

/// Whether the model in `dir` is a cross-encoder: its config.json names a
/// `...ForSequenceClassification` architecture.
pub fn is_cross_encoder(dir: &Path) -> Result<bool> {
    let path = dir.join("config.json");
    names_a_cross_encoder(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?, &path)
}

/// Whether `config` (the bytes of config.json at `path`) names a `...ForSequenceClassification`
/// architecture.
pub fn names_a_cross_encoder(config: &[u8], path: &Path) -> Result<bool> {
    let config: serde_json::Value = serde_json::from_slice(config).with_context(|| format!("{}: not JSON", path.display()))?;
    let architectures = config["architectures"].as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(architectures.iter().filter_map(|a| a.as_str()).any(|a| a.ends_with("ForSequenceClassification")))
}

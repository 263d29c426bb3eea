//! Hugging Face model folders (config.json, model.safetensors, tokenizer.json): finding the
//! default one and reading one into memory.

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
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(ModelBytes { config: read("config.json")?, weights: read("model.safetensors")?, tokenizer: read("tokenizer.json")? })
}

//! Where dowse keeps what it downloads and computes: `$DOWSE_HOME`, by default `~/.cache/dowse`.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The cache root.
pub fn dowse_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("DOWSE_HOME") {
        return Ok(PathBuf::from(home));
    }
    let user_home = std::env::var_os("HOME").context("neither DOWSE_HOME nor HOME is set")?;
    Ok(PathBuf::from(user_home).join(".cache/dowse"))
}

/// The folder a named model is fetched into.
pub fn model_dir(name: &str) -> Result<PathBuf> {
    Ok(dowse_home()?.join("models").join(name))
}

//! The model that ships inside `dowse`: the static query encoder that `dowse distill --align-to`
//! aligned to all-MiniLM-L6-v2 (`models/query`, its card in `models/query/README.md`). It is the
//! query encoder of the bundles `dowse index` builds by default, whose passages MiniLM encodes:
//! the binary carries its three files and writes them into `$DOWSE_HOME/models` the first time.
//! The SciFact student that was the default before (`models/student`) is used by path.

use std::path::PathBuf;

use anyhow::Result;

use crate::{atomic, home};

/// The folder name under `$DOWSE_HOME/models`, and the name bundles record. A new encoder gets a
/// new name, so that a folder written by an older binary is never mistaken for it.
pub const QUERY: &str = "dowse-query-static-minilm-l6-v1";

/// The query encoder's files, as `models/query` holds them.
const FILES: [(&str, &[u8]); 3] = [
    ("config.json", include_bytes!("../../models/query/config.json")),
    ("model.safetensors", include_bytes!("../../models/query/model.safetensors")),
    ("tokenizer.json", include_bytes!("../../models/query/tokenizer.json")),
];

/// The shipped query encoder's folder, written (atomically, whole) when it is missing or differs.
pub fn query_dir() -> Result<PathBuf> {
    let dir = home::model_dir(QUERY)?;
    let current = FILES.iter().all(|(name, bytes)| std::fs::read(dir.join(name)).is_ok_and(|on_disk| on_disk == *bytes));
    if !current {
        atomic::write_folder(&dir, "config.json", FILES)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_query_encoder_is_a_small_static_encoder() {
        let config: serde_json::Value = serde_json::from_slice(FILES[0].1).unwrap();
        assert_eq!(config["model_type"], "dowse-static");
        assert_eq!(config["dim"], 384);
        assert!(FILES[1].1.len() <= 5 << 20, "at most 5 MB: {}", FILES[1].1.len());
    }
}

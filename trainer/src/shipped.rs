//! The model that ships inside `dowse`: the student that `dowse distill` made from
//! all-MiniLM-L6-v2 on SciFact in two stages, two layers and then half their feed-forward neurons
//! (`models/student`, its card in `models/student/README.md`). It is the default encoder of
//! `dowse index`, so that indexing and the demo need no download: the binary carries its three
//! files and writes them into `$DOWSE_HOME/models` the first time.

use std::path::PathBuf;

use anyhow::Result;

use crate::{atomic, home};

/// The folder name under `$DOWSE_HOME/models`, and the name bundles record. A new student gets a
/// new name, so that a folder written by an older binary is never mistaken for it.
pub const STUDENT: &str = "dowse-student-scifact-l2-ffn768";

/// The student's files, as `models/student` holds them.
const FILES: [(&str, &[u8]); 3] = [
    ("config.json", include_bytes!("../../models/student/config.json")),
    ("model.safetensors", include_bytes!("../../models/student/model.safetensors")),
    ("tokenizer.json", include_bytes!("../../models/student/tokenizer.json")),
];

/// The shipped student's folder, written (atomically, whole) when it is missing or differs.
pub fn student_dir() -> Result<PathBuf> {
    let dir = home::model_dir(STUDENT)?;
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
    fn the_shipped_student_is_a_small_int8_bert() {
        let config: serde_json::Value = serde_json::from_slice(FILES[0].1).unwrap();
        assert_eq!(config["num_hidden_layers"], 2);
        assert_eq!(config["intermediate_size"], 768);
        assert!(FILES[1].1.len() <= 10 << 20, "at most 10 MB: {}", FILES[1].1.len());
    }
}

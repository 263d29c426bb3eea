//! Checkpoint folders on disk: the files `fit` saves (weights, optimizer state, loop state) plus
//! `SHA256SUMS`, their checksums in `sha256sum`'s format, written in one atomic swap; reading a
//! checkpoint back verifies every file against those sums first, so a truncated or damaged file
//! is named and refused instead of reaching Burn's recorder (which panics on short input) or
//! training on silently from corrupted weights.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use dowse_core::bundle::sha256_hex;

use crate::atomic;

const SUMS: &str = "SHA256SUMS";
/// The file whose presence marks a folder as a checkpoint that a new one may replace.
const MARKER: &str = "state.json";

/// Writes `files` (name, bytes) and their checksums as the checkpoint folder `dir`.
pub fn write(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let sums: String = files.iter().map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes))).collect();
    let all = files.iter().copied().chain([(SUMS, sums.as_bytes())]);
    atomic::write_folder(dir, MARKER, all)
}

/// Reads every file that `SHA256SUMS` in `dir` lists, each checked against its sum.
pub fn read(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let sums_path = dir.join(SUMS);
    let sums = std::fs::read_to_string(&sums_path).with_context(|| {
        format!("reading {} (a checkpoint without checksums cannot be verified; start the run again)", sums_path.display())
    })?;
    let mut files = BTreeMap::new();
    for (number, line) in sums.lines().enumerate() {
        let Some((sum, name)) = line.split_once("  ") else {
            bail!("{}:{}: expected `SHA256  NAME`", sums_path.display(), number + 1);
        };
        if name.contains('/') || name.contains("..") {
            bail!("{}:{}: {name:?} is not a file of the checkpoint", sums_path.display(), number + 1);
        }
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if sha256_hex(&bytes) != sum {
            bail!("{}: damaged ({} bytes, checksum differs from {}): the checkpoint cannot be resumed", path.display(), bytes.len(), SUMS);
        }
        files.insert(name.to_string(), bytes);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_or_truncated_files_are_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoint");
        write(&dir, &[("model.bin", b"weights"), ("state.json", b"{}")]).unwrap();
        assert_eq!(read(&dir).unwrap()["model.bin"], b"weights");
        std::fs::write(dir.join("model.bin"), b"weighdd").unwrap();
        let error = read(&dir).unwrap_err().to_string();
        assert!(error.contains("model.bin: damaged"), "{error}");
        std::fs::write(dir.join("model.bin"), b"wei").unwrap();
        assert!(read(&dir).unwrap_err().to_string().contains("model.bin: damaged"));
        std::fs::remove_file(dir.join(SUMS)).unwrap();
        assert!(format!("{:#}", read(&dir).unwrap_err()).contains("without checksums"));
    }
}

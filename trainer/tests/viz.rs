//! `dowse viz` end to end on a slice of SciFact with all-MiniLM-L6-v2: PCA and t-SNE maps are
//! written as 1000×1000 PNGs (nothing half-written left beside them); a missing split is named.

use std::path::Path;
use std::process::{Command, Output};

use dowse_tests::{minilm_dir, scifact_slice};

fn viz(home: &Path, data: &Path, out: &Path, flags: &[&str]) -> Output {
    let minilm = minilm_dir();
    let mut args = vec!["viz", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--model", minilm.to_str().unwrap()];
    args.extend(flags);
    let output = Command::new(env!("CARGO_BIN_EXE_dowse")).args(&args).env("DOWSE_HOME", home).output().unwrap();
    eprintln!("dowse {args:?}\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn pca_and_tsne_maps_are_written_and_a_missing_split_is_named() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("slice");
    scifact_slice(&data, "train", 10, 30);
    for (method, extra) in [("pca", &[][..]), ("tsne", &["--perplexity", "5", "--iterations", "200"][..])] {
        let out = home.path().join(format!("{method}.png"));
        let flags = [&["--splits", "train", "--method", method, "--passages", "20"][..], extra].concat();
        assert!(viz(home.path(), &data, &out, &flags).status.success());
        assert_eq!(png_size(&out), (1000, 1000));
        assert!(!home.path().join(format!("{method}.tmp.png")).exists());
    }
    let missing = viz(home.path(), &data, &home.path().join("x.png"), &["--splits", "train,test"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("test.tsv"));
    assert!(!home.path().join("x.png").exists());
}

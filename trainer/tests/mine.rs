//! `dowse mine` end to end on a slice of SciFact's training judgments with all-MiniLM-L6-v2:
//! negatives are never relevant, come from the teacher's ranking with the top ones skipped, and
//! respect the false-negative filter; a cross-encoder teacher's logits are written as they are.

use std::path::Path;
use std::process::Command;

use dowse_core::corpus::read_qrels;
use dowse_tests::{make_test_cross_encoder, minilm_dir, scifact_slice};
use dowse_trainer::mine::{read_mined, MinedExample};

/// Runs `dowse mine` over `data` with `flags`; returns the mined lines.
fn mine(home: &Path, data: &Path, flags: &[&str]) -> Vec<MinedExample> {
    let out = home.join("mined.jsonl");
    let minilm = minilm_dir();
    let mut args = vec!["mine", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--model", minilm.to_str().unwrap()];
    args.extend(flags);
    let output = Command::new(env!("CARGO_BIN_EXE_dowse")).args(&args).env("DOWSE_HOME", home).output().unwrap();
    eprintln!("dowse {args:?}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    read_mined(&out).unwrap()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn mined_negatives_are_ranked_skipped_filtered_and_never_relevant() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("slice");
    scifact_slice(&data, "train", 12, 40);
    let qrels = read_qrels("train.tsv", &std::fs::read(data.join("qrels/train.tsv")).unwrap()).unwrap();

    let all = mine(home.path(), &data, &["--depth", "10", "--skip-top", "0", "--max-ratio", "100", "--negatives", "100"]);
    let pairs: usize = qrels.values().map(|docs| docs.values().filter(|&&g| g > 0).count()).sum();
    assert_eq!(all.len(), pairs, "one line per (query, relevant passage)");
    for line in &all {
        assert!(line.negative_ids.iter().all(|id| !qrels[&line.query_id].contains_key(id)), "a relevant passage mined as negative");
        assert!(line.scores[1..].windows(2).all(|w| w[0] >= w[1]), "negatives in the teacher's order");
        assert!(line.negatives.len() <= 20, "at most depth candidates from each retriever");
    }

    let skipped = mine(home.path(), &data, &["--depth", "10", "--skip-top", "2", "--max-ratio", "100", "--negatives", "3"]);
    for (line, full) in skipped.iter().zip(&all) {
        assert_eq!(line.negative_ids, full.negative_ids[2..5.min(full.negative_ids.len())]);
    }

    let filtered = mine(home.path(), &data, &["--depth", "10", "--skip-top", "0", "--max-ratio", "0.95", "--negatives", "100"]);
    let mut dropped = 0;
    for line in &filtered {
        let full = all.iter().find(|f| f.query_id == line.query_id && f.positive_id == line.positive_id).unwrap();
        let threshold = 0.95 * line.scores[0];
        assert!(line.scores[1..].iter().all(|&s| s < threshold));
        let expected: Vec<&String> =
            full.negative_ids.iter().zip(&full.scores[1..]).filter(|(_, &s)| s < threshold).map(|(id, _)| id).collect();
        assert_eq!(line.negative_ids.iter().collect::<Vec<_>>(), expected);
        dropped += full.negatives.len() - line.negatives.len();
    }
    assert!(dropped > 0, "MiniLM scores some candidates near the positive on SciFact");
}

#[test]
fn a_cross_encoder_teacher_scores_pairs_and_filters_on_probabilities() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("slice");
    scifact_slice(&data, "train", 3, 10);
    let teacher = home.path().join("cross-encoder");
    make_test_cross_encoder(&minilm_dir(), &teacher);
    let flags = ["--teacher", teacher.to_str().unwrap(), "--depth", "4", "--skip-top", "1", "--max-ratio", "0.99", "--max-len", "128"];
    let mined = mine(home.path(), &data, &flags);
    assert!(!mined.is_empty());
    for line in &mined {
        assert!(line.scores[1..].iter().all(|&s| sigmoid(s) < 0.99 * sigmoid(line.scores[0])));
        assert!(line.scores[1..].windows(2).all(|w| w[0] >= w[1]));
    }
}

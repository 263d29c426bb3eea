//! Asymmetric bundles end to end: `dowse index` by default encodes passages with
//! all-MiniLM-L6-v2 and ships the static query encoder aligned to it (adapted to the corpus when
//! it is large enough); a query encoder that is not aligned, of another dimension, or a passage
//! model that is not a model folder is refused before a bundle is written; `dowse distill
//! --align-to` trains such an encoder from unlabeled text; and re-indexing encodes only the
//! passages that changed and keeps the adapted encoder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dowse_core::fragments::open_fragment;
use dowse_core::model::{read_tensor, ModelFiles, StaticVectors};
use dowse_tests::{data, minilm_dir, scifact_slice};
use serde_json::Value;

/// Runs `dowse` with `DOWSE_HOME` in `home`.
fn dowse_in(home: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_dowse")).args(args).env("DOWSE_HOME", home).output().unwrap();
    eprintln!("dowse {args:?}\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `$DOWSE_HOME` holding all-MiniLM-L6-v2, as `dowse model fetch --from` copies it.
fn home_with_minilm(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    assert!(dowse_in(&home, &["model", "fetch", "--from", minilm_dir().to_str().unwrap()]).status.success());
    home
}

fn manifest(bundle: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap()
}

fn ndcg(home: &Path, data: &Path, bundle: &Path) -> f64 {
    let output = dowse_in(home, &["eval", "--data", data.to_str().unwrap(), "--bundle", bundle.to_str().unwrap(), "--retriever", "dense"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let line = stdout.lines().find(|l| l.starts_with("dense")).unwrap_or_else(|| panic!("no dense line: {stdout}"));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// A copy of the shipped query encoder with `change` applied to its files.
fn changed_query_encoder(dir: &Path, name: &str, change: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>)) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/query");
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap();
    let (mut config, mut weights) =
        (std::fs::read(shipped.join("config.json")).unwrap(), std::fs::read(shipped.join("model.safetensors")).unwrap());
    change(&mut config, &mut weights);
    std::fs::write(out.join("config.json"), config).unwrap();
    std::fs::write(out.join("model.safetensors"), weights).unwrap();
    std::fs::copy(shipped.join("tokenizer.json"), out.join("tokenizer.json")).unwrap();
    out
}

/// Negates the int8 codes of the safetensors tensor `name`: every vector through it points the other way.
fn negate_tensor(weights: &mut [u8], name: &str) {
    let header_len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&weights[8..8 + header_len]).unwrap();
    assert_eq!(header[name]["dtype"], "I8");
    let offsets = header[name]["data_offsets"].as_array().unwrap();
    let (start, end) = (offsets[0].as_u64().unwrap() as usize, offsets[1].as_u64().unwrap() as usize);
    for byte in &mut weights[8 + header_len + start..8 + header_len + end] {
        *byte = (*byte as i8).wrapping_neg() as u8;
    }
}

#[test]
fn default_bundles_are_asymmetric_and_unaligned_encoders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_minilm(dir.path());
    let adi = data("adi");
    let index = |out: &Path, extra: &[&str]| {
        let mut args = vec!["index", "--input", adi.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        dowse_in(&home, &args)
    };

    let bundle = dir.path().join("adi");
    let indexed = index(&bundle, &[]);
    assert!(indexed.status.success());
    assert!(stderr(&indexed).contains("not adapting the query encoder: the corpus is too small to adapt to"), "ADI is 82 documents");
    assert!(stderr(&indexed).contains("mean cosine"), "the agreement is in the summary");
    let manifest = manifest(&bundle);
    assert_eq!(manifest["model"]["id"], "dowse/dowse-query-static-minilm-l6-v1");
    assert_eq!(manifest["passage_model"]["id"], "all-MiniLM-L6-v2");
    assert_eq!(manifest["passage_model"]["dim"], 384);
    assert!(manifest["passage_model"]["sha256"].as_str().unwrap().starts_with("53aa5117"));
    // The browser's static worker reads the query encoder's table in fragments: the rows it
    // fetches for a query give the vector the whole model gives.
    let head = manifest["model"]["pieces"].as_str().expect("a static encoder's table in fragments");
    let fragment = |name: &str| std::fs::read(bundle.join("fragments").join(name)).unwrap();
    let model = |file: &str| std::fs::read(bundle.join("model").join(file)).unwrap();
    let (config, tokenizer, weights) = (model("config.json"), model("tokenizer.json"), model("model.safetensors"));
    let whole = StaticVectors::load(ModelFiles { config: &config, weights: &weights, tokenizer: &tokenizer }).unwrap();
    let head_part = open_fragment(head, &fragment(head)).unwrap();
    let mut lazy = StaticVectors::from_head(&config, &tokenizer, &head_part).unwrap();
    for query in ["computer indexing", "the evaluation of retrieval systems", "zyxwvut quixotic"] {
        let encoded = &whole.tokenizer().encode(&[query]).unwrap()[0];
        for name in lazy.missing(encoded) {
            lazy.load_shard(&name, &fragment(&name)).unwrap();
        }
        let cosine: f32 = whole.vector(encoded).iter().zip(lazy.vector(encoded)).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.99999, "{query}: the table's fragments give cosine {cosine} to the whole table");
    }
    let searched = dowse_in(&home, &["search", "--bundle", bundle.to_str().unwrap(), "--mode", "dense", "--json", "computer indexing"]);
    let results: Value = serde_json::from_slice(&searched.stdout).unwrap();
    assert_eq!(results["results"].as_array().unwrap().len(), 10);
    // A sanity bound, not a target: an unaligned encoder ranks ADI's documents near random (~0.1).
    let symmetric = dir.path().join("adi-minilm");
    assert!(index(&symmetric, &["--model", minilm_dir().to_str().unwrap()]).status.success());
    assert!(manifest_has_no_passage_model(&symmetric));
    let (asymmetric, reference) = (ndcg(&home, &adi, &bundle), ndcg(&home, &adi, &symmetric));
    assert!(asymmetric > 0.5 * reference, "asymmetric {asymmetric} against MiniLM's {reference}");

    let explicit = index(&dir.path().join("adapted"), &["--adapt"]);
    assert!(!explicit.status.success() && stderr(&explicit).contains("--adapt: the corpus is too small to adapt to"));

    let flipped = changed_query_encoder(dir.path(), "flipped", |_, weights| negate_tensor(weights, "projection.weight"));
    let minilm = minilm_dir();
    let asymmetric_with =
        |query: &Path| ["--passage-model", minilm.to_str().unwrap(), "--model", query.to_str().unwrap()].map(str::to_string);
    let refused = index(
        &dir.path().join("flipped-bundle"),
        &[&asymmetric_with(&flipped).each_ref().map(String::as_str)[..], &["--no-adapt"]].concat(),
    );
    assert!(!refused.status.success() && stderr(&refused).contains("is not aligned to the passage model"), "{}", stderr(&refused));
    assert!(!dir.path().join("flipped-bundle").exists(), "nothing is written");

    let narrow = changed_query_encoder(dir.path(), "narrow", |config, _| {
        *config = String::from_utf8(config.clone()).unwrap().replace("\"dim\": 384", "\"dim\": 256").into_bytes();
    });
    let refused = index(&dir.path().join("narrow-bundle"), &asymmetric_with(&narrow).each_ref().map(String::as_str));
    assert!(!refused.status.success() && stderr(&refused).contains("256-dimensional"), "{}", stderr(&refused));

    let missing = dir.path().join("no-such-model");
    let refused = index(&dir.path().join("missing-bundle"), &["--passage-model", missing.to_str().unwrap()]);
    assert!(!refused.status.success() && stderr(&refused).contains("no-such-model"), "{}", stderr(&refused));
}

fn manifest_has_no_passage_model(bundle: &Path) -> bool {
    manifest(bundle).get("passage_model").is_none()
}

/// 250 SciFact abstracts: about 1,600 pseudo-queries to train on, enough to adapt to, and 1 in 16
/// held back. The whole of Cranfield (1,400 documents, about 11,000 pseudo-queries for the passage
/// model to encode) made this the longest test of the workspace; this one takes 35 s on 2 cores.
#[test]
fn a_large_enough_corpus_gets_an_adapted_query_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_minilm(dir.path());
    let corpus = dir.path().join("scifact-250");
    scifact_slice(&corpus, "test", 0, 250);
    let bundle = dir.path().join("bundle");
    let index = || dowse_in(&home, &["index", "--input", corpus.to_str().unwrap(), "--out", bundle.to_str().unwrap()]);
    let indexed = index();
    assert!(indexed.status.success());
    let log = stderr(&indexed);
    assert!(log.contains("adapted the query encoder to this corpus"), "{log}");
    let held_back: usize = log.split(" held-back pseudo-queries").next().and_then(|head| head.rsplit(' ').next()).unwrap().parse().unwrap();
    assert!((100..=500).contains(&held_back), "one pseudo-query in 16 is held back to measure the agreement: {log}");
    let manifest = manifest(&bundle);
    assert_eq!(manifest["model"]["id"], "dowse/dowse-query-static-minilm-l6-v1+adapted");
    let config: Value = serde_json::from_slice(&std::fs::read(bundle.join("model/config.json")).unwrap()).unwrap();
    let vocab = config["vocab_size"].as_u64().unwrap();
    assert!(vocab < 30_522, "the vocabulary is pruned to the corpus' pieces: {vocab}");
    let weights = std::fs::metadata(bundle.join("model/model.safetensors")).unwrap().len();
    assert!(weights <= 5 << 20, "the adapted encoder stays under 5 MB: {weights}");
    let head = manifest["model"]["pieces"].as_str().unwrap();
    let head = open_fragment(head, &std::fs::read(bundle.join("fragments").join(head)).unwrap()).unwrap();
    let (shape, map) = read_tensor(&head, "projection.weight").unwrap();
    let identity = map.iter().enumerate().all(|(i, &v)| (v - if i / shape[1] == i % shape[1] { 1.0 } else { 0.0 }).abs() < 1e-6);
    assert!(shape[0] == shape[1] && identity, "the trained map ships folded into the table: {shape:?}");
    let searched = dowse_in(&home, &["search", "--bundle", bundle.to_str().unwrap(), "--json", "vitamin D deficiency"]);
    assert!(searched.status.success());
    let again = stderr(&index());
    assert!(again.contains("keeping the adapted query encoder of the bundle in"), "a re-index does not train again: {again}");
    assert!(again.contains("to encode") && !again.contains("adapted the query encoder to this corpus"), "{again}");
}

#[test]
fn distill_align_to_trains_a_static_query_encoder_from_text_alone() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_minilm(dir.path());
    let config = dir.path().join("align.toml");
    std::fs::write(&config, "[train]\nepochs = 2\nbatch_size = 32\n\n[model]\nembed_dim = 16\nmax_texts = 300\n").unwrap();
    let out = dir.path().join("query");
    let (minilm, adi) = (minilm_dir(), data("adi"));
    let args = ["distill", "--align-to", minilm.to_str().unwrap(), "--texts", adi.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let trained = dowse_in(&home, &[&args[..], &["--config", config.to_str().unwrap()]].concat());
    assert!(trained.status.success());
    assert!(stderr(&trained).contains("validation mean cosine to the teacher"));
    let written: Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        (written["model_type"].as_str(), written["embed_dim"].as_u64(), written["dim"].as_u64()),
        (Some("dowse-static"), Some(16), Some(384))
    );
    let eval = dowse_in(&home, &["eval", "--data", adi.to_str().unwrap(), "--model", out.to_str().unwrap(), "--retriever", "dense"]);
    assert!(eval.status.success(), "a static encoder is a model folder every command reads");
    let without_texts = dowse_in(&home, &["distill", "--align-to", minilm.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!without_texts.status.success() && stderr(&without_texts).contains("--texts"));
}

#[test]
fn re_indexing_encodes_only_the_passages_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let corpus = dir.path().join("corpus.jsonl");
    let line = |i: usize, text: &str| format!("{{\"_id\":\"d{i}\",\"title\":\"Page {i}\",\"text\":\"{text} {i}\"}}\n");
    let write = |changed: &str| {
        let lines: String = (0..30).map(|i| line(i, if i == 7 { changed } else { "telescope mirrors cleaned with water, page" })).collect();
        std::fs::write(&corpus, lines).unwrap();
    };
    let student = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/student");
    let out = dir.path().join("bundle");
    let index =
        || stderr(&dowse_in(&home, &["index", "--input", corpus.to_str().unwrap(), "--out", out.to_str().unwrap(), "--model", student]));
    write("telescope mirrors cleaned with water, page");
    assert!(index().contains("passage embeddings: 0 of 30 cached, 30 to encode"));
    assert!(index().contains("passage embeddings: 30 of 30 cached, 0 to encode"), "an unchanged corpus encodes nothing");
    write("lenses ground by hand, page");
    assert!(index().contains("passage embeddings: 29 of 30 cached, 1 to encode"), "one changed page encodes one passage");
}

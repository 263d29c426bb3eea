//! The `dowse` binary end to end: model fetch (verified, atomic, idempotent) and eval on a small
//! BEIR folder cut from SciFact (metrics.json, run.trec, the embedding cache, bad input, a
//! cross-encoder reranking the top of a run).

use std::path::Path;
use std::process::{Command, Output};

use burn_flex::{Flex, FlexDevice};
use dowse_core::corpus::{read_documents_jsonl, read_queries_jsonl, read_run};
use dowse_core::metrics::ranked;
use dowse_core::model::{CrossEncoder, EncoderConfig};
use dowse_tests::{data, make_test_cross_encoder, minilm_dir, scifact_slice};
use dowse_trainer::model_folder;
use serde_json::Value;

fn dowse(home: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_dowse")).args(args).env("DOWSE_HOME", home).output().unwrap();
    eprintln!("dowse {args:?}\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// stderr is no terminal in a test, so a hidden progress bar prints lines ("passages 32/230: ...,
/// 0.4 s in") instead.
fn shows_progress(output: &Output, label: &str) -> bool {
    stderr(output).lines().any(|line| line.starts_with(&format!("{label} ")) && line.ends_with(" s in"))
}

#[test]
fn eval_writes_metrics_and_a_trec_run_and_caches_embeddings() {
    let home = tempfile::tempdir().unwrap();
    let beir = tempfile::tempdir().unwrap();
    scifact_slice(beir.path(), "test", 20, 200);
    let out = home.path().join("out");
    let model = minilm_dir();
    let args = |retriever: &'static str| {
        vec![
            "eval",
            "--data",
            beir.path().to_str().unwrap(),
            "--retriever",
            retriever,
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--depth",
            "100",
        ]
    };
    let first = dowse(home.path(), &args("hybrid"));
    assert!(first.status.success());
    assert!(stderr(&first).contains("passages/s"), "no throughput line");
    assert!(shows_progress(&first, "queries") && shows_progress(&first, "passages"), "no progress lines");
    let table = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(table.contains("nDCG@10") && table.contains("hybrid"));

    let metrics: Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["num_queries"], 20);
    let ndcg = metrics["mean"]["ndcg_cut_10"].as_f64().unwrap();
    assert!(ndcg > 0.5, "hybrid nDCG@10 {ndcg} on 20 SciFact queries over ~230 documents");
    for key in ["mrr_cut_10", "map", "recall_100", "P_10", "success_10"] {
        assert!(metrics["mean"][key].is_number(), "metrics.json lacks {key}");
    }

    let run = std::fs::read_to_string(out.join("run.trec")).unwrap();
    let mut per_query = std::collections::HashMap::<String, usize>::new();
    for line in run.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 6, "{line}");
        assert_eq!((fields[1], fields[5]), ("Q0", "dowse-hybrid"));
        let rank = per_query.entry(fields[0].to_string()).or_default();
        *rank += 1;
        assert_eq!(fields[3], rank.to_string(), "ranks must count up from 1: {line}");
    }
    assert_eq!(per_query.len(), 20);
    assert!(per_query.values().all(|&n| n <= 100));

    let second = dowse(home.path(), &args("dense"));
    assert!(second.status.success());
    assert!(stderr(&second).contains("cached, 0 to encode"), "second run re-encoded");
}

#[test]
fn eval_reranks_the_top_of_a_run_by_the_cross_encoder_and_keeps_the_rest() {
    let home = tempfile::tempdir().unwrap();
    let beir = home.path().join("slice");
    scifact_slice(&beir, "test", 4, 20);
    let reranker = home.path().join("cross-encoder");
    make_test_cross_encoder(&minilm_dir(), &reranker);
    let (plain, reranked) = (home.path().join("plain"), home.path().join("reranked"));
    let base = ["eval", "--data", beir.to_str().unwrap(), "--retriever", "bm25", "--depth", "12"];
    assert!(dowse(home.path(), &[&base[..], &["--out", plain.to_str().unwrap()]].concat()).status.success());
    let flags = ["--out", reranked.to_str().unwrap(), "--rerank", reranker.to_str().unwrap(), "--rerank-depth", "5"];
    let output = dowse(home.path(), &[&base[..], &flags[..]].concat());
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("bm25+rerank"));
    assert!(shows_progress(&output, "pairs"), "no progress lines");
    let metrics: Value = serde_json::from_slice(&std::fs::read(reranked.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["rerank_depth"], 5);

    let read = |dir: &Path| read_run("run.trec", &std::fs::read(dir.join("run.trec")).unwrap()).unwrap();
    let (before, after) = (read(&plain), read(&reranked));
    let docs = read_documents_jsonl("corpus", &std::fs::read(beir.join("corpus.jsonl")).unwrap()).unwrap();
    let queries = read_queries_jsonl("queries", &std::fs::read(beir.join("queries.jsonl")).unwrap()).unwrap();
    let files = model_folder::read(&reranker).unwrap();
    // Loaded as `dowse eval --device cpu` loads it, on the CPU kernels, and on Burn for comparison.
    let load = |cpu_kernels| {
        CrossEncoder::<Flex>::load(files.files(), EncoderConfig { max_len: 256, batch_size: 8, cpu_kernels }, &FlexDevice).unwrap()
    };
    let (model, on_burn) = (load(true), load(false));
    for query in &queries {
        let ids = |run: &dowse_core::corpus::Run| ranked(&run[&query.id]).into_iter().map(|(doc, _)| doc).collect::<Vec<_>>();
        let (before, after) = (ids(&before), ids(&after));
        assert_eq!(after[5..], before[5..], "below the rerank depth the order stays");
        let texts: Vec<String> = before[..5].iter().map(|id| docs.iter().find(|d| &d.id == id).unwrap().full_text()).collect();
        let pairs: Vec<(&str, &str)> = texts.iter().map(|t| (query.text.as_str(), t.as_str())).collect();
        let scores = model.score(&pairs).unwrap();
        let burn_scores = on_burn.score(&pairs).unwrap();
        assert!(scores.iter().zip(&burn_scores).all(|(k, b)| (k - b).abs() < 1e-4), "kernels {scores:?} vs Burn {burn_scores:?}");
        let mut expected: Vec<(String, f64)> = before[..5].iter().cloned().zip(scores.iter().map(|&s| f64::from(s))).collect();
        expected = ranked(&expected);
        assert_eq!(after[..5], expected.into_iter().map(|(doc, _)| doc).collect::<Vec<_>>()[..]);
    }
}

#[test]
fn eval_reads_smart_collection_folders() {
    let home = tempfile::tempdir().unwrap();
    for (collection, queries) in [("cranfield", "225"), ("adi", "35")] {
        let folder = data(collection);
        let output = dowse(home.path(), &["eval", "--data", folder.to_str().unwrap(), "--retriever", "bm25"]);
        assert!(output.status.success(), "{collection}: {}", stderr(&output));
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!((row[0], row[1]), ("bm25", queries), "{collection}: {table}");
    }
}

#[test]
fn eval_names_file_line_and_field_of_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let beir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(beir.path().join("qrels")).unwrap();
    std::fs::write(beir.path().join("corpus.jsonl"), "{\"_id\":\"1\",\"text\":\"a\"}\n\n{\"_id\":\"2\",\"title\":\"t\"}\n").unwrap();
    std::fs::write(beir.path().join("queries.jsonl"), "{\"_id\":\"q\",\"text\":\"a\"}\n").unwrap();
    std::fs::write(beir.path().join("qrels/test.tsv"), "q\t1\t1\n").unwrap();
    let output = dowse(home.path(), &["eval", "--data", beir.path().to_str().unwrap(), "--retriever", "bm25"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("corpus.jsonl:3: field `text`: missing"), "{}", stderr(&output));
}

#[test]
fn model_fetch_verifies_and_never_leaves_a_partial_folder() {
    let home = tempfile::tempdir().unwrap();
    let fake = tempfile::tempdir().unwrap();
    let real = minilm_dir();
    std::fs::copy(real.join("config.json"), fake.path().join("config.json")).unwrap();
    std::fs::copy(real.join("tokenizer.json"), fake.path().join("tokenizer.json")).unwrap();
    std::fs::write(fake.path().join("model.safetensors"), b"not the weights").unwrap();

    let bad = dowse(home.path(), &["model", "fetch", "--from", fake.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("sha256"), "{}", stderr(&bad));
    let models = home.path().join("models");
    let left: Vec<_> = std::fs::read_dir(&models).unwrap().collect();
    assert!(left.is_empty(), "fetch left {left:?} behind");

    let good = dowse(home.path(), &["model", "fetch", "--from", real.to_str().unwrap()]);
    assert!(good.status.success());
    assert!(models.join("all-MiniLM-L6-v2/model.safetensors").is_file());
    let again = dowse(home.path(), &["model", "fetch"]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("already present"));
}

//! Helpers for the end-to-end tests: where the shared data and the fetched model live.
//!
//! `DOWSE_SHARED` points at the shared folder (default: `../shared` beside the checkout);
//! `DOWSE_HOME` at dowse's cache (default: `~/.cache/dowse`), where `dowse model fetch` puts models.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod encoders;

/// The shared data and fixtures folder.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("DOWSE_SHARED").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// A file or folder under `shared/data`.
pub fn data(path: &str) -> PathBuf {
    shared_dir().join("data").join(path)
}

/// A file under `shared/fixtures`.
pub fn fixture(path: &str) -> PathBuf {
    shared_dir().join("fixtures").join(path)
}

/// Reads a file the tests need, failing with its path when it is missing.
pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (set DOWSE_SHARED to the shared folder)", path.display()))
}

/// The folder of the fetched all-MiniLM-L6-v2, failing with the command that fetches it.
pub fn minilm_dir() -> PathBuf {
    let home = std::env::var_os("DOWSE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/dowse"));
    let dir = home.join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} has no model: run `cargo run --release --bin dowse -- model fetch`",
        dir.display()
    );
    dir
}

/// `n` unit vectors of `dim` Gaussian components from a fixed seed (SplitMix64 + Box-Muller),
/// the same on every machine.
pub fn random_unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = dowse_core::rng::SplitMix(seed);
    let mut matrix: Vec<f32> = (0..n * dim)
        .map(|_| {
            let (u, v) = (rng.unit().max(f64::MIN_POSITIVE), rng.unit());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect();
    for row in matrix.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    matrix
}

/// The fraction of `exact` (the true top ids) that `found` holds.
pub fn recall(found: &[u32], exact: &[u32]) -> f64 {
    let hits = exact.iter().filter(|id| found.contains(id)).count();
    hits as f64 / exact.len().max(1) as f64
}

/// A cross-encoder for tests, until the trainer ships a trained one: all-MiniLM-L6-v2's encoder
/// and pooler with a one-label classification head of small fixed weights, in Hugging Face layout.
pub fn make_test_cross_encoder(minilm: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let mut config: Value = serde_json::from_slice(&std::fs::read(minilm.join("config.json")).unwrap()).unwrap();
    config["architectures"] = json!(["BertForSequenceClassification"]);
    config["id2label"] = json!({"0": "LABEL_0"});
    std::fs::write(out.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    std::fs::copy(minilm.join("tokenizer.json"), out.join("tokenizer.json")).unwrap();
    let bytes = std::fs::read(minilm.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let hidden = config["hidden_size"].as_u64().unwrap() as usize;
    let weight: Vec<u8> = (0..hidden).flat_map(|i| (((i * 7919) % 101) as f32 / 1000.0 - 0.05).to_le_bytes()).collect();
    let bias = 0.1f32.to_le_bytes().to_vec();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> =
        tensors.tensors().into_iter().filter(|(name, _)| !name.starts_with("classifier")).collect();
    views.push((
        "classifier.weight".into(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1, hidden], &weight).unwrap(),
    ));
    views.push(("classifier.bias".into(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &bias).unwrap()));
    let file = safetensors::serialize(views, None).unwrap();
    std::fs::write(out.join("model.safetensors"), file).unwrap();
}

/// Every tensor of a safetensors file by name, with its raw bytes.
pub fn safetensors_by_name(file: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(file).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    tensors.tensors().into_iter().map(|(name, view)| (name, view.data().to_vec())).collect()
}

/// Writes a small BEIR folder into `dir`: SciFact's first `queries` judged queries of `split`,
/// their relevant documents and the first `others` documents of the corpus.
pub fn scifact_slice(dir: &Path, split: &str, queries: usize, others: usize) {
    let qrels_text = String::from_utf8(read(&data(&format!("scifact/qrels/{split}.tsv")))).unwrap();
    let mut qrels_lines = vec![qrels_text.lines().next().unwrap().to_string()];
    let mut kept_queries: Vec<String> = Vec::new();
    let mut docs = std::collections::HashSet::new();
    for line in qrels_text.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        if !kept_queries.iter().any(|q| q == fields[0]) {
            if kept_queries.len() == queries {
                continue;
            }
            kept_queries.push(fields[0].to_string());
        }
        docs.insert(fields[1].to_string());
        qrels_lines.push(line.to_string());
    }
    let id = |line: &str| serde_json::from_str::<Value>(line).unwrap()["_id"].as_str().unwrap().to_string();
    let corpus = String::from_utf8(read(&data("scifact/corpus.jsonl"))).unwrap();
    let corpus: Vec<&str> =
        corpus.lines().enumerate().filter(|(i, line)| *i < others || docs.contains(&id(line))).map(|(_, line)| line).collect();
    let all_queries = String::from_utf8(read(&data("scifact/queries.jsonl"))).unwrap();
    let query_lines: Vec<&str> = all_queries.lines().filter(|line| kept_queries.contains(&id(line))).collect();
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(dir.join("corpus.jsonl"), corpus.join("\n")).unwrap();
    std::fs::write(dir.join("queries.jsonl"), query_lines.join("\n")).unwrap();
    std::fs::write(dir.join("qrels").join(format!("{split}.tsv")), qrels_lines.join("\n")).unwrap();
}

/// The `dowse` binary of this build (beside the test binary's `deps` folder).
pub fn dowse_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").join("dowse");
    assert!(bin.is_file(), "{} is missing: build it with `cargo build --release -p dowse-trainer`", bin.display());
    bin
}

/// Starts `dowse serve` (the binary `bin`) with `args`, and returns it with the base URL it prints
/// once it listens (`--addr 127.0.0.1:0` lets it pick a free port). A server that says nothing
/// within [`SERVE_PATIENCE`] is killed and the test fails, rather than hanging.
pub fn start_serve(bin: &Path, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> (Child, String) {
    let mut child = Command::new(bin).arg("serve").args(args).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, first_line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let Ok(line) = first_line.recv_timeout(SERVE_PATIENCE) else {
        let _ = child.kill();
        panic!("dowse serve printed nothing within {SERVE_PATIENCE:?}");
    };
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    (child, base)
}

/// How long a test waits for `dowse serve` to start listening, or to exit once told to stop.
pub const SERVE_PATIENCE: Duration = Duration::from_secs(120);

/// Sends a server SIGTERM and waits for it to drain and exit. One still running after
/// [`SERVE_PATIENCE`] is killed and reported as an error.
pub fn stop_serve(child: &mut Child) -> Result<ExitStatus, String> {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + SERVE_PATIENCE;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("dowse serve (pid {}) was still running {SERVE_PATIENCE:?} after SIGTERM", child.id()))
}

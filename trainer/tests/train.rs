//! `dowse train` and `dowse distill` end to end on a slice of SciFact's training judgments, on
//! the CPU, in seconds: for the DSSM, the two-tower LSTM, the cross-encoder and the bi-encoder
//! (from negatives `dowse mine` found), the distilled student and the generative retriever (DSI), the loss falls and validation
//! nDCG@10 rises, and the exported model folder loads through dowse-core and scores the
//! validation queries exactly as training did, and a bundle built with it searches (the DSSM's
//! ranks ADI through the bundle as eval does directly); an interrupted run resumed from its checkpoint
//! ends with the same weights byte for byte, as does a run whose micro-batches ran at once on
//! two threads; bad configs or resumes fail with clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn_flex::{Flex, FlexDevice};
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::model::{load_bert, BertConfig, CrossEncoder, Encoder, EncoderConfig, Side, TextEncoder, TextTokenizer};
use dowse_core::text::Analyzer;
use dowse_tests::{data as data_dir, minilm_dir, safetensors_by_name, scifact_slice, start_serve, stop_serve};
use dowse_trainer::generative::DsiRetriever;
use dowse_trainer::model_folder;
use dowse_trainer::train::data::{split, RelevanceData};

/// Small enough for seconds on two cores, big enough to learn something.
const TINY: &str = "[train]\nseed = 7\nepochs = 5\nbatch_size = 32\nlearning_rate = 0.002\ncheckpoint_every = 4\npatience = 5\nvalidation_fraction = 0.2\n\n[model]\nvocab_size = 5000\nhidden_size = 64\ndim = 32\nmax_words = 256\n\n[loss]\nsampled_negatives = 16\n";

fn dowse(args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_dowse")).args(args))
}

/// Runs `command`, printing it with what it wrote (shown for a failing test).
fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    eprintln!("{command:?}\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn train(data: &Path, out: &Path, config: &Path, extra: &[&str]) -> Output {
    train_model("dssm", data, out, config, extra)
}

fn train_model(model: &str, data: &Path, out: &Path, config: &Path, extra: &[&str]) -> Output {
    run(&mut train_command(model, data, out, config, extra))
}

/// `dowse train MODEL` with its data, output folder, config and `extra` flags, not yet run.
fn train_command(model: &str, data: &Path, out: &Path, config: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dowse"));
    command.args(["train", model, "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    command.args(extra);
    command
}

/// A SciFact training slice and a DSSM config with `toml` in `dir`: (data, config).
fn dssm_setup(dir: &Path, toml: &str) -> (PathBuf, PathBuf) {
    let data = dir.join("scifact-slice");
    scifact_slice(&data, "train", 200, 300);
    let config = dir.join("dssm.toml");
    std::fs::write(&config, toml).unwrap();
    (data, config)
}

/// (epoch, metric, value) rows of metrics.csv.
fn metrics(out: &Path) -> Vec<(usize, String, f64)> {
    let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[1].parse().unwrap(), fields[2].to_string(), fields[3].parse().unwrap())
        })
        .collect()
}

fn per_epoch(rows: &[(usize, String, f64)], metric: &str) -> Vec<f64> {
    let epochs = rows.iter().map(|r| r.0).max().unwrap();
    (1..=epochs)
        .map(|e| {
            let values: Vec<f64> = rows.iter().filter(|r| r.0 == e && r.1 == metric).map(|r| r.2).collect();
            values.iter().sum::<f64>() / values.len() as f64
        })
        .collect()
}

#[test]
fn dssm_learns_resumes_exactly_and_exports_a_model_that_scores_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = dssm_setup(dir.path(), TINY);

    let whole = dir.path().join("whole");
    let trained = train(&data, &whole, &config, &[]);
    assert!(trained.status.success());
    // stderr is no terminal here, so the hidden bar's steps come as lines.
    let log = String::from_utf8_lossy(&trained.stderr);
    assert!(log.contains("epoch 1/5 step 1/") && log.contains("epoch 5/5 step "), "progress lines: {log}");
    let rows = metrics(&whole);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert_eq!(loss.len(), 5);
    assert!(loss[4] < loss[0] * 0.5, "the loss falls: {loss:?}");
    let best = validation.iter().copied().fold(f64::MIN, f64::max);
    assert!(best > validation[0] + 0.05, "validation nDCG@10 rises: {validation:?}");
    for file in ["config.json", "vocab.txt", "model.safetensors", "metrics.png", "checkpoint/model.bin", "checkpoint/optimizer.bin"] {
        assert!(whole.join(file).is_file(), "{file} is written");
    }

    // Interrupted after 7 steps (mid-epoch, between checkpoints), then resumed.
    let resumed = dir.path().join("resumed");
    let stopped = train(&data, &resumed, &config, &["--max-steps", "7"]);
    assert!(stopped.status.success());
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("continue with --resume"));
    assert!(train(&data, &resumed, &config, &["--resume"]).status.success());
    assert!(std::fs::read(whole.join("model.safetensors")).unwrap() == std::fs::read(resumed.join("model.safetensors")).unwrap());
    let without_speed = |rows: Vec<(usize, String, f64)>| rows.into_iter().filter(|r| r.1 != "samples_per_s").collect::<Vec<_>>();
    assert_eq!(without_speed(metrics(&whole)), without_speed(metrics(&resumed)));

    assert_exported_model_scores_like_training(&data, &whole, 0.2, 7, best);

    // A bundle carries the DSSM, its vocabulary as model/vocab.txt, and ranks ADI through its
    // graph as eval ranks it directly (ADI's documents fit in 256 words: one passage each).
    let bundle = dir.path().join("adi-bundle");
    let (adi, model, bundle_dir) = (data_dir("adi").display().to_string(), whole.display().to_string(), bundle.display().to_string());
    assert!(dowse(&["index", "--input", &adi, "--model", &model, "--out", &bundle_dir, "--quant", "f32"]).status.success());
    assert!(bundle.join("model/vocab.txt").is_file() && !bundle.join("model/tokenizer.json").exists());
    let ndcg = |source: &[&str]| -> f64 {
        let mut args = vec!["eval", "--data", &adi, "--retriever", "dense", "--no-cache"];
        args.extend(source);
        let output = dowse(&args);
        assert!(output.status.success());
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        table.lines().nth(1).unwrap().split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let (through_bundle, direct) = (ndcg(&["--bundle", &bundle_dir]), ndcg(&["--model", &model]));
    assert!((through_bundle - direct).abs() < 1e-3, "bundle {through_bundle}, direct {direct}");
    let query = "computer indexing of documents";
    let searched = assert_searches(&bundle, query);

    // dowse serve encodes queries with the same tower: its dense ranking is dowse search's.
    let (mut server, base) = start_serve(Path::new(env!("CARGO_BIN_EXE_dowse")), ["--bundle", &bundle_dir, "--addr", "127.0.0.1:0"]);
    let response = ureq::post(&format!("{base}/api/search")).send_json(serde_json::json!({"query": query, "k": 3, "mode": "dense"}));
    stop_serve(&mut server).unwrap();
    let served: serde_json::Value = response.unwrap().into_json().unwrap();
    assert_eq!(doc_ids(&served), searched, "{served}");
}

#[test]
fn gpu_backends_keep_cubecl_kernels_and_autotune_results_in_dowse_home() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = dssm_setup(dir.path(), TINY);
    let home = dir.path().join("home");
    let out = dir.path().join("wgpu");
    let trained = run(train_command("dssm", &data, &out, &config, &["--device", "wgpu", "--max-steps", "2"]).env("DOWSE_HOME", &home));
    assert!(trained.status.success());
    assert!(home.join("cubecl/autotune").is_dir(), "CubeCL's autotune results are under DOWSE_HOME/cubecl");
}

#[test]
fn micro_batches_run_at_once_train_the_weights_they_train_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let toml = TINY.replace("epochs = 5\nbatch_size = 32", "epochs = 2\nbatch_size = 16\ngrad_accumulation = 2");
    assert!(toml.contains("grad_accumulation = 2"));
    let (data, config) = dssm_setup(dir.path(), &toml);
    let weights = |threads: &str| {
        let out = dir.path().join(format!("threads-{threads}"));
        assert!(run(train_command("dssm", &data, &out, &config, &[]).env("RAYON_NUM_THREADS", threads)).status.success());
        std::fs::read(out.join("model.safetensors")).unwrap()
    };
    assert!(weights("1") == weights("2"), "two micro-batches on two threads give the weights of one thread");
}

/// `dowse search` on `bundle` returns three documents with the query's encode time; their ids.
fn assert_searches(bundle: &Path, query: &str) -> Vec<String> {
    let search = dowse(&["search", "--bundle", bundle.to_str().unwrap(), query, "--mode", "dense", "--k", "3", "--json"]);
    assert!(search.status.success());
    let results: serde_json::Value = serde_json::from_slice(&search.stdout).unwrap();
    assert_eq!(results["results"].as_array().unwrap().len(), 3, "{results}");
    assert!(results["timings_ms"]["encode"].as_f64().unwrap() > 0.0, "{results}");
    doc_ids(&results)
}

fn doc_ids(results: &serde_json::Value) -> Vec<String> {
    results["results"].as_array().unwrap().iter().map(|r| r["doc_id"].as_str().unwrap().to_string()).collect()
}

/// The folder in `out`, loaded the way eval and index load models, scores the validation queries
/// (held out by `fraction` and `seed`) as training did at its best epoch.
fn assert_exported_model_scores_like_training(data: &Path, out: &Path, fraction: f64, seed: u64, best: f64) {
    let relevance = RelevanceData::read(data, "train").unwrap();
    let held_out = split(relevance.queries.len(), fraction, seed).validation;
    let ndcg = dense_ndcg(&relevance, &held_out, out, EncoderConfig::default().max_len);
    assert!((ndcg - best).abs() < 1e-6, "exported model {ndcg} vs training's best {best}");
}

#[test]
fn two_tower_lstm_from_minilm_embeddings_learns_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scifact-slice");
    scifact_slice(&data, "train", 200, 300);
    let config = dir.path().join("tiny.toml");
    let tiny = "[train]\nseed = 3\nepochs = 4\nbatch_size = 32\nlearning_rate = 0.003\npatience = 4\nvalidation_fraction = 0.2\n\n[model]\nhidden_size = 64\ndim = 32\nmax_len = 48\nencode_batch_size = 128\n\n[loss]\nsampled_negatives = 16\n";
    std::fs::write(&config, tiny).unwrap();
    let out = dir.path().join("lstm");
    let base = minilm_dir();
    assert!(train_model("two-tower", &data, &out, &config, &["--base", base.to_str().unwrap()]).status.success());
    let rows = metrics(&out);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert!(loss[3] < loss[0] * 0.8, "the loss falls: {loss:?}");
    let best = validation.iter().copied().fold(f64::MIN, f64::max);
    assert!(best > validation[0] + 0.03, "validation nDCG@10 rises: {validation:?}");
    assert_exported_model_scores_like_training(&data, &out, 0.2, 3, best);

    // A bundle carries the LSTM with its tokenizer.json, and searches with its query tower.
    let bundle = dir.path().join("bundle");
    assert!(dowse(&["index", "--input", data.to_str().unwrap(), "--model", out.to_str().unwrap(), "--out", bundle.to_str().unwrap()])
        .status
        .success());
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["chunking"]["max_tokens"], 48, "passages no longer than the LSTM reads: {manifest}");
    assert_searches(&bundle, "protein folding in cells");
}

#[test]
fn bad_configs_and_resumes_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scifact-slice");
    scifact_slice(&data, "train", 30, 50);
    let config = dir.path().join("typo.toml");
    std::fs::write(&config, "[train]\nepochs = 1\nlearning_rat = 0.1\n").unwrap();
    let out = dir.path().join("out");
    let typo = train(&data, &out, &config, &[]);
    assert!(!typo.status.success());
    let message = String::from_utf8_lossy(&typo.stderr);
    assert!(message.contains("typo.toml") && message.contains("line 3") && message.contains("learning_rat"), "{message}");

    std::fs::write(&config, "[train]\ngrad_accumulation = 0\n").unwrap();
    let zero = train(&data, &out, &config, &[]);
    assert!(!zero.status.success());
    let message = String::from_utf8_lossy(&zero.stderr);
    assert!(message.contains("typo.toml") && message.contains("grad_accumulation") && !message.contains("panicked"), "{message}");

    std::fs::write(&config, "[train]\nepochs = 1\nvalidation_fraction = 0.2\n[model]\nhidden_size = 16\ndim = 8\n").unwrap();
    let missing = train(&data, &out, &config, &["--resume"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("checkpoint"));

    assert!(train(&data, &out, &config, &["--max-steps", "1"]).status.success());
    std::fs::write(&config, "[train]\nepochs = 2\nvalidation_fraction = 0.2\n[model]\nhidden_size = 16\ndim = 8\n").unwrap();
    let changed = train(&data, &out, &config, &["--resume"]);
    assert!(!changed.status.success());
    assert!(String::from_utf8_lossy(&changed.stderr).contains("another config"));

    // Killed at each step of writing the next checkpoint: the last one (or the new one, whole)
    // still resumes.
    std::fs::write(&config, "[train]\nepochs = 3\nbatch_size = 8\nvalidation_fraction = 0.2\n[model]\nhidden_size = 16\ndim = 8\n")
        .unwrap();
    let out = dir.path().join("killed");
    assert!(train(&data, &out, &config, &["--max-steps", "1"]).status.success());
    for (steps, point) in [(2, "folder-file"), (3, "folder-staged"), (4, "folder-exchanged")] {
        let steps = steps.to_string();
        let killed = run(train_command("dssm", &data, &out, &config, &["--resume", "--max-steps", &steps]).env("DOWSE_FAULT_AT", point));
        assert!(!killed.status.success(), "{point}: the fault hook kills the run");
        assert!(train(&data, &out, &config, &["--resume", "--max-steps", &steps]).status.success(), "{point}: the checkpoint resumes");
    }

    // A damaged or truncated checkpoint file is named, never loaded.
    let checkpoint = out.join("checkpoint");
    let weights = std::fs::read(checkpoint.join("model.bin")).unwrap();
    let mut flipped = weights.clone();
    flipped[weights.len() / 2] ^= 0x40;
    for (file, bytes) in [("model.bin", flipped), ("optimizer.bin", b"short".to_vec())] {
        let kept = std::fs::read(checkpoint.join(file)).unwrap();
        std::fs::write(checkpoint.join(file), bytes).unwrap();
        let damaged = train(&data, &out, &config, &["--resume"]);
        let message = String::from_utf8_lossy(&damaged.stderr);
        assert_eq!(damaged.status.code(), Some(1), "{file}: an error, not a panic: {message}");
        assert!(message.contains(&format!("{file}: damaged")) && !message.contains("panicked"), "{message}");
        std::fs::write(checkpoint.join(file), kept).unwrap();
    }
}

#[test]
fn cross_encoder_learns_from_mined_negatives_and_exports_a_reranker() {
    let dir = tempfile::tempdir().unwrap();
    reranker_learns_and_exports(dir.path(), "learning_rate = 0.0001\n", "");
}

/// LoRA (rank 8 on query and value) with bf16 compute: only the adapters and the head train, and
/// the export is a plain f32 reranker with the adapters folded in: the projections without
/// adapters are MiniLM's byte for byte, the ones with adapters are not.
#[test]
fn lora_cross_encoder_in_bf16_trains_adapters_only_and_exports_them_merged() {
    let dir = tempfile::tempdir().unwrap();
    let lora = "precision = \"bf16\"\n\n[model.lora]\nrank = 8\nalpha = 16.0\n";
    let out = reranker_learns_and_exports(dir.path(), "learning_rate = 0.001\n", lora);
    let exported = safetensors_by_name(&out.join("model.safetensors"));
    let minilm = safetensors_by_name(&minilm_dir().join("model.safetensors"));
    let minilm_names: Vec<&String> =
        minilm.keys().filter(|n| !n.starts_with("pooler.") && n.as_str() != "embeddings.position_ids").collect();
    assert!(exported.keys().all(|n| n.starts_with("bert.") || n.starts_with("classifier.")), "{:?}", exported.keys());
    for name in minilm_names {
        let adapted = name.contains(".attention.self.query.weight") || name.contains(".attention.self.value.weight");
        let same = exported[&format!("bert.{name}")] == minilm[name];
        assert_eq!(same, !adapted, "{name}: frozen weights are exported as they were, adapted ones merged");
    }
}

/// Trains a cross-encoder from MiniLM on mined negatives of a SciFact slice with `[train]` and
/// `[model]` lines added (groups of 3 negatives drawn each epoch from 6 mined), checks that it
/// learns and that the exported reranker scores the validation queries exactly as training did
/// at its best epoch; returns the model folder.
fn reranker_learns_and_exports(dir: &Path, train_lines: &str, model_lines: &str) -> PathBuf {
    let (data, mined) = mined_slice(dir, &["--negatives", "6"]);
    let minilm = minilm_dir();
    let config = dir.join("tiny.toml");
    let tiny = format!(
        "[train]\nseed = 5\nepochs = 3\nbatch_size = 4\n{train_lines}checkpoint_every = 5\npatience = 3\nvalidation_fraction = 0.25\n\n[model]\nmax_len = 64\nnegatives = 3\nvalidation_depth = 10\nscore_batch_size = 16\n{model_lines}"
    );
    std::fs::write(&config, tiny).unwrap();
    let out = dir.join("reranker");
    let extra = ["--base", minilm.to_str().unwrap(), "--negatives", mined.to_str().unwrap()];
    assert!(train_model("cross-encoder", &data, &out, &config, &extra).status.success());
    let rows = metrics(&out);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert!(loss[2] < loss[0] * 0.7, "the loss falls: {loss:?}");
    let best = validation.iter().copied().fold(f64::MIN, f64::max);
    assert!(best > validation[0] + 0.03, "validation nDCG@10 rises: {validation:?}");

    // The exported folder is a Hugging Face cross-encoder that reranks the validation queries'
    // BM25 candidates exactly as training did at its best epoch.
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["architectures"][0], "BertForSequenceClassification");
    let relevance = RelevanceData::read(&data, "train").unwrap();
    let held_out = split(relevance.queries.len(), 0.25, 5).validation;
    let analyzer = Analyzer::default();
    let bm25 = Bm25Index::build(Bm25Params::default(), relevance.passages.iter().map(|p| analyzer.analyze(p)));
    let files = model_folder::read(&out).unwrap();
    let config = EncoderConfig { max_len: 64, batch_size: 16, ..EncoderConfig::default() };
    let reranker = CrossEncoder::<Flex>::load(files.files(), config, &FlexDevice).unwrap();
    let rankings: Vec<Vec<(u32, f32)>> = held_out
        .iter()
        .map(|&q| {
            let candidates: Vec<u32> = bm25.search(&analyzer.analyze(&relevance.queries[q]), 10).into_iter().map(|(p, _)| p).collect();
            let pairs: Vec<(&str, &str)> =
                candidates.iter().map(|&p| (relevance.queries[q].as_str(), relevance.passages[p as usize].as_str())).collect();
            candidates.into_iter().zip(reranker.score(&pairs).unwrap()).collect()
        })
        .collect();
    let ndcg = relevance.ndcg_at_10_of(&held_out, &rankings);
    assert!((ndcg - best).abs() < 1e-6, "exported reranker {ndcg} vs training's best {best}");
    out
}

#[test]
fn bi_encoder_fine_tuning_from_minilm_learns_keeps_its_start_and_exports_a_bert() {
    let dir = tempfile::tempdir().unwrap();
    let (data, mined) = mined_slice(dir.path(), &["--negatives", "2", "--max-len", "64"]);
    let minilm = minilm_dir();
    let config = dir.path().join("tiny.toml");
    let tiny = "[train]\nseed = 11\nepochs = 2\nbatch_size = 8\nlearning_rate = 0.00002\ncheckpoint_every = 5\npatience = 2\nvalidation_fraction = 0.25\n\n[model]\nmax_len = 64\nhard_negatives = 1\nencode_batch_size = 64\n";
    std::fs::write(&config, tiny).unwrap();
    let out = dir.path().join("bi-encoder");
    let extra = ["--base", minilm.to_str().unwrap(), "--negatives", mined.to_str().unwrap()];
    assert!(train_model("bi-encoder", &data, &out, &config, &extra).status.success());
    let rows = metrics(&out);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert!(loss[1] < loss[0], "the loss falls: {loss:?}");
    let best = validation.iter().copied().fold(f64::MIN, f64::max);

    // The start: MiniLM itself, on the same held-out queries and passages at the same length.
    let relevance = RelevanceData::read(&data, "train").unwrap();
    let held_out = split(relevance.queries.len(), 0.25, 11).validation;
    let start = dense_ndcg(&relevance, &held_out, &minilm, 64);
    assert!(best >= start, "fine-tuning fell below its start: {validation:?} vs MiniLM {start}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["num_hidden_layers"], 6);
    assert_loads_in_sentence_transformers(&out);
    let exported = dense_ndcg(&relevance, &held_out, &out, 64);
    assert!((exported - best).abs() < 1e-6, "exported model {exported} vs training's best {best}");
}

/// A BERT sentence encoder's folder carries what `SentenceTransformer(dir)` reads: its modules
/// (Transformer, mean Pooling of the model's width, Normalize) and Transformers.js's tokenizer config.
fn assert_loads_in_sentence_transformers(out: &Path) {
    let json = |path: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(out.join(path)).unwrap()).unwrap() };
    assert_eq!(json("modules.json").as_array().unwrap().len(), 3);
    assert_eq!(json("1_Pooling/config.json")["word_embedding_dimension"], json("config.json")["hidden_size"]);
    assert_eq!(json("1_Pooling/config.json")["pooling_mode_mean_tokens"], true);
    assert!(json("tokenizer_config.json")["model_max_length"].is_u64());
}

#[test]
fn distilled_student_learns_and_exports_a_small_int8_bert() {
    let dir = tempfile::tempdir().unwrap();
    let (data, mined) = mined_slice(dir.path(), &["--negatives", "2", "--max-len", "64"]);
    let minilm = minilm_dir();
    let tiny = "[train]\nseed = 5\nepochs = 3\nbatch_size = 8\nlearning_rate = 0.0001\ncheckpoint_every = 5\npatience = 3\nvalidation_fraction = 0.25\n\n\
                [model]\nlayers = 2\nmax_vocab = 4000\nmax_len = 64\nint8 = true\n";
    let out = dir.path().join("student");
    distill(&data, &mined, &minilm, tiny, &out);
    let rows = metrics(&out);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert!(loss[2] < loss[0], "the loss falls: {loss:?}");

    // The student before training: MiniLM's layers 0 and 5 (its whole vocabulary tokenizes this
    // corpus as the pruned one does: 4,000 pieces hold every piece the slice uses).
    let relevance = RelevanceData::read(&data, "train").unwrap();
    let held_out = split(relevance.queries.len(), 0.25, 5).validation;
    let files = model_folder::read(&minilm).unwrap();
    let bert = BertConfig::from_json(&files.config).unwrap();
    let cut = load_bert::<Flex>(&bert, &files.weights, &FlexDevice).unwrap().shrink(&[0, 5], None);
    let tokenizer = TextTokenizer::from_bytes(&files.tokenizer, 64).unwrap();
    let start =
        TextEncoder::new(cut, tokenizer, bert, EncoderConfig { max_len: 64, batch_size: 64, ..EncoderConfig::default() }, &FlexDevice);
    let start = ndcg_with(&relevance, &held_out, start.dim(), |texts, _| start.encode(texts, |_| {}).unwrap());
    let best = validation.iter().copied().fold(f64::MIN, f64::max);
    assert!(best > start, "validation {validation:?} never beats the untrained student's {start}");

    // A BERT of 2 layers over at most 4,000 word pieces with int8 matrices: under a third of
    // MiniLM's bytes (the issue's target for the shipped student).
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["num_hidden_layers"], 2);
    assert_loads_in_sentence_transformers(&out);
    assert!(saved["vocab_size"].as_u64().unwrap() <= 4000, "{saved}");
    let weights = std::fs::read(out.join("model.safetensors")).unwrap();
    let header_length = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    assert!(String::from_utf8_lossy(&weights[8..8 + header_length]).contains(r#""dtype":"I8""#));
    let teacher = std::fs::metadata(minilm.join("model.safetensors")).unwrap().len() as usize;
    assert!(weights.len() * 3 <= teacher, "{} bytes against the teacher's {teacher}", weights.len());
    let exported = dense_ndcg(&relevance, &held_out, &out, 64);
    assert!((exported - best).abs() < 1e-6, "exported student {exported} vs training's best {best}");

    // A bundle carries the student as it was exported, and its dense search runs on it.
    let bundle = dir.path().join("bundle");
    let (slice, student, bundle_dir) = (data.display().to_string(), out.display().to_string(), bundle.display().to_string());
    assert!(dowse(&["index", "--input", &slice, "--model", &student, "--out", &bundle_dir]).status.success());
    assert_eq!(std::fs::read(bundle.join("model/model.safetensors")).unwrap(), weights);
    assert_searches(&bundle, &relevance.queries[held_out[0]]);

    // That student as the teacher of one with half its feed-forward neurons per layer, as the
    // shipped student was made cheaper: it keeps the vocabulary, and exports and loads as trained.
    let narrow_toml = "[train]\nseed = 5\nepochs = 1\nbatch_size = 8\nlearning_rate = 0.0001\nvalidation_fraction = 0.25\n\n\
                       [model]\nlayers = 2\nintermediate_size = 768\nffn_sample = 16\nmax_len = 64\n";
    let narrow = dir.path().join("narrow");
    distill(&data, &mined, &out, narrow_toml, &narrow);
    let narrowed: serde_json::Value = serde_json::from_slice(&std::fs::read(narrow.join("config.json")).unwrap()).unwrap();
    assert_eq!((&narrowed["intermediate_size"], &narrowed["vocab_size"]), (&768.into(), &saved["vocab_size"]));
    assert!(std::fs::read(narrow.join("model.safetensors")).unwrap().len() < weights.len());
    let trained = per_epoch(&metrics(&narrow), "val_ndcg_cut_10")[0];
    let exported = dense_ndcg(&relevance, &held_out, &narrow, 64);
    assert!((exported - trained).abs() < 1e-6, "exported narrow student {exported} vs training's {trained}");
}

/// `dowse distill` of a student from `base` into `out` with the config text `toml` (written
/// beside `out`); it must succeed.
fn distill(data: &Path, mined: &Path, base: &Path, toml: &str, out: &Path) {
    let config = out.with_extension("toml");
    std::fs::write(&config, toml).unwrap();
    let text = |path: &Path| path.to_str().unwrap().to_string();
    let (data, mined, base, out, config) = (text(data), text(mined), text(base), text(out), text(&config));
    assert!(dowse(&["distill", "--data", &data, "--out", &out, "--config", &config, "--base", &base, "--negatives", &mined])
        .status
        .success());
}

/// A 32-query slice of SciFact's training judgments in `dir` and the negatives `dowse mine` finds
/// for it among MiniLM's and BM25's top 10 (`flags` added): (slice folder, mined file).
fn mined_slice(dir: &Path, flags: &[&str]) -> (PathBuf, PathBuf) {
    let data = dir.join("scifact-slice");
    scifact_slice(&data, "train", 32, 40);
    let mined = dir.join("mined.jsonl");
    let (slice, out, model) = (data.display().to_string(), mined.display().to_string(), minilm_dir().display().to_string());
    let mut args = vec!["mine", "--data", &slice, "--out", &out, "--model", &model, "--depth", "10"];
    args.extend(flags);
    assert!(dowse(&args).status.success());
    (data, mined)
}

/// nDCG@10 of the `queries` searching every passage with the model in `model` at `max_len` tokens,
/// encoded as `dowse` encodes on the CPU (validation included): a BERT on dowse's CPU kernels.
fn dense_ndcg(relevance: &RelevanceData, queries: &[usize], model: &Path, max_len: usize) -> f64 {
    let files = model_folder::read(model).unwrap();
    let encoder = Encoder::<Flex>::load(files.files(), EncoderConfig { max_len, batch_size: 64, cpu_kernels: true }, &FlexDevice).unwrap();
    ndcg_with(relevance, queries, encoder.dim(), |texts, side| encoder.encode(texts, side, |_| {}).unwrap())
}

/// nDCG@10 of the `queries` searching every passage, texts turned into unit vectors by `encode`.
fn ndcg_with(relevance: &RelevanceData, queries: &[usize], dim: usize, encode: impl Fn(&[&str], Side) -> Vec<f32>) -> f64 {
    let texts: Vec<&str> = queries.iter().map(|&q| relevance.queries[q].as_str()).collect();
    let passages: Vec<&str> = relevance.passages.iter().map(String::as_str).collect();
    relevance.ndcg_at_10(queries, &encode(&texts, Side::Query), &encode(&passages, Side::Passage), dim)
}

/// DSI from the shipped student on a 32-query slice: the loss falls, validation nDCG@10 beats
/// what a random ranking's Recall@10 would be, an interrupted run resumed from its checkpoint ends
/// with the same weights, and the exported folder reloads and ranks the held-out queries exactly
/// as validation did, every result a document of the slice.
#[test]
fn dsi_learns_resumes_exactly_and_reloads_decoding_the_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scifact-slice");
    scifact_slice(&data, "train", 32, 40);
    let student = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/student");
    let config = dir.path().join("dsi.toml");
    let tiny = "[train]\nseed = 3\nepochs = 6\nbatch_size = 16\nlearning_rate = 0.0005\ncheckpoint_every = 4\npatience = 6\nvalidation_fraction = 0.25\n\n\
                [model]\nmax_len = 48\ndecoder_layers = 1\nspans_per_passage = 3\nspan_words = 16\nbeam = 10\n\n[model.ids]\nbranching = 8\nleaf_size = 8\n";
    std::fs::write(&config, tiny).unwrap();
    let base = ["--base", student.to_str().unwrap()];
    let out = dir.path().join("dsi");
    assert!(train_model("dsi", &data, &out, &config, &base).status.success());
    let rows = metrics(&out);
    let loss = per_epoch(&rows, "train_loss");
    let validation = per_epoch(&rows, "val_ndcg_cut_10");
    assert!(loss.last() < loss.first(), "the loss falls: {loss:?}");
    let relevance = RelevanceData::read(&data, "train").unwrap();
    let chance = 10.0 / relevance.passages.len() as f64;
    let best = validation.iter().copied().fold(f64::MIN, f64::max);
    assert!(best > chance, "validation nDCG@10 {validation:?} is no better than chance ({chance})");

    let resumed = dir.path().join("dsi-resumed");
    let stopped = train_model("dsi", &data, &resumed, &config, &[&base[..], &["--max-steps", "7"]].concat());
    assert!(stopped.status.success() && String::from_utf8_lossy(&stopped.stderr).contains("continue with --resume"));
    assert!(train_model("dsi", &data, &resumed, &config, &[&base[..], &["--resume"]].concat()).status.success());
    let weights = |out: &Path| std::fs::read(out.join("model.safetensors")).unwrap();
    assert!(weights(&out) == weights(&resumed), "a resumed run ends with the same weights");

    let documents: Vec<&str> = relevance.passage_ids.iter().map(String::as_str).collect();
    let retriever = DsiRetriever::<Flex>::load(&out, &documents, "the slice", &FlexDevice).unwrap();
    let held_out = split(relevance.queries.len(), 0.25, 3).validation;
    let rankings: Vec<Vec<(u32, f32)>> = held_out.iter().map(|&q| retriever.search(&relevance.queries[q], 10, 10).unwrap()).collect();
    assert!(rankings.iter().flatten().all(|&(p, score)| (p as usize) < relevance.passages.len() && score <= 0.0));
    let reloaded = relevance.ndcg_at_10_of(&held_out, &rankings);
    assert!((reloaded - best).abs() < 1e-6, "the reloaded model ranks at {reloaded}, validation measured {best}");

    // `dowse eval` decodes with it alone and fused with BM25 and dense; another collection is refused.
    let (slice, model, base) = (data.display().to_string(), out.display().to_string(), student.display().to_string());
    for args in [vec!["--retriever", "dsi", "--model", &model], vec!["--retriever", "hybrid3", "--model", &base, "--dsi", &model]] {
        let eval = dowse(&[&["eval", "--data", &slice, "--split", "train", "--dsi-depth", "20"][..], &args].concat());
        assert!(eval.status.success());
        assert!(String::from_utf8_lossy(&eval.stdout).contains(args[1]));
    }
    let adi = data_dir("adi").display().to_string();
    let refused = dowse(&["eval", "--data", &adi, "--retriever", "dsi", "--model", &model]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && message.contains("semantic_ids.json") && message.contains(&adi), "{message}");

    // A bundle of the slice searches with it as a third list, in `dowse search` and through
    // `dowse eval --bundle`; a bundle of other documents is refused.
    let bundle = dir.path().join("bundle").display().to_string();
    assert!(dowse(&["index", "--input", &slice, "--model", &base, "--out", &bundle]).status.success());
    let query = &relevance.queries[held_out[0]];
    let found = dowse(&["search", "--bundle", &bundle, query, "--dsi", &model, "--json"]);
    assert!(found.status.success());
    let found: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(found["results"].as_array().unwrap().len(), 10, "{found}");
    assert!(found["timings_ms"]["decode"].as_f64().unwrap() > 0.0, "{found}");
    let (mut server, url) =
        start_serve(Path::new(env!("CARGO_BIN_EXE_dowse")), ["--bundle", &bundle, "--dsi", &model, "--addr", "127.0.0.1:0"]);
    let response = ureq::post(&format!("{url}/api/search")).send_json(serde_json::json!({"query": query, "k": 10}));
    let health = ureq::get(&format!("{url}/api/health")).call();
    stop_serve(&mut server).unwrap();
    let served: serde_json::Value = response.unwrap().into_json().unwrap();
    assert_eq!(doc_ids(&served), doc_ids(&found), "dowse serve --dsi fuses as dowse search --dsi does: {served}");
    assert_eq!(health.unwrap().into_json::<serde_json::Value>().unwrap()["dsi"]["available"], true);
    let through = ["eval", "--data", &slice, "--split", "train", "--bundle", &bundle, "--retriever", "hybrid3", "--dsi", &model];
    assert!(dowse(&through).status.success());
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, "{\"id\": \"a\", \"text\": \"one page\"}\n{\"id\": \"b\", \"text\": \"another page\"}\n").unwrap();
    let other_bundle = dir.path().join("other-bundle").display().to_string();
    assert!(dowse(&["index", "--input", &other.display().to_string(), "--model", &base, "--out", &other_bundle]).status.success());
    let refused = dowse(&["search", "--bundle", &other_bundle, "page", "--dsi", &model]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && message.contains("semantic_ids.json") && message.contains(&other_bundle), "{message}");
}

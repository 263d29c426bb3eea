//! The Burn BERT encoder reproduces sentence-transformers' all-MiniLM-L6-v2: every embedding at
//! cosine >= 0.9999, on each way dowse runs it: its own CPU kernels (the native CPU), flex,
//! ndarray (the browser's CPU fallback, here natively) and wgpu (lavapipe in CI: the items under
//! 256 pieces), which runs through `dowse --device wgpu`'s own backend selection (its CubeCL settings: minimal
//! autotuning, autotune results kept in `$DOWSE_HOME/cubecl`; wgpu keeps no compiled kernels).
//! Token ids exactly: the encoders' tokenizer ([`TextTokenizer`], the `tokenizers` pipeline) and
//! the static encoder's ([`WordPieces`], its parts without the pipeline) give the fixture's ids,
//! and the same ids as each other on every SciFact and Cranfield text.

use dowse_core::corpus::read_smart_records;
use dowse_core::dense::dot;
use dowse_core::model::{TextTokenizer, WordPieces};
use dowse_tests::encoders::{self, Runtime};
use dowse_tests::{data, fixture, minilm_dir, read};
use serde_json::Value;

struct Golden {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
}

fn golden() -> Golden {
    let json: Value = serde_json::from_slice(&read(&fixture("minilm_golden.json"))).unwrap();
    assert_eq!(json["max_seq_length"], 256);
    let items = json["items"].as_array().unwrap();
    Golden {
        texts: items.iter().map(|i| i["text"].as_str().unwrap().to_string()).collect(),
        ids: items.iter().map(|i| i["input_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()).collect(),
        embeddings: items.iter().map(|i| i["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()).collect(),
    }
}

/// Encodes the golden items that `keep` takes (by their token ids) with MiniLM on `runtime`,
/// `batch_size` a pass, in the fixture's order, and compares them with the fixture.
fn check(runtime: Runtime, batch_size: usize, keep: fn(&[u32]) -> bool) {
    let encoder = encoders::load(runtime, &minilm_dir(), 256, batch_size);
    let golden = golden();
    let items: Vec<usize> = (0..golden.ids.len()).filter(|&i| keep(&golden.ids[i])).collect();
    let texts: Vec<&str> = items.iter().map(|&i| golden.texts[i].as_str()).collect();
    let dim = encoder.dim();
    let vectors = encoders::encode(encoder.as_ref(), &texts);
    for (got, &i) in vectors.chunks_exact(dim).zip(&items) {
        let want = &golden.embeddings[i];
        let cosine = dot(got, want) / (dot(got, got).sqrt() * dot(want, want).sqrt());
        assert!(cosine >= 0.9999, "item {i} ({:?}): cosine {cosine}", golden.texts[i]);
        assert!((dot(got, got) - 1.0).abs() < 1e-4, "item {i} is not unit length");
    }
}

// Batches of 5 mix lengths: padding and the attention mask (Burn), or texts packed one after
// another (the CPU kernels), are exercised.

#[test]
fn cpu_kernels_match_sentence_transformers() {
    check(Runtime::CpuKernels, 5, |_| true);
}

#[test]
fn flex_matches_sentence_transformers() {
    check(Runtime::Flex, 5, |_| true);
}

#[test]
fn ndarray_matches_sentence_transformers() {
    check(Runtime::NdArray, 5, |_| true);
}

/// On lavapipe (CI's wgpu) the ten items under 256 pieces (2 to 28) take 12.5 s in batches of 5
/// (mixed lengths: padding and the mask); one of the seven items cut at 256 pieces added to them
/// took 170 s. The cut items run on the three CPU paths above.
#[test]
fn wgpu_matches_sentence_transformers() {
    check(Runtime::Wgpu, 5, |ids| ids.len() < 256);
}

#[test]
fn tokenizers_match_sentence_transformers_and_each_other() {
    let tokenizer = read(&minilm_dir().join("tokenizer.json"));
    let pieces = WordPieces::from_bytes(&tokenizer, 256).unwrap();
    let pipeline = TextTokenizer::from_bytes(&tokenizer, 256).unwrap();
    let golden = golden();
    let texts: Vec<&str> = golden.texts.iter().map(String::as_str).collect();
    let (by_pipeline, by_pieces) = (pipeline.encode(&texts).unwrap(), pieces.encode(&texts).unwrap());
    for (i, want) in golden.ids.iter().enumerate() {
        assert_eq!(&by_pipeline[i].ids, want, "the encoders' token ids of item {i} ({:?})", golden.texts[i]);
        assert_eq!(&by_pieces[i].ids, want, "the static encoder's token ids of item {i} ({:?})", golden.texts[i]);
    }
    let scifact = |file: &str| {
        let lines = String::from_utf8(read(&data(file))).unwrap();
        lines
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .map(|row| format!("{} {}", row["title"].as_str().unwrap_or(""), row["text"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
    };
    let cranfield = |file: &str| {
        let records = read_smart_records(file, &read(&data(file))).unwrap();
        records.into_iter().map(|r| format!("{} {}", r.title, r.text)).collect::<Vec<_>>()
    };
    let collections = [
        ("scifact/queries.jsonl", scifact("scifact/queries.jsonl")),
        ("scifact/corpus.jsonl", scifact("scifact/corpus.jsonl")),
        ("cranfield/cran.qry", cranfield("cranfield/cran.qry")),
        ("cranfield/cran.all.1400", cranfield("cranfield/cran.all.1400")),
    ];
    for (file, texts) in collections {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (got, want) = (pieces.encode(&texts).unwrap(), pipeline.encode(&texts).unwrap());
        for (i, (got, want)) in got.iter().zip(&want).enumerate() {
            assert_eq!(got, want, "{file}, text {}", i + 1);
        }
    }
}

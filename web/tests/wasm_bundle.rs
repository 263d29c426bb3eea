//! dowse-core's bundle reader and searcher in headless Chromium's WebAssembly (wasm-bindgen-test):
//! a bundle's root and fragments are cut, read back with every check, searched densely, by BM25
//! and both, and a damaged fragment is refused by name, as the browser app does it.
//!
//! `cargo test --release -p dowse-web --target wasm32-unknown-unknown --features encoder --test
//! wasm_bundle` (the runner and the browser are set in .cargo/config.toml and by .ci/run): a test of
//! dowse-core, kept in the web crate so that it reuses the encoder worker's build of Burn.

#![cfg(target_arch = "wasm32")]

use std::collections::HashMap;

use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::{fragment_path, Bundle, BundleError, FragmentsInfo, Manifest, ModelBytes, ModelInfo, FORMAT, FORMAT_VERSION};
use dowse_core::docstore::{DocStore, StoredDocument};
use dowse_core::filters::FilterIndex;
use dowse_core::fragments::{FragmentConfig, FragmentError, Root};
use dowse_core::passage::{ChunkConfig, Passage};
use dowse_core::projection::Projection;
use dowse_core::search::{Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_core::vectors::{Quantization, VectorStore};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const TEXTS: [&str; 4] = [
    "tomato plants want deep watering twice a week",
    "prune roses in late winter above an outward bud",
    "compost feeds the soil with organic matter",
    "aphids on roses can be washed off with water",
];
const DIM: usize = 4;
/// A BERT config of the vectors' dimension.
const TINY_BERT_CONFIG: &[u8] = br#"{"vocab_size": 30, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
    "intermediate_size": 8, "max_position_embeddings": 16}"#;

/// Passage `i` points along axis `i`, so the nearest vector to axis `i` is passage `i`.
fn vectors_f32() -> Vec<f32> {
    (0..TEXTS.len()).flat_map(|i| (0..DIM).map(move |d| if d == i { 1.0 } else { 0.0 })).collect()
}

fn files() -> HashMap<String, Vec<u8>> {
    let analyzer = Analyzer::default();
    let docs = DocStore {
        documents: TEXTS
            .iter()
            .enumerate()
            .map(|(i, _)| StoredDocument { id: format!("d{i}"), title: format!("Doc {i}"), url: None, meta: Vec::new() })
            .collect(),
        passages: TEXTS.iter().enumerate().map(|(i, t)| Passage { doc: i as u32, text: t.to_string(), ..Passage::default() }).collect(),
    };
    let bm25 = Bm25Index::build(Bm25Params::default(), TEXTS.iter().map(|t| analyzer.analyze(t)));
    let vectors = VectorStore::quantize(&vectors_f32(), DIM, Quantization::Int8);
    let split = Root::split(&bm25, &docs, &vectors, &FilterIndex::default(), &[], &FragmentConfig::default()).unwrap();
    let manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        created_by: "wasm test".to_string(),
        model: ModelInfo { id: "none".to_string(), dim: DIM, max_len: 16, pieces: None },
        passage_model: None,
        documents: TEXTS.len(),
        passages: TEXTS.len(),
        quantization: Quantization::Int8,
        bm25: Bm25Params::default(),
        chunking: ChunkConfig::default(),
        fragments: FragmentsInfo::of(&split),
        files: Vec::new(),
        site: None,
    };
    // Only the config is read before a search: it must describe a model of the vectors' dimension.
    let model = ModelBytes { config: TINY_BERT_CONFIG.to_vec(), weights: vec![0; 8], tokenizer: b"{}".to_vec() };
    Bundle::files(&manifest, &model, &Projection::fit(&vectors_f32(), DIM), split).unwrap().into_iter().collect()
}

#[wasm_bindgen_test]
fn reads_and_searches_a_bundle() {
    let bundle = Bundle::from_files(files()).unwrap();
    let analyzer = Analyzer::default();
    let query = [0.0, 0.0, 1.0, 0.0];
    let dense =
        bundle.search(&analyzer, "", Some(&query), &[], &SearchOptions { k: 1, mode: Mode::Dense, ..SearchOptions::default() }).unwrap();
    assert_eq!(dense[0].doc, 2);
    let lexical = bundle
        .search(&analyzer, "pruning roses", None, &[], &SearchOptions { k: 2, mode: Mode::Bm25, ..SearchOptions::default() })
        .unwrap();
    assert_eq!(lexical[0].doc, 1);
    let hybrid = bundle.search(&analyzer, "watering", Some(&[1.0, 0.0, 0.0, 0.0]), &[], &SearchOptions::default()).unwrap();
    assert_eq!(hybrid[0].doc, 0, "first by both lists");
    let point = bundle.map.project(&query);
    assert!((point[0] - bundle.map.points()[2][0]).abs() < 1e-5);
}

#[wasm_bindgen_test]
fn a_damaged_fragment_is_refused_by_name() {
    let mut damaged = files();
    let path = damaged.keys().find(|path| path.starts_with("fragments/")).unwrap().clone();
    let bytes = damaged.get_mut(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let error = Bundle::from_files(damaged).err().unwrap();
    assert!(matches!(&error, BundleError::Fragment(FragmentError::Checksum(name)) if fragment_path(name) == path), "{error}");
}

//! The bundle format (version 7) end to end on a real corpus (ADI) and the real model: written by
//! the trainer, read back by dowse-core, and every kind of damage to any file, the root and each
//! fragment included, rejected with an error that names the file, never a panic and never a
//! bundle that loads; version 1 refused with a message to index again.

use std::collections::HashMap;
use std::sync::OnceLock;

use dowse_core::bundle::{Bundle, BundleError, Manifest, FRAGMENTS, MANIFEST, MAP};
use dowse_core::search::{Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_tests::{data, minilm_dir};
use dowse_trainer::{bundle_io, index};
use proptest::prelude::*;

/// ADI's bundle files, built once per test binary.
fn files() -> &'static HashMap<String, Vec<u8>> {
    static FILES_ONCE: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    FILES_ONCE.get_or_init(|| {
        let (input, model) = (data("adi").display().to_string(), minilm_dir().display().to_string());
        let args = index::IndexArgs::from_flags(&["--input", &input, "--model", &model, "--out", "unused"]).unwrap();
        let (_, files) = index::build(index::prepare(&args).unwrap(), &args).unwrap();
        files.into_iter().collect()
    })
}

fn load(files: HashMap<String, Vec<u8>>) -> Result<Bundle, BundleError> {
    Bundle::from_files(files)
}

/// Rewrites the manifest so its entry for `path` matches `bytes`: damage a checksum cannot catch.
fn with_consistent_manifest(mut files: HashMap<String, Vec<u8>>, path: &str, bytes: Vec<u8>) -> HashMap<String, Vec<u8>> {
    let mut manifest = Manifest::from_json(&files[MANIFEST]).unwrap();
    let entry = manifest.files.iter_mut().find(|f| f.path == path).unwrap();
    *entry = dowse_core::bundle::FileEntry::describe(path, &bytes);
    files.insert(MANIFEST.to_string(), manifest.to_json());
    files.insert(path.to_string(), bytes);
    files
}

#[test]
fn round_trips_and_searches() {
    let bundle = load(files().clone()).unwrap();
    assert_eq!(bundle.manifest.documents, 82);
    assert_eq!(bundle.map.points().len(), bundle.manifest.passages);
    let options = SearchOptions { mode: Mode::Bm25, ..SearchOptions::default() };
    let hits = bundle.search(&Analyzer::default(), "information retrieval evaluation", None, &[], &options).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    for hit in &hits {
        assert_eq!(bundle.index.passage(hit.passage).unwrap().0, bundle.index.document(hit.doc).unwrap());
    }
}

#[test]
fn every_truncated_flipped_or_missing_file_is_rejected_by_name() {
    let mut paths: Vec<&str> = files().keys().map(String::as_str).collect();
    paths.sort_unstable();
    let fragments = paths.iter().filter(|p| p.starts_with(FRAGMENTS)).count();
    assert_eq!(paths.len() - fragments, 5, "the model's three files, the map and the manifest: {paths:?}");
    let manifest = Manifest::from_json(&files()[MANIFEST]).unwrap();
    assert_eq!(fragments, manifest.fragments.count + 2, "the fragments, the root and the tokenizer's copy");
    let tokenizer = manifest.files.iter().find_map(|f| f.fragment.as_deref()).expect("the tokenizer's entry names its copy");
    assert!(paths.contains(&format!("{FRAGMENTS}/{tokenizer}").as_str()));
    for path in paths {
        let mut truncated = files().clone();
        truncated.get_mut(path).unwrap().pop();
        let error = load(truncated).err().unwrap_or_else(|| panic!("{path} truncated loads"));
        assert!(error.to_string().contains(if path == MANIFEST { "manifest.json" } else { path }), "{error}");

        let mut flipped = files().clone();
        let bytes = flipped.get_mut(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        let error = load(flipped).err().unwrap_or_else(|| panic!("{path} flipped loads"));
        if path != MANIFEST {
            assert!(error.to_string().starts_with(path), "{error}");
            assert!(
                error.to_string().contains("sha256 does not match") || error.to_string().contains("do not hash to its name"),
                "{error}"
            );
        }

        let mut missing = files().clone();
        missing.remove(path);
        assert!(matches!(load(missing), Err(BundleError::MissingFile(p)) if p == path));
    }
}

#[test]
fn other_formats_and_foreign_manifests_are_refused() {
    let with_version = |version: u64| {
        let mut files = files().clone();
        let mut manifest: serde_json::Value = serde_json::from_slice(&files[MANIFEST]).unwrap();
        manifest["format_version"] = version.into();
        files.insert(MANIFEST.to_string(), serde_json::to_vec(&manifest).unwrap());
        load(files).err().unwrap()
    };
    let error = with_version(8);
    assert!(matches!(error, BundleError::NewerFormat { found: 8, supported: 7 }), "{error}");
    assert!(error.to_string().contains("upgrade dowse"));
    for older in [1, 2, 3, 4, 5, 6] {
        let error = with_version(older);
        assert!(matches!(error, BundleError::OlderFormat { found, supported: 7 } if found == older), "{error}");
        assert!(error.to_string().contains("index the site again with `dowse index`"), "{error}");
    }

    let mut foreign = files().clone();
    foreign.insert(MANIFEST.to_string(), br#"{"name": "something else"}"#.to_vec());
    assert!(matches!(load(foreign), Err(BundleError::Manifest(_))));
}

#[test]
fn files_that_disagree_are_inconsistent() {
    let dim = load(files().clone()).unwrap().manifest.model.dim;
    let fewer = dowse_core::projection::Projection::fit(&vec![0.5; 10 * dim], dim);
    let files = with_consistent_manifest(files().clone(), MAP, fewer.to_bytes());
    let error = load(files).err().unwrap();
    assert!(matches!(&error, BundleError::Inconsistent(message) if message.contains("10 points")), "{error}");
}

#[test]
fn an_interrupted_write_never_loads_and_a_finished_one_replaces_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let files: Vec<(String, Vec<u8>)> = files().clone().into_iter().collect();
    bundle_io::write(&files, &out).unwrap();
    bundle_io::write(&files, &out).unwrap();
    assert!(bundle_io::read(&out).is_ok());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["bundle"], "no temporary folders are left behind");
    // Files are written before the manifest: a folder cut off before the manifest does not load.
    std::fs::remove_file(out.join(MANIFEST)).unwrap();
    let error = format!("{:#}", bundle_io::read(&out).err().unwrap());
    assert!(error.contains("manifest.json: missing"), "{error}");
}

/// `bytes` with the byte at `at` XORed with `mask`, cut to `cut` bytes if given.
fn damaged(bytes: &[u8], at: usize, mask: u8, cut: Option<usize>) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes[at] ^= mask;
    bytes.truncate(cut.unwrap_or(bytes.len()));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Damaged model files and map behind a matching manifest: the bundle and its encoder load
    /// with an error or work, never panic. Weights are damaged in their header, where the
    /// dtypes, shapes and offsets are; damage in the numbers themselves only changes numbers.
    #[test]
    fn damaged_model_files_and_maps_never_panic(which in 0usize..4, at in any::<prop::sample::Index>(), mask in 1u8..=255, cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let path = ["model/config.json", "model/model.safetensors", "model/tokenizer.json", "map.bin"][which];
        let bytes = &files()[path];
        let header = if path.ends_with(".safetensors") { 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize } else { bytes.len() };
        let bytes = damaged(bytes, at.index(header), mask, truncate.then(|| cut.index(bytes.len())));
        if let Ok(bundle) = load(with_consistent_manifest(files().clone(), path, bytes)) {
            let config = dowse_core::model::EncoderConfig { max_len: 32, batch_size: 1, cpu_kernels: true };
            if let Ok(encoder) = dowse_core::model::Encoder::<burn_flex::Flex>::load(bundle.model.files(), config, &burn_flex::FlexDevice) {
                let tokens = encoder.tokenize_query("retrieval of information").unwrap();
                let _ = encoder.embed_query(&tokens);
            }
        }
    }
}

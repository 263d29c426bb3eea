//! A bundle as `dowse index` writes it (ADI, the real model), read the way a browser reads it:
//! every fragment named by the hash of its bytes, the folder holding the root and exactly the
//! fragments it names, a reader that starts from the root and loads only what each query asks for
//! finding the same results as one that loaded everything, keyword scores the same floats as a
//! BM25 index of the whole corpus, dense results an exact search's when every passage is
//! rescored, the depth calibrated on the model's own pseudo-queries, a rebuild giving the same
//! names, and a damaged fragment refused by its path.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::{fragment_path, open_root, BundleError, Manifest, FRAGMENTS, MANIFEST};
use dowse_core::corpus::read_smart_records;
use dowse_core::dense_chunks::CalibrationQueries;
use dowse_core::fragments::{fragment_name, Fragment, LazyBundle};
use dowse_core::search::{fuse, Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_core::topk::top_k;
use dowse_core::vectors::{Quantization, VectorStore};
use dowse_tests::{data, minilm_dir, read};
use dowse_trainer::{bundle_io, index};

fn flags(out: &Path) -> index::IndexArgs {
    let (input, model) = (data("adi").display().to_string(), minilm_dir().display().to_string());
    index::IndexArgs::from_flags(&["--input", &input, "--model", &model, "--out", &out.display().to_string()]).unwrap()
}

/// The names of the files in the bundle's fragment folder.
fn listing(bundle: &Path) -> BTreeSet<String> {
    std::fs::read_dir(bundle.join(FRAGMENTS)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

/// Asks for what `query` lacks until nothing is, loading each from the folder, then the text of
/// its results; returns the names fetched.
fn fetch_for(lazy: &mut LazyBundle, out: &Path, terms: &[String], vector: Option<&[f32]>, options: &SearchOptions) -> HashSet<String> {
    let mut fetched = HashSet::new();
    let mut load = |lazy: &mut LazyBundle, name: String| {
        lazy.load(&name, &std::fs::read(out.join(fragment_path(&name))).unwrap()).unwrap();
        fetched.insert(name);
    };
    loop {
        let names = lazy.missing_for_search(terms, vector, options);
        if names.is_empty() {
            break;
        }
        names.into_iter().for_each(|name| load(lazy, name));
    }
    let hits = lazy.search(terms, vector, &[], options).unwrap();
    lazy.missing_for_hits(&hits).into_iter().for_each(|name| load(lazy, name));
    fetched
}

#[test]
fn a_reader_that_fetches_per_query_finds_what_the_whole_bundle_finds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let args = flags(&out);
    let prepared = index::prepare(&args).unwrap();
    let (texts, matrix, dim) = (prepared.texts.clone(), prepared.matrix.clone(), prepared.dim);
    index::run(&args).unwrap();
    let whole = bundle_io::read(&out).unwrap();
    let info = whole.manifest.fragments.clone();
    let names = listing(&out);
    for name in &names {
        assert_eq!(name, &fragment_name(&std::fs::read(out.join(FRAGMENTS).join(name)).unwrap()), "{name} is its content address");
    }
    let manifest = Manifest::from_json(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    let root = std::fs::read(out.join(fragment_path(&info.root))).unwrap();
    let mut lazy = open_root(&manifest, &root).unwrap();
    let read_fragment =
        |name: &str| std::fs::read(out.join(fragment_path(name))).map_err(|_| BundleError::MissingFile(fragment_path(name)));
    let mut expected: BTreeSet<String> =
        open_root(&manifest, &root).unwrap().load_every_fragment(read_fragment).unwrap().into_iter().collect();
    expected.insert(info.root.clone());
    expected.extend(manifest.files.iter().filter_map(|file| file.fragment.clone()));
    assert_eq!(names, expected, "the folder holds the root, exactly the fragments it and the sign codes name, and the files' copies");

    // The depth was calibrated on the model's own check pseudo-queries; rescoring every passage
    // is an exact search.
    let passages = whole.manifest.passages;
    let calibration = info.calibration.expect("ADI gives enough check pseudo-queries to calibrate on");
    assert!(calibration.of == CalibrationQueries::Given && calibration.recall >= 0.98, "{info:?}");
    let vectors = VectorStore::quantize(&matrix, dim, Quantization::Int8);
    for row in (0..passages as u32).step_by(7) {
        let vector = vectors.dequantize(row);
        let prepared = vectors.prepare(&vector);
        let exact = top_k((0..passages as u32).map(|r| (r, vectors.rescore(&prepared, r))), 10);
        assert_eq!(whole.index.dense_passages(&vector, 10, Some(passages), None).unwrap(), exact, "passage {row} as the query");
    }

    let analyzer = Analyzer::default();
    let bm25 = Bm25Index::build(Bm25Params::default(), texts.iter().map(|t| analyzer.analyze(t)));
    let queries = read_smart_records("ADI.QRY", &read(&data("adi/ADI.QRY"))).unwrap();
    let (mut fetched, mut first) = (HashSet::new(), None);
    for (i, query) in queries.iter().enumerate() {
        let terms = analyzer.analyze(&query.text);
        let vector = vectors.dequantize(i as u32 * 2);
        for mode in [Mode::Bm25, Mode::Hybrid] {
            let options = SearchOptions { mode, ..SearchOptions::default() };
            let dense = mode.is_dense().then_some(vector.as_slice());
            let new = fetch_for(&mut lazy, &out, &terms, dense, &options);
            first.get_or_insert(new.len());
            fetched.extend(new);
            let hits = lazy.search(&terms, dense, &[], &options).unwrap();
            assert_eq!(hits, whole.index.search(&terms, dense, &[], &options).unwrap(), "query {} {mode:?}", query.id);
            if mode == Mode::Bm25 {
                let exact = fuse(mode, &[], &bm25.search(&terms, 100), &[], 10, |p| whole.index.root().documents.doc_of(p));
                assert_eq!(hits, exact, "query {}: BM25 in shards scores as the whole index does", query.id);
            }
            for hit in &hits {
                assert_eq!(lazy.passage(hit.passage).unwrap(), whole.index.passage(hit.passage).unwrap());
            }
        }
    }
    assert!(first.unwrap() < names.len() - 1, "the first keyword query fetched all {} fragments", first.unwrap());
    assert!(fetched.iter().all(|name| names.contains(name)));

    index::run(&args).unwrap();
    assert_eq!(listing(&out), names, "a rebuild of the same corpus gives the same fragments");

    let codes = fragment_path(&lazy.root().name(Fragment::SignCodes));
    let mut bytes = std::fs::read(out.join(&codes)).unwrap();
    bytes[0] ^= 1;
    std::fs::write(out.join(&codes), &bytes).unwrap();
    let error = format!("{:#}", bundle_io::read(&out).err().unwrap());
    assert!(error.contains(&codes) && error.contains("do not hash to its name"), "{error}");
}

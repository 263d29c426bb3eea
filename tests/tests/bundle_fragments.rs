//! Format version 2's fragments as `dowse index` writes them beside a bundle (ADI, the real
//! model): every file named by the hash of its bytes, the root naming exactly the files there,
//! keyword results the same floats as the whole bundle's, dense results an exact search's, a
//! rebuild giving the same names, and a damaged fragment refused by its path.

use std::collections::BTreeSet;
use std::path::Path;

use dowse_core::bundle::{FRAGMENTS, MANIFEST};
use dowse_core::corpus::read_smart_records;
use dowse_core::fragments::{fragment_name, Fragment};
use dowse_core::search::{Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_core::topk::top_k;
use dowse_tests::{data, minilm_dir, read};
use dowse_trainer::{bundle_io, index};

fn index_adi(out: &Path) {
    let (input, model) = (data("adi").display().to_string(), minilm_dir().display().to_string());
    let out = out.display().to_string();
    index::run(&index::IndexArgs::from_flags(&["--input", &input, "--model", &model, "--out", &out]).unwrap()).unwrap();
}

/// The names of the files in the bundle's fragment folder.
fn listing(bundle: &Path) -> BTreeSet<String> {
    std::fs::read_dir(bundle.join(FRAGMENTS)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

#[test]
fn dowse_index_writes_fragments_that_search_as_the_whole_bundle_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    index_adi(&out);
    let whole = bundle_io::read(&out).unwrap();
    let info = whole.manifest.fragments.clone().expect("the manifest names the fragments");
    let names = listing(&out);
    for name in &names {
        assert_eq!(name, &fragment_name(&std::fs::read(out.join(FRAGMENTS).join(name)).unwrap()), "{name} is its content address");
    }
    let lazy = index::fragments::read_all(&out).unwrap();
    let mut expected: BTreeSet<String> = lazy.root().fragments().map(|f| lazy.root().name(f)).collect();
    expected.insert(info.root.clone());
    assert_eq!(names, expected, "the folder holds the root and exactly the fragments it names");
    assert_eq!(info.count, lazy.root().fragments().count());

    // ADI's 82 abstracts are too few to hold passages out: every passage is rescored, exactly.
    let passages = whole.docs.passages.len();
    assert!(info.calibration.is_none() && info.rescore == passages, "{info:?} for {passages} passages");
    for row in (0..passages as u32).step_by(7) {
        let vector = whole.vectors.dequantize(row);
        let prepared = whole.vectors.prepare(&vector);
        let exact = top_k((0..passages as u32).map(|r| (r, whole.vectors.rescore(&prepared, r))), 10);
        assert_eq!(lazy.dense_passages(&vector, 10).unwrap(), exact, "passage {row} as the query");
    }

    let analyzer = Analyzer::default();
    let queries = read_smart_records("ADI.QRY", &read(&data("adi/ADI.QRY"))).unwrap();
    let options = SearchOptions { mode: Mode::Bm25, ..SearchOptions::default() };
    for query in &queries {
        let hits = lazy.search(&analyzer.analyze(&query.text), None, &options).unwrap();
        assert_eq!(hits, whole.search(&analyzer, &query.text, None, &options), "query {}", query.id);
        for hit in &hits {
            let (document, passage) = lazy.passage(hit.passage).unwrap();
            assert_eq!(document, &whole.docs.documents[hit.doc as usize]);
            assert_eq!(passage, &whole.docs.passages[hit.passage as usize]);
        }
    }

    index_adi(&out);
    assert_eq!(listing(&out), names, "a rebuild of the same corpus gives the same fragments");
    let manifest = String::from_utf8(std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    assert!(manifest.contains(&info.root));

    let codes = out.join(FRAGMENTS).join(lazy.root().name(Fragment::SignCodes));
    let mut bytes = std::fs::read(&codes).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&codes, &bytes).unwrap();
    let error = format!("{:#}", index::fragments::read_all(&out).err().unwrap());
    assert!(error.contains(&codes.display().to_string()) && error.contains("do not hash to its name"), "{error}");
}

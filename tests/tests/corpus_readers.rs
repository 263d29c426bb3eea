//! The corpus readers against the real collections in ../shared/data: counts equal the published ones.

use dowse_core::corpus::{
    read_documents_jsonl, read_id_text_tsv, read_qrels, read_queries_jsonl, read_smart_qrels, read_smart_records, read_triples_tsv,
    SmartGrades,
};
use dowse_tests::{data, read};

fn parse<T, E: std::fmt::Display>(path: &str, parser: impl Fn(&str, &[u8]) -> Result<T, E>) -> T {
    let path = data(path);
    parser(&path.display().to_string(), &read(&path)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn scifact_beir_folder() {
    let docs = parse("scifact/corpus.jsonl", read_documents_jsonl);
    assert_eq!(docs.len(), 5183);
    assert!(docs.iter().all(|d| !d.id.is_empty() && !d.text.is_empty()));
    assert_eq!(docs[0].id, "4983");
    assert!(docs[0].title.starts_with("Microstructural development of human newborn cerebral white matter"));
    let queries = parse("scifact/queries.jsonl", read_queries_jsonl);
    assert_eq!(queries.len(), 1109);
    let test = parse("scifact/qrels/test.tsv", read_qrels);
    assert_eq!(test.len(), 300);
    assert_eq!(test.values().map(|docs| docs.len()).sum::<usize>(), 339);
    let train = parse("scifact/qrels/train.tsv", read_qrels);
    assert_eq!(train.len(), 809);
    assert_eq!(train.values().map(|docs| docs.len()).sum::<usize>(), 919);
}

#[test]
fn cranfield_smart_collection() {
    let docs = parse("cranfield/cran.all.1400", read_smart_records);
    assert_eq!(docs.len(), 1400);
    assert_eq!(docs[0].id, "1");
    assert_eq!(docs[0].title, "experimental investigation of the aerodynamics of a wing in a slipstream .");
    assert!(docs[0].text.starts_with("experimental investigation of the aerodynamics of a wing in a slipstream . an experimental study"));
    let queries = parse("cranfield/cran.qry", read_smart_records);
    assert_eq!(queries.len(), 225);
    // The .I numbers skip (001, 002, 004, ...): qrels number queries by position instead.
    assert_eq!(queries[2].id, "4");
    let bytes = read(&data("cranfield/cranqrel"));
    assert_eq!(SmartGrades::detect(&bytes), SmartGrades::Cleverdon);
    let qrels = read_smart_qrels("cranqrel", &bytes, SmartGrades::Cleverdon).unwrap();
    assert_eq!(qrels.len(), 225);
    assert_eq!(qrels.values().map(|docs| docs.len()).sum::<usize>(), 1837);
    assert_eq!(qrels["1"]["184"], 3);
}

#[test]
fn adi_smart_collection() {
    assert_eq!(parse("adi/ADI.ALL", read_smart_records).len(), 82);
    assert_eq!(parse("adi/ADI.QRY", read_smart_records).len(), 35);
    let bytes = read(&data("adi/ADI.REL"));
    assert_eq!(SmartGrades::detect(&bytes), SmartGrades::Binary);
    let qrels = read_smart_qrels("ADI.REL", &bytes, SmartGrades::Binary).unwrap();
    assert_eq!(qrels.values().map(|docs| docs.len()).sum::<usize>(), 170);
}

#[test]
fn msmarco_toy_tsv_files() {
    let triples = parse("msmarco-toy/triplets/raw.tsv", read_triples_tsv);
    assert_eq!(triples.len(), 100);
    assert_eq!(triples[0].query, "is a little caffeine ok during pregnancy");
    let collection = parse("msmarco-toy/full_collection/raw.tsv", read_id_text_tsv);
    assert_eq!(collection.len(), 89);
    assert_eq!(collection[0].0, "0");
    assert!(collection[0].1.starts_with("The presence of communication amid scientific minds"));
    let dev = parse("msmarco-toy/dev_queries/raw.tsv", read_id_text_tsv);
    assert_eq!(dev.len(), 11);
    assert_eq!(dev[1], ("1048642".to_string(), "treating tension headaches without medication".to_string()));
}

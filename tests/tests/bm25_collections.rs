//! BM25 quality on real collections, against published numbers (../shared/data/README.md).

use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::corpus::{
    read_documents_jsonl, read_qrels, read_queries_jsonl, read_smart_qrels, read_smart_records, Document, Qrels, Query, Run, SmartGrades,
};
use dowse_core::metrics::{evaluate, Metric};
use dowse_core::text::Analyzer;
use dowse_tests::{data, read};

fn ndcg10(docs: &[Document], queries: &[Query], qrels: &Qrels) -> f64 {
    let analyzer = Analyzer::default();
    let index = Bm25Index::build(Bm25Params::default(), docs.iter().map(|d| analyzer.analyze(&d.full_text())));
    // The compact bytes are what ships: search the reloaded index, not the built one.
    let index = Bm25Index::from_bytes(&index.to_bytes()).unwrap();
    let run: Run = queries
        .iter()
        .filter(|q| qrels.contains_key(&q.id))
        .map(|q| {
            let hits = index.search(&analyzer.analyze(&q.text), 1000);
            (q.id.clone(), hits.into_iter().map(|(doc, s)| (docs[doc as usize].id.clone(), f64::from(s))).collect())
        })
        .collect();
    evaluate(qrels, &run, &[Metric::Ndcg(10)]).mean["ndcg_cut_10"]
}

#[test]
fn scifact_test_beats_the_beir_paper() {
    let docs = read_documents_jsonl("corpus.jsonl", &read(&data("scifact/corpus.jsonl"))).unwrap();
    let queries = read_queries_jsonl("queries.jsonl", &read(&data("scifact/queries.jsonl"))).unwrap();
    let qrels = read_qrels("test.tsv", &read(&data("scifact/qrels/test.tsv"))).unwrap();
    let ndcg = ndcg10(&docs, &queries, &qrels);
    // Pyserini's flat BM25 gets 0.679, the BEIR paper's Elasticsearch 0.665.
    assert!(ndcg >= 0.664, "SciFact test nDCG@10 {ndcg:.4}");
}

#[test]
fn cranfield_is_in_the_published_range() {
    let docs: Vec<Document> = read_smart_records("cran.all.1400", &read(&data("cranfield/cran.all.1400")))
        .unwrap()
        .into_iter()
        .map(|r| Document { id: r.id, title: r.title, text: r.text, url: None, meta: Vec::new(), filters: Vec::new() })
        .collect();
    let queries: Vec<Query> = read_smart_records("cran.qry", &read(&data("cranfield/cran.qry")))
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, r)| Query { id: (i + 1).to_string(), text: r.text })
        .collect();
    let qrels = read_smart_qrels("cranqrel", &read(&data("cranfield/cranqrel")), SmartGrades::Cleverdon).unwrap();
    let ndcg = ndcg10(&docs, &queries, &qrels);
    eprintln!("Cranfield BM25 nDCG@10 = {ndcg:.4}");
    assert!(ndcg >= 0.30, "Cranfield nDCG@10 {ndcg:.4} (about 0.35 expected)");
}

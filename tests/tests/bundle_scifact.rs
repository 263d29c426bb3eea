//! Dense search on SciFact passages (all-MiniLM-L6-v2, 256-piece passages; the 300 test queries,
//! their relevant documents and the corpus' first 1,000: 1,227 documents, so that a cold run
//! encodes 2,363 passages instead of 9,893): the HNSW searcher
//! against exact search and against hnsw_rs's own search on the same graph, and the bundle's
//! search in fragments (sign codes, then the calibrated depth rescored) with each vector
//! quantization, its nDCG@10 against f32 exact search, documents ranked by their best passage.
//! Passage embeddings come from dowse's embedding cache after the first run.

use std::collections::HashMap;

use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::corpus::{read_qrels, read_queries_jsonl, Run};
use dowse_core::dense::{dot, top_k_exact};
use dowse_core::fragments::{FragmentConfig, FragmentError, LazyBundle, Root};
use dowse_core::hnsw;
use dowse_core::metrics::{evaluate, Metric};
use dowse_core::search::{fuse, Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_core::vectors::{Quantization, VectorStore};
use dowse_tests::encoders::{self, Runtime};
use dowse_tests::{minilm_dir, read, recall, scifact_slice};
use dowse_trainer::graph::{self, GraphConfig};
use dowse_trainer::index;

/// Query index and vector -> ranked documents.
type Ranker<'a> = dyn Fn(usize, &[f32]) -> Vec<(u32, f32)> + 'a;

#[test]
fn graph_search_and_fragments_by_quantization_on_scifact() {
    let dir = tempfile::tempdir().unwrap();
    scifact_slice(dir.path(), "test", 300, 1000);
    let data = |file: &str| dir.path().join(file);
    let (input, model) = (dir.path().display().to_string(), minilm_dir().display().to_string());
    let args = index::IndexArgs::from_flags(&["--input", &input, "--model", &model, "--out", "unused"]).unwrap();
    let prepared = index::prepare(&args).unwrap();
    let (matrix, dim) = (prepared.matrix.clone(), prepared.dim);

    let queries = read_queries_jsonl("queries.jsonl", &read(&data("queries.jsonl"))).unwrap();
    let qrels = read_qrels("test.tsv", &read(&data("qrels/test.tsv"))).unwrap();
    let queries: Vec<_> = queries.into_iter().filter(|q| qrels.contains_key(&q.id)).collect();
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let query_matrix = encoders::encode(encoders::load(Runtime::CpuKernels, &minilm_dir(), 256, 32).as_ref(), &texts);

    // The graph: our searcher against exact search and against hnsw_rs on the same graph, built
    // one point at a time so that every run compares on the same graph.
    let config = GraphConfig { reproducible: true, ..GraphConfig::default() };
    let built = graph::build(&matrix, dim, &config);
    let (hnsw_rs_graph, ef) = (built.hnsw, built.calibration.ef_search);
    let exported = graph::export(&hnsw_rs_graph);
    let (mut ours_recall, mut same) = (0.0, 0);
    for q in query_matrix.chunks_exact(dim) {
        let exact: Vec<u32> = top_k_exact(&matrix, dim, q, 10).iter().map(|h| h.0).collect();
        let ours: Vec<u32> =
            hnsw::search(&exported, 10, ef, |row| dot(q, &matrix[row as usize * dim..][..dim])).iter().map(|h| h.0).collect();
        let theirs: Vec<u32> = hnsw_rs_graph.search(q, 10, ef).iter().map(|n| n.d_id as u32).collect();
        ours_recall += recall(&ours, &exact) / queries.len() as f64;
        same += usize::from(recall(&ours, &theirs) == 1.0);
    }
    eprintln!(
        "{} passages, ef {}: recall@10 {ours_recall:.4}, same top-10 as hnsw_rs for {same}/{}",
        matrix.len() / dim,
        ef,
        queries.len()
    );
    assert!(ours_recall >= 0.98, "recall@10 {ours_recall} at the default ef");
    assert!(same * 100 >= 99 * queries.len(), "only {same}/{} top-10s equal hnsw_rs's", queries.len());

    // Quantizations, searched through the fragments exactly as they ship, against f32 exact search.
    let analyzer = Analyzer::default();
    let bm25 = Bm25Index::build(Bm25Params::default(), prepared.texts.iter().map(|t| analyzer.analyze(t)));
    let docs = &prepared.store;
    let ndcg = |ranked: &Ranker| {
        let run: Run = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let hits = ranked(i, &query_matrix[i * dim..][..dim]);
                (q.id.clone(), hits.iter().map(|&(doc, s)| (docs.documents[doc as usize].id.clone(), f64::from(s))).collect())
            })
            .collect();
        evaluate(&qrels, &run, &[Metric::Ndcg(10)]).mean["ndcg_cut_10"]
    };
    let by_document = |passages: &[(u32, f32)]| -> Vec<(u32, f32)> {
        fuse(Mode::Dense, passages, &[], &[], 100, |p| docs.passages[p as usize].doc).iter().map(|h| (h.doc, h.score)).collect()
    };
    let exact = ndcg(&|_, q| by_document(&top_k_exact(&matrix, dim, q, 1000)));
    eprintln!("f32 exact: nDCG@10 {exact:.4}");
    let options = SearchOptions { k: 100, mode: Mode::Dense, candidates: 100, ..SearchOptions::default() };
    for quantization in Quantization::ALL {
        let vectors = VectorStore::quantize(&matrix, dim, quantization);
        let split = Root::split(&bm25, docs, &vectors, &prepared.filters, &prepared.query_vectors, &FragmentConfig::default()).unwrap();
        let rescore = split.root.rescore;
        let mut lazy = LazyBundle::new(split.root);
        let fragments: HashMap<String, Vec<u8>> = split.fragments.into_iter().collect();
        lazy.load_every_fragment(|name| Ok::<_, FragmentError>(fragments[name].clone())).unwrap();
        let fragments_ndcg = ndcg(&|_, q| lazy.search(&[], Some(q), &[], &options).unwrap().iter().map(|h| (h.doc, h.score)).collect());
        eprintln!(
            "{quantization:>6}: {:>5} bytes per vector, {rescore} rescored, nDCG@10 {fragments_ndcg:.4} ({:+.4} against f32 exact)",
            quantization.bytes_per_vector(dim),
            fragments_ndcg - exact
        );
        if quantization == Quantization::Int8 {
            assert!(fragments_ndcg >= exact - 0.005, "int8 in fragments loses {:.4}", exact - fragments_ndcg);
        }
    }
}

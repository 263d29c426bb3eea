//! What a bundle fetched in fragments costs a visitor (dowse-core's `fragments`): the sections of
//! the bundle in `DOWSE_BENCH_BUNDLE` (a folder `dowse index` wrote from the collection in
//! `DOWSE_BENCH_DATA`), rebuilt as `dowse index` built them (the bundle's query encoder, MiniLM's
//! cached passage vectors), cut into a root and fragments at several budgets, then the
//! collection's test queries searched one after another as one visitor would, each asking for the
//! fragments it lacks. Printed as Markdown tables, bytes as stored (every fragment is deflated:
//! what any static host sends) / gzip of those (a host that compresses everything, as `dowse
//! serve` did before fragments were stored deflated):
//!
//! - keyword search, at several shard and chunk budgets: the root, the fragment count, the first
//!   result cold (root, the query's shards, the document chunks of its 10 results; median and p90
//!   over the queries, each as if it came first), each later query's new bytes and new fragments
//!   (median, p90: a browser pays for each request as well as for each byte), everything fetched
//!   after 50 queries. Every query's results are checked against a whole BM25
//!   index's: equal, not close.
//! - hybrid search, for each kind of sign code at several rescore depths (those `dowse index`
//!   calibrates on SciFact among them): the same bytes with the sign codes and the vector chunks
//!   of each query's candidates, and nDCG@10 on
//!   the collection's judgments beside an exact hybrid search (every int8 vector scored), with
//!   how many top 10s are the same.
//!
//! - the query encoder, where it is a static one: its piece table cut into shards of consecutive
//!   word pieces, what the pieces of a query cost (the rows as int8 with a scale each, as the
//!   bundle stores them), beside the projection every query needs and the tokenizer.
//!
//! Queries are encoded by the bundle's own query encoder, whose bytes are printed apart: the
//! byte counts of the first two tables are the index's and the text's only.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::dense_chunks::{CodeKind, DenseChunkConfig};
use dowse_core::docstore::DocStore;
use dowse_core::filters::FilterIndex;
use dowse_core::fragments::{FragmentConfig, LazyBundle, Root, Split};
use dowse_core::metrics::{evaluate, Metric};
use dowse_core::model::{read_tensor, Encoder, EncoderConfig, QueryTokens, Side};
use dowse_core::search::{fuse, Hit, Mode, SearchOptions};
use dowse_core::text::Analyzer;
use dowse_core::topk::top_k;
use dowse_core::vectors::VectorStore;

/// Shard and chunk budgets: the default (2 KiB / 4 KiB), the default before it, larger ones.
const KEYWORD_BUDGETS: [(usize, usize); 4] = [(2 << 10, 4 << 10), (4 << 10, 4 << 10), (16 << 10, 8 << 10), (64 << 10, 32 << 10)];
/// Rescore depths; `None` is the one `dowse index` calibrated for the bundle (its manifest's).
const RESCORE: [usize; 5] = [50, 100, 156, 200, 243];
/// One sign per dimension, and two rotations (at 384 dimensions: two thirds and half).
const CODE_KINDS: [CodeKind; 3] = [CodeKind::Signs, CodeKind::Rotated(256), CodeKind::Rotated(192)];
const PIECES_PER_SHARD: [usize; 5] = [1, 4, 16, 64, 256];

fn code_label(codes: CodeKind) -> String {
    match codes {
        CodeKind::Rotated(bits) => format!("{bits} rotated bits"),
        CodeKind::Signs => "a sign per dimension".to_string(),
        CodeKind::Auto => "auto".to_string(),
    }
}

fn gzip(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

/// Raw and gzip bytes, and the files they came in.
#[derive(Clone, Copy, Default)]
struct Size(usize, usize, usize);

impl Size {
    fn of(bytes: &[u8]) -> Self {
        Self(bytes.len(), gzip(bytes), 1)
    }

    fn add(&mut self, other: Size) {
        self.0 += other.0;
        self.1 += other.1;
        self.2 += other.2;
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} / {:.1}", self.0 as f64 / 1e3, self.1 as f64 / 1e3)
    }
}

/// The value at percentile `p` of `sorted`.
fn at<T: Copy>(sorted: &[T], p: usize) -> T {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn percentile(sizes: &[Size], p: usize) -> Size {
    let mut sizes = sizes.to_vec();
    sizes.sort_by_key(|s| s.1);
    at(&sizes, p)
}

/// How many files the searches fetched: median and p90, as "m / p".
fn files(sizes: &[Size]) -> String {
    let mut files: Vec<usize> = sizes.iter().map(|s| s.2).collect();
    files.sort_unstable();
    format!("{} / {}", at(&files, 50), at(&files, 90))
}

/// One query: its analyzed terms and, for a hybrid search, its vector.
struct Query {
    id: String,
    terms: Vec<String>,
    vector: Vec<f32>,
}

/// A bundle's whole sections, before they are cut.
struct Sections {
    bm25: Bm25Index,
    docs: DocStore,
    vectors: VectorStore,
}

/// What one visitor's searches cost and found.
struct Visit {
    root: Size,
    fragments: usize,
    cold: Vec<Size>,
    later: Vec<Size>,
    after_50: Size,
    hits: Vec<Vec<Hit>>,
}

/// Every query searched on a fresh reader (cold) and then all of them on one reader (a visit).
fn visit(sections: &Sections, queries: &[Query], config: &FragmentConfig, mode: Mode) -> Visit {
    let Split { root, fragments, .. } =
        Root::split(&sections.bm25, &sections.docs, &sections.vectors, &FilterIndex::default(), &[], config).unwrap();
    let sizes: HashMap<String, Size> = fragments.iter().map(|(name, bytes)| (name.clone(), Size::of(bytes))).collect();
    let fragments: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
    let root_size = Size::of(&root.to_bytes());
    let options = SearchOptions { mode, ..SearchOptions::default() };
    // Asks, fetches and loads until the search has all it needs, then the results' text;
    // returns the hits and the bytes of the fragments fetched for the first time.
    let search = |lazy: &mut LazyBundle, fetched: &mut HashSet<String>, query: &Query| {
        let mut new = Size::default();
        let vector = mode.is_dense().then_some(query.vector.as_slice());
        loop {
            let names = lazy.missing_for_search(&query.terms, vector, &options);
            if names.is_empty() {
                break;
            }
            for name in names {
                lazy.load(&name, &fragments[&name]).unwrap();
                if fetched.insert(name.clone()) {
                    new.add(sizes[&name]);
                }
            }
        }
        let hits = lazy.search(&query.terms, vector, &[], &options).unwrap();
        for name in lazy.missing_for_hits(&hits) {
            lazy.load(&name, &fragments[&name]).unwrap();
            if fetched.insert(name.clone()) {
                new.add(sizes[&name]);
            }
        }
        for hit in &hits {
            lazy.passage(hit.passage).unwrap();
        }
        (hits, new)
    };
    let cold = queries
        .iter()
        .map(|query| {
            let (_, mut size) = search(&mut LazyBundle::new(root.clone()), &mut HashSet::new(), query);
            size.add(root_size);
            size
        })
        .collect();
    let (mut lazy, mut fetched) = (LazyBundle::new(root), HashSet::new());
    let (mut later, mut hits, mut after_50) = (Vec::new(), Vec::new(), root_size);
    for (i, query) in queries.iter().enumerate() {
        let (found, new) = search(&mut lazy, &mut fetched, query);
        if i < 50 {
            after_50.add(new);
        }
        later.push(new);
        hits.push(found);
    }
    later.remove(0);
    Visit { root: root_size, fragments: fragments.len(), cold, later, after_50, hits }
}

/// nDCG@10 of each query's hits, documents by their ids, on the collection's judgments.
fn ndcg(docs: &DocStore, queries: &[Query], hits: &[Vec<Hit>], qrels: &dowse_core::corpus::Qrels) -> f64 {
    let run = queries
        .iter()
        .zip(hits)
        .map(|(query, hits)| {
            let ranked = hits.iter().enumerate().map(|(rank, hit)| (docs.documents[hit.doc as usize].id.clone(), -(rank as f64)));
            (query.id.clone(), ranked.collect())
        })
        .collect();
    evaluate(qrels, &run, &[Metric::Ndcg(10)]).mean["ndcg_cut_10"]
}

fn main() {
    let env = |name: &str| PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("set {name} (see this file's doc comment)")));
    let (bundle_dir, data_dir) = (env("DOWSE_BENCH_BUNDLE"), env("DOWSE_BENCH_DATA"));
    let bundle = dowse_trainer::bundle_io::read(&bundle_dir).unwrap();
    let flags = [&data_dir, &bundle_dir.join("model"), &dowse_tests::minilm_dir()].map(|p| p.display().to_string());
    let args =
        [&["--input", &flags[0], "--model", &flags[1], "--passage-model", &flags[2]][..], &["--no-adapt", "--out", "unused"]].concat();
    let args = dowse_trainer::index::IndexArgs::from_flags(&args).unwrap();
    let prepared = dowse_trainer::index::prepare(&args).unwrap();
    let analyzer = Analyzer::default();
    let sections = Sections {
        bm25: Bm25Index::build(Bm25Params::default(), prepared.texts.iter().map(|t| analyzer.analyze(t))),
        vectors: VectorStore::quantize(&prepared.matrix, prepared.dim, bundle.manifest.quantization),
        docs: prepared.store,
    };
    let docs = &sections.docs;
    let collection = dowse_trainer::collection::load(&data_dir, "test").unwrap();
    let config = EncoderConfig { cpu_kernels: true, max_len: bundle.manifest.model.max_len, ..EncoderConfig::default() };
    let encoder = Encoder::<burn_flex::Flex>::load(bundle.model.files(), config, &burn_flex::FlexDevice).unwrap();
    let texts: Vec<&str> = collection.queries.iter().map(|q| q.text.as_str()).collect();
    let vectors = encoder.encode(&texts, Side::Query, |_| {}).unwrap();
    let dim = bundle.manifest.model.dim;
    let queries: Vec<Query> = collection
        .queries
        .iter()
        .zip(vectors.chunks_exact(dim))
        .map(|(q, vector)| Query { id: q.id.clone(), terms: analyzer.analyze(&q.text), vector: vector.to_vec() })
        .collect();
    let model = Size::of(&[bundle.model.config.as_slice(), &bundle.model.tokenizer, &bundle.model.weights].concat());
    let whole_text = Size::of(&[sections.bm25.to_bytes(), docs.to_bytes()].concat());
    let whole_vectors = Size::of(&sections.vectors.to_bytes());
    println!(
        "{} ({} documents, {} passages), {} queries; the query encoder (config, tokenizer, weights): {model} kB\n",
        bundle_dir.display(),
        docs.documents.len(),
        docs.passages.len(),
        queries.len()
    );
    println!("Keyword search. The whole BM25 index and documents in one file each: {whole_text} kB.\n");
    println!("| shard / chunk budget | fragments | root kB | first result cold, median kB | p90 kB | later query, median kB | p90 kB | later query's fragments, median / p90 | after 50 queries kB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let doc_of = |passage: u32| docs.passages[passage as usize].doc;
    let whole_bm25: Vec<Vec<Hit>> =
        queries.iter().map(|q| fuse(Mode::Bm25, &[], &sections.bm25.search(&q.terms, 100), &[], 10, doc_of)).collect();
    for (bm25_shard_bytes, document_chunk_bytes) in KEYWORD_BUDGETS {
        let config = FragmentConfig { bm25_shard_bytes, document_chunk_bytes, ..FragmentConfig::default() };
        let run = visit(&sections, &queries, &config, Mode::Bm25);
        assert!(run.hits == whole_bm25, "the fragments' BM25 results differ from the whole bundle's");
        println!(
            "| {} KiB / {} KiB{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            bm25_shard_bytes >> 10,
            document_chunk_bytes >> 10,
            if config == FragmentConfig::default() { " (default)" } else { "" },
            run.fragments,
            run.root,
            percentile(&run.cold, 50),
            percentile(&run.cold, 90),
            percentile(&run.later, 50),
            percentile(&run.later, 90),
            files(&run.later),
            run.after_50
        );
    }
    let vectors = &sections.vectors;
    let whole: Vec<Vec<Hit>> = queries
        .iter()
        .map(|query| {
            let prepared = vectors.prepare(&query.vector);
            let dense = top_k((0..vectors.rows() as u32).map(|row| (row, vectors.rescore(&prepared, row))), 100);
            fuse(Mode::Hybrid, &dense, &sections.bm25.search(&query.terms, 100), &[], 10, doc_of)
        })
        .collect();
    println!(
        "\nHybrid search (default keyword budgets). All the vectors in one file: {whole_vectors} kB; an exact hybrid search \
         (every vector scored) has nDCG@10 {:.4}.\n",
        ndcg(docs, &queries, &whole, &collection.qrels)
    );
    println!("| sign codes | rescored | fragments | first result cold, median kB | p90 kB | later query, median kB | p90 kB | later query's fragments, median / p90 | after 50 queries kB | nDCG@10 | same top 10 as exact |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for codes in CODE_KINDS {
        for depth in RESCORE {
            let config = FragmentConfig {
                rescore: Some(depth),
                dense: DenseChunkConfig { codes, ..DenseChunkConfig::default() },
                ..FragmentConfig::default()
            };
            let run = visit(&sections, &queries, &config, Mode::Hybrid);
            let same = run.hits.iter().zip(&whole).filter(|(a, b)| a.iter().map(|h| h.doc).eq(b.iter().map(|h| h.doc))).count();
            println!(
                "| {} | {depth} | {} | {} | {} | {} | {} | {} | {} | {:.4} | {same} of {} |",
                code_label(codes),
                run.fragments,
                percentile(&run.cold, 50),
                percentile(&run.cold, 90),
                percentile(&run.later, 50),
                percentile(&run.later, 90),
                files(&run.later),
                run.after_50,
                ndcg(docs, &queries, &run.hits, &collection.qrels),
                queries.len()
            );
        }
    }
    if let Ok((shape, table)) = read_tensor(&bundle.model.weights, "pieces.weight") {
        piece_shards(&encoder, &texts, &shape, &table, &bundle.model);
    }
}

/// The static encoder's table in shards of consecutive pieces: the bytes of the shards holding
/// each query's pieces.
fn piece_shards(
    encoder: &Encoder<burn_flex::Flex>,
    texts: &[&str],
    shape: &[usize],
    table: &[f32],
    model: &dowse_core::bundle::ModelBytes,
) {
    let width = shape[1];
    let int8_row = |row: &[f32]| -> Vec<u8> {
        let scale = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
        let codes = row.iter().map(|v| if scale > 0.0 { (v / scale).round() as i8 as u8 } else { 0 });
        scale.to_le_bytes().into_iter().chain(codes).collect()
    };
    let projection = read_tensor(&model.weights, "projection.weight").map(|(_, values)| values).unwrap_or_default();
    let projection_size = Size::of(&projection.chunks_exact(width.max(1)).flat_map(int8_row).collect::<Vec<u8>>());
    let pieces: Vec<Vec<u32>> = texts
        .iter()
        .map(|text| match encoder.tokenize_query(text).unwrap() {
            QueryTokens::Pieces(encoded) => encoded.ids,
            QueryTokens::Trigrams(_) => Vec::new(),
        })
        .collect();
    println!(
        "\nThe static query encoder by word piece: {} pieces of {width}; every query needs the projection ({projection_size} kB) \
         and tokenizer.json ({} kB); a query has {} distinct pieces at the median.\n",
        shape[0],
        Size::of(&model.tokenizer),
        {
            let mut counts: Vec<usize> = pieces.iter().map(|p| p.iter().collect::<HashSet<_>>().len()).collect();
            counts.sort_unstable();
            counts[counts.len() / 2]
        }
    );
    println!("| pieces per shard | shards | first query, median kB | p90 kB | later query, median kB | p90 kB |");
    println!("|---|---|---|---|---|---|");
    for per_shard in PIECES_PER_SHARD {
        let shards: Vec<Size> = table
            .chunks(per_shard * width)
            .map(|rows| Size::of(&rows.chunks_exact(width).flat_map(int8_row).collect::<Vec<u8>>()))
            .collect();
        let needed = |ids: &[u32]| ids.iter().map(|&id| id as usize / per_shard).collect::<HashSet<usize>>();
        let total = |set: &HashSet<usize>| {
            set.iter().fold(Size::default(), |mut sum, &i| {
                sum.add(shards[i]);
                sum
            })
        };
        let cold: Vec<Size> = pieces.iter().map(|ids| total(&needed(ids))).collect();
        let mut loaded = HashSet::new();
        let later: Vec<Size> = pieces
            .iter()
            .map(|ids| {
                let new: HashSet<usize> = needed(ids).difference(&loaded).copied().collect();
                loaded.extend(new.iter().copied());
                total(&new)
            })
            .skip(1)
            .collect();
        println!(
            "| {per_shard} | {} | {} | {} | {} | {} |",
            shards.len(),
            percentile(&cold, 50),
            percentile(&cold, 90),
            percentile(&later, 50),
            percentile(&later, 90)
        );
    }
}

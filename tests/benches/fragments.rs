//! What a bundle fetched in fragments costs a visitor, keyword half (dowse-core's `fragments`):
//! the bundle in `DOWSE_BENCH_BUNDLE` (a folder `dowse index` wrote) cut into a root, BM25 term
//! shards and document chunks at several budgets, then the queries of the collection in
//! `DOWSE_BENCH_DATA` (its test split) searched one after another as one visitor would, each
//! asking for the fragments it lacks. Printed as a Markdown table, raw bytes and gzip (a static
//! host compresses): the root, the fragment count, the first keyword result cold (root, the
//! query's shards, the chunks of its 10 results; median and p90 over the queries, each as if it
//! came first), each later query's new bytes (median, p90),
//! everything fetched after 50 queries; beside what version 1 fetches for the same results
//! (bm25.bin and documents.bin whole). Every query's results are checked against the whole
//! bundle's BM25 results: equal, not close.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

use dowse_core::fragments::{FragmentConfig, LazyBundle, Root};
use dowse_core::search::Mode;
use dowse_core::text::Analyzer;

const CONFIGS: [(usize, usize); 4] = [(4 << 10, 2 << 10), (4 << 10, 4 << 10), (16 << 10, 8 << 10), (64 << 10, 32 << 10)];
const K: usize = 10;
const CANDIDATES: usize = 100;

fn gzip(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

/// Raw and gzip bytes.
#[derive(Clone, Copy, Default)]
struct Size(usize, usize);

impl Size {
    fn of(bytes: &[u8]) -> Self {
        Self(bytes.len(), gzip(bytes))
    }

    fn add(&mut self, other: Size) {
        self.0 += other.0;
        self.1 += other.1;
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} / {:.1}", self.0 as f64 / 1e3, self.1 as f64 / 1e3)
    }
}

fn percentile(sizes: &mut [Size], p: usize) -> Size {
    sizes.sort_by_key(|s| s.1);
    sizes[(sizes.len() * p / 100).min(sizes.len() - 1)]
}

fn main() {
    let env = |name: &str| PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("set {name} (see this file's doc comment)")));
    let (bundle_dir, data_dir) = (env("DOWSE_BENCH_BUNDLE"), env("DOWSE_BENCH_DATA"));
    let bundle = dowse_trainer::bundle_io::read(&bundle_dir).unwrap();
    let collection = dowse_trainer::collection::load(&data_dir, "test").unwrap();
    let analyzer = Analyzer::default();
    let queries: Vec<Vec<String>> = collection.queries.iter().map(|q| analyzer.analyze(&q.text)).collect();
    let whole: Vec<_> = queries.iter().map(|q| bundle.fuse(Mode::Bm25, &[], &bundle.bm25.search(q, CANDIDATES), K)).collect();
    let version_1 = Size::of(&[bundle.bm25.to_bytes(), bundle.docs.to_bytes()].concat());
    println!(
        "{} ({} documents, {} passages), {} queries; version 1 fetches bm25.bin + documents.bin: {version_1} kB\n",
        bundle_dir.display(),
        bundle.docs.documents.len(),
        bundle.docs.passages.len(),
        queries.len()
    );
    println!("| shard / chunk budget | fragments | root kB | first result cold, median kB | p90 kB | later query, median kB | p90 kB | after 50 queries kB |");
    println!("|---|---|---|---|---|---|---|---|");
    for (bm25_shard_bytes, document_chunk_bytes) in CONFIGS {
        let config = FragmentConfig { bm25_shard_bytes, document_chunk_bytes, ..FragmentConfig::default() };
        let (root, fragments) = Root::split(&bundle.bm25, &bundle.docs, &config).unwrap();
        let sizes: HashMap<String, Size> = fragments.iter().map(|(name, bytes)| (name.clone(), Size::of(bytes))).collect();
        let fragments: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
        let root_size = Size::of(&root.to_bytes());
        let empty = LazyBundle::new(root.clone());
        let mut cold: Vec<Size> = queries
            .iter()
            .zip(&whole)
            .map(|(query, hits)| {
                let mut size = root_size;
                for name in empty.missing_for_query(query).into_iter().chain(empty.missing_for_hits(hits)) {
                    size.add(sizes[&name]);
                }
                size
            })
            .collect();
        let mut lazy = LazyBundle::new(root);
        let mut fetched: HashSet<String> = HashSet::new();
        let mut per_query = Vec::new();
        let mut after_50 = root_size;
        for (i, (query, expected)) in queries.iter().zip(&whole).enumerate() {
            let mut new = Size::default();
            let mut fetch = |lazy: &mut LazyBundle, names: Vec<String>| {
                for name in names {
                    lazy.load(&name, &fragments[&name]).unwrap();
                    if fetched.insert(name.clone()) {
                        new.add(sizes[&name]);
                    }
                }
            };
            let names = lazy.missing_for_query(query);
            fetch(&mut lazy, names);
            let hits = lazy.keyword_search(query, K, CANDIDATES).unwrap();
            assert_eq!(&hits, expected, "query {i}: the fragments' results differ from the whole bundle's");
            let names = lazy.missing_for_hits(&hits);
            fetch(&mut lazy, names);
            for hit in &hits {
                lazy.passage(hit.passage).unwrap();
            }
            if i < 50 {
                after_50.add(new);
            }
            per_query.push(new);
        }
        let mut later = per_query[1..].to_vec();
        println!(
            "| {} KiB / {} KiB | {} | {root_size} | {} | {} | {} | {} | {after_50} |",
            bm25_shard_bytes >> 10,
            document_chunk_bytes >> 10,
            fragments.len(),
            percentile(&mut cold, 50),
            percentile(&mut cold, 90),
            percentile(&mut later, 50),
            percentile(&mut later, 90)
        );
    }
}

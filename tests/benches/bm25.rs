//! BM25 on SciFact (5,183 documents, title and text; the 300 test queries), single thread, each
//! query analyzed and searched for its top 10: the
//! whole index against the same index split into term shards (dowse-core's `bm25_shards`, what a
//! bundle fetched in fragments searches), and what the shards cost a query: for each shard budget,
//! the shards made, the root's bytes, and the shard bytes each query needs (median and p90), as
//! `shards ...` lines before the timings. With `DOWSE_BENCH_TEXTS=DIR` the documents and queries
//! are written there (`docs.jsonl`, `queries.jsonl`) for scripts/bench_bm25s.py.

use criterion::{criterion_group, criterion_main, Criterion};
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bm25_shards::ShardedBm25;
use dowse_core::text::Analyzer;
use dowse_tests::data;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHARD_BYTES: [usize; 4] = [4 << 10, 16 << 10, 64 << 10, 256 << 10];

fn bench(c: &mut Criterion) {
    let collection = dowse_trainer::collection::load(&data("scifact"), "test").unwrap();
    let texts: Vec<String> = collection.docs.iter().map(|d| d.full_text()).collect();
    if let Some(dir) = std::env::var_os("DOWSE_BENCH_TEXTS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lines = |items: &mut dyn Iterator<Item = &String>| {
            items.map(|t| serde_json::json!({ "text": t }).to_string() + "\n").collect::<String>()
        };
        std::fs::write(dir.join("docs.jsonl"), lines(&mut texts.iter())).unwrap();
        std::fs::write(dir.join("queries.jsonl"), lines(&mut collection.queries.iter().map(|q| &q.text))).unwrap();
    }
    let analyzer = Analyzer::default();
    let index = Bm25Index::build(Bm25Params::default(), texts.iter().map(|t| analyzer.analyze(t)));
    let queries: Vec<Vec<String>> = collection.queries.iter().map(|q| analyzer.analyze(&q.text)).collect();
    println!("whole index {} bytes", index.to_bytes().len());
    for budget in SHARD_BYTES {
        let (root, shards) = ShardedBm25::split(&index, budget);
        let sizes: Vec<usize> = shards.iter().map(|s| s.to_bytes().len()).collect();
        let mut per_query: Vec<usize> =
            queries.iter().map(|q| root.shards_for(q, false).iter().map(|&s| sizes[s as usize]).sum()).collect();
        per_query.sort_unstable();
        println!(
            "shards budget {budget} count {} root {} median {} p90 {} max-shard {}",
            shards.len(),
            root.to_bytes().len(),
            per_query[per_query.len() / 2],
            per_query[per_query.len() * 9 / 10],
            sizes.iter().max().unwrap()
        );
    }
    let (root, shards) = ShardedBm25::split(&index, 16 << 10);
    // Each query analyzed (words, stopwords, stemming) and searched, as a search box asks.
    let mut group = c.benchmark_group("bm25_search");
    let mut next = collection.queries.iter().cycle();
    group.bench_function("whole", |b| b.iter(|| index.search(&analyzer.analyze(&next.next().unwrap().text), 10)));
    let mut next = collection.queries.iter().cycle();
    group.bench_function("shards-16k", |b| {
        b.iter(|| root.search(&analyzer.analyze(&next.next().unwrap().text), false, 10, |i| Some(&shards[i as usize]), None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

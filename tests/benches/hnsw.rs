//! Dense search on SciFact passages (all-MiniLM-L6-v2 vectors from dowse's embedding cache): HNSW
//! build time, and per-query latency, single thread, of dowse-core's HNSW searcher (f32 and int8
//! scoring) and of hnsw_rs's own search on the same graph, at ef 16 to 256; and of dowse-core's
//! partitioned search (int8 scoring) at nprobe 1 to 32; and of the search a bundle ships (its
//! sign codes, then the best `rescore` candidates rescored with their int8 vectors, all chunks
//! loaded) at depths 25 to 400. Recall@10 against exact search is printed
//! as `recall ...` lines before the timings; scripts/bench-bundle.sh gathers both into
//! results/bundle.md. With `DOWSE_BENCH_VECTORS=DIR` the passage and query vectors are written
//! there too (`passages.f32`, `queries.f32`: little-endian rows of `dim.txt` floats), for the
//! script to measure hnswlib and FAISS on the same vectors.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dowse_core::dense::{dot, top_k_exact};
use dowse_core::dense_chunks::{DenseChunkConfig, SignCodes};
use dowse_core::fragments::open_fragment;
use dowse_core::hnsw;
use dowse_core::partitions::{PartitionConfig, Partitions};
use dowse_core::vectors::{Quantization, VectorStore};
use dowse_tests::encoders::{self, Runtime};
use dowse_tests::{data, minilm_dir, read, recall};
use dowse_trainer::graph::{build, export, GraphConfig};
use dowse_trainer::index;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EFS: [usize; 5] = [16, 32, 64, 128, 256];
const NPROBES: [usize; 6] = [1, 2, 4, 8, 16, 32];
const RESCORES: [usize; 5] = [25, 50, 100, 200, 400];

fn bench(c: &mut Criterion) {
    let (input, model) = (data("scifact").display().to_string(), minilm_dir().display().to_string());
    let args = index::IndexArgs::from_flags(&["--input", &input, "--model", &model, "--out", "unused"]).unwrap();
    let prepared = index::prepare(&args).unwrap();
    let (matrix, dim) = (&prepared.matrix, prepared.dim);
    let queries = dowse_core::corpus::read_queries_jsonl("queries.jsonl", &read(&data("scifact/queries.jsonl"))).unwrap();
    let texts: Vec<&str> = queries.iter().take(300).map(|q| q.text.as_str()).collect();
    let query_matrix = encoders::encode(encoders::load(Runtime::CpuKernels, &minilm_dir(), 256, 32).as_ref(), &texts);
    let query_rows: Vec<&[f32]> = query_matrix.chunks_exact(dim).collect();
    if let Some(dir) = std::env::var_os("DOWSE_BENCH_VECTORS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = |rows: &[f32]| rows.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join("passages.f32"), bytes(matrix)).unwrap();
        std::fs::write(dir.join("queries.f32"), bytes(&query_matrix)).unwrap();
        std::fs::write(dir.join("dim.txt"), dim.to_string()).unwrap();
    }

    let started = Instant::now();
    let hnsw_rs_graph = build(matrix, dim, &GraphConfig::default()).hnsw;
    println!("build {} passages {:.2} s", matrix.len() / dim, started.elapsed().as_secs_f64());
    let graph = export(&hnsw_rs_graph);
    let int8 = VectorStore::quantize(matrix, dim, Quantization::Int8);
    let exact: Vec<Vec<u32>> = query_rows.iter().map(|q| top_k_exact(matrix, dim, q, 10).iter().map(|h| h.0).collect()).collect();
    let f32_search = |q: &[f32], ef: usize| hnsw::search(&graph, 10, ef, |row| dot(q, &matrix[row as usize * dim..][..dim]));
    let int8_search = |q: &[f32], ef: usize| {
        let prepared = int8.prepare(q);
        hnsw::search(&graph, 10, ef, |row| int8.score(&prepared, row))
    };
    for ef in EFS {
        let mean = |found: &dyn Fn(&[f32]) -> Vec<u32>| {
            query_rows.iter().zip(&exact).map(|(q, e)| recall(&found(q), e)).sum::<f64>() / query_rows.len() as f64
        };
        let ours = mean(&|q| f32_search(q, ef).iter().map(|h| h.0).collect());
        let ours_int8 = mean(&|q| int8_search(q, ef).iter().map(|h| h.0).collect());
        let theirs = mean(&|q| hnsw_rs_graph.search(q, 10, ef).iter().map(|n| n.d_id as u32).collect());
        println!("recall ef {ef} dowse-f32 {ours:.4} dowse-int8 {ours_int8:.4} hnsw_rs {theirs:.4}");
    }
    let started = Instant::now();
    let partitions = Partitions::build(matrix, dim, &PartitionConfig::default());
    println!("partitions {} passages {} partitions {:.2} s", matrix.len() / dim, partitions.len(), started.elapsed().as_secs_f64());
    let partition_search = |q: &[f32], nprobe: usize| {
        let prepared = int8.prepare(q);
        partitions.search(q, 10, nprobe, |row| int8.score(&prepared, row))
    };
    for nprobe in NPROBES {
        let found =
            query_rows.iter().zip(&exact).map(|(q, e)| recall(&partition_search(q, nprobe).iter().map(|h| h.0).collect::<Vec<_>>(), e));
        println!("recall nprobe {nprobe} dowse-partitions-int8 {:.4}", found.sum::<f64>() / query_rows.len() as f64);
    }
    let (codes, fragments) = SignCodes::split(&int8, &DenseChunkConfig::default());
    let chunks: Vec<VectorStore> = fragments
        .iter()
        .enumerate()
        .map(|(i, (name, stored))| codes.read_chunk(i as u32, &open_fragment(name, stored).unwrap()).unwrap())
        .collect();
    let sign_code_search = |q: &[f32], depth: usize| {
        let candidates = codes.candidates(q, depth, None);
        codes.rescore(q, &candidates, 10, |chunk| chunks.get(chunk as usize)).expect("every chunk is loaded")
    };
    for depth in RESCORES {
        let found =
            query_rows.iter().zip(&exact).map(|(q, e)| recall(&sign_code_search(q, depth).iter().map(|h| h.0).collect::<Vec<_>>(), e));
        println!("recall rescore {depth} dowse-signcodes-int8 {:.4}", found.sum::<f64>() / query_rows.len() as f64);
    }

    let mut group = c.benchmark_group("hnsw_search");
    for ef in EFS {
        let mut next = query_rows.iter().cycle();
        group.bench_with_input(BenchmarkId::new("dowse-f32", ef), &ef, |b, &ef| b.iter(|| f32_search(next.next().unwrap(), ef)));
        let mut next = query_rows.iter().cycle();
        group.bench_with_input(BenchmarkId::new("dowse-int8", ef), &ef, |b, &ef| b.iter(|| int8_search(next.next().unwrap(), ef)));
        let mut next = query_rows.iter().cycle();
        group
            .bench_with_input(BenchmarkId::new("hnsw_rs", ef), &ef, |b, &ef| b.iter(|| hnsw_rs_graph.search(next.next().unwrap(), 10, ef)));
    }
    group.finish();
    let mut group = c.benchmark_group("partitions_search");
    for nprobe in NPROBES {
        let mut next = query_rows.iter().cycle();
        group.bench_with_input(BenchmarkId::new("dowse-int8", nprobe), &nprobe, |b, &nprobe| {
            b.iter(|| partition_search(next.next().unwrap(), nprobe))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("signcodes_search");
    for depth in RESCORES {
        let mut next = query_rows.iter().cycle();
        group.bench_with_input(BenchmarkId::new("dowse-int8", depth), &depth, |b, &depth| {
            b.iter(|| sign_code_search(next.next().unwrap(), depth))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

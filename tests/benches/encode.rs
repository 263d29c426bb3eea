//! Native encode throughput: passages/s on SciFact passages (batch 32, up to 256 tokens) of
//! all-MiniLM-L6-v2 on dowse's CPU kernels (what `--device cpu` runs), on Burn's CPU backends
//! (flex, and ndarray, the browser's fallback, here with OpenBLAS) and on wgpu; and of the SciFact
//! student (`models/student`, 2 of MiniLM's 6 layers) on the CPU kernels and on flex, for issue
//! 6's encode-time target.
//!
//! Run with `scripts/bench-encode.sh`, which records the numbers with the machine and the date.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dowse_core::corpus::read_documents_jsonl;
use dowse_tests::encoders::{self, Runtime};
use dowse_tests::{data, minilm_dir, read};

const BATCH: usize = 32;

// The binary's allocator: the encoder allocates and frees large tensors every layer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn passages() -> Vec<String> {
    let docs = read_documents_jsonl("corpus.jsonl", &read(&data("scifact/corpus.jsonl"))).unwrap();
    docs.iter().take(BATCH).map(|d| d.full_text()).collect()
}

fn bench_runtime(c: &mut Criterion, name: &str, model: &Path, runtime: Runtime) {
    let encoder = encoders::load(runtime, model, 256, BATCH);
    let passages = passages();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    // Warm up: shader compilation and autotuning are not part of steady-state throughput.
    encoders::encode(encoder.as_ref(), &texts);
    let mut group = c.benchmark_group("encode_scifact_batch32_len256");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function(name, |b| b.iter(|| encoders::encode(encoder.as_ref(), &texts)));
    group.finish();
}

fn cpu_kernels(c: &mut Criterion) {
    bench_runtime(c, "cpu-kernels", &minilm_dir(), Runtime::CpuKernels);
}

fn flex(c: &mut Criterion) {
    bench_runtime(c, "flex", &minilm_dir(), Runtime::Flex);
}

fn ndarray(c: &mut Criterion) {
    bench_runtime(c, "ndarray", &minilm_dir(), Runtime::NdArray);
}

fn wgpu(c: &mut Criterion) {
    bench_runtime(c, "wgpu", &minilm_dir(), Runtime::Wgpu);
}

fn student_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/student")
}

fn student_cpu_kernels(c: &mut Criterion) {
    bench_runtime(c, "student-cpu-kernels", &student_dir(), Runtime::CpuKernels);
}

fn student_flex(c: &mut Criterion) {
    bench_runtime(c, "student-flex", &student_dir(), Runtime::Flex);
}

// The CPU benchmarks come before wgpu's: once a wgpu device exists, its threads (lavapipe here)
// keep waking on the same cores, which cost the student 20% of its throughput when it ran last.
criterion_group!(benches, cpu_kernels, student_cpu_kernels, flex, student_flex, ndarray, wgpu);
criterion_main!(benches);

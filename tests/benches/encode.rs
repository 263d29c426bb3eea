//! Native encode throughput: passages/s on SciFact passages (batch 32, up to 256 tokens) of
//! all-MiniLM-L6-v2 on the CPU backends (flex, which dowse runs natively, and ndarray, the
//! browser's fallback, here with OpenBLAS) and on wgpu, and of the student that ships inside dowse
//! (`models/student`, 2 of MiniLM's 6 layers) on flex, for issue 6's encode-time target.
//!
//! Run with `scripts/bench-encode.sh`, which records the numbers with the machine and the date.

use std::path::Path;

use burn::tensor::backend::Backend;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dowse_core::corpus::read_documents_jsonl;
use dowse_core::model::{EncoderConfig, TextEncoder};
use dowse_tests::{data, minilm_dir, read};
use dowse_trainer::{model_folder, shipped};

const BATCH: usize = 32;

// The binary's allocator: the encoder allocates and frees large tensors every layer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn passages() -> Vec<String> {
    let docs = read_documents_jsonl("corpus.jsonl", &read(&data("scifact/corpus.jsonl"))).unwrap();
    docs.iter().take(BATCH).map(|d| d.full_text()).collect()
}

fn bench_backend<B: Backend>(c: &mut Criterion, name: &str, model: &Path, device: B::Device) {
    let model = model_folder::read(model).unwrap();
    let encoder = TextEncoder::<B>::load(model.files(), EncoderConfig { max_len: 256, batch_size: BATCH }, &device).unwrap();
    let passages = passages();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    // Warm up: shader compilation and autotuning are not part of steady-state throughput.
    encoder.encode(&texts, |_| {}).unwrap();
    let mut group = c.benchmark_group("encode_scifact_batch32_len256");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function(name, |b| b.iter(|| encoder.encode(&texts, |_| {}).unwrap()));
    group.finish();
}

fn flex(c: &mut Criterion) {
    bench_backend::<burn_flex::Flex>(c, "flex", &minilm_dir(), burn_flex::FlexDevice);
}

fn ndarray(c: &mut Criterion) {
    bench_backend::<burn_ndarray::NdArray>(c, "ndarray", &minilm_dir(), burn_ndarray::NdArrayDevice::Cpu);
}

fn wgpu(c: &mut Criterion) {
    bench_backend::<burn_wgpu::Wgpu>(c, "wgpu", &minilm_dir(), burn_wgpu::WgpuDevice::default());
}

fn student_flex(c: &mut Criterion) {
    bench_backend::<burn_flex::Flex>(c, "student-flex", &shipped::student_dir().unwrap(), burn_flex::FlexDevice);
}

// The CPU benchmarks come before wgpu's: once a wgpu device exists, its threads (lavapipe here)
// keep waking on the same cores, which cost the student 20% of its throughput when it ran last.
criterion_group!(benches, flex, student_flex, ndarray, wgpu);
criterion_main!(benches);

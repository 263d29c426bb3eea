//! A BERT folder loaded on each way dowse runs it (its CPU kernels, flex, ndarray, wgpu), behind
//! one non-generic handle. The golden test and the encode benchmark both go through it, so each
//! backend's encoder is compiled once, in this library, and not again in every binary that uses
//! it (monomorphizing Burn's wgpu stack took minutes per binary on CI's 2 cores).

use std::path::Path;

use burn::tensor::backend::Backend;
use dowse_core::model::{EncoderConfig, TextEncoder, TextTokenizer};
use dowse_trainer::device::{run_on, BackendJob, Device};
use dowse_trainer::model_folder;

/// Where the encoder runs.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// dowse's own CPU kernels (what `--device cpu` runs).
    CpuKernels,
    /// Burn's flex backend.
    Flex,
    /// Burn's ndarray backend (the browser's CPU fallback), here natively.
    NdArray,
    /// Burn's wgpu backend through `dowse --device wgpu`'s own selection (its CubeCL settings).
    Wgpu,
}

/// An encoder whatever its backend.
pub trait Encode {
    fn tokenizer(&self) -> &TextTokenizer;
    /// Length of the vectors it makes.
    fn dim(&self) -> usize;
    /// `texts` as a row-major matrix of unit vectors.
    fn encode(&self, texts: &[&str]) -> Vec<f32>;
}

impl<B: Backend> Encode for TextEncoder<B> {
    fn tokenizer(&self) -> &TextTokenizer {
        TextEncoder::tokenizer(self)
    }

    fn dim(&self) -> usize {
        TextEncoder::dim(self)
    }

    fn encode(&self, texts: &[&str]) -> Vec<f32> {
        TextEncoder::encode(self, texts, |_| {}).unwrap()
    }
}

/// Loads the model folder `model` to run on `runtime`, `max_len` tokens and `batch_size` texts a pass.
pub fn load(runtime: Runtime, model: &Path, max_len: usize, batch_size: usize) -> Box<dyn Encode> {
    let job = Load { model, config: EncoderConfig { max_len, batch_size, cpu_kernels: matches!(runtime, Runtime::CpuKernels) } };
    match runtime {
        Runtime::CpuKernels | Runtime::Flex => job.run::<burn_flex::Flex>(burn_flex::FlexDevice),
        Runtime::NdArray => job.run::<burn_ndarray::NdArray>(burn_ndarray::NdArrayDevice::Cpu),
        Runtime::Wgpu => run_on(Device::Wgpu, job).unwrap(),
    }
}

struct Load<'a> {
    model: &'a Path,
    config: EncoderConfig,
}

impl BackendJob for Load<'_> {
    type Output = Box<dyn Encode>;

    fn run<B: Backend>(self, device: B::Device) -> Box<dyn Encode> {
        let folder = model_folder::read(self.model).unwrap();
        Box::new(TextEncoder::<B>::load(folder.files(), self.config, &device).unwrap())
    }
}

//! A BERT folder loaded on each way dowse runs it (its CPU kernels, flex, ndarray, wgpu), behind
//! the trainer's non-generic handle ([`Encode`]): the CPU and wgpu encoders are the ones `dowse`
//! itself compiles, so no test or benchmark compiles Burn's backend stacks again (monomorphizing
//! them took minutes per binary on CI's 2 cores). Only ndarray, which `dowse` does not run, is
//! compiled here, once for every binary that uses it.

use std::path::Path;

use dowse_core::model::{EncoderConfig, Side, TextEncoder};
use dowse_trainer::device::Device;
use dowse_trainer::encode::{self, Encode};
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

/// Loads the model folder `model` to run on `runtime`, `max_len` tokens and `batch_size` texts a pass.
pub fn load(runtime: Runtime, model: &Path, max_len: usize, batch_size: usize) -> Box<dyn Encode> {
    let config = EncoderConfig { max_len, batch_size, cpu_kernels: matches!(runtime, Runtime::CpuKernels) };
    match runtime {
        Runtime::CpuKernels | Runtime::Flex => encode::load(Device::Cpu, model, config).unwrap(),
        Runtime::Wgpu => encode::load(Device::Wgpu, model, config).unwrap(),
        Runtime::NdArray => {
            let folder = model_folder::read(model).unwrap();
            let device = burn_ndarray::NdArrayDevice::Cpu;
            Box::new(NdArrayBert(TextEncoder::load(folder.files(), config, &device).unwrap()))
        }
    }
}

/// `texts` as a row-major matrix of unit vectors (passages and queries are one for a BERT).
pub fn encode(encoder: &dyn Encode, texts: &[&str]) -> Vec<f32> {
    encoder.encode(texts, Side::Passage, &mut |_| {}).unwrap()
}

/// A BERT on ndarray (Burn's ndarray backend and dowse-core's BERT, not its encoder of any kind:
/// only the BERT is compiled for ndarray).
struct NdArrayBert(TextEncoder<burn_ndarray::NdArray>);

impl Encode for NdArrayBert {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn encode(&self, texts: &[&str], _side: Side, progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>, dowse_core::model::ModelError> {
        self.0.encode(texts, progress)
    }
}

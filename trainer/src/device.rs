//! Backend selection: one generic job, run on the CPU (Burn's flex backend, and dowse's own
//! kernels for BERT encoders), wgpu, or CUDA, and the settings of CubeCL, which compiles the GPU
//! backends' kernels.

use std::sync::Once;

use anyhow::Result;
use burn::tensor::backend::Backend;
use clap::ValueEnum;
use cubecl_runtime::config::{autotune::AutotuneLevel, cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
use dowse_core::model::EncoderConfig;
use serde::Deserialize;

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU: BERT encoders on dowse's own kernels, the rest (training included) on Burn's flex
    /// backend (gemm matmuls, SIMD, rayon threads).
    Cpu,
    /// Burn's wgpu backend: Vulkan, Metal or DX12; lavapipe where there is no GPU.
    Wgpu,
    /// Burn's CUDA backend (build with `--features cuda`).
    Cuda,
}

impl Device {
    /// How encoders run here: a BERT on the CPU runs on dowse's own CPU kernels (three times
    /// Burn's speed there, results/encode.md); everything else on the Burn backend.
    pub fn encoder(self, max_len: usize, batch_size: usize) -> EncoderConfig {
        EncoderConfig { max_len, batch_size, cpu_kernels: self == Self::Cpu }
    }

    /// Micro-batches a training step computes at once: one per core on the CPU (rayon's threads,
    /// `RAYON_NUM_THREADS`), one on a GPU, which a micro-batch fills on its own.
    pub fn training_workers(self) -> usize {
        match self {
            Self::Cpu => rayon::current_num_threads(),
            Self::Wgpu | Self::Cuda => 1,
        }
    }
}

/// Work that is written once for any backend.
pub trait BackendJob {
    type Output;
    fn run<B: Backend>(self, device: B::Device) -> Self::Output;
}

/// Runs `job` on the chosen backend.
pub fn run_on<J: BackendJob>(device: Device, job: J) -> Result<J::Output> {
    match device {
        Device::Cpu => Ok(job.run::<burn_flex::Flex>(burn_flex::FlexDevice)),
        Device::Wgpu => {
            configure_cubecl();
            Ok(job.run::<burn_wgpu::Wgpu>(burn_wgpu::WgpuDevice::default()))
        }
        Device::Cuda => {
            configure_cubecl();
            run_cuda(job)
        }
    }
}

/// Sets CubeCL's global settings once, before its first kernel. By default CubeCL benchmarks
/// several kernels for each new matmul shape (compiling each) and keeps compiled kernels in
/// memory only, so a short run spends most of its time compiling. dowse asks for minimal
/// autotuning and keeps compiled kernels and autotune results under `$DOWSE_HOME/cubecl`, so a
/// second run starts warm. CubeCL's variables still override this (`CUBECL_AUTOTUNE_LEVEL=balanced`,
/// `CUBECL_DEBUG_LOG=FILE`).
fn configure_cubecl() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::default();
        config.autotune.level = AutotuneLevel::Minimal;
        if let Ok(home) = crate::home::dowse_home() {
            let cache = CacheConfig::File(home.join("cubecl"));
            config.autotune.cache = cache.clone();
            config.compilation.cache = Some(cache);
        }
        CubeClRuntimeConfig::set(config.override_from_env());
    });
}

#[cfg(feature = "cuda")]
fn run_cuda<J: BackendJob>(job: J) -> Result<J::Output> {
    Ok(job.run::<burn_cuda::Cuda>(burn_cuda::CudaDevice::default()))
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<J: BackendJob>(_job: J) -> Result<J::Output> {
    anyhow::bail!("this dowse was built without CUDA: rebuild with `cargo build --release --features cuda`")
}

//! Encoding many texts with a model folder on any backend, through one handle that is not
//! generic ([`Encode`]), with a progress bar and a throughput line; and the encoding flags
//! `dowse eval`, `mine` and `viz` share.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use dowse_core::model::{Encoder, EncoderConfig, ModelError, Side};

use crate::device::{run_on, BackendJob, Device};
use crate::embed_cache::{self, Embedded};
use crate::model_folder;
use crate::progress::{rate, Progress};
use crate::score::ScoreJob;

/// How texts (or pairs) are encoded.
#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
    /// Texts (or pairs) per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per text (or pair), special tokens included.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Re-encode the passages even when cached embeddings exist.
    #[arg(long)]
    pub no_cache: bool,
}

impl EncodeArgs {
    pub fn config(&self) -> EncoderConfig {
        self.device.encoder(self.max_len, self.batch_size)
    }

    /// Query and passage vectors from the model in `model_dir`, passages through the cache.
    pub fn embed(&self, model_dir: &Path, queries: &[String], passages: &[String]) -> Result<Embedded> {
        embed_cache::embed(model_dir, self.config(), self.device, queries, &[("passage", passages)], !self.no_cache)
    }

    /// The cross-encoder in `model_dir`'s score of each (query, passage) pair.
    pub fn score(&self, model_dir: &Path, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        let job = ScoreJob { model_dir, config: self.config(), pairs };
        run_on(self.device, job)?.with_context(|| format!("scoring with {}", model_dir.display()))
    }
}

/// A model folder's encoder loaded on one backend, behind a handle that is not generic over
/// Burn's backends: code that only encodes (eval, the embedding cache, the alignment check, the
/// tests and benchmarks) is compiled once; a generic caller compiles Burn's backend stacks again,
/// minutes on 2 cores.
pub trait Encode {
    /// Length of the vectors it makes.
    fn dim(&self) -> usize;
    /// `texts` on `side` as a row-major matrix of unit vectors; `progress` hears how many are done.
    fn encode(&self, texts: &[&str], side: Side, progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>, ModelError>;
}

impl<B: Backend> Encode for Encoder<B> {
    fn dim(&self) -> usize {
        Encoder::dim(self)
    }

    fn encode(&self, texts: &[&str], side: Side, progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        Encoder::encode(self, texts, side, progress)
    }
}

/// Loads the model in `model_dir` to run on `device`.
pub fn load(device: Device, model_dir: &Path, config: EncoderConfig) -> Result<Box<dyn Encode>> {
    run_on(device, Load { model_dir, config })?
}

struct Load<'a> {
    model_dir: &'a Path,
    config: EncoderConfig,
}

impl BackendJob for Load<'_> {
    type Output = Result<Box<dyn Encode>>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Box<dyn Encode>> {
        let model = model_folder::read(self.model_dir)?;
        let encoder = Encoder::<B>::load(model.files(), self.config, &device)
            .with_context(|| format!("loading the model in {}", self.model_dir.display()))?;
        Ok(Box::new(encoder))
    }
}

/// The encoded matrices, in the order of the inputs, and the vector length.
pub struct Encoded {
    pub matrices: Vec<Vec<f32>>,
    pub dim: usize,
}

/// Loads the model in `model_dir` on `device` and encodes each input (a label for the progress
/// bar, the side its texts are on, the texts) into a row-major matrix.
pub fn encode_all(device: Device, model_dir: &Path, config: EncoderConfig, inputs: &[(&str, Side, &[String])]) -> Result<Encoded> {
    let encoder = load(device, model_dir, config)?;
    let mut matrices = Vec::with_capacity(inputs.len());
    for &(label, side, texts) in inputs {
        let mut progress = Progress::new(label, texts.len(), 0);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let matrix = encoder.encode(&refs, side, &mut |done| progress.count(done, label))?;
        let seconds = progress.elapsed().as_secs_f64();
        progress.finish();
        eprintln!("encoded {} {label} in {seconds:.1} s ({} {label}/s)", texts.len(), rate(texts.len() as f64, seconds));
        matrices.push(matrix);
    }
    Ok(Encoded { matrices, dim: encoder.dim() })
}

//! Scoring many (query, passage) pairs with a cross-encoder on any backend, with a progress bar
//! and a throughput line: what `dowse mine` (a cross-encoder teacher) and `dowse eval --rerank` run.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use dowse_core::model::{CrossEncoder, EncoderConfig};

use crate::device::BackendJob;
use crate::model_folder;
use crate::progress::{rate, Progress};

/// Loads the cross-encoder in `model_dir` and scores `pairs` of (query, passage).
pub struct ScoreJob<'a> {
    pub model_dir: &'a Path,
    /// Tokens per pair (special tokens included), pairs per batch, and whether the CPU kernels run it.
    pub config: EncoderConfig,
    pub pairs: &'a [(&'a str, &'a str)],
}

impl BackendJob for ScoreJob<'_> {
    type Output = Result<Vec<f32>>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<f32>> {
        let files = model_folder::read(self.model_dir)?;
        let model = CrossEncoder::<B>::load(files.files(), self.config, &device)
            .with_context(|| format!("loading the cross-encoder in {}", self.model_dir.display()))?;
        let mut progress = Progress::new("pairs", self.pairs.len(), 0);
        let mut scores = Vec::with_capacity(self.pairs.len());
        // Chunks of a few batches, so the bar moves while the model works.
        for chunk in self.pairs.chunks(self.config.batch_size.max(1) * 4) {
            scores.extend(model.score(chunk)?);
            progress.count(scores.len(), "pairs");
        }
        let seconds = progress.elapsed().as_secs_f64();
        progress.finish();
        eprintln!("scored {} pairs in {seconds:.1} s ({} pairs/s)", scores.len(), rate(scores.len() as f64, seconds));
        Ok(scores)
    }
}

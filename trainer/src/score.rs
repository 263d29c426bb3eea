//! Scoring many (query, passage) pairs with a cross-encoder on any backend, with a progress bar
//! and a throughput line: what `dowse mine` (a cross-encoder teacher) and `dowse eval --rerank` run.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use dowse_core::model::{CrossEncoder, EncoderConfig};
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::BackendJob;
use crate::model_folder;

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
        let bar = ProgressBar::new(self.pairs.len() as u64).with_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message("pairs");
        let started = Instant::now();
        let mut scores = Vec::with_capacity(self.pairs.len());
        // Chunks of a few batches, so the bar moves while the model works.
        for chunk in self.pairs.chunks(self.config.batch_size.max(1) * 4) {
            scores.extend(model.score(chunk)?);
            bar.set_position(scores.len() as u64);
        }
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("scored {} pairs in {seconds:.1} s ({:.1} pairs/s)", scores.len(), scores.len() as f64 / seconds.max(1e-9));
        Ok(scores)
    }
}

//! `dowse train`: trains a retrieval model natively, on any backend.
//!
//! [`data`] reads relevance judgments and splits off validation queries, [`config`] holds the
//! typed TOML settings, [`fit`] is the loop every model shares (checkpoints kept by [`checkpoint`], resume, early
//! stopping, metrics log, its curves drawn by [`crate::plot`]), [`rng`] makes batches reproducible,
//! [`contrastive`] has the two-tower batches and losses, and one module per model says how it is
//! built and exported ([`dssm`], [`lstm`], [`cross_encoder`], [`bi_encoder`], [`dsi`]); [`distill`] cuts a
//! small student from a bi-encoder and trains it to match its teachers (`dowse distill`), and
//! [`align`] trains a static query encoder to put texts where a teacher does (`dowse distill --align-to`).
//! The BERT trainers can train LoRA adapters (`dowse_core::model::LoraConfig`) and compute in
//! half precision ([`precision`]).

pub mod align;
pub mod bi_encoder;
pub mod checkpoint;
pub mod config;
pub mod contrastive;
pub mod cross_encoder;
pub mod data;
pub mod distill;
pub mod dsi;
pub mod dssm;
pub mod fit;
pub mod lstm;
pub mod precision;
pub mod rng;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use config::{Settings, TrainConfig};
use data::{JudgmentArgs, RelevanceData, Split};

use crate::device::Device;

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(subcommand)]
    pub model: TrainModel,
}

#[derive(Debug, Subcommand)]
pub enum TrainModel {
    /// DSSM: letter-trigram bags through a query tower and a passage tower, compared by cosine.
    Dssm(TrainCommon),
    /// Two-tower LSTM: word pieces (optionally MiniLM's embeddings) through an LSTM per tower.
    TwoTower(TrainCommon),
    /// Cross-encoder reranker: BERT over (query, passage) pairs, from mined hard negatives.
    CrossEncoder(MinedArgs),
    /// BERT bi-encoder fine-tuning (MultipleNegativesRanking, in-batch and mined negatives).
    BiEncoder(bi_encoder::BiEncoderArgs),
    /// Generative retrieval (DSI): a BERT and a decoder that emits a passage's semantic ID.
    Dsi(TrainCommon),
}

/// What every `dowse train` takes.
#[derive(Debug, Args)]
pub struct TrainCommon {
    #[command(flatten)]
    pub judgments: JudgmentArgs,
    /// Output folder: the best model (a model folder), metrics.csv, metrics.png and the checkpoint.
    #[arg(long)]
    pub out: PathBuf,
    /// The model folder a run starts from: the tokenizer (and word-piece embeddings) of the
    /// LSTM, the BERT the cross-encoder and the bi-encoder fine-tune, the teacher a distilled
    /// student is cut from; default: the fetched all-MiniLM-L6-v2.
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// TOML config (see configs/); every field has a default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides the config's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: Device,
    /// Continue from the checkpoint in --out, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many optimizer steps in all (with a checkpoint to resume from).
    #[arg(long)]
    pub max_steps: Option<usize>,
}

/// What a run that learns from mined examples takes (`dowse train cross-encoder`).
#[derive(Debug, Args)]
pub struct MinedArgs {
    #[command(flatten)]
    pub common: TrainCommon,
    /// Hard negatives mined for the training queries (`dowse mine` output); distillation's
    /// Margin-MSE targets are their teacher scores, best mined with `--teacher CROSS_ENCODER`.
    #[arg(long)]
    pub negatives: PathBuf,
}

impl TrainCommon {
    /// The config file (or the defaults), with `--seed` applied.
    fn config<M: Settings>(&self) -> Result<TrainConfig<M>> {
        let mut config = TrainConfig::<M>::read(self.config.as_deref())?;
        if let Some(seed) = self.seed {
            config.train.seed = seed;
        }
        Ok(config)
    }

    /// The judgments and their training / validation split.
    fn data<M: Settings>(&self, config: &TrainConfig<M>) -> Result<(RelevanceData, Split)> {
        let data = self.judgments.read()?;
        let split = data::split(data.queries.len(), config.train.validation_fraction, config.train.seed);
        Ok((data, split))
    }

    /// How [`fit::fit`] runs: under this config, into `--out`, resuming or stopping as asked.
    fn run<'a, M: Settings>(&'a self, config: &'a TrainConfig<M>) -> Result<fit::Run<'a>> {
        Ok(fit::Run {
            config: &config.train,
            config_text: toml::to_string(config)?,
            out: &self.out,
            resume: self.resume,
            max_steps: self.max_steps,
            deadline: None,
            workers: self.device.training_workers(),
        })
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    match &args.model {
        TrainModel::Dssm(common) => dssm::run(common),
        TrainModel::TwoTower(common) => lstm::run(common),
        TrainModel::CrossEncoder(args) => cross_encoder::run(args),
        TrainModel::BiEncoder(args) => bi_encoder::run(args),
        TrainModel::Dsi(common) => dsi::run(common),
    }
}

/// The closing lines of a run.
fn report(outcome: &fit::Outcome, out: &Path) {
    if outcome.interrupted {
        eprintln!("stopped after {} steps; continue with --resume", outcome.steps);
        return;
    }
    match (outcome.best, outcome.best_epoch) {
        (Some(best), Some(epoch)) => eprintln!("best validation nDCG@10 {best:.4} at epoch {epoch}"),
        _ => eprintln!("trained {} epochs (no validation queries)", outcome.epochs_done),
    }
    eprintln!("model in {}; curves in {} and metrics.png", out.display(), fit::metrics_path(out).display());
}

//! `dowse train bi-encoder`: fine-tunes a BERT bi-encoder (default all-MiniLM-L6-v2) on relevance
//! judgments with sentence-transformers' MultipleNegativesRanking recipe: each query's positive
//! scored against the batch's other positives, its mined hard negatives (`--negatives`, from
//! `dowse mine`) and optionally sampled passages, softmax over cosines / temperature (scale 20).
//! Validation searches every passage with the held-out queries; the model saves under Hugging
//! Face names, so it is a drop-in for MiniLM everywhere (`dowse eval`, `index`, the browser).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use clap::Args;
use dowse_core::bundle::ModelBytes;
use dowse_core::model::{load_bert, save_bert, Bert, BertConfig, EncoderConfig, LoraConfig, Side, TextEncoder, TextTokenizer};
use serde::{Deserialize, Serialize};

use super::config::{LoopConfig, Settings, TrainConfig};
use super::contrastive::{self, LossConfig, PairBatches, TokenizedSides};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Outcome, Task};
use super::precision::Precision;
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};
use crate::export::layout;
use crate::mine::read_mined;
use crate::model_folder;

#[derive(Debug, Args)]
pub struct BiEncoderArgs {
    #[command(flatten)]
    pub common: TrainCommon,
    /// Hard negatives mined for the training queries (`dowse mine` output); without it, only
    /// in-batch (and sampled) negatives.
    #[arg(long)]
    pub negatives: Option<PathBuf>,
}

/// The `[model]` section of a bi-encoder config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiEncoderSettings {
    /// Tokens per text, special tokens included.
    pub max_len: usize,
    /// Mined negatives per (query, positive) scored with the batch.
    pub hard_negatives: usize,
    /// Texts per forward pass when encoding for validation.
    pub encode_batch_size: usize,
    /// LoRA adapters on the attention projections (off by default: every weight trains).
    pub lora: LoraConfig,
    /// What training steps compute in: "f32", or "bf16" / "f16" with f32 master weights.
    pub precision: Precision,
}

impl Default for BiEncoderSettings {
    fn default() -> Self {
        Self { max_len: 256, hard_negatives: 1, encode_batch_size: 64, lora: LoraConfig::default(), precision: Precision::default() }
    }
}

impl Settings for BiEncoderSettings {
    type Loss = LossConfig;

    /// Fine-tuning BERT: a small learning rate, one or two epochs.
    fn loop_defaults() -> LoopConfig {
        LoopConfig {
            epochs: 2,
            batch_size: 32,
            learning_rate: 2e-5,
            weight_decay: 0.01,
            checkpoint_every: 50,
            patience: 1,
            ..LoopConfig::default()
        }
    }

    /// MultipleNegativesRanking: scale 20, in-batch and mined negatives only.
    fn loss_defaults() -> LossConfig {
        LossConfig { sampled_negatives: 0, ..LossConfig::default() }
    }
}

pub fn run(args: &BiEncoderArgs) -> Result<()> {
    let common = &args.common;
    let config: TrainConfig<BiEncoderSettings> = common.config()?;
    let (data, split) = common.data(&config)?;
    let base_dir = model_folder::resolve(common.base.as_deref())?;
    let base = model_folder::read(&base_dir)?;
    let mined = match &args.negatives {
        Some(path) => read_mined(path)?,
        None => Vec::new(),
    };
    eprintln!(
        "{}: {} passages, {} training and {} validation queries, {} mined lines; starting from {}; training {}",
        common.judgments.path().display(),
        data.passages.len(),
        split.train.len(),
        split.validation.len(),
        mined.len(),
        base_dir.display(),
        config.model.lora
    );
    let train = &config.train;
    let batches = PairBatches::new(&data, &split, train.seed, train.batch_size, train.grad_accumulation, config.loss.sampled_negatives)
        .with_hard_negatives(&data, &mined, config.model.hard_negatives);
    let job = BiEncoderJob { data, split, batches, base, config: &config, common };
    let outcome = run_on(common.device, job)??;
    super::report(&outcome, &common.out);
    Ok(())
}

struct BiEncoderJob<'a> {
    data: RelevanceData,
    split: Split,
    batches: PairBatches,
    base: ModelBytes,
    config: &'a TrainConfig<BiEncoderSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for BiEncoderJob<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        self.config.model.precision.check::<Autodiff<B>>(&device)?;
        let bert = BertConfig::from_json(&self.base.config).context("the base model's config.json")?;
        let model = load_bert::<Autodiff<B>>(&bert, &self.base.weights, &device)?.with_lora(&self.config.model.lora);
        let max_len = self.config.model.max_len.min(bert.max_position_embeddings);
        let tokenizer = TextTokenizer::for_bert(&self.base.tokenizer, max_len, &bert).context("the base model's tokenizer")?;
        let texts = TokenizedSides::new(&self.data, &tokenizer)?;
        let encoder = self.common.device.encoder(max_len, self.config.model.encode_batch_size);
        let task = BiEncoderTask {
            data: self.data,
            split: self.split,
            batches: self.batches,
            texts,
            tokenizer,
            bert,
            encoder,
            base: self.base,
            config: self.config,
            device: device.clone(),
        };
        fit(&task, model, &self.common.run(self.config)?, &device)
    }
}

/// The bi-encoder's side of the training loop.
pub struct BiEncoderTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    batches: PairBatches,
    texts: TokenizedSides,
    tokenizer: TextTokenizer,
    bert: BertConfig,
    encoder: EncoderConfig,
    base: ModelBytes,
    config: &'a TrainConfig<BiEncoderSettings>,
    device: B::Device,
}

impl<B: Backend> BiEncoderTask<'_, B> {
    /// One network for both sides: only the texts differ.
    fn vectors(&self, model: &Bert<B>, side: Side, rows: &[usize]) -> Tensor<B, 2> {
        let (ids, types, mask) = self.texts.batch::<B>(side, rows, &self.device);
        model.embed(ids, types, mask)
    }
}

impl<B: AutodiffBackend> Task<B> for BiEncoderTask<'_, B> {
    type Model = Bert<B>;

    fn order(&self) -> &BatchOrder {
        self.batches.order()
    }

    fn loss(&self, model: &Bert<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let model = self.config.model.precision.cast(model);
        let embed = |side, rows: &[usize]| self.vectors(&model, side, rows);
        self.batches.loss([epoch, step, micro], &self.data.relevant, &self.config.loss, &self.device, embed)
    }

    fn validate(&self, model: &<Bert<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        let encoder = TextEncoder::new(model.clone().merge_lora(), self.tokenizer.clone(), self.bert.clone(), self.encoder, &self.device);
        contrastive::validate(&self.data, &self.split, encoder.dim(), |texts, _| Ok(encoder.encode(texts, |_| {})?))
    }

    fn export(&self, model: &<Bert<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = vec![
            ("config.json".into(), self.base.config.clone()),
            ("tokenizer.json".into(), self.base.tokenizer.clone()),
            ("model.safetensors".into(), save_bert(&model.clone().merge_lora())?),
        ];
        files.extend(layout::sentence_encoder(&self.bert));
        Ok(files)
    }
}

//! `dowse distill --align-to TEACHER`: a query encoder trained from unlabeled text alone to put a
//! text where the teacher puts it, so that an asymmetric bundle can hold the teacher's passage
//! vectors and ship only the small encoder ([`crate::index`] checks the alignment).
//!
//! Training texts are pseudo-queries ([`crate::pseudo_queries`]) cut from every `--texts` corpus,
//! shuffled and capped at `max_texts`; a `validation_fraction` of them is held out. Targets are
//! the teacher's vectors of the same texts (through the embedding cache). The loss is one minus
//! the cosine between the student's and the teacher's vector (for unit vectors, half their squared
//! distance). The student is a static encoder (`dowse_core::model::StaticModel`): one vector per
//! word piece, started from the teacher's own vectors of the pieces ([`init`]), its vocabulary
//! optionally pruned to the pieces the texts use. Validation is the mean cosine on the held-out
//! texts, with the weights as they ship (int8 by default).

pub mod init;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use dowse_core::model::{
    load_weights, quantize_int8, save_weights, BertConfig, Encoded, StaticConfig, StaticModel, StaticVectors, TextTokenizer, WordPieces,
};
use dowse_core::rng::SplitMix;
use serde::{Deserialize, Serialize};

use super::config::{LoopConfig, Settings, TrainConfig};
use super::distill::vocab;
use super::fit::{fit, Outcome, Run, Task};
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};
use crate::index::input;
use crate::{embed_cache, model_folder, pseudo_queries};

/// What `dowse distill --align-to` reads besides the common training flags.
#[derive(Debug, Clone, Args)]
pub struct AlignArgs {
    /// A corpus (anything `dowse index --input` reads) to cut training pseudo-queries from;
    /// repeat for more. With --align-to only.
    #[arg(long = "texts", requires = "align_to")]
    pub texts: Vec<PathBuf>,
}

/// The `[model]` section of an alignment config: the static encoder's shape and its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlignSettings {
    /// Length of a word piece's vector; the map into the teacher's space widens it. 0: the
    /// teacher's dimension, no map to learn.
    pub embed_dim: usize,
    /// Word pieces kept: 0 for the teacher's whole vocabulary, else the special and
    /// single-character pieces and the texts' most frequent ones up to this many.
    pub max_vocab: usize,
    /// Word pieces of a text read, special tokens included.
    pub max_len: usize,
    /// Pseudo-queries cut from each document.
    pub per_document: usize,
    /// Training and validation texts in all (a seeded sample when the corpora give more).
    pub max_texts: usize,
    /// Texts per teacher forward pass.
    pub encode_batch_size: usize,
    /// Export int8 weights (one scale per row).
    pub int8: bool,
}

impl Default for AlignSettings {
    fn default() -> Self {
        Self { embed_dim: 128, max_vocab: 0, max_len: 64, per_document: 4, max_texts: 100_000, encode_batch_size: 128, int8: true }
    }
}

/// No loss settings: the loss is the cosine distance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignLoss {}

impl Settings for AlignSettings {
    type Loss = AlignLoss;

    /// A table started from the teacher moves fast: a high rate, big batches.
    fn loop_defaults() -> LoopConfig {
        LoopConfig {
            epochs: 10,
            batch_size: 256,
            learning_rate: 3e-3,
            checkpoint_every: 200,
            patience: 2,
            validation_fraction: 0.02,
            ..LoopConfig::default()
        }
    }
}

/// The texts and their teacher vectors.
pub struct AlignData {
    pub texts: Vec<String>,
    /// Row-major `[texts, dim]` unit vectors.
    pub targets: Vec<f32>,
    pub dim: usize,
}

pub fn run(common: &TrainCommon, teacher: &std::path::Path, args: &AlignArgs) -> Result<()> {
    if args.texts.is_empty() {
        bail!("--align-to needs at least one --texts corpus to cut training texts from");
    }
    let config: TrainConfig<AlignSettings> = common.config()?;
    let settings = &config.model;
    let teacher_dir = model_folder::resolve(Some(teacher)).context("--align-to")?;
    let teacher_files = model_folder::read(&teacher_dir).context("--align-to")?;
    let bert = BertConfig::from_json(&teacher_files.config).context("--align-to: the teacher's config.json (a BERT)")?;
    let mut docs = Vec::new();
    for path in &args.texts {
        docs.extend(input::read(path).with_context(|| format!("--texts {}", path.display()))?);
    }
    let texts = sample(pseudo_queries::cut(&docs, settings.per_document, config.train.seed), settings.max_texts, config.train.seed);
    if texts.len() < 2 {
        bail!("--texts: {} pseudo-queries cut; at least 2 are needed (one to train on, one to validate)", texts.len());
    }
    eprintln!("{} documents, {} pseudo-queries; teacher {}", docs.len(), texts.len(), teacher_dir.display());
    let encoder = common.device.encoder(settings.max_len, settings.encode_batch_size);
    let embedded = embed_cache::embed(&teacher_dir, encoder, common.device, &[], &[("pseudo-query", &texts)], true)?;
    let data = AlignData { texts, targets: embedded.passages, dim: embedded.dim };

    let teacher_tokenizer = TextTokenizer::for_bert(&teacher_files.tokenizer, settings.max_len, &bert)?;
    let encoded = teacher_tokenizer.encode(&data.texts.iter().map(String::as_str).collect::<Vec<_>>())?;
    let (tokenizer_json, kept) = if settings.max_vocab == 0 {
        (teacher_files.tokenizer.clone(), (0..bert.vocab_size as u32).collect())
    } else {
        let mut counts = vec![0u64; bert.vocab_size];
        encoded.iter().flat_map(|e| &e.ids).for_each(|&id| counts[id as usize] += 1);
        let pruned = vocab::prune(&teacher_files.tokenizer, &counts, settings.max_vocab)?;
        (pruned.tokenizer_json, pruned.kept)
    };
    let tokenizer = WordPieces::from_bytes(&tokenizer_json, settings.max_len)?;
    let piece_config = common.device.encoder(8, 512);
    let pieces = run_on(common.device, init::PieceVectors { teacher_dir: &teacher_dir, config: piece_config, pieces: &kept })??;
    let (table, map) = init::compress(&pieces, data.dim, settings.embed_dim);
    let model_config = StaticConfig {
        model_type: StaticConfig::MODEL_TYPE.to_string(),
        vocab_size: kept.len(),
        embed_dim: if settings.embed_dim == 0 || settings.embed_dim >= data.dim { data.dim } else { settings.embed_dim },
        dim: data.dim,
        max_len: settings.max_len,
    };
    eprintln!(
        "static student: {} word pieces x {} dims, mapped to {}; {} training texts",
        model_config.vocab_size,
        model_config.embed_dim,
        model_config.dim,
        data.texts.len()
    );
    let student = Student { config: model_config, tokenizer, tokenizer_json, table, map };
    let job = AlignJob { data, student, config: &config, run: common.run(&config)? };
    let outcome = run_on(common.device, job)??;
    report(&outcome);
    Ok(())
}

/// At most `max` of `texts`, a seeded sample in a seeded order.
pub fn sample(mut texts: Vec<String>, max: usize, seed: u64) -> Vec<String> {
    SplitMix::at(seed, &[u64::MAX]).shuffle(&mut texts);
    texts.truncate(max);
    texts
}

fn report(outcome: &Outcome) {
    match (outcome.interrupted, outcome.best, outcome.best_epoch) {
        (true, _, _) => eprintln!("stopped after {} steps; continue with --resume", outcome.steps),
        (false, Some(best), Some(epoch)) => eprintln!("best validation mean cosine to the teacher {best:.4} at epoch {epoch}"),
        _ => eprintln!("trained {} epochs", outcome.epochs_done),
    }
}

/// The student before training: its shape, tokenizer and starting weights.
pub struct Student {
    pub config: StaticConfig,
    pub tokenizer: WordPieces,
    pub tokenizer_json: Vec<u8>,
    pub table: Vec<f32>,
    pub map: Vec<f32>,
}

/// Trains `student` on `data` under `config`, as `run` says (into its `out`).
pub struct AlignJob<'a> {
    pub data: AlignData,
    pub student: Student,
    pub config: &'a TrainConfig<AlignSettings>,
    pub run: Run<'a>,
}

impl BackendJob for AlignJob<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        let Student { config, tokenizer, tokenizer_json, table, map } = self.student;
        let model = StaticModel::<Autodiff<B>>::from_parts(&config, table, map, &device);
        let task = AlignTask::new(self.data, config, tokenizer, tokenizer_json, self.config, device.clone())?;
        fit(&task, model, &self.run, &device)
    }
}

/// The static encoder's side of the training loop.
pub struct AlignTask<'a, B: Backend> {
    targets: Vec<f32>,
    dim: usize,
    encoded: Vec<Encoded>,
    train: Vec<usize>,
    validation: Vec<usize>,
    order: BatchOrder,
    model_config: StaticConfig,
    tokenizer: WordPieces,
    tokenizer_json: Vec<u8>,
    config: &'a TrainConfig<AlignSettings>,
    device: B::Device,
}

impl<'a, B: Backend> AlignTask<'a, B> {
    pub fn new(
        data: AlignData,
        model_config: StaticConfig,
        tokenizer: WordPieces,
        tokenizer_json: Vec<u8>,
        config: &'a TrainConfig<AlignSettings>,
        device: B::Device,
    ) -> Result<Self> {
        let encoded = tokenizer.encode(&data.texts.iter().map(String::as_str).collect::<Vec<_>>())?;
        let held_out = ((data.texts.len() as f64 * config.train.validation_fraction).round() as usize).clamp(1, data.texts.len() - 1);
        let train: Vec<usize> = (held_out..data.texts.len()).collect();
        let train_config = &config.train;
        let order = BatchOrder::new(train_config.seed, train.len(), train_config.batch_size, train_config.grad_accumulation);
        Ok(Self {
            targets: data.targets,
            dim: data.dim,
            encoded,
            train,
            validation: (0..held_out).collect(),
            order,
            model_config,
            tokenizer,
            tokenizer_json,
            config,
            device,
        })
    }

    fn target_rows(&self, rows: &[usize]) -> Tensor<B, 2> {
        let values: Vec<f32> = rows.iter().flat_map(|&i| self.targets[i * self.dim..(i + 1) * self.dim].iter().copied()).collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), self.dim]), &self.device)
    }
}

/// The weights as they ship: a square map folded into the table ([`StaticModel::folded`]), int8
/// when asked.
fn shipped<B: Backend>(model: &StaticModel<B>, int8: bool) -> Result<Vec<u8>> {
    let weights = save_weights(&model.folded())?;
    Ok(if int8 { quantize_int8(&weights)? } else { weights })
}

impl<B: AutodiffBackend> Task<B> for AlignTask<'_, B> {
    type Model = StaticModel<B>;

    fn order(&self) -> &BatchOrder {
        &self.order
    }

    fn loss(&self, model: &StaticModel<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let rows: Vec<usize> = self.order.batch(epoch, step, micro).into_iter().map(|i| self.train[i]).collect();
        let encoded: Vec<&Encoded> = rows.iter().map(|&i| &self.encoded[i]).collect();
        let cosines = (model.embed(&encoded, &self.device) * self.target_rows(&rows)).sum_dim(1);
        cosines.mean().neg().add_scalar(1.0)
    }

    fn validation_metric(&self) -> (&'static str, &'static str) {
        ("val_mean_cosine", "mean cosine to the teacher")
    }

    fn validate(&self, model: &StaticModel<B::InnerBackend>) -> Result<Option<f64>> {
        let mut as_shipped = StaticModel::<B::InnerBackend>::new(&self.model_config, &self.device);
        load_weights(&mut as_shipped, &shipped(model, self.config.model.int8)?)?;
        let (table, map) = as_shipped.parts();
        let encoder = StaticVectors::from_parts(table, map, self.tokenizer.clone(), self.model_config.clone());
        let total: f64 = self
            .validation
            .iter()
            .map(|&i| {
                let vector = encoder.vector(&self.encoded[i]);
                let target = &self.targets[i * self.dim..(i + 1) * self.dim];
                f64::from(vector.iter().zip(target).map(|(a, b)| a * b).sum::<f32>())
            })
            .sum();
        Ok(Some(total / self.validation.len() as f64))
    }

    fn export(&self, model: &StaticModel<B::InnerBackend>) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&self.model_config)?),
            ("tokenizer.json".into(), self.tokenizer_json.clone()),
            ("model.safetensors".into(), shipped(model, self.config.model.int8)?),
        ])
    }
}

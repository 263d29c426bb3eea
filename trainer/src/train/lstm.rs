//! `dowse train two-tower`: the two-tower LSTM from relevance judgments. Word pieces come from a
//! base model's `tokenizer.json` (the fetched all-MiniLM-L6-v2 by default), whose word-piece
//! embeddings can start the shared embedding; batches and loss are those of
//! [`super::contrastive`] (contrastive with in-batch and sampled negatives, or triplet).

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use dowse_core::model::{save_weights, LstmEncoder, Side, TextTokenizer, TwoTowerConfig, TwoTowerLstm};
use serde::{Deserialize, Serialize};

use super::config::{Settings, TrainConfig};
use super::contrastive::{self, LossConfig, PairBatches, TokenizedSides};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Outcome, Task};
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};
use crate::model_folder;

/// The `[model]` section of a two-tower LSTM config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmSettings {
    /// Start the word-piece embedding from the base model's (its width becomes `embedding_size`).
    pub init_embeddings: bool,
    /// Width of a freshly initialised embedding (ignored with `init_embeddings`).
    pub embedding_size: usize,
    pub hidden_size: usize,
    pub dim: usize,
    /// Word pieces read per query or passage, special tokens included.
    pub max_len: usize,
    /// Texts per batch when encoding for validation.
    pub encode_batch_size: usize,
}

impl Settings for LstmSettings {
    type Loss = LossConfig;
}

impl Default for LstmSettings {
    fn default() -> Self {
        Self { init_embeddings: true, embedding_size: 384, hidden_size: 256, dim: 128, max_len: 128, encode_batch_size: 64 }
    }
}

pub fn run(args: &TrainCommon) -> Result<()> {
    let config: TrainConfig<LstmSettings> = args.config()?;
    let base_dir = model_folder::resolve(args.base.as_deref())?;
    let base = model_folder::read(&base_dir)?;
    let tokenizer = TextTokenizer::from_bytes(&base.tokenizer, config.model.max_len)
        .with_context(|| format!("{}: tokenizer.json", base_dir.display()))?;
    let embeddings = if config.model.init_embeddings { Some(word_embeddings(&base.weights, &base_dir)?) } else { None };
    let (data, split) = args.data(&config)?;
    let (vocab_size, embedding_size) = match &embeddings {
        Some((_, shape)) => (shape[0], shape[1]),
        None => (tokenizer.vocab_size(), config.model.embedding_size),
    };
    let model_config = TwoTowerConfig {
        model_type: TwoTowerConfig::MODEL_TYPE.to_string(),
        vocab_size,
        embedding_size,
        hidden_size: config.model.hidden_size,
        dim: config.model.dim,
        max_len: config.model.max_len,
    };
    eprintln!(
        "{}: {} passages, {} training and {} validation queries; word pieces of {}{}",
        args.judgments.path().display(),
        data.passages.len(),
        split.train.len(),
        split.validation.len(),
        base_dir.display(),
        if embeddings.is_some() { ", its embeddings to start" } else { "" }
    );
    let job = LstmJob { data, split, tokenizer, tokenizer_json: base.tokenizer, embeddings, model_config, config: &config, common: args };
    let outcome = run_on(args.device, job)??;
    super::report(&outcome, &args.out);
    Ok(())
}

/// A BERT checkpoint's word-piece embedding matrix (f32) and its shape.
fn word_embeddings(weights: &[u8], dir: &Path) -> Result<(Vec<f32>, [usize; 2])> {
    let tensors = safetensors::SafeTensors::deserialize(weights).with_context(|| format!("{}: model.safetensors", dir.display()))?;
    let name = ["embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"]
        .into_iter()
        .find(|name| tensors.names().iter().any(|n| n == name))
        .with_context(|| format!("{}: no embeddings.word_embeddings.weight to start from", dir.display()))?;
    let view = tensors.tensor(name)?;
    if view.dtype() != safetensors::Dtype::F32 || view.shape().len() != 2 {
        bail!("{}: {name} is {:?} {:?}, expected a 2-d F32 matrix", dir.display(), view.dtype(), view.shape());
    }
    let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((values, [view.shape()[0], view.shape()[1]]))
}

struct LstmJob<'a> {
    data: RelevanceData,
    split: Split,
    tokenizer: TextTokenizer,
    tokenizer_json: Vec<u8>,
    embeddings: Option<(Vec<f32>, [usize; 2])>,
    model_config: TwoTowerConfig,
    config: &'a TrainConfig<LstmSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for LstmJob<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        let mut model = TwoTowerLstm::<Autodiff<B>>::new(&self.model_config, &device);
        if let Some((values, shape)) = self.embeddings {
            model = model.with_word_embeddings(Tensor::from_data(TensorData::new(values, shape), &device))?;
        }
        let task =
            LstmTask::new(self.data, self.split, self.tokenizer, self.tokenizer_json, self.model_config, self.config, device.clone())?;
        fit(&task, model, &self.common.run(self.config)?, &device)
    }
}

/// The two-tower LSTM's side of the training loop.
pub struct LstmTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    batches: PairBatches,
    texts: TokenizedSides,
    tokenizer: TextTokenizer,
    tokenizer_json: Vec<u8>,
    model_config: TwoTowerConfig,
    config: &'a TrainConfig<LstmSettings>,
    device: B::Device,
}

impl<'a, B: Backend> LstmTask<'a, B> {
    fn new(
        data: RelevanceData,
        split: Split,
        tokenizer: TextTokenizer,
        tokenizer_json: Vec<u8>,
        model_config: TwoTowerConfig,
        config: &'a TrainConfig<LstmSettings>,
        device: B::Device,
    ) -> Result<Self> {
        let texts = TokenizedSides::new(&data, &tokenizer)?;
        let train = &config.train;
        let batches = PairBatches::new(&data, &split, train.seed, train.batch_size, train.grad_accumulation, config.loss.sampled_negatives);
        Ok(Self { data, split, batches, texts, tokenizer, tokenizer_json, model_config, config, device })
    }

    fn vectors(&self, model: &TwoTowerLstm<B>, side: Side, rows: &[usize]) -> Tensor<B, 2> {
        let (ids, _, mask) = self.texts.batch::<B>(side, rows, &self.device);
        model.embed(side, ids, mask)
    }
}

impl<B: AutodiffBackend> Task<B> for LstmTask<'_, B> {
    type Model = TwoTowerLstm<B>;

    fn order(&self) -> &BatchOrder {
        self.batches.order()
    }

    fn loss(&self, model: &TwoTowerLstm<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let embed = |side, rows: &[usize]| self.vectors(model, side, rows);
        self.batches.loss([epoch, step, micro], &self.data.relevant, &self.config.loss, &self.device, embed)
    }

    fn validate(&self, model: &<TwoTowerLstm<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        let encoder = LstmEncoder::new(
            model.clone(),
            self.tokenizer.clone(),
            self.model_config.clone(),
            self.config.model.encode_batch_size,
            &self.device,
        );
        contrastive::validate(&self.data, &self.split, encoder.dim(), |texts, side| Ok(encoder.encode(texts, side, |_| {})?))
    }

    fn export(&self, model: &<TwoTowerLstm<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&self.model_config)?),
            ("tokenizer.json".into(), self.tokenizer_json.clone()),
            ("model.safetensors".into(), save_weights(model)?),
        ])
    }
}

//! `dowse train dssm`: a DSSM from relevance judgments. The letter-trigram vocabulary comes from
//! the training queries and the passages; batches and the loss are the two-tower ones of
//! [`super::contrastive`] (softmax over the positive, in-batch and sampled negatives by default).

use anyhow::Result;
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use dowse_core::model::{feature_batch, save_weights, Dssm, DssmConfig, DssmEncoder, Features, Side, TrigramVocab};
use serde::{Deserialize, Serialize};

use super::config::{Settings, TrainConfig};
use super::contrastive::{self, LossConfig, PairBatches};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Task};
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};

/// The `[model]` section of a DSSM config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DssmSettings {
    /// Most frequent letter trigrams kept.
    pub vocab_size: usize,
    /// Trigrams seen fewer times are dropped.
    pub min_count: usize,
    pub hidden_size: usize,
    pub dim: usize,
    /// Words of a query or passage the towers read.
    pub max_words: usize,
    /// Texts per batch when encoding for validation.
    pub encode_batch_size: usize,
}

impl Settings for DssmSettings {
    type Loss = LossConfig;
}

impl Default for DssmSettings {
    fn default() -> Self {
        Self { vocab_size: 30_000, min_count: 2, hidden_size: 300, dim: 128, max_words: 256, encode_batch_size: 128 }
    }
}

pub fn run(args: &TrainCommon) -> Result<()> {
    let config: TrainConfig<DssmSettings> = args.config()?;
    let (data, split) = args.data(&config)?;
    let settings = &config.model;
    let vocab = TrigramVocab::build(
        split.train.iter().map(|&q| data.queries[q].as_str()).chain(data.passages.iter().map(String::as_str)),
        settings.vocab_size,
        settings.min_count,
        settings.max_words,
    );
    eprintln!(
        "{}: {} passages, {} training and {} validation queries, {} trigrams",
        args.judgments.path().display(),
        data.passages.len(),
        split.train.len(),
        split.validation.len(),
        vocab.num_features() - 1
    );
    let model_config = DssmConfig {
        model_type: DssmConfig::MODEL_TYPE.to_string(),
        num_features: vocab.num_features(),
        hidden_size: settings.hidden_size,
        dim: settings.dim,
        max_words: settings.max_words,
    };
    let job = DssmJob { data, split, vocab, model_config, config: &config, common: args };
    let outcome = run_on(args.device, job)??;
    super::report(&outcome, &args.out);
    Ok(())
}

struct DssmJob<'a> {
    data: RelevanceData,
    split: Split,
    vocab: TrigramVocab,
    model_config: DssmConfig,
    config: &'a TrainConfig<DssmSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for DssmJob<'_> {
    type Output = Result<super::fit::Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        let model = Dssm::<Autodiff<B>>::new(&self.model_config, &device);
        let task = DssmTask::new(self.data, self.split, self.vocab, self.model_config, self.config, device.clone());
        fit(&task, model, &self.common.run(self.config)?, &device)
    }
}

/// The DSSM's side of the training loop.
pub struct DssmTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    batches: PairBatches,
    query_features: Vec<Features>,
    passage_features: Vec<Features>,
    vocab: TrigramVocab,
    model_config: DssmConfig,
    config: &'a TrainConfig<DssmSettings>,
    device: B::Device,
}

impl<'a, B: Backend> DssmTask<'a, B> {
    pub fn new(
        data: RelevanceData,
        split: Split,
        vocab: TrigramVocab,
        model_config: DssmConfig,
        config: &'a TrainConfig<DssmSettings>,
        device: B::Device,
    ) -> Self {
        let max_words = model_config.max_words;
        let query_features = data.queries.iter().map(|q| vocab.features(q, max_words)).collect();
        let passage_features = data.passages.iter().map(|p| vocab.features(p, max_words)).collect();
        let train = &config.train;
        let batches = PairBatches::new(&data, &split, train.seed, train.batch_size, train.grad_accumulation, config.loss.sampled_negatives);
        Self { data, split, batches, query_features, passage_features, vocab, model_config, config, device }
    }

    fn vectors(&self, model: &Dssm<B>, side: Side, rows: &[usize]) -> Tensor<B, 2> {
        let features = match side {
            Side::Query => &self.query_features,
            Side::Passage => &self.passage_features,
        };
        let rows: Vec<&Features> = rows.iter().map(|&i| &features[i]).collect();
        let (ids, weights) = feature_batch::<B>(&rows, &self.device);
        model.tower(side).forward(ids, weights)
    }
}

impl<B: AutodiffBackend> Task<B> for DssmTask<'_, B> {
    type Model = Dssm<B>;

    fn order(&self) -> &BatchOrder {
        self.batches.order()
    }

    fn loss(&self, model: &Dssm<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let embed = |side, rows: &[usize]| self.vectors(model, side, rows);
        self.batches.loss([epoch, step, micro], &self.data.relevant, &self.config.loss, &self.device, embed)
    }

    fn validate(&self, model: &<Dssm<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        let encoder = DssmEncoder::new(
            model.clone(),
            self.vocab.clone(),
            self.model_config.clone(),
            self.config.model.encode_batch_size,
            &self.device,
        );
        contrastive::validate(&self.data, &self.split, encoder.dim(), |texts, side| Ok(encoder.encode(texts, side, |_| {})?))
    }

    fn export(&self, model: &<Dssm<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&self.model_config)?),
            ("vocab.txt".into(), self.vocab.to_bytes()),
            ("model.safetensors".into(), save_weights(model)?),
        ])
    }
}

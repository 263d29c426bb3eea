//! `dowse train dssm`: a DSSM from relevance judgments. The letter-trigram vocabulary comes from
//! the training queries and the passages; each step scores a batch of (query, relevant passage)
//! pairs against every passage in the batch plus sampled random passages, softmax over cosines
//! at a temperature, the positive as the target (passages also relevant to the query are masked
//! out rather than counted as negatives).

use anyhow::Result;
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use dowse_core::model::{feature_batch, save_weights, Dssm, DssmConfig, DssmEncoder, Features, Side, TrigramVocab};
use serde::{Deserialize, Serialize};

use super::config::{LoopConfig, TrainConfig};
use super::data::{split, RelevanceData, Split};
use super::fit::{fit, Run, Task};
use super::rng::Rng;
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
    /// Random passages scored with each batch, besides the batch's own passages.
    pub sampled_negatives: usize,
    /// Softmax temperature over cosines (the paper's smoothing factor is its inverse).
    pub temperature: f64,
    /// Texts per batch when encoding for validation.
    pub encode_batch_size: usize,
}

impl Default for DssmSettings {
    fn default() -> Self {
        Self {
            vocab_size: 30_000,
            min_count: 2,
            hidden_size: 300,
            dim: 128,
            max_words: 256,
            sampled_negatives: 64,
            temperature: 0.05,
            encode_batch_size: 128,
        }
    }
}

pub fn run(args: &TrainCommon) -> Result<()> {
    let mut config = TrainConfig::<DssmSettings>::read(args.config.as_deref())?;
    if let Some(seed) = args.seed {
        config.train.seed = seed;
    }
    let data = RelevanceData::read(&args.data, &args.split)?;
    let split = split(data.queries.len(), config.train.validation_fraction, config.train.seed);
    let settings = &config.model;
    let vocab = TrigramVocab::build(
        split.train.iter().map(|&q| data.queries[q].as_str()).chain(data.passages.iter().map(String::as_str)),
        settings.vocab_size,
        settings.min_count,
        settings.max_words,
    );
    eprintln!(
        "{}: {} passages, {} training and {} validation queries, {} trigrams",
        args.data.display(),
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
        let loop_config = &self.config.train;
        <Autodiff<B> as Backend>::seed(&device, loop_config.seed);
        let model = Dssm::<Autodiff<B>>::new(&self.model_config, &device);
        let task = DssmTask::new(self.data, self.split, self.vocab, self.model_config, &self.config.model, loop_config, device.clone());
        let run = Run {
            config: loop_config,
            config_text: toml::to_string(self.config)?,
            out: &self.common.out,
            resume: self.common.resume,
            max_steps: self.common.max_steps,
        };
        fit(&task, model, &run, &device)
    }
}

/// The DSSM's side of the training loop.
pub struct DssmTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    pairs: Vec<(usize, u32)>,
    query_features: Vec<Features>,
    passage_features: Vec<Features>,
    vocab: TrigramVocab,
    model_config: DssmConfig,
    settings: &'a DssmSettings,
    loop_config: &'a LoopConfig,
    device: B::Device,
}

impl<'a, B: Backend> DssmTask<'a, B> {
    pub fn new(
        data: RelevanceData,
        split: Split,
        vocab: TrigramVocab,
        model_config: DssmConfig,
        settings: &'a DssmSettings,
        loop_config: &'a LoopConfig,
        device: B::Device,
    ) -> Self {
        let max_words = model_config.max_words;
        let query_features = data.queries.iter().map(|q| vocab.features(q, max_words)).collect();
        let passage_features = data.passages.iter().map(|p| vocab.features(p, max_words)).collect();
        let pairs = data.positive_pairs(&split.train);
        Self { data, split, pairs, query_features, passage_features, vocab, model_config, settings, loop_config, device }
    }

    fn examples_per_step(&self) -> usize {
        self.loop_config.batch_size * self.loop_config.grad_accumulation
    }
}

impl<B: AutodiffBackend> Task<B> for DssmTask<'_, B> {
    type Model = Dssm<B>;

    fn steps_per_epoch(&self) -> usize {
        if self.pairs.is_empty() {
            return 0;
        }
        (self.pairs.len() / self.examples_per_step()).max(1)
    }

    fn loss(&self, model: &Dssm<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let seed = self.loop_config.seed;
        let mut order: Vec<usize> = (0..self.pairs.len()).collect();
        Rng::at(seed, &[epoch as u64]).shuffle(&mut order);
        let batch = self.loop_config.batch_size;
        let first = (step * self.loop_config.grad_accumulation + micro) * batch;
        let pairs: Vec<(usize, u32)> = (first..first + batch).map(|i| self.pairs[order[i % order.len()]]).collect();
        let mut rng = Rng::at(seed, &[epoch as u64, step as u64, micro as u64]);
        let passages: Vec<u32> = pairs
            .iter()
            .map(|&(_, p)| p)
            .chain((0..self.settings.sampled_negatives).map(|_| rng.below(self.data.passages.len()) as u32))
            .collect();

        let queries: Vec<&Features> = pairs.iter().map(|&(q, _)| &self.query_features[q]).collect();
        let (ids, weights) = feature_batch::<B>(&queries, &self.device);
        let query_vectors = model.tower(Side::Query).forward(ids, weights);
        let rows: Vec<&Features> = passages.iter().map(|&p| &self.passage_features[p as usize]).collect();
        let (ids, weights) = feature_batch::<B>(&rows, &self.device);
        let passage_vectors = model.tower(Side::Passage).forward(ids, weights);

        // A passage relevant to query i, other than i's own positive, is no negative for it.
        let mut mask = vec![0f32; pairs.len() * passages.len()];
        for (i, &(q, _)) in pairs.iter().enumerate() {
            for (j, &p) in passages.iter().enumerate() {
                if j != i && self.data.relevant[q].binary_search(&p).is_ok() {
                    mask[i * passages.len() + j] = -1e4;
                }
            }
        }
        let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [pairs.len(), passages.len()]), &self.device);
        let logits = query_vectors.matmul(passage_vectors.transpose()).div_scalar(self.settings.temperature) + mask;
        let targets = Tensor::<B, 1, Int>::arange(0..pairs.len() as i64, &self.device);
        CrossEntropyLossConfig::new().init(&self.device).forward(logits, targets)
    }

    fn validate(&self, model: &<Dssm<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        if self.split.validation.is_empty() {
            return Ok(None);
        }
        let encoder =
            DssmEncoder::new(model.clone(), self.vocab.clone(), self.model_config.clone(), self.settings.encode_batch_size, &self.device);
        let queries: Vec<&str> = self.split.validation.iter().map(|&q| self.data.queries[q].as_str()).collect();
        let passages: Vec<&str> = self.data.passages.iter().map(String::as_str).collect();
        let query_vectors = encoder.encode(&queries, Side::Query, |_| {})?;
        let passage_vectors = encoder.encode(&passages, Side::Passage, |_| {})?;
        Ok(Some(self.data.ndcg_at_10(&self.split.validation, &query_vectors, &passage_vectors, encoder.dim())))
    }

    fn export(&self, model: &<Dssm<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&self.model_config)?),
            ("vocab.txt".into(), self.vocab.to_bytes()),
            ("model.safetensors".into(), save_weights(model)?),
        ])
    }
}

//! `dowse train cross-encoder`: a reranker. BERT reads `[CLS] query [SEP] passage [SEP]` (token
//! types 0 and 1) and a classification head scores the pair. It starts from a bi-encoder
//! checkpoint (`--base`, default all-MiniLM-L6-v2: its encoder and pooler, a new head) or from an
//! existing one-label cross-encoder, and learns from mined hard negatives (`dowse mine`): each
//! example is a query, one relevant passage and `negatives` mined ones, scored as one group; a
//! line that carries more negatives than that is a pool, drawn from afresh each epoch. The
//! loss is listwise (softmax cross-entropy of the positive within its group) or pointwise (binary
//! cross-entropy of every pair). Validation reranks BM25's top `validation_depth` for the
//! held-out queries and measures nDCG@10.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::ModelBytes;
use dowse_core::model::{
    cross_encoder_from_bert, load_cross_encoder, save_cross_encoder, BertConfig, CrossEncoder, CrossEncoderModel, Encoded, LoraConfig,
    TextTokenizer,
};
use dowse_core::rng::SplitMix;
use dowse_core::text::Analyzer;
use serde::{Deserialize, Serialize};

use super::config::{LoopConfig, Settings, TrainConfig};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Task};
use super::precision::Precision;
use super::rng::BatchOrder;
use super::{MinedArgs, TrainCommon};
use crate::device::{run_on, BackendJob};
use crate::mine::{read_mined, MinedExample};
use crate::model_folder;

/// The `[model]` section of a cross-encoder config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossEncoderSettings {
    /// Tokens per (query, passage) pair, special tokens included; the longer side is cut first.
    pub max_len: usize,
    /// Mined negatives per positive in a group, drawn each epoch from the line's negatives (all of
    /// a line's negatives are the pool: `dowse mine --negatives` sets its size); a line with fewer
    /// is filled with random passages.
    pub negatives: usize,
    /// BM25 candidates reranked per validation query.
    pub validation_depth: usize,
    /// Pairs per forward pass when validating.
    pub score_batch_size: usize,
    /// LoRA adapters on the encoder's attention projections (off by default: every weight trains).
    pub lora: LoraConfig,
    /// What training steps compute in: "f32", or "bf16" / "f16" with f32 master weights.
    pub precision: Precision,
}

impl Default for CrossEncoderSettings {
    fn default() -> Self {
        Self {
            max_len: 256,
            negatives: 7,
            validation_depth: 20,
            score_batch_size: 32,
            lora: LoraConfig::default(),
            precision: Precision::default(),
        }
    }
}

/// The `[loss]` section of a cross-encoder config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RerankLossConfig {
    pub kind: RerankLoss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RerankLoss {
    /// Softmax cross-entropy of the positive among its group.
    #[default]
    Listwise,
    /// Binary cross-entropy of each pair: 1 for the positive, 0 for the negatives.
    Bce,
}

impl Settings for CrossEncoderSettings {
    type Loss = RerankLossConfig;

    /// Fine-tuning BERT: a small learning rate, groups of pairs per batch; on SciFact's 818
    /// groups the best validation came at epoch 9 (results/train.md), hence 12 with patience 3.
    fn loop_defaults() -> LoopConfig {
        LoopConfig {
            epochs: 12,
            batch_size: 8,
            learning_rate: 2e-5,
            weight_decay: 0.01,
            checkpoint_every: 50,
            patience: 3,
            ..LoopConfig::default()
        }
    }
}

pub fn run(args: &MinedArgs) -> Result<()> {
    let common = &args.common;
    let config: TrainConfig<CrossEncoderSettings> = common.config()?;
    let (data, split) = common.data(&config)?;
    let held_out: HashSet<&str> = split.validation.iter().map(|&q| data.query_ids[q].as_str()).collect();
    let examples: Vec<MinedExample> =
        read_mined(&args.negatives)?.into_iter().filter(|e| !held_out.contains(e.query_id.as_str())).collect();
    if examples.is_empty() {
        bail!("{}: no mined example is for a training query of {}", args.negatives.display(), common.judgments.path().display());
    }
    let base_dir = model_folder::resolve(common.base.as_deref())?;
    let base = model_folder::read(&base_dir)?;
    let from_cross_encoder = model_folder::is_cross_encoder(&base_dir)?;
    eprintln!(
        "{}: {} passages, {} training groups (1 positive + {} negatives), {} validation queries; starting from {} ({}); training {} of the encoder",
        common.judgments.path().display(),
        data.passages.len(),
        examples.len(),
        config.model.negatives,
        split.validation.len(),
        base_dir.display(),
        if from_cross_encoder { "a cross-encoder" } else { "a bi-encoder: new classification head" },
        config.model.lora
    );
    let job = CrossEncoderJob { data, split, examples, base, from_cross_encoder, config: &config, common };
    let outcome = run_on(common.device, job)??;
    super::report(&outcome, &common.out);
    Ok(())
}

struct CrossEncoderJob<'a> {
    data: RelevanceData,
    split: Split,
    examples: Vec<MinedExample>,
    base: ModelBytes,
    from_cross_encoder: bool,
    config: &'a TrainConfig<CrossEncoderSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for CrossEncoderJob<'_> {
    type Output = Result<super::fit::Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        self.config.model.precision.check::<Autodiff<B>>(&device)?;
        let bert = BertConfig::from_json(&self.base.config).context("the base model's config.json")?;
        let model = if self.from_cross_encoder {
            if bert.id2label.len() > 1 {
                bail!("the base cross-encoder has {} labels; training continues one-label models only", bert.id2label.len());
            }
            load_cross_encoder::<Autodiff<B>>(&bert, &self.base.weights, &device)?
        } else {
            cross_encoder_from_bert::<Autodiff<B>>(&bert, &self.base.weights, &device)?
        }
        .with_lora(&self.config.model.lora);
        let max_len = self.config.model.max_len.min(bert.max_position_embeddings);
        let tokenizer = TextTokenizer::for_bert(&self.base.tokenizer, max_len, &bert).context("the base model's tokenizer")?;
        let (common, config) = (self.common, self.config);
        let task = CrossEncoderTask::new(self, tokenizer, device.clone())?;
        fit(&task, model, &common.run(config)?, &device)
    }
}

/// The cross-encoder's side of the training loop.
pub struct CrossEncoderTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    /// Per example, its tokenized pairs: the positive's, then each negative's in its pool.
    groups: Vec<Vec<Encoded>>,
    order: BatchOrder,
    /// Per validation query, BM25's candidates and their tokenized (query, candidate) pairs.
    candidates: Vec<Vec<u32>>,
    candidate_pairs: Vec<Vec<Encoded>>,
    tokenizer: TextTokenizer,
    base: ModelBytes,
    config: &'a TrainConfig<CrossEncoderSettings>,
    device: B::Device,
}

impl<'a, B: Backend> CrossEncoderTask<'a, B> {
    fn new(job: CrossEncoderJob<'a>, tokenizer: TextTokenizer, device: B::Device) -> Result<Self> {
        let CrossEncoderJob { data, split, examples, base, config, common, .. } = job;
        let groups = groups(&data, &examples, &tokenizer, config.model.negatives, config.train.seed)?;
        let analyzer = Analyzer::default();
        let bm25 = Bm25Index::build(Bm25Params::default(), data.passages.iter().map(|p| analyzer.analyze(p)));
        let mut candidates: Vec<Vec<u32>> = Vec::with_capacity(split.validation.len());
        let mut candidate_pairs = Vec::with_capacity(split.validation.len());
        for &q in &split.validation {
            let query = data.queries[q].as_str();
            let found: Vec<u32> =
                bm25.search(&analyzer.analyze(query), config.model.validation_depth).into_iter().map(|(p, _)| p).collect();
            let pairs: Vec<(&str, &str)> = found.iter().map(|&p| (query, data.passages[p as usize].as_str())).collect();
            candidate_pairs.push(tokenizer.encode_pairs(&pairs)?);
            candidates.push(found);
        }
        // A group's loss is its own, so the steps can be cut into micro-batches for every core.
        let order = BatchOrder::new(config.train.seed, groups.len(), config.train.batch_size, config.train.grad_accumulation)
            .cut_for(common.device.training_workers());
        Ok(Self { data, split, groups, order, candidates, candidate_pairs, tokenizer, base, config, device })
    }
}

/// Tokenizes each example's pairs: its positive, then all its mined negatives, filled up to
/// `negatives` with random passages (seeded by the example's position) that are neither its
/// positive nor judged relevant.
fn groups(
    data: &RelevanceData,
    examples: &[MinedExample],
    tokenizer: &TextTokenizer,
    negatives: usize,
    seed: u64,
) -> Result<Vec<Vec<Encoded>>> {
    let query_index = data.query_index();
    let mut groups = Vec::with_capacity(examples.len());
    for (i, example) in examples.iter().enumerate() {
        let relevant = query_index.get(example.query_id.as_str()).map_or(&[][..], |&q| data.relevant[q].as_slice());
        let mut passages: Vec<&str> =
            std::iter::once(example.positive.as_str()).chain(example.negatives.iter().map(String::as_str)).collect();
        let mut rng = SplitMix::at(seed, &[u64::MAX - 1, i as u64]);
        while passages.len() < negatives + 1 {
            let p = rng.below(data.passages.len());
            if relevant.binary_search(&(p as u32)).is_err() && data.passages[p] != example.positive {
                passages.push(&data.passages[p]);
            }
        }
        let pairs: Vec<(&str, &str)> = passages.iter().map(|&p| (example.query.as_str(), p)).collect();
        groups.push(tokenizer.encode_pairs(&pairs)?);
    }
    Ok(groups)
}

impl<B: Backend> CrossEncoderTask<'_, B> {
    /// Example `g`'s pairs for `epoch`: its positive, then `negatives` drawn from its pool (the
    /// pool in its own order when it holds no more than that).
    fn group(&self, g: usize, epoch: usize) -> Vec<&Encoded> {
        let (positive, pool) = self.groups[g].split_first().expect("a group holds its positive");
        let mut drawn: Vec<&Encoded> = pool.iter().collect();
        if drawn.len() > self.config.model.negatives {
            SplitMix::at(self.config.train.seed, &[epoch as u64, g as u64]).shuffle(&mut drawn);
            drawn.truncate(self.config.model.negatives);
        }
        std::iter::once(positive).chain(drawn).collect()
    }
}

impl<B: AutodiffBackend> Task<B> for CrossEncoderTask<'_, B> {
    type Model = CrossEncoderModel<B>;

    fn order(&self) -> &BatchOrder {
        &self.order
    }

    fn loss(&self, model: &CrossEncoderModel<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let batch = self.order.batch(epoch, step, micro);
        let rows: Vec<&Encoded> = batch.iter().flat_map(|&g| self.group(g, epoch)).collect();
        let size = self.config.model.negatives + 1;
        let logits =
            self.config.model.precision.cast(model).logits(&rows, self.tokenizer.max_len(), &self.device).reshape([batch.len(), size]);
        match self.config.loss.kind {
            RerankLoss::Listwise => {
                let targets = Tensor::<B, 1, Int>::zeros([batch.len()], &self.device);
                CrossEntropyLossConfig::new().init(&self.device).forward(logits, targets)
            }
            RerankLoss::Bce => {
                let labels: Vec<i64> = (0..batch.len() * size).map(|i| i64::from(i % size == 0)).collect();
                let targets = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [batch.len(), size]), &self.device);
                BinaryCrossEntropyLossConfig::new().with_logits(true).init(&self.device).forward(logits, targets)
            }
        }
    }

    fn validate(&self, model: &<CrossEncoderModel<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        if self.split.validation.is_empty() {
            return Ok(None);
        }
        let reranker =
            CrossEncoder::new(model.clone().merge_lora(), self.tokenizer.clone(), self.config.model.score_batch_size, &self.device);
        let mut rankings = Vec::with_capacity(self.candidates.len());
        for (candidates, pairs) in self.candidates.iter().zip(&self.candidate_pairs) {
            rankings.push(candidates.iter().copied().zip(reranker.score_encoded(pairs)?).collect());
        }
        Ok(Some(self.data.ndcg_at_10_of(&self.split.validation, &rankings)))
    }

    fn export(&self, model: &<CrossEncoderModel<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        let mut config: serde_json::Value = serde_json::from_slice(&self.base.config)?;
        config["architectures"] = serde_json::json!(["BertForSequenceClassification"]);
        config["id2label"] = serde_json::json!({"0": "LABEL_0"});
        config["label2id"] = serde_json::json!({"LABEL_0": 0});
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&config)?),
            ("tokenizer.json".into(), self.base.tokenizer.clone()),
            ("model.safetensors".into(), save_cross_encoder(&model.clone().merge_lora())?),
        ])
    }
}

//! What the two-tower models (DSSM, LSTM) and the BERT bi-encoder share: batches of (query,
//! relevant passage) pairs in a seeded order with mined hard negatives and sampled negative
//! passages, the texts tokenized once for the word-piece models, the loss over a batch's scores,
//! and validation by searching every passage.
//!
//! Each query in a batch is scored against every passage of the batch (the other queries'
//! positives are its in-batch negatives) and the sampled ones. A passage also relevant to the
//! query, other than its own positive, is masked out rather than counted as a negative.

use std::collections::HashMap;

use anyhow::Result;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use dowse_core::model::{pad_batch, Encoded, Side, TextTokenizer};
use dowse_core::rng::SplitMix;
use serde::{Deserialize, Serialize};

use super::data::{RelevanceData, Split};
use super::rng::BatchOrder;
use crate::mine::MinedExample;

/// The `[loss]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    pub kind: LossKind,
    /// Softmax temperature over cosines (contrastive).
    pub temperature: f64,
    /// How far the positive must beat the hardest negative (triplet).
    pub margin: f64,
    /// Random passages scored with each batch, besides the batch's own.
    pub sampled_negatives: usize,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self { kind: LossKind::Contrastive, temperature: 0.05, margin: 0.2, sampled_negatives: 64 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Softmax over the positive and all negatives (InfoNCE, the DSSM paper's objective).
    Contrastive,
    /// Hinge on the positive's margin over the hardest negative.
    Triplet,
}

/// One micro-batch: query indices, and passage indices with the queries' positives first.
pub struct Batch {
    pub queries: Vec<usize>,
    pub passages: Vec<u32>,
}

/// The seeded stream of batches over the training queries' positive pairs.
pub struct PairBatches {
    pairs: Vec<(usize, u32)>,
    /// Per pair, mined hard negatives scored with the batch (see [`PairBatches::with_hard_negatives`]).
    hard: Vec<Vec<u32>>,
    order: BatchOrder,
    seed: u64,
    num_passages: usize,
    sampled_negatives: usize,
}

impl PairBatches {
    pub fn new(
        data: &RelevanceData,
        split: &Split,
        seed: u64,
        batch_size: usize,
        grad_accumulation: usize,
        sampled_negatives: usize,
    ) -> Self {
        let pairs = data.positive_pairs(&split.train);
        Self {
            order: BatchOrder::new(seed, pairs.len(), batch_size, grad_accumulation),
            hard: vec![Vec::new(); pairs.len()],
            pairs,
            seed,
            num_passages: data.passages.len(),
            sampled_negatives,
        }
    }

    /// Adds up to `per_pair` mined negatives to each pair's batch: those `dowse mine` found for
    /// the same (query, positive), passages named by id. Lines for pairs not in training are ignored.
    pub fn with_hard_negatives(mut self, data: &RelevanceData, mined: &[MinedExample], per_pair: usize) -> Self {
        let query = data.query_index();
        let passage = data.passage_index();
        let pair_index: HashMap<(usize, u32), usize> = self.pairs.iter().enumerate().map(|(i, &pair)| (pair, i)).collect();
        for example in mined {
            let key = query.get(example.query_id.as_str()).zip(passage.get(example.positive_id.as_str()));
            if let Some(&i) = key.and_then(|(&q, &p)| pair_index.get(&(q, p))) {
                self.hard[i] = example.negative_ids.iter().filter_map(|id| passage.get(id.as_str()).copied()).take(per_pair).collect();
            }
        }
        self
    }

    /// The pairs' steps and micro-batches; their order changes each epoch.
    pub fn order(&self) -> &BatchOrder {
        &self.order
    }

    /// The batch at (epoch, step, micro): a pure function of these and the seed.
    pub fn batch(&self, epoch: usize, step: usize, micro: usize) -> Batch {
        let picked = self.order.batch(epoch, step, micro);
        let mut rng = SplitMix::at(self.seed, &[epoch as u64, step as u64, micro as u64]);
        let sampled = (0..self.sampled_negatives).map(|_| rng.below(self.num_passages) as u32);
        let hard = picked.iter().flat_map(|&i| self.hard[i].iter().copied());
        Batch {
            queries: picked.iter().map(|&i| self.pairs[i].0).collect(),
            passages: picked.iter().map(|&i| self.pairs[i].1).chain(hard).chain(sampled).collect(),
        }
    }
}

impl PairBatches {
    /// The loss of the batch at (epoch, step, micro); `embed` turns the indices of queries or
    /// passages into unit vectors with the model being trained.
    pub fn loss<B: Backend>(
        &self,
        [epoch, step, micro]: [usize; 3],
        relevant: &[Vec<u32>],
        config: &LossConfig,
        device: &B::Device,
        embed: impl Fn(Side, &[usize]) -> Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        let batch = self.batch(epoch, step, micro);
        let queries = embed(Side::Query, &batch.queries);
        let passages = embed(Side::Passage, &batch.passages.iter().map(|&p| p as usize).collect::<Vec<_>>());
        loss(queries, passages, &batch, relevant, config, device)
    }
}

/// Every query and passage of the data in word pieces, tokenized once for all epochs.
pub struct TokenizedSides {
    queries: Vec<Encoded>,
    passages: Vec<Encoded>,
    max_len: usize,
}

impl TokenizedSides {
    pub fn new(data: &RelevanceData, tokenizer: &TextTokenizer) -> Result<Self> {
        let encode = |texts: &[String]| tokenizer.encode(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(Self { queries: encode(&data.queries)?, passages: encode(&data.passages)?, max_len: tokenizer.max_len() })
    }

    /// `(ids, token types, mask)` of the given rows of one side, padded together.
    pub fn batch<B: Backend>(
        &self,
        side: Side,
        rows: &[usize],
        device: &B::Device,
    ) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
        let texts = match side {
            Side::Query => &self.queries,
            Side::Passage => &self.passages,
        };
        pad_batch::<B>(&rows.iter().map(|&i| &texts[i]).collect::<Vec<_>>(), self.max_len, device)
    }
}

/// The loss of a batch from its unit query vectors `[queries, dim]` and passage vectors `[passages, dim]`.
pub fn loss<B: Backend>(
    queries: Tensor<B, 2>,
    passages: Tensor<B, 2>,
    batch: &Batch,
    relevant: &[Vec<u32>],
    config: &LossConfig,
    device: &B::Device,
) -> Tensor<B, 1> {
    let (rows, columns) = (batch.queries.len(), batch.passages.len());
    let mut mask = vec![0f32; rows * columns];
    let mut own = vec![0f32; rows * columns];
    for (i, &q) in batch.queries.iter().enumerate() {
        own[i * columns + i] = 1.0;
        for (j, p) in batch.passages.iter().enumerate() {
            if j != i && relevant[q].binary_search(p).is_ok() {
                mask[i * columns + j] = -1e4;
            }
        }
    }
    let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [rows, columns]), device);
    let cosines = queries.matmul(passages.transpose());
    match config.kind {
        LossKind::Contrastive => {
            let targets = Tensor::<B, 1, Int>::arange(0..rows as i64, device);
            CrossEntropyLossConfig::new().init(device).forward(cosines.div_scalar(config.temperature) + mask, targets)
        }
        LossKind::Triplet => {
            let own = Tensor::<B, 2>::from_data(TensorData::new(own, [rows, columns]), device);
            let positive = (cosines.clone() * own.clone()).sum_dim(1);
            let hardest = (cosines + mask + own.mul_scalar(-1e4)).max_dim(1);
            (hardest - positive).add_scalar(config.margin).clamp_min(0.0).mean()
        }
    }
}

/// Validation nDCG@10: the held-out queries search every passage. `encode` turns texts on one
/// side into unit vectors of length `dim`.
pub fn validate(
    data: &RelevanceData,
    split: &Split,
    dim: usize,
    encode: impl Fn(&[&str], Side) -> Result<Vec<f32>>,
) -> Result<Option<f64>> {
    if split.validation.is_empty() {
        return Ok(None);
    }
    let queries: Vec<&str> = split.validation.iter().map(|&q| data.queries[q].as_str()).collect();
    let passages: Vec<&str> = data.passages.iter().map(String::as_str).collect();
    let query_vectors = encode(&queries, Side::Query)?;
    let passage_vectors = encode(&passages, Side::Passage)?;
    Ok(Some(data.ndcg_at_10(&split.validation, &query_vectors, &passage_vectors, dim)))
}

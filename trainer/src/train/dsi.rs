//! `dowse train dsi`: a generative retriever (DSI, NCI). Every passage gets a semantic ID:
//! hierarchical k-means over the base encoder's passage vectors ([`SemanticIds`], through the
//! embedding cache). The network ([`Dsi`]: the base BERT, a small decoder with cross-attention)
//! learns to emit a passage's ID from text about it:
//! - **indexing examples**, made for every passage, judged or not: its opening words (a title
//!   when the corpus puts one first) and `spans_per_passage` spans cut at random places;
//! - **retrieval examples**: each training query with each passage judged relevant to it.
//!
//! The loss is the cross-entropy of each digit given the ones before it (teacher forcing).
//! Validation decodes the held-out queries by beam search constrained to the table's IDs
//! ([`IdTrie`]) and measures nDCG@10. The folder holds the network (`model.safetensors`, by module
//! path), the base's config with the decoder's shape and the query length under `"dsi"`, its
//! tokenizer, and the ID table (`semantic_ids.json`: the passages' ids in the collection and
//! their semantic IDs); [`crate::generative`] loads it to search.

use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use dowse_core::bundle::ModelBytes;
use dowse_core::id_trie::IdTrie;
use dowse_core::model::{load_bert, pad_batch, save_weights, BertConfig, Dsi, DsiConfig, Encoded, LoraConfig, TextTokenizer};
use dowse_core::passage::{Section, SourceDocument};
use dowse_core::rng::SplitMix;
use dowse_core::semantic_ids::{SemanticIdConfig, SemanticIds};
use serde::{Deserialize, Serialize};

use super::config::{LoopConfig, Settings, TrainConfig};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Outcome, Task};
use super::precision::Precision;
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};
use crate::export::layout;
use crate::generative::{retrieve, DsiFolderConfig, IdTable, ID_TABLE};
use crate::{embed_cache, model_folder, pseudo_queries};

/// The `[model]` section of a DSI config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DsiSettings {
    /// Tokens per query or passage span, special tokens included.
    pub max_len: usize,
    /// How the passages' IDs are built.
    pub ids: SemanticIdConfig,
    /// Transformer decoder layers and attention heads (the heads divide the BERT's width).
    pub decoder_layers: usize,
    pub decoder_heads: usize,
    pub dropout: f64,
    /// Random spans cut from each passage as indexing examples, beside its opening.
    pub spans_per_passage: usize,
    /// Words per span (and in the opening).
    pub span_words: usize,
    /// Pseudo-queries cut from each passage as indexing examples ([`pseudo_queries`]: sentences,
    /// fragments of a few words, keyword bags).
    pub pseudo_queries_per_passage: usize,
    /// Train on each training query with its judged passages (retrieval examples); false: on
    /// indexing examples alone, as for a corpus without queries (judgments then only validate).
    pub query_examples: bool,
    /// Prefixes kept per step of the validation beam search.
    pub beam: usize,
    /// LoRA adapters on the encoder's attention projections (off by default: every weight trains).
    pub lora: LoraConfig,
    /// What training steps compute in: "f32", or "bf16" / "f16" with f32 master weights.
    pub precision: Precision,
}

impl Default for DsiSettings {
    fn default() -> Self {
        let decoder = DsiConfig::default();
        Self {
            max_len: 64,
            ids: SemanticIdConfig::default(),
            decoder_layers: decoder.decoder_layers,
            decoder_heads: decoder.decoder_heads,
            dropout: decoder.dropout,
            spans_per_passage: 2,
            span_words: 24,
            pseudo_queries_per_passage: 4,
            query_examples: true,
            beam: 20,
            lora: LoraConfig::default(),
            precision: Precision::default(),
        }
    }
}

/// DSI has no loss settings of its own: it is always the digits' cross-entropy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoLossSettings {}

impl Settings for DsiSettings {
    type Loss = NoLossSettings;

    /// A decoder trained from scratch over a pretrained encoder: a learning rate between a BERT
    /// fine-tune's and a fresh network's, and enough epochs for the decoder to learn the table.
    fn loop_defaults() -> LoopConfig {
        LoopConfig {
            epochs: 30,
            batch_size: 64,
            learning_rate: 1e-4,
            weight_decay: 0.01,
            checkpoint_every: 200,
            patience: 4,
            ..LoopConfig::default()
        }
    }
}

pub fn run(common: &TrainCommon) -> Result<()> {
    let config: TrainConfig<DsiSettings> = common.config()?;
    let (data, split) = common.data(&config)?;
    let base_dir = model_folder::resolve(common.base.as_deref())?;
    let base = model_folder::read(&base_dir)?;
    let bert = BertConfig::from_json(&base.config).context("the base model's config.json")?;
    if config.model.decoder_heads == 0 || !bert.hidden_size.is_multiple_of(config.model.decoder_heads) {
        bail!(
            "{}: [model] decoder_heads {} does not divide the base model's width {}",
            config_source(common),
            config.model.decoder_heads,
            bert.hidden_size
        );
    }
    let ids_config = || format!("{}: [model.ids]", config_source(common));
    config.model.ids.check().with_context(ids_config)?;
    let encoder = common.device.encoder(layout::bert_max_len(&bert), 64);
    let embedded = embed_cache::embed(&base_dir, encoder, common.device, &[], &[("passage", &data.passages)], true)?;
    let ids = SemanticIds::build(&embedded.passages, embedded.dim, &config.model.ids).with_context(ids_config)?;
    eprintln!(
        "{}: {} passages with semantic IDs (up to {} digits of {} values), {} training and {} validation queries; starting from {}; training {}",
        common.judgments.path().display(),
        data.passages.len(),
        ids.depth(),
        ids.digits(),
        split.train.len(),
        split.validation.len(),
        base_dir.display(),
        config.model.lora
    );
    let job = DsiJob { data, split, ids, base, bert, config: &config, common };
    let outcome = run_on(common.device, job)??;
    super::report(&outcome, &common.out);
    Ok(())
}

/// The config file a run reads, for errors about its values.
fn config_source(common: &TrainCommon) -> String {
    common.config.as_deref().map_or_else(|| "the default config".to_string(), |path| path.display().to_string())
}

struct DsiJob<'a> {
    data: RelevanceData,
    split: Split,
    ids: SemanticIds,
    base: ModelBytes,
    bert: BertConfig,
    config: &'a TrainConfig<DsiSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for DsiJob<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        let settings = &self.config.model;
        settings.precision.check::<Autodiff<B>>(&device)?;
        let decoder = self.decoder_config();
        let encoder = load_bert::<Autodiff<B>>(&self.bert, &self.base.weights, &device)?;
        let model = Dsi::new(encoder, &self.bert, &decoder, &device).with_lora(&settings.lora);
        let max_len = settings.max_len.min(self.bert.max_position_embeddings);
        let tokenizer = TextTokenizer::for_bert(&self.base.tokenizer, max_len, &self.bert).context("the base model's tokenizer")?;
        let (common, config) = (self.common, self.config);
        let task = DsiTask::new(self, decoder, tokenizer, device.clone())?;
        fit(&task, model, &common.run(config)?, &device)
    }
}

impl DsiJob<'_> {
    fn decoder_config(&self) -> DsiConfig {
        let settings = &self.config.model;
        DsiConfig {
            digits: self.ids.digits(),
            depth: self.ids.depth(),
            decoder_layers: settings.decoder_layers,
            decoder_heads: settings.decoder_heads,
            dropout: settings.dropout,
        }
    }
}

/// DSI's side of the training loop.
pub struct DsiTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    ids: SemanticIds,
    trie: IdTrie,
    /// Tokenized text and the passage it names.
    examples: Vec<(Encoded, u32)>,
    validation_queries: Vec<Encoded>,
    order: BatchOrder,
    tokenizer: TextTokenizer,
    base: ModelBytes,
    decoder: DsiConfig,
    config: &'a TrainConfig<DsiSettings>,
    device: B::Device,
}

impl<'a, B: Backend> DsiTask<'a, B> {
    fn new(job: DsiJob<'a>, decoder: DsiConfig, tokenizer: TextTokenizer, device: B::Device) -> Result<Self> {
        let DsiJob { data, split, ids, base, config, common, .. } = job;
        let texts = examples(&data, &split, &config.model, config.train.seed);
        let encoded = tokenizer.encode(&texts.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>())?;
        let examples: Vec<(Encoded, u32)> = encoded.into_iter().zip(texts.iter().map(|&(_, p)| p)).collect();
        let validation: Vec<&str> = split.validation.iter().map(|&q| data.queries[q].as_str()).collect();
        let validation_queries = tokenizer.encode(&validation)?;
        let order = BatchOrder::new(config.train.seed, examples.len(), config.train.batch_size, config.train.grad_accumulation)
            .cut_for(common.device.training_workers());
        let trie = IdTrie::new(ids.ids());
        Ok(Self { data, split, ids, trie, examples, validation_queries, order, tokenizer, base, decoder, config, device })
    }
}

/// The training texts and the passage each names: every passage's opening, random spans and
/// pseudo-queries, then each training query once per passage judged relevant to it. Spans and
/// pseudo-queries are drawn from the seed and the passage's position, so the examples are the
/// same on every run.
fn examples(data: &RelevanceData, split: &Split, settings: &DsiSettings, seed: u64) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (p, passage) in data.passages.iter().enumerate() {
        let words: Vec<&str> = passage.split_whitespace().collect();
        let span = settings.span_words.max(1);
        out.push((words.iter().take(span).copied().collect::<Vec<_>>().join(" "), p as u32));
        let mut rng = SplitMix::at(seed, &[u64::MAX - 2, p as u64]);
        for _ in 0..settings.spans_per_passage {
            let start = rng.below(words.len().saturating_sub(span) + 1);
            out.push((words[start..(start + span).min(words.len())].join(" "), p as u32));
        }
        let doc = SourceDocument { sections: vec![Section { text: passage.clone(), ..Section::default() }], ..SourceDocument::default() };
        out.extend(pseudo_queries::cut_one(&doc, p, settings.pseudo_queries_per_passage, seed).into_iter().map(|q| (q, p as u32)));
    }
    if settings.query_examples {
        out.extend(data.positive_pairs(&split.train).into_iter().map(|(q, p)| (data.queries[q].clone(), p)));
    }
    out
}

impl<B: AutodiffBackend> Task<B> for DsiTask<'_, B> {
    type Model = Dsi<B>;

    fn order(&self) -> &BatchOrder {
        &self.order
    }

    fn loss(&self, model: &Dsi<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let batch = self.order.batch(epoch, step, micro);
        let rows: Vec<&Encoded> = batch.iter().map(|&i| &self.examples[i].0).collect();
        let (ids, types, mask) = pad_batch::<B>(&rows, self.tokenizer.max_len(), &self.device);
        // IDs differ in length: each is padded with digit 0 to the table's depth, and the padded
        // steps are left out of the loss.
        let depth = self.ids.depth();
        let mut digits = Vec::with_capacity(batch.len() * depth);
        let mut real = Vec::with_capacity(batch.len() * depth);
        for &i in &batch {
            let id = self.ids.id(self.examples[i].1 as usize);
            digits.extend((0..depth).map(|t| id.get(t).map_or(0, |&d| i64::from(d))));
            real.extend((0..depth).map(|t| if t < id.len() { 1f32 } else { 0.0 }));
        }
        let targets = Tensor::<B, 2, Int>::from_data(TensorData::new(digits, [batch.len(), depth]), &self.device);
        let real = Tensor::<B, 2>::from_data(TensorData::new(real, [batch.len(), depth]), &self.device);
        let logits = self.config.model.precision.cast(model).forward(ids, types, mask, targets.clone()).cast(burn::tensor::FloatDType::F32);
        let picked = log_softmax(logits, 2).gather(2, targets.unsqueeze_dim(2)).reshape([batch.len(), depth]);
        (picked * real.clone()).sum().neg() / real.sum()
    }

    fn validate(&self, model: &<Dsi<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        if self.split.validation.is_empty() {
            return Ok(None);
        }
        let model = model.clone().merge_lora();
        let beam = self.config.model.beam;
        let rankings: Vec<Vec<(u32, f32)>> =
            self.validation_queries.iter().map(|query| retrieve(&model, &self.trie, beam, query, 10, &self.device)).collect();
        Ok(Some(self.data.ndcg_at_10_of(&self.split.validation, &rankings)))
    }

    fn export(&self, model: &<Dsi<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        let mut config: serde_json::Value = serde_json::from_slice(&self.base.config)?;
        config["architectures"] = serde_json::json!(["DowseDsi"]);
        config["dsi"] = serde_json::to_value(DsiFolderConfig { decoder: self.decoder, max_len: self.tokenizer.max_len() })?;
        let table = IdTable { documents: self.data.passage_ids.clone(), semantic_ids: self.ids.clone() };
        Ok(vec![
            ("config.json".into(), serde_json::to_vec_pretty(&config)?),
            ("tokenizer.json".into(), self.base.tokenizer.clone()),
            ("model.safetensors".into(), save_weights(&model.clone().merge_lora())?),
            (ID_TABLE.into(), serde_json::to_vec(&table)?),
        ])
    }
}

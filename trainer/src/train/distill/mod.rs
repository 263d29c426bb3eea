//! `dowse distill`: a small bi-encoder student distilled from a teacher bi-encoder (`--base`,
//! default all-MiniLM-L6-v2) and a cross-encoder's scores.
//!
//! The student is the teacher cut down: a few of its layers (default 3, spread from the first to
//! the last) over its word-piece table, optionally pruned to the pieces the corpus uses
//! ([`vocab`]), and optionally with narrower feed-forward blocks that keep each layer's most
//! important neurons ([`ffn`]). The teacher may itself be a student: a trained one narrowed and
//! distilled again from itself costs less per layer. Each training example is a mined line
//! (`dowse mine`, best with a cross-encoder teacher): a query, a relevant passage and hard negatives with the teacher's scores. The loss
//! (the knowledge-distillation recipe) weighs four terms, by default listwise 0.6, Margin-MSE 0.2
//! and contrastive 0.2:
//! - listwise: KL divergence from the teacher's softmax over a query's candidate list (its
//!   positive and `listwise_negatives` of its mined negatives, scores / temperature) to the
//!   student's softmax over the same list;
//! - Margin-MSE: the student's margin (positive minus negative, cosines / temperature) against
//!   the teacher's score margin;
//! - embedding MSE: squared distance from the student's unit vector of every query and passage
//!   of the batch to the teacher bi-encoder's, and of `corpus_passages` more per micro-batch
//!   drawn in turn from the whole corpus, so that the student learns the teacher's vectors of
//!   every passage it will index, not only of the mined ones;
//! - in-batch contrastive: each query against every passage of the batch (softmax of cosines /
//!   temperature).
//!
//! Validation searches every passage with the held-out queries, with the weights as they ship.
//! The export is a Hugging Face BERT folder with int8 weights by default, which every loader of
//! dowse reads.

pub mod ffn;
pub mod vocab;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use dowse_core::bundle::ModelBytes;
use dowse_core::model::{load_bert, quantize_int8, save_bert, Bert, BertConfig, EncoderConfig, Side, TextEncoder, TextTokenizer};
use serde::{Deserialize, Serialize};

use super::align::{self, AlignArgs};
use super::config::{LoopConfig, Settings, TrainConfig};
use super::contrastive::{self, Batch, LossConfig, LossKind, TokenizedSides};
use super::data::{RelevanceData, Split};
use super::fit::{fit, Outcome, Task};
use super::precision::Precision;
use super::rng::BatchOrder;
use super::TrainCommon;
use crate::device::{run_on, BackendJob};
use crate::embed_cache::{self, Embedded};
use crate::export::layout;
use crate::mine::{read_mined, MinedExample, ScoreKind};
use crate::model_folder;

/// The `[model]` section of a distillation config: the student's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillSettings {
    /// Teacher layers the student keeps.
    pub layers: usize,
    /// Which teacher layers, in order (as many as `layers`); empty: spread evenly from the first to the last.
    pub take_layers: Vec<usize>,
    /// Word pieces the student keeps: 0 for the teacher's whole vocabulary, else the special and
    /// single-character pieces and the corpus' most frequent ones up to this many.
    pub max_vocab: usize,
    /// Feed-forward neurons per layer: 0 for the teacher's, else each layer's most important
    /// ones ([`ffn`]) up to this many.
    pub intermediate_size: usize,
    /// Corpus passages, evenly spaced, whose activations rank the feed-forward neurons.
    pub ffn_sample: usize,
    /// Tokens per text, special tokens included.
    pub max_len: usize,
    /// Texts per forward pass when encoding for validation.
    pub encode_batch_size: usize,
    /// Export int8 weights (one scale per row): a quarter of the bytes, for the browser.
    pub int8: bool,
    /// What training steps compute in: "f32", or "bf16" / "f16" with f32 master weights.
    pub precision: Precision,
}

impl Default for DistillSettings {
    fn default() -> Self {
        Self {
            layers: 3,
            take_layers: Vec::new(),
            max_vocab: 0,
            intermediate_size: 0,
            ffn_sample: 1024,
            max_len: 256,
            encode_batch_size: 64,
            int8: true,
            precision: Precision::default(),
        }
    }
}

/// The `[loss]` section: the four terms' weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillLoss {
    pub listwise: f64,
    /// Mined negatives in each query's candidate list beside its positive (cycled through the
    /// query's negatives, a new set each epoch).
    pub listwise_negatives: usize,
    pub margin_mse: f64,
    pub embedding_mse: f64,
    pub contrastive: f64,
    /// Student scores are cosines / temperature, in Margin-MSE and the contrastive softmax.
    pub temperature: f64,
    /// Corpus passages per micro-batch in the embedding MSE besides the batch's own, taken in a
    /// shuffled order through the whole corpus; 0: only the batch's.
    pub corpus_passages: usize,
}

impl Default for DistillLoss {
    fn default() -> Self {
        Self {
            listwise: 0.6,
            listwise_negatives: 7,
            margin_mse: 0.2,
            embedding_mse: 0.0,
            contrastive: 0.2,
            temperature: 0.05,
            corpus_passages: 32,
        }
    }
}

impl Settings for DistillSettings {
    type Loss = DistillLoss;

    /// A student starts close to its teacher: a fine-tuning rate, a few epochs.
    fn loop_defaults() -> LoopConfig {
        LoopConfig {
            epochs: 3,
            batch_size: 32,
            learning_rate: 1e-4,
            weight_decay: 0.01,
            checkpoint_every: 50,
            patience: 1,
            ..LoopConfig::default()
        }
    }
}

impl DistillSettings {
    /// The teacher layers to keep, checked against the teacher's depth.
    fn teacher_layers(&self, depth: usize) -> Result<Vec<usize>> {
        let layers = if self.take_layers.is_empty() {
            match self.layers {
                0 => Vec::new(),
                1 => vec![depth.saturating_sub(1)],
                n => (0..n).map(|i| i * (depth - 1) / (n - 1)).collect(),
            }
        } else {
            self.take_layers.clone()
        };
        let distinct: HashSet<usize> = layers.iter().copied().collect();
        if layers.is_empty() || layers.len() != self.layers || distinct.len() != layers.len() || layers.iter().any(|&l| l >= depth) {
            bail!(
                "[model] layers = {}, take_layers = {:?}: the student needs 1..={depth} distinct teacher layers",
                self.layers,
                self.take_layers
            );
        }
        Ok(layers)
    }

    /// The student's feed-forward width, checked against the teacher's.
    fn intermediate_size(&self, teacher: usize) -> Result<usize> {
        match self.intermediate_size {
            0 => Ok(teacher),
            n if n <= teacher => Ok(n),
            n => bail!("[model] intermediate_size = {n}: the student keeps at most the teacher's {teacher} feed-forward neurons"),
        }
    }
}

/// One training example: a query, its positive and mined negatives, with the teacher's scores
/// on the student's scale (cosines / temperature; a cross-encoder's logits as they are).
struct Example {
    query: usize,
    positive: (u32, f32),
    negatives: Vec<(u32, f32)>,
}

/// `dowse distill`: a student from judgments and mined negatives, or (with `--align-to`) a query
/// encoder aligned to a teacher from unlabeled text.
#[derive(Debug, Args)]
#[command(mut_arg("data", |data| data.required(false).required_unless_present("align_to")))]
pub struct DistillArgs {
    #[command(flatten)]
    pub common: TrainCommon,
    /// Hard negatives mined for the training queries (`dowse mine` output); distillation's
    /// Margin-MSE targets are their teacher scores, best mined with `--teacher CROSS_ENCODER`.
    #[arg(long, required_unless_present = "align_to")]
    pub negatives: Option<PathBuf>,
    /// Train a static query encoder aligned to TEACHER's vectors from unlabeled text (`--texts`)
    /// instead: no judgments, no negatives, no --base.
    #[arg(long, value_name = "TEACHER", conflicts_with_all = ["data", "negatives", "base"])]
    pub align_to: Option<PathBuf>,
    #[command(flatten)]
    pub align: AlignArgs,
}

pub fn run(args: &DistillArgs) -> Result<()> {
    match (&args.align_to, &args.negatives) {
        (Some(teacher), _) => align::run(&args.common, teacher, &args.align),
        (None, Some(negatives)) => run_mined(&args.common, negatives),
        (None, None) => bail!("dowse distill needs --negatives (with --data) or --align-to"),
    }
}

fn run_mined(common: &TrainCommon, negatives: &Path) -> Result<()> {
    let config: TrainConfig<DistillSettings> = common.config()?;
    let (data, split) = common.data(&config)?;
    let examples = examples(&data, &split, &read_mined(negatives)?, config.loss.temperature);
    if examples.is_empty() {
        bail!("{}: no mined example with a negative is for a training query of {}", negatives.display(), common.judgments.path().display());
    }
    let teacher_dir = model_folder::resolve(common.base.as_deref())?;
    let teacher = model_folder::read(&teacher_dir)?;
    let bert = BertConfig::from_json(&teacher.config).context("the teacher's config.json")?;
    let layers = config.model.teacher_layers(bert.num_hidden_layers)?;
    let intermediate_size = config.model.intermediate_size(bert.intermediate_size)?;
    let max_len = config.model.max_len.min(bert.max_position_embeddings);
    eprintln!(
        "{}: {} passages, {} training examples, {} validation queries; student: layers {layers:?} of {} ({}), {intermediate_size} of {} feed-forward neurons",
        common.judgments.path().display(),
        data.passages.len(),
        examples.len(),
        split.validation.len(),
        teacher_dir.display(),
        bert.num_hidden_layers,
        bert.intermediate_size
    );
    let encoder = common.device.encoder(max_len, config.model.encode_batch_size);
    let targets = embed_cache::embed(&teacher_dir, encoder, common.device, &data.queries, &[("passage", &data.passages)], true)?;
    let student = Student::new(&teacher, &bert, &layers, intermediate_size, &data, max_len, config.model.max_vocab)?;
    let job = DistillJob { data, split, examples, targets, student, teacher: (bert, teacher.weights), config: &config, common };
    let outcome = run_on(common.device, job)??;
    super::report(&outcome, &common.out);
    Ok(())
}

/// The mined lines of training queries, with their passages as indices; lines naming unknown
/// passages or without negatives are left out.
fn examples(data: &RelevanceData, split: &Split, mined: &[MinedExample], temperature: f64) -> Vec<Example> {
    let training: HashSet<usize> = split.train.iter().copied().collect();
    let query = data.query_index();
    let passage = data.passage_index();
    mined
        .iter()
        .filter_map(|line| {
            let q = *query.get(line.query_id.as_str()).filter(|q| training.contains(q))?;
            let scale = match line.score_kind {
                ScoreKind::Cosine => 1.0 / temperature as f32,
                ScoreKind::Logit => 1.0,
            };
            let positive = (*passage.get(line.positive_id.as_str())?, line.scores.first()? * scale);
            let negatives: Vec<(u32, f32)> = line
                .negative_ids
                .iter()
                .zip(&line.scores[1..])
                .filter_map(|(id, &s)| Some((*passage.get(id.as_str())?, s * scale)))
                .collect();
            (!negatives.is_empty()).then_some(Example { query: q, positive, negatives })
        })
        .collect()
}

/// The student's shape and vocabulary, before any weights are on a device.
struct Student {
    layers: Vec<usize>,
    /// Per student word piece, the teacher's id; `None`: the whole vocabulary.
    kept: Option<Vec<u32>>,
    tokenizer_json: Vec<u8>,
    config_json: Vec<u8>,
    config: BertConfig,
    tokenizer: TextTokenizer,
}

impl Student {
    fn new(
        teacher: &ModelBytes,
        bert: &BertConfig,
        layers: &[usize],
        intermediate_size: usize,
        data: &RelevanceData,
        max_len: usize,
        max_vocab: usize,
    ) -> Result<Self> {
        let full = TextTokenizer::for_bert(&teacher.tokenizer, max_len, bert).context("the teacher's tokenizer")?;
        let (kept, tokenizer_json) = if max_vocab == 0 {
            (None, teacher.tokenizer.clone())
        } else {
            let mut counts = vec![0u64; bert.vocab_size];
            for texts in [&data.queries, &data.passages] {
                for encoded in full.encode(&texts.iter().map(String::as_str).collect::<Vec<_>>())? {
                    for &id in &encoded.ids {
                        if let Some(count) = counts.get_mut(id as usize) {
                            *count += 1;
                        }
                    }
                }
            }
            let pruned = vocab::prune(&teacher.tokenizer, &counts, max_vocab)?;
            eprintln!("vocabulary: {} of the teacher's {} word pieces", pruned.kept.len(), bert.vocab_size);
            (Some(pruned.kept), pruned.tokenizer_json)
        };
        let mut config_json: serde_json::Value = serde_json::from_slice(&teacher.config)?;
        config_json["num_hidden_layers"] = layers.len().into();
        config_json["intermediate_size"] = intermediate_size.into();
        config_json["vocab_size"] = kept.as_ref().map_or(bert.vocab_size, Vec::len).into();
        let config_json = serde_json::to_vec_pretty(&config_json)?;
        let config = BertConfig::from_json(&config_json)?;
        let tokenizer = TextTokenizer::from_bytes(&tokenizer_json, max_len).context("the student's tokenizer")?;
        Ok(Self { layers: layers.to_vec(), kept, tokenizer_json, config_json, config, tokenizer })
    }
}

struct DistillJob<'a> {
    data: RelevanceData,
    split: Split,
    examples: Vec<Example>,
    /// The teacher bi-encoder's unit vectors of every query and passage.
    targets: Embedded,
    student: Student,
    /// The teacher's config and weights, which the student is cut from.
    teacher: (BertConfig, Vec<u8>),
    config: &'a TrainConfig<DistillSettings>,
    common: &'a TrainCommon,
}

impl BackendJob for DistillJob<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        <Autodiff<B> as Backend>::seed(&device, self.config.train.seed);
        self.config.model.precision.check::<Autodiff<B>>(&device)?;
        let model =
            load_bert::<Autodiff<B>>(&self.teacher.0, &self.teacher.1, &device)?.shrink(&self.student.layers, self.student.kept.as_deref());
        let texts = TokenizedSides::new(&self.data, &self.student.tokenizer)?;
        let width = self.student.config.intermediate_size;
        let model = if width < self.teacher.0.intermediate_size {
            let settings = &self.config.model;
            let neurons = ffn::strongest(
                &model.valid(),
                &texts,
                self.data.passages.len(),
                settings.ffn_sample,
                settings.encode_batch_size,
                width,
                &device,
            )?;
            model.narrow_ffn(&neurons)
        } else {
            model
        };
        let train = &self.config.train;
        let order = BatchOrder::new(train.seed, self.examples.len(), train.batch_size, train.grad_accumulation);
        let corpus_passages = self.config.loss.corpus_passages;
        let corpus_order = (corpus_passages > 0).then(|| BatchOrder::new(train.seed, self.data.passages.len(), corpus_passages, 1));
        let max_len = self.config.model.max_len.min(self.student.config.max_position_embeddings);
        let encoder = self.common.device.encoder(max_len, self.config.model.encode_batch_size);
        let task = DistillTask {
            data: self.data,
            split: self.split,
            examples: self.examples,
            order,
            corpus_order,
            texts,
            targets: self.targets,
            student: self.student,
            encoder,
            config: self.config,
            device: device.clone(),
        };
        fit(&task, model, &self.common.run(self.config)?, &device)
    }
}

/// The student's side of the training loop.
pub struct DistillTask<'a, B: Backend> {
    data: RelevanceData,
    split: Split,
    examples: Vec<Example>,
    order: BatchOrder,
    /// The corpus passages each micro-batch adds to the embedding MSE; `None`: none.
    corpus_order: Option<BatchOrder>,
    texts: TokenizedSides,
    targets: Embedded,
    student: Student,
    encoder: EncoderConfig,
    config: &'a TrainConfig<DistillSettings>,
    device: B::Device,
}

impl<B: Backend> DistillTask<'_, B> {
    /// The teacher's vectors of the given rows of one side, `[rows, dim]`.
    fn targets(&self, side: Side, rows: &[usize]) -> Tensor<B, 2> {
        let (all, dim) = match side {
            Side::Query => (&self.targets.queries, self.targets.dim),
            Side::Passage => (&self.targets.passages, self.targets.dim),
        };
        let values: Vec<f32> = rows.iter().flat_map(|&r| &all[r * dim..][..dim]).copied().collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), dim]), &self.device)
    }

    /// The corpus passages of a micro-batch: the run's micro-batches counted through, each
    /// taking the next batch of passages in turn.
    fn corpus_batch(&self, epoch: usize, step: usize, micro: usize) -> Vec<usize> {
        let turn = (epoch * self.order.steps_per_epoch() + step) * self.order.micro_batches() + micro;
        self.corpus_order.as_ref().map_or_else(Vec::new, |order| order.nth(turn))
    }
}

impl<B: Backend> DistillTask<'_, B> {
    /// The listwise term of the examples `picked` whose query vectors are `q`: each query's list
    /// is its positive and `listwise_negatives` of its negatives, taken in turn from where
    /// `epoch` left off.
    fn listwise(
        &self,
        q: &Tensor<B, 2>,
        picked: &[&Example],
        epoch: usize,
        embed: impl Fn(Side, &[usize]) -> Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        let width = self.config.loss.listwise_negatives;
        let lists: Vec<Vec<(u32, f32)>> = picked
            .iter()
            .map(|e| {
                let negatives = (0..width).map(|j| e.negatives[(epoch * width + j) % e.negatives.len()]);
                std::iter::once(e.positive).chain(negatives).collect()
            })
            .collect();
        let (rows, len, dim) = (lists.len(), width + 1, q.dims()[1]);
        let passages: Vec<usize> = lists.iter().flatten().map(|&(p, _)| p as usize).collect();
        let p = embed(Side::Passage, &passages).reshape([rows, len, dim]);
        let student = (p * q.clone().reshape([rows, 1, dim])).sum_dim(2).reshape([rows, len]).div_scalar(self.config.loss.temperature);
        let teacher: Vec<f32> = lists.iter().flatten().map(|&(_, score)| score).collect();
        listwise_kl(student, Tensor::from_data(TensorData::new(teacher, [rows, len]), &self.device))
    }
}

/// Mean over rows of KL(softmax(teacher) || softmax(student)), both `[rows, list]` scores.
fn listwise_kl<B: Backend>(student: Tensor<B, 2>, teacher: Tensor<B, 2>) -> Tensor<B, 1> {
    let teacher_log = log_softmax(teacher, 1);
    let kl = (teacher_log.clone().exp() * (teacher_log - log_softmax(student, 1))).sum_dim(1);
    kl.mean()
}

impl<B: AutodiffBackend> Task<B> for DistillTask<'_, B> {
    type Model = Bert<B>;

    fn order(&self) -> &BatchOrder {
        &self.order
    }

    /// The batch's examples in the epoch's order; each example contributes its `epoch`-th
    /// negative (cycling), so successive epochs see different ones.
    fn loss(&self, model: &Bert<B>, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1> {
        let weights = &self.config.loss;
        let picked: Vec<&Example> = self.order.batch(epoch, step, micro).into_iter().map(|i| &self.examples[i]).collect();
        let negatives: Vec<(u32, f32)> = picked.iter().map(|e| e.negatives[epoch % e.negatives.len()]).collect();
        let queries: Vec<usize> = picked.iter().map(|e| e.query).collect();
        let passages: Vec<usize> = picked.iter().map(|e| e.positive.0 as usize).chain(negatives.iter().map(|n| n.0 as usize)).collect();
        let with_corpus: Vec<usize> = passages.iter().copied().chain(self.corpus_batch(epoch, step, micro)).collect();
        let model = self.config.model.precision.cast(model);
        let embed = |side, rows: &[usize]| {
            let (ids, types, mask) = self.texts.batch::<B>(side, rows, &self.device);
            model.embed(ids, types, mask)
        };
        let (q, p_all) = (embed(Side::Query, &queries), embed(Side::Passage, &with_corpus));
        let rows = picked.len();
        let dim = q.dims()[1];
        let p = p_all.clone().slice([0..2 * rows, 0..dim]);

        let positive = (q.clone() * p.clone().slice([0..rows, 0..dim])).sum_dim(1);
        let negative = (q.clone() * p.clone().slice([rows..2 * rows, 0..dim])).sum_dim(1);
        let student_margin = (positive - negative).div_scalar(weights.temperature).reshape([rows]);
        let teacher_margin: Vec<f32> = picked.iter().zip(&negatives).map(|(e, n)| e.positive.1 - n.1).collect();
        let teacher_margin = Tensor::<B, 1>::from_data(TensorData::new(teacher_margin, [rows]), &self.device);
        let margin_mse = (student_margin - teacher_margin).powi_scalar(2).mean();

        let distance = |student: Tensor<B, 2>, teacher: Tensor<B, 2>| (student - teacher).powi_scalar(2).sum_dim(1).reshape([-1]);
        let embedding_mse = Tensor::cat(
            vec![distance(q.clone(), self.targets(Side::Query, &queries)), distance(p_all, self.targets(Side::Passage, &with_corpus))],
            0,
        )
        .mean();

        let batch = Batch { queries: queries.clone(), passages: passages.iter().map(|&p| p as u32).collect() };
        let softmax = LossConfig { kind: LossKind::Contrastive, temperature: weights.temperature, ..LossConfig::default() };
        let in_batch = contrastive::loss(q.clone(), p, &batch, &self.data.relevant, &softmax, &self.device);

        let listwise = match weights.listwise > 0.0 {
            true => self.listwise(&q, &picked, epoch, embed),
            false => Tensor::zeros([1], &self.device),
        };

        listwise.mul_scalar(weights.listwise)
            + margin_mse.mul_scalar(weights.margin_mse)
            + embedding_mse.mul_scalar(weights.embedding_mse)
            + in_batch.mul_scalar(weights.contrastive)
    }

    /// Scores the weights as they ship: int8 ones are quantized and loaded back first.
    fn validate(&self, model: &<Bert<B> as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>> {
        let model = if self.config.model.int8 {
            load_bert::<B::InnerBackend>(&self.student.config, &quantize_int8(&save_bert(model)?)?, &self.device)?
        } else {
            model.clone()
        };
        let encoder = TextEncoder::new(model, self.student.tokenizer.clone(), self.student.config.clone(), self.encoder, &self.device);
        contrastive::validate(&self.data, &self.split, encoder.dim(), |texts, _| Ok(encoder.encode(texts, |_| {})?))
    }

    fn export(&self, model: &<Bert<B> as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>> {
        let weights = save_bert(model)?;
        let weights = if self.config.model.int8 { quantize_int8(&weights)? } else { weights };
        let mut files = vec![
            ("config.json".into(), self.student.config_json.clone()),
            ("tokenizer.json".into(), self.student.tokenizer_json.clone()),
            ("model.safetensors".into(), weights),
        ];
        files.extend(layout::sentence_encoder(&self.student.config));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;

    #[test]
    fn the_listwise_term_is_zero_only_when_the_lists_agree() {
        let scores = |values: [f32; 6]| Tensor::<Flex, 2>::from_data(TensorData::new(values.to_vec(), [2, 3]), &FlexDevice);
        let kl = |a, b| listwise_kl(scores(a), scores(b)).into_scalar();
        let teacher = [3.0, 1.0, 0.0, 0.5, 2.0, 1.0];
        assert!(kl(teacher, teacher).abs() < 1e-6);
        assert!(kl([13.0, 11.0, 10.0, 0.5, 2.0, 1.0], teacher).abs() < 1e-6, "a shift of a row's scores changes nothing");
        assert!(kl([0.0, 1.0, 3.0, 0.5, 2.0, 1.0], teacher) > 0.5, "a reversed list is far off");
    }

    #[test]
    fn layers_spread_from_first_to_last_or_as_listed() {
        let settings =
            |layers, take_layers: &[usize]| DistillSettings { layers, take_layers: take_layers.to_vec(), ..DistillSettings::default() };
        assert_eq!(settings(3, &[]).teacher_layers(6).unwrap(), [0, 2, 5]);
        assert_eq!(settings(2, &[]).teacher_layers(6).unwrap(), [0, 5]);
        assert_eq!(settings(1, &[]).teacher_layers(6).unwrap(), [5]);
        assert_eq!(settings(2, &[1, 3]).teacher_layers(6).unwrap(), [1, 3]);
        assert!(settings(2, &[1, 6]).teacher_layers(6).is_err());
        assert!(settings(3, &[1, 3]).teacher_layers(6).is_err());
        assert!(settings(7, &[]).teacher_layers(6).is_err());
        assert!(settings(0, &[]).teacher_layers(6).is_err());
        assert!(settings(2, &[3, 3]).teacher_layers(6).is_err());
    }

    #[test]
    fn the_feed_forward_width_is_the_teacher_s_or_narrower() {
        let width = |intermediate_size| DistillSettings { intermediate_size, ..DistillSettings::default() }.intermediate_size(1536);
        assert_eq!(width(0).unwrap(), 1536);
        assert_eq!(width(768).unwrap(), 768);
        let error = width(2048).unwrap_err().to_string();
        assert!(error.contains("intermediate_size = 2048") && error.contains("1536"), "{error}");
    }
}

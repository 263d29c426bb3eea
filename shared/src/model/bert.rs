//! BERT in Burn, generic over the backend: embeddings, post-norm transformer layers with
//! exact (erf) GELU, and masked mean pooling into L2-normalised sentence vectors.
//!
//! Self-attention is Burn's attention op with an additive padding bias: flex runs it as one
//! gemm-backed kernel; the other backends (and autodiff) compose it from plain ops, as Burn's
//! GPU flash kernels take no bias (a boolean mask would send them through per-shape autotuning,
//! minutes on a software GPU).
//!
//! Each layer's attention projections may carry LoRA adapters ([`super::lora`]) while a model is
//! fine-tuned; [`Bert::merge_lora`] folds them in before a model is saved.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{FloatDType, Int, Tensor, TensorData};

use super::lora::{project, Lora, LoraConfig, LoraTarget};
use super::pooling::{masked_mean, unit_rows};
use super::BertConfig;

/// Added to attention scores of padding positions: exp() of it underflows to exactly 0.
const MASKED_SCORE: f32 = -10_000.0;

#[derive(Module, Debug)]
pub struct Embeddings<B: Backend> {
    pub(super) word: Embedding<B>,
    pub(super) position: Embedding<B>,
    pub(super) token_type: Embedding<B>,
    pub(super) norm: LayerNorm<B>,
}

#[derive(Module, Debug)]
pub struct Layer<B: Backend> {
    pub(super) query: Linear<B>,
    pub(super) key: Linear<B>,
    pub(super) value: Linear<B>,
    pub(super) attention_output: Linear<B>,
    pub(super) attention_norm: LayerNorm<B>,
    pub(super) intermediate: Linear<B>,
    pub(super) output: Linear<B>,
    pub(super) output_norm: LayerNorm<B>,
    adapters: Adapters<B>,
}

/// A layer's LoRA adapters, one per attention projection at most.
#[derive(Module, Debug)]
pub struct Adapters<B: Backend> {
    query: Option<Lora<B>>,
    key: Option<Lora<B>>,
    value: Option<Lora<B>>,
    attention_output: Option<Lora<B>>,
}

impl<B: Backend> Adapters<B> {
    fn none() -> Self {
        Self { query: None, key: None, value: None, attention_output: None }
    }
}

/// The encoder stack of a BERT checkpoint (no pooler: sentence vectors come from mean pooling).
#[derive(Module, Debug)]
pub struct Bert<B: Backend> {
    pub(super) embeddings: Embeddings<B>,
    pub(super) layers: Vec<Layer<B>>,
    pub(super) num_heads: usize,
}

impl<B: Backend> Bert<B> {
    /// A randomly initialised network of the given shape.
    pub fn new(config: &BertConfig, device: &B::Device) -> Self {
        let hidden = config.hidden_size;
        let norm = || LayerNormConfig::new(hidden).with_epsilon(config.layer_norm_eps).init(device);
        let linear = |i: usize, o: usize| LinearConfig::new(i, o).init(device);
        let embeddings = Embeddings {
            word: EmbeddingConfig::new(config.vocab_size, hidden).init(device),
            position: EmbeddingConfig::new(config.max_position_embeddings, hidden).init(device),
            token_type: EmbeddingConfig::new(config.type_vocab_size, hidden).init(device),
            norm: norm(),
        };
        let layers = (0..config.num_hidden_layers)
            .map(|_| Layer {
                query: linear(hidden, hidden),
                key: linear(hidden, hidden),
                value: linear(hidden, hidden),
                attention_output: linear(hidden, hidden),
                attention_norm: norm(),
                intermediate: linear(hidden, config.intermediate_size),
                output: linear(config.intermediate_size, hidden),
                output_norm: norm(),
                adapters: Adapters::none(),
            })
            .collect();
        Self { embeddings, layers, num_heads: config.num_attention_heads }
    }

    /// Token states `[batch, seq, hidden]` for token ids, token type ids and a 1/0 attention mask.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        self.forward_observed(ids, token_types, mask, |_, _| {})
    }

    /// [`Self::forward`], handing each layer's feed-forward activations (after GELU,
    /// `[batch * seq, intermediate]`) to `observe` with the layer's index.
    fn forward_observed(
        &self,
        ids: Tensor<B, 2, Int>,
        token_types: Tensor<B, 2, Int>,
        mask: Tensor<B, 2>,
        mut observe: impl FnMut(usize, Tensor<B, 2>),
    ) -> Tensor<B, 3> {
        let [batch, seq] = ids.dims();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &ids.device()).reshape([1, seq]);
        let x = self.embeddings.word.forward(ids)
            + self.embeddings.position.forward(positions)
            + self.embeddings.token_type.forward(token_types);
        let hidden = x.dims()[2];
        // Weights cast to half precision for training compute in it: the mask follows them.
        let mask = mask.cast(x.dtype());
        // Tokens as rows of one matrix: each Linear is then a single large matmul, not one per text.
        let mut x = self.embeddings.norm.forward(x.reshape([batch * seq, hidden]));
        // [batch, 1, seq, seq]: 0 where the key is a token, MASKED_SCORE where it is padding.
        // Made once as a tensor of its own (not a broadcast view), so no layer has to copy it;
        // the heads dimension broadcasts.
        let bias = mask.reshape([batch, 1, 1, seq]).expand([batch, 1, seq, seq]).sub_scalar(1.0).mul_scalar(-MASKED_SCORE);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, bias.clone(), [batch, seq], self.num_heads, |activations| observe(i, activations));
        }
        x.reshape([batch, seq, hidden])
    }

    /// A smaller BERT: this one's `layers` (indices, in the order given) over the rows `vocab` of
    /// its word-piece table (new id `i` is old id `vocab[i]`; every row when `None`). How a
    /// distilled student starts from its teacher.
    pub fn shrink(self, layers: &[usize], vocab: Option<&[u32]>) -> Self {
        let Self { mut embeddings, layers: all, num_heads } = self;
        if let Some(rows) = vocab {
            let table = embeddings.word.weight.val();
            let rows = Tensor::<B, 1, Int>::from_data(
                TensorData::new(rows.iter().map(|&r| i64::from(r)).collect(), [rows.len()]),
                &table.device(),
            );
            embeddings.word.weight = Param::from_tensor(table.select(0, rows).detach());
        }
        let layers = layers.iter().map(|&i| all[i].clone()).collect();
        Self { embeddings, layers, num_heads }
    }

    /// How much each feed-forward neuron of each layer adds to the token states on these texts:
    /// per layer `[intermediate]`, the sum over real tokens of |activation| times the norm of
    /// the neuron's output weights (what removing it would change, to first order).
    pub fn ffn_importance(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Vec<Tensor<B, 1>> {
        let tokens = mask.clone().reshape([-1, 1]);
        let mut sums = Vec::with_capacity(self.layers.len());
        self.forward_observed(ids, token_types, mask, |_, activations| {
            sums.push((activations.abs() * tokens.clone()).sum_dim(0).reshape([-1]));
        });
        sums.into_iter()
            .zip(&self.layers)
            .map(|(sum, layer)| sum * layer.output.weight.val().powi_scalar(2).sum_dim(1).sqrt().reshape([-1]))
            .collect()
    }

    /// A narrower BERT: in layer `l`, only the feed-forward neurons `neurons[l]` (indices into its
    /// intermediate dimension, in the order given). How a student gets cheaper layers.
    pub fn narrow_ffn(self, neurons: &[Vec<u32>]) -> Self {
        let Self { embeddings, layers, num_heads } = self;
        assert_eq!(neurons.len(), layers.len(), "one list of neurons per layer");
        let layers = layers
            .into_iter()
            .zip(neurons)
            .map(|(mut layer, kept)| {
                let device = layer.output.weight.device();
                let kept =
                    Tensor::<B, 1, Int>::from_data(TensorData::new(kept.iter().map(|&n| i64::from(n)).collect(), [kept.len()]), &device);
                let pick = |param: &Param<Tensor<B, 2>>, dim: usize| Param::from_tensor(param.val().select(dim, kept.clone()).detach());
                layer.intermediate.weight = pick(&layer.intermediate.weight, 1);
                layer.intermediate.bias =
                    layer.intermediate.bias.map(|bias| Param::from_tensor(bias.val().select(0, kept.clone()).detach()));
                layer.output.weight = pick(&layer.output.weight, 0);
                layer
            })
            .collect();
        Self { embeddings, layers, num_heads }
    }

    /// This network frozen, with fresh LoRA adapters on `config`'s targets in every layer: only
    /// the adapters train. A config without rank or targets leaves the network as it is, every
    /// weight trainable.
    pub fn with_lora(self, config: &LoraConfig) -> Self {
        if !config.enabled() {
            return self;
        }
        let Self { embeddings, layers, num_heads } = self;
        let layers = layers
            .into_iter()
            .map(|layer| {
                let mut layer = layer.no_grad();
                let fresh = |target: LoraTarget, linear: &Linear<B>| config.targets.contains(&target).then(|| Lora::new(linear, config));
                layer.adapters = Adapters {
                    query: fresh(LoraTarget::Query, &layer.query),
                    key: fresh(LoraTarget::Key, &layer.key),
                    value: fresh(LoraTarget::Value, &layer.value),
                    attention_output: fresh(LoraTarget::AttentionOutput, &layer.attention_output),
                };
                layer
            })
            .collect();
        Self { embeddings: embeddings.no_grad(), layers, num_heads }
    }

    /// This network with every LoRA adapter folded into its projection's weight: a plain BERT.
    pub fn merge_lora(self) -> Self {
        let Self { embeddings, layers, num_heads } = self;
        let layers = layers
            .into_iter()
            .map(|layer| {
                let Adapters { query, key, value, attention_output } = layer.adapters;
                let merge = |adapter: Option<Lora<B>>, linear: Linear<B>| match adapter {
                    Some(adapter) => adapter.merge(linear),
                    None => linear,
                };
                Layer {
                    query: merge(query, layer.query),
                    key: merge(key, layer.key),
                    value: merge(value, layer.value),
                    attention_output: merge(attention_output, layer.attention_output),
                    adapters: Adapters::none(),
                    ..layer
                }
            })
            .collect();
        Self { embeddings, layers, num_heads }
    }

    /// Mean of the token states under the mask, scaled to unit length: `[batch, hidden]`, in f32
    /// whatever the weights' precision.
    pub fn embed(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let states = self.forward(ids, token_types, mask.clone());
        unit_rows(masked_mean(states.cast(FloatDType::F32), mask))
    }
}

impl<B: Backend> Layer<B> {
    /// One post-norm transformer layer over token rows `[batch * seq, hidden]`.
    /// `observe` sees the feed-forward activations after GELU.
    fn forward(
        &self,
        x: Tensor<B, 2>,
        bias: Tensor<B, 4>,
        [batch, seq]: [usize; 2],
        num_heads: usize,
        observe: impl FnOnce(Tensor<B, 2>),
    ) -> Tensor<B, 2> {
        let hidden = x.dims()[1];
        let head_dim = hidden / num_heads;
        let heads = |t: Tensor<B, 2>| t.reshape([batch, seq, num_heads, head_dim]).swap_dims(1, 2);
        let adapters = &self.adapters;
        let q = heads(project(&self.query, &adapters.query, x.clone()));
        let k = heads(project(&self.key, &adapters.key, x.clone()));
        let v = heads(project(&self.value, &adapters.value, x.clone()));
        let context = attention(q, k, v, None, Some(bias), AttentionModuleOptions::default());
        let context = context.swap_dims(1, 2).reshape([batch * seq, hidden]);
        let x = self.attention_norm.forward(project(&self.attention_output, &adapters.attention_output, context) + x);
        let activations = gelu(self.intermediate.forward(x.clone()));
        observe(activations.clone());
        self.output_norm.forward(self.output.forward(activations) + x)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Autodiff;
    use burn::module::AutodiffModule;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::Tolerance;
    use burn_flex::{Flex, FlexDevice};

    use super::*;

    type B = Autodiff<Flex>;

    fn tiny() -> BertConfig {
        let json = br#"{"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 16}"#;
        BertConfig::from_json(json).unwrap()
    }

    fn inputs() -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
        let device = FlexDevice;
        let ids = Tensor::from_data(TensorData::from([[2i64, 7, 9, 3], [2, 11, 3, 0]]), &device);
        let mask = Tensor::from_data(TensorData::from([[1.0f32, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]]), &device);
        (ids, Tensor::zeros([2, 4], &device), mask)
    }

    #[test]
    fn neurons_without_output_weights_rank_last_and_narrowing_them_away_changes_nothing() {
        let device = FlexDevice;
        let mut bert = Bert::<B>::new(&tiny(), &device);
        let silent = [1usize, 4, 9];
        let rows: Vec<f32> = (0..16).map(|n| if silent.contains(&n) { 0.0 } else { 1.0 }).collect();
        let rows = Tensor::<B, 1>::from_data(TensorData::new(rows, [16]), &device).reshape([16, 1]);
        for layer in &mut bert.layers {
            layer.output.weight = Param::from_tensor((layer.output.weight.val() * rows.clone()).detach());
        }
        let (ids, types, mask) = inputs();
        let importance = bert.ffn_importance(ids.clone(), types.clone(), mask.clone());
        let mut kept = Vec::new();
        for layer in importance {
            let values = layer.into_data().to_vec::<f32>().unwrap();
            for (n, &value) in values.iter().enumerate() {
                assert_eq!(value == 0.0, silent.contains(&n), "neuron {n}: {value}");
            }
            kept.push((0..16).filter(|n| !silent.contains(n)).map(|n| n as u32).collect::<Vec<_>>());
        }
        let expected = bert.embed(ids.clone(), types.clone(), mask.clone()).into_data();
        let narrow = bert.narrow_ffn(&kept);
        assert_eq!(narrow.layers[0].intermediate.weight.dims(), [8, 13]);
        assert_eq!(narrow.layers[1].output.weight.dims(), [13, 8]);
        narrow.embed(ids, types, mask).into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-6));
    }

    #[test]
    fn lora_trains_only_its_adapters_and_merges_into_an_equal_plain_network() {
        let device = FlexDevice;
        let targets = vec![LoraTarget::Query, LoraTarget::Key, LoraTarget::Value, LoraTarget::AttentionOutput];
        let base = Bert::<B>::new(&tiny(), &device);
        let (ids, types, mask) = inputs();
        // Computing once initialises the lazy parameters: clones then share their values.
        let start = base.embed(ids.clone(), types.clone(), mask.clone()).into_data();
        let adapted = base.clone().with_lora(&LoraConfig { rank: 2, alpha: 4.0, targets });
        let before = adapted.embed(ids.clone(), types.clone(), mask.clone());
        before.clone().into_data().assert_eq(&start, true);

        // One coordinate: a whole row sums to zero, as the last layer norm centres every token.
        let loss = before.slice([0..1, 0..1]).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &adapted);
        assert_eq!(grads.len(), 2 * 4 * 2, "two layers, four adapters, each a down and an up matrix");
        let stepped = AdamWConfig::new().init::<B, Bert<B>>().step(1e-2, adapted, grads);
        let frozen = |bert: &Bert<B>| bert.layers[1].query.weight.val().into_data();
        assert_eq!(frozen(&stepped), frozen(&base), "the base weights stay as they were");

        let (ids, types, mask) = inputs();
        let adapted = stepped.valid();
        let expected = adapted.embed(ids.clone().inner(), types.clone().inner(), mask.clone().inner()).into_data();
        assert_ne!(expected, start);
        let merged = adapted.merge_lora();
        assert!(merged.layers.iter().all(|l| l.adapters.query.is_none() && l.adapters.attention_output.is_none()));
        merged.embed(ids.inner(), types.inner(), mask.inner()).into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    }
}

//! BERT in Burn, generic over the backend: embeddings, post-norm transformer layers with
//! exact (erf) GELU, and masked mean pooling into L2-normalised sentence vectors.
//!
//! Self-attention is Burn's attention op with an additive padding bias: flex runs it as one
//! gemm-backed kernel; the other backends (and autodiff) compose it from plain ops, as Burn's
//! GPU flash kernels take no bias (a boolean mask would send them through per-shape autotuning,
//! minutes on a software GPU).

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Int, Tensor, TensorData};

use super::pooling::{masked_mean, unit_rows};
use super::BertConfig;

/// Added to attention scores of padding positions: exp() of it underflows to exactly 0.
const MASKED_SCORE: f32 = -10_000.0;

#[derive(Module, Debug)]
pub struct Embeddings<B: Backend> {
    word: Embedding<B>,
    position: Embedding<B>,
    token_type: Embedding<B>,
    norm: LayerNorm<B>,
}

#[derive(Module, Debug)]
pub struct Layer<B: Backend> {
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    attention_output: Linear<B>,
    attention_norm: LayerNorm<B>,
    intermediate: Linear<B>,
    output: Linear<B>,
    output_norm: LayerNorm<B>,
}

/// The encoder stack of a BERT checkpoint (no pooler: sentence vectors come from mean pooling).
#[derive(Module, Debug)]
pub struct Bert<B: Backend> {
    embeddings: Embeddings<B>,
    layers: Vec<Layer<B>>,
    num_heads: usize,
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
            })
            .collect();
        Self { embeddings, layers, num_heads: config.num_attention_heads }
    }

    /// Token states `[batch, seq, hidden]` for token ids, token type ids and a 1/0 attention mask.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, seq] = ids.dims();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &ids.device()).reshape([1, seq]);
        let x = self.embeddings.word.forward(ids)
            + self.embeddings.position.forward(positions)
            + self.embeddings.token_type.forward(token_types);
        let hidden = x.dims()[2];
        // Tokens as rows of one matrix: each Linear is then a single large matmul, not one per text.
        let mut x = self.embeddings.norm.forward(x.reshape([batch * seq, hidden]));
        // [batch, 1, seq, seq]: 0 where the key is a token, MASKED_SCORE where it is padding.
        // Made once as a tensor of its own (not a broadcast view), so no layer has to copy it;
        // the heads dimension broadcasts.
        let bias = mask.reshape([batch, 1, 1, seq]).expand([batch, 1, seq, seq]).sub_scalar(1.0).mul_scalar(-MASKED_SCORE);
        for layer in &self.layers {
            x = layer.forward(x, bias.clone(), [batch, seq], self.num_heads);
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

    /// Mean of the token states under the mask, scaled to unit length: `[batch, hidden]`.
    pub fn embed(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let states = self.forward(ids, token_types, mask.clone());
        unit_rows(masked_mean(states, mask))
    }
}

impl<B: Backend> Layer<B> {
    /// One post-norm transformer layer over token rows `[batch * seq, hidden]`.
    fn forward(&self, x: Tensor<B, 2>, bias: Tensor<B, 4>, [batch, seq]: [usize; 2], num_heads: usize) -> Tensor<B, 2> {
        let hidden = x.dims()[1];
        let head_dim = hidden / num_heads;
        let heads = |t: Tensor<B, 2>| t.reshape([batch, seq, num_heads, head_dim]).swap_dims(1, 2);
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x.clone()));
        let context = attention(q, k, v, None, Some(bias), AttentionModuleOptions::default());
        let context = context.swap_dims(1, 2).reshape([batch * seq, hidden]);
        let x = self.attention_norm.forward(self.attention_output.forward(context) + x);
        let h = self.output.forward(gelu(self.intermediate.forward(x.clone())));
        self.output_norm.forward(h + x)
    }
}

//! BERT inference on the CPU, without Burn: how the native CLI encodes when `--device cpu`.
//!
//! The same network as [`Bert`] (its weights are read out of one), run differently:
//! - **Packed rows.** The tokens of all texts in a batch are rows of one matrix with no padding;
//!   each text attends only to its own rows ([`attention`]). A batch costs its real tokens.
//! - **Fused work.** Query, key and value are one matrix product; biases and residuals are
//!   written into a product's output before it accumulates; GELU and softmax are vectorized
//!   loops ([`math`]) instead of one library call per element.
//! - **No layout copies.** Each head's query, key and value are read in place, strided, and its
//!   context is written straight into its columns.
//!
//! Matrix products are the gemm crate's; work spreads over rayon's threads natively and stays on
//! one thread in wasm32 ([`parallel`]). Vectors match Burn's to float rounding (the MiniLM golden
//! test checks both against sentence-transformers).

mod attention;
mod math;
mod matmul;
mod parallel;

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::{Bert, BertConfig, Encoded};
use attention::attention;
use matmul::{matmul, View};

/// A BERT's weights as plain row-major matrices, ready for the CPU kernels.
pub struct CpuBert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<CpuLayer>,
    hidden: usize,
    heads: usize,
}

struct CpuLayer {
    /// Query, key and value projections side by side: `[hidden, 3 * hidden]`.
    qkv: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A linear layer: `weight` is `[inputs, outputs]` row-major (Burn's layout).
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    epsilon: f32,
}

impl CpuBert {
    /// Reads `bert`'s weights (LoRA adapters merged) out of its backend.
    pub fn new<B: Backend>(bert: Bert<B>, config: &BertConfig) -> Self {
        let bert = bert.merge_lora();
        let epsilon = config.layer_norm_eps as f32;
        let norm = |n: &LayerNorm<B>| Norm {
            gamma: values(&n.gamma),
            beta: n.beta.as_ref().map_or_else(|| vec![0.0; config.hidden_size], values),
            epsilon,
        };
        let layers = bert
            .layers
            .iter()
            .map(|layer| CpuLayer {
                qkv: Dense::side_by_side(&[&layer.query, &layer.key, &layer.value]),
                attention_output: Dense::side_by_side(&[&layer.attention_output]),
                attention_norm: norm(&layer.attention_norm),
                intermediate: Dense::side_by_side(&[&layer.intermediate]),
                output: Dense::side_by_side(&[&layer.output]),
                output_norm: norm(&layer.output_norm),
            })
            .collect();
        let embeddings = &bert.embeddings;
        Self {
            word: values(&embeddings.word.weight),
            position: values(&embeddings.position.weight),
            token_type: values(&embeddings.token_type.weight),
            embedding_norm: norm(&embeddings.norm),
            layers,
            hidden: config.hidden_size,
            heads: bert.num_heads,
        }
    }

    /// Length of the vectors this network makes.
    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// Unit vectors `[rows.len(), hidden]`: each text's token states averaged, then scaled to
    /// unit length (as [`Bert::embed`]).
    pub fn embed(&self, rows: &[&Encoded]) -> Vec<f32> {
        let (x, lengths) = self.states(rows);
        mean_unit_rows(&x, &lengths, self.hidden)
    }

    /// The state of each text's first token (`[CLS]`): `[rows.len(), hidden]`.
    fn first_states(&self, rows: &[&Encoded]) -> Vec<f32> {
        let (x, lengths) = self.states(rows);
        let mut first = Vec::with_capacity(rows.len() * self.hidden);
        let mut start = 0;
        for len in lengths {
            first.extend_from_slice(&x[start * self.hidden..][..self.hidden]);
            start += len;
        }
        first
    }

    /// The token states of every text, packed `[tokens, hidden]`, and each text's length.
    fn states(&self, rows: &[&Encoded]) -> (Vec<f32>, Vec<usize>) {
        let lengths: Vec<usize> = rows.iter().map(|row| row.ids.len()).collect();
        let mut x = self.embeddings(rows);
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            layer.forward(&mut x, &lengths, self.heads, &mut scratch);
        }
        (x, lengths)
    }

    /// Word + position + token type embeddings of every token, normalised: `[tokens, hidden]`.
    fn embeddings(&self, rows: &[&Encoded]) -> Vec<f32> {
        let h = self.hidden;
        let tokens: usize = rows.iter().map(|row| row.ids.len()).sum();
        let mut x = Vec::with_capacity(tokens * h);
        for row in rows {
            for (position, (&id, &kind)) in row.ids.iter().zip(&row.type_ids).enumerate() {
                let word = &self.word[id as usize * h..][..h];
                let place = &self.position[position * h..][..h];
                let kind = &self.token_type[kind as usize * h..][..h];
                x.extend(word.iter().zip(place).zip(kind).map(|((w, p), k)| w + p + k));
            }
        }
        self.embedding_norm.rows(&mut x);
        x
    }
}

/// A cross-encoder on the CPU kernels: the `[CLS]` state of each pair through the pooler (dense
/// + tanh) and the classifier, as [`super::CrossEncoderModel::forward`].
pub struct CpuCrossEncoder {
    bert: CpuBert,
    pooler: Dense,
    classifier: Dense,
}

impl CpuCrossEncoder {
    /// Reads the network's weights (LoRA adapters merged) out of its backend.
    pub fn new<B: Backend>(bert: Bert<B>, pooler: &Linear<B>, classifier: &Linear<B>, config: &BertConfig) -> Self {
        Self { bert: CpuBert::new(bert, config), pooler: Dense::side_by_side(&[pooler]), classifier: Dense::side_by_side(&[classifier]) }
    }

    /// Logits `[rows.len(), labels]` of tokenized pairs.
    pub fn logits(&self, rows: &[&Encoded]) -> Vec<f32> {
        let mut pooled = Vec::new();
        self.pooler.forward(&self.bert.first_states(rows), None, &mut pooled);
        pooled.iter_mut().for_each(|v| *v = v.tanh());
        let mut logits = Vec::new();
        self.classifier.forward(&pooled, None, &mut logits);
        logits
    }
}

/// The buffers of one forward pass, reused from layer to layer (a fresh buffer costs a page
/// fault per 4 KiB: 7% of the time when each layer allocated its own).
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
}

impl CpuLayer {
    /// One post-norm transformer layer over packed token rows `x` `[tokens, hidden]`, in place.
    fn forward(&self, x: &mut Vec<f32>, lengths: &[usize], heads: usize, scratch: &mut Scratch) {
        let Scratch { qkv, context, attended, inner } = scratch;
        self.qkv.forward(x, None, qkv);
        attention(qkv, lengths, self.attention_output.inputs, heads, context);
        self.attention_output.forward(context, Some(x), attended);
        self.attention_norm.rows(attended);
        self.intermediate.forward(attended, None, inner);
        parallel::for_each_row(inner, self.intermediate.outputs, math::gelu);
        self.output.forward(inner, Some(attended), x);
        self.output_norm.rows(x);
    }
}

impl Dense {
    /// Linear layers over the same input as one: their weights and biases side by side.
    fn side_by_side<B: Backend>(linears: &[&Linear<B>]) -> Self {
        let weights: Vec<(Vec<f32>, usize)> = linears.iter().map(|l| (values(&l.weight), l.weight.val().dims()[1])).collect();
        let inputs = linears[0].weight.val().dims()[0];
        let outputs = weights.iter().map(|(_, o)| o).sum();
        let mut weight = Vec::with_capacity(inputs * outputs);
        for i in 0..inputs {
            for (w, o) in &weights {
                weight.extend_from_slice(&w[i * o..][..*o]);
            }
        }
        let bias = linears.iter().zip(&weights).flat_map(|(l, (_, o))| l.bias.as_ref().map_or_else(|| vec![0.0; *o], values)).collect();
        Self { weight, bias, inputs, outputs }
    }

    /// `out = x · weight + bias` for rows `x` `[tokens, inputs]`, plus `residual`
    /// `[tokens, outputs]`.
    fn forward(&self, x: &[f32], residual: Option<&[f32]>, out: &mut Vec<f32>) {
        let tokens = x.len() / self.inputs;
        out.clear();
        match residual {
            None => (0..tokens).for_each(|_| out.extend_from_slice(&self.bias)),
            Some(residual) => {
                for row in residual.chunks_exact(self.outputs) {
                    out.extend(row.iter().zip(&self.bias).map(|(r, b)| r + b));
                }
            }
        }
        let (l, r) = (View::dense(tokens, self.inputs), View::dense(self.inputs, self.outputs));
        matmul(out, View::dense(tokens, self.outputs), x, l, &self.weight, r, 1.0, true, true);
    }
}

impl Norm {
    /// Layer normalisation of each `gamma.len()`-long row of `x`, in place.
    fn rows(&self, x: &mut [f32]) {
        parallel::for_each_row(x, self.gamma.len(), |row| math::layer_norm(row, &self.gamma, &self.beta, self.epsilon));
    }
}

/// The mean row of each text's rows in `x`, scaled to unit length: `[lengths.len(), hidden]`.
fn mean_unit_rows(x: &[f32], lengths: &[usize], hidden: usize) -> Vec<f32> {
    let mut out = vec![0f32; lengths.len() * hidden];
    let mut rows = x.chunks_exact(hidden);
    for (mean, &len) in out.chunks_exact_mut(hidden).zip(lengths) {
        for row in rows.by_ref().take(len) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        let norm = math::sum_of(mean, |v| v * v).sqrt().max(1e-12);
        mean.iter_mut().for_each(|m| *m /= norm);
    }
    out
}

/// A parameter's values as f32, row-major.
fn values<B: Backend, const D: usize>(param: &Param<Tensor<B, D>>) -> Vec<f32> {
    param.val().into_data().convert::<f32>().into_vec().expect("converted to f32")
}

#[cfg(test)]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::model::pad_batch;

    #[test]
    fn packed_rows_give_burns_padded_vectors() {
        let json = br#"{"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 16}"#;
        let config = BertConfig::from_json(json).unwrap();
        let device = FlexDevice;
        let bert = Bert::<Flex>::new(&config, &device);
        let rows = [
            Encoded { ids: vec![2, 7, 9, 11, 3], type_ids: vec![0, 0, 0, 1, 1] },
            Encoded { ids: vec![2, 3], type_ids: vec![0, 0] },
            Encoded { ids: vec![2, 29, 5, 3], type_ids: vec![0, 1, 1, 1] },
        ];
        let rows: Vec<&Encoded> = rows.iter().collect();
        let (ids, types, mask) = pad_batch::<Flex>(&rows, 16, &device);
        // Computing once initialises the lazy parameters, so that the clone reads the same values.
        let want = bert.embed(ids, types, mask).into_data().to_vec::<f32>().unwrap();
        let got = CpuBert::new(bert.clone(), &config).embed(&rows);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "element {i}: {g} against Burn's {w}");
        }
    }
}

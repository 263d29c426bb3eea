//! The networks `dowse export` writes as ONNX graphs, with the inputs and outputs a Hugging Face
//! export has: BERT as a sentence encoder (`last_hidden_state` and the pooled, unit-length
//! `sentence_embedding`) or as a cross-encoder (`logits`, as `BertForSequenceClassification`),
//! and the static query encoder (its per-piece vectors mapped into the teacher's space as
//! `last_hidden_state`, whose masked mean is the same `sentence_embedding`).

use anyhow::Result;
use dowse_core::model::{BertConfig, StaticConfig};

use super::graph::{int, ints, value, Dim, Graph, Weights};
use super::proto::{data_type, ModelProto, ValueInfoProto};

/// What a BERT graph ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Token states and their pooled sentence embedding (bi-encoders, students, the teacher).
    Sentence,
    /// The pooler and classification head's logits (cross-encoders).
    Classifier,
}

const BATCH: Dim = Dim::Named("batch");
const SEQUENCE: Dim = Dim::Named("sequence");

fn token_input(name: &str) -> ValueInfoProto {
    value(name, data_type::INT64, &[BATCH, SEQUENCE])
}

/// The sentence-encoder outputs for `dim`-wide states.
fn sentence_outputs(dim: usize) -> Vec<ValueInfoProto> {
    vec![
        value("last_hidden_state", data_type::FLOAT, &[BATCH, SEQUENCE, Dim::Fixed(dim)]),
        value("sentence_embedding", data_type::FLOAT, &[BATCH, Dim::Fixed(dim)]),
    ]
}

/// A BERT checkpoint's graph. Tensors are read with Hugging Face's names, with or without the
/// `bert.` prefix that `BertFor...` checkpoints (cross-encoders) put on the encoder's.
pub fn bert(weights: &Weights, config: &BertConfig, head: Head, int8: bool) -> Result<ModelProto> {
    let prefix = if weights.floats.tensor("bert.embeddings.word_embeddings.weight").is_ok() { "bert." } else { "" };
    let eps = config.layer_norm_eps;
    let mut g = Graph::new(int8);

    let mask = g.op("Cast", &["attention_mask"], vec![int("to", data_type::FLOAT as i64)]);
    let states = embeddings(&mut g, weights, prefix, eps)?;
    let bias = attention_bias(&mut g, &mask);
    let states = (0..config.num_hidden_layers).try_fold(states, |states, layer| {
        encoder_layer(&mut g, weights, &format!("{prefix}encoder.layer.{layer}"), config, &states, &bias)
    })?;

    let (inputs, outputs) = (
        vec![token_input("input_ids"), token_input("attention_mask"), token_input("token_type_ids")],
        match head {
            Head::Sentence => {
                let pooled = g.mean_unit(&states, &mask);
                g.output(&states, "last_hidden_state");
                g.output(&pooled, "sentence_embedding");
                sentence_outputs(config.hidden_size)
            }
            Head::Classifier => {
                let first = g.int64s("first_token", &[], &[0]);
                let cls = g.op("Gather", &[&states, &first], vec![int("axis", 1)]);
                let pooled = g.linear(weights, &format!("{prefix}pooler.dense"), &cls)?;
                let pooled = g.op("Tanh", &[&pooled], Vec::new());
                let logits = g.linear(weights, "classifier", &pooled)?;
                g.output(&logits, "logits");
                vec![value("logits", data_type::FLOAT, &[BATCH, Dim::Fixed(config.id2label.len().max(1))])]
            }
        },
    );
    Ok(g.finish("bert", inputs, outputs))
}

/// Word + position + token-type embeddings, layer-normed: `[batch, sequence, hidden]`.
fn embeddings(g: &mut Graph, weights: &Weights, prefix: &str, eps: f64) -> Result<String> {
    let name = format!("{prefix}embeddings");
    let words = g.matrix(weights, &format!("{name}.word_embeddings.weight"))?;
    let positions = g.matrix(weights, &format!("{name}.position_embeddings.weight"))?;
    let types = g.matrix(weights, &format!("{name}.token_type_embeddings.weight"))?;
    let words = g.op("Gather", &[&words, "input_ids"], Vec::new());
    let types = g.op("Gather", &[&types, "token_type_ids"], Vec::new());
    let shape = g.op("Shape", &["input_ids"], Vec::new());
    let one = g.int64s("one", &[], &[1]);
    let zero = g.int64s("zero", &[], &[0]);
    let length = g.op("Gather", &[&shape, &one], Vec::new());
    let ids = g.op("Range", &[&zero, &length, &one], Vec::new());
    let positions = g.op("Gather", &[&positions, &ids], Vec::new());
    let sum = g.op("Add", &[&words, &types], Vec::new());
    let sum = g.op("Add", &[&sum, &positions], Vec::new());
    g.layer_norm(weights, &format!("{name}.LayerNorm"), &sum, eps)
}

/// What padding adds to attention scores: 0 where the mask is 1, a large negative where it is 0;
/// `[batch, 1, 1, sequence]`.
fn attention_bias(g: &mut Graph, mask: &str) -> String {
    let one = g.floats("one_float", &[], &[1.0]);
    let negative = g.floats("masked_score", &[], &[-1e9]);
    let axes = g.int64s("axes_heads_queries", &[2], &[1, 2]);
    let padding = g.op("Sub", &[&one, mask], Vec::new());
    let bias = g.op("Mul", &[&padding, &negative], Vec::new());
    g.op("Unsqueeze", &[&bias, &axes], Vec::new())
}

/// One transformer layer `name`: self-attention and the feed-forward block, each with its
/// residual and layer norm (post-norm, as BERT).
fn encoder_layer(g: &mut Graph, weights: &Weights, name: &str, config: &BertConfig, x: &str, bias: &str) -> Result<String> {
    let heads = config.num_attention_heads;
    let head_dim = config.hidden_size / heads;
    let split = g.int64s(&format!("split_heads_{heads}"), &[4], &[0, 0, heads as i64, head_dim as i64]);
    let merge = g.int64s(&format!("merge_heads_{}", config.hidden_size), &[3], &[0, 0, config.hidden_size as i64]);
    let scale = g.floats(&format!("score_scale_{head_dim}"), &[], &[1.0 / (head_dim as f32).sqrt()]);

    let project = |g: &mut Graph, which: &str, perm: &[i64]| -> Result<String> {
        let projected = g.linear(weights, &format!("{name}.attention.self.{which}"), x)?;
        let split = g.op("Reshape", &[&projected, &split], Vec::new());
        Ok(g.op("Transpose", &[&split], vec![ints("perm", perm)]))
    };
    let query = project(g, "query", &[0, 2, 1, 3])?;
    let key = project(g, "key", &[0, 2, 3, 1])?;
    let value = project(g, "value", &[0, 2, 1, 3])?;
    let scores = g.op("MatMul", &[&query, &key], Vec::new());
    let scores = g.op("Mul", &[&scores, &scale], Vec::new());
    let scores = g.op("Add", &[&scores, bias], Vec::new());
    let weights_of_values = g.op("Softmax", &[&scores], vec![int("axis", -1)]);
    let context = g.op("MatMul", &[&weights_of_values, &value], Vec::new());
    let context = g.op("Transpose", &[&context], vec![ints("perm", &[0, 2, 1, 3])]);
    let context = g.op("Reshape", &[&context, &merge], Vec::new());

    let attended = g.linear(weights, &format!("{name}.attention.output.dense"), &context)?;
    let attended = g.op("Add", &[&attended, x], Vec::new());
    let attended = g.layer_norm(weights, &format!("{name}.attention.output.LayerNorm"), &attended, config.layer_norm_eps)?;

    let inner = g.linear(weights, &format!("{name}.intermediate.dense"), &attended)?;
    let inner = gelu(g, &inner);
    let out = g.linear(weights, &format!("{name}.output.dense"), &inner)?;
    let out = g.op("Add", &[&out, &attended], Vec::new());
    g.layer_norm(weights, &format!("{name}.output.LayerNorm"), &out, config.layer_norm_eps)
}

/// Exact GELU, `x * (1 + erf(x / sqrt 2)) / 2`, as BERT's `"gelu"`.
fn gelu(g: &mut Graph, x: &str) -> String {
    let root_two = g.floats("sqrt_2", &[], &[std::f32::consts::SQRT_2]);
    let one = g.floats("one_float", &[], &[1.0]);
    let half = g.floats("half", &[], &[0.5]);
    let scaled = g.op("Div", &[x, &root_two], Vec::new());
    let erf = g.op("Erf", &[&scaled], Vec::new());
    let erf = g.op("Add", &[&erf, &one], Vec::new());
    let product = g.op("Mul", &[x, &erf], Vec::new());
    g.op("Mul", &[&product, &half], Vec::new())
}

/// The static encoder's graph: each piece's vector (`pieces.weight`) mapped by `projection.weight`
/// as its token state, then the masked mean at unit length. dowse's own path takes the mean first
/// and maps it after; the map is linear, so the two agree.
pub fn static_encoder(weights: &Weights, config: &StaticConfig, int8: bool) -> Result<ModelProto> {
    let mut g = Graph::new(int8);
    let mask = g.op("Cast", &["attention_mask"], vec![int("to", data_type::FLOAT as i64)]);
    let table = g.matrix(weights, "pieces.weight")?;
    let map = g.matrix(weights, "projection.weight")?;
    let pieces = g.op("Gather", &[&table, "input_ids"], Vec::new());
    let states = g.op("MatMul", &[&pieces, &map], Vec::new());
    let pooled = g.mean_unit(&states, &mask);
    g.output(&states, "last_hidden_state");
    g.output(&pooled, "sentence_embedding");
    Ok(g.finish("static", vec![token_input("input_ids"), token_input("attention_mask")], sentence_outputs(config.dim)))
}

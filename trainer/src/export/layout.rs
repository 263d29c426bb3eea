//! What a model folder holds for other tools beside dowse's three files: the sentence-transformers
//! modules of a sentence encoder (a BERT's Transformer, mean Pooling, Normalize: how dowse pools;
//! a static encoder's StaticEmbedding, Dense, Normalize), and the `tokenizer_config.json` that
//! Transformers.js reads beside `tokenizer.json`. The ONNX graphs go in `onnx/` ([`ONNX_F32`],
//! [`ONNX_INT8`]), where Transformers.js looks for them.

use std::collections::HashMap;

use anyhow::{Context, Result};
use dowse_core::model::{BertConfig, EncoderConfig, StaticConfig, WordPieces};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use serde_json::{json, Value};

use super::graph::{transpose, Weights};

/// The f32 graph, where Transformers.js loads it from (`dtype: "fp32"`).
pub const ONNX_F32: &str = "onnx/model.onnx";
/// The int8 graph, where Transformers.js loads it from (`dtype: "q8"`, its default on WASM).
pub const ONNX_INT8: &str = "onnx/model_quantized.onnx";

/// The files beside a BERT sentence encoder's own three that make its folder load in
/// `SentenceTransformer(dir)` (mean pooling over the attention mask, then unit length, at dowse's
/// own maximum length) and in Transformers.js (its `tokenizer_config.json`). Every BERT sentence
/// encoder dowse writes carries them: `dowse train`, `dowse distill` and `dowse export`.
pub fn sentence_encoder(config: &BertConfig) -> Vec<(String, Vec<u8>)> {
    let modules = json!([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]);
    let max_seq_length = bert_max_len(config);
    let pooling = json!({
        "word_embedding_dimension": config.hidden_size,
        "pooling_mode_cls_token": false,
        "pooling_mode_mean_tokens": true,
        "pooling_mode_max_tokens": false,
        "pooling_mode_mean_sqrt_len_tokens": false,
    });
    vec![
        ("modules.json".into(), pretty(&modules)),
        ("sentence_bert_config.json".into(), pretty(&json!({"max_seq_length": max_seq_length, "do_lower_case": false}))),
        ("1_Pooling/config.json".into(), pretty(&pooling)),
        tokenizer_config(max_seq_length),
    ]
}

/// The sentence-transformers modules of a static encoder, written by `dowse export`: its piece
/// table as a `StaticEmbedding` (`0_StaticEmbedding/`), its map as a `Dense` without bias or
/// activation (`1_Dense/`), then `Normalize`. `StaticEmbedding` averages a text's pieces without
/// special tokens, where dowse's mean holds them too (`[CLS]` and `[SEP]` of a BERT tokenizer); so
/// the folder's default prompt is the first special token, whose table row carries the rows of
/// all of them (the mean's scale is gone after `Normalize`), and its tokenizer cuts a text where
/// dowse does. The weights are a second copy, in the layout sentence-transformers reads, which is
/// why trained static folders do not carry them and export writes them.
pub fn static_encoder(config: &StaticConfig, weights: &Weights, tokenizer: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let (_, mut table) = weights.floats("pieces.weight")?;
    let (_, map) = weights.floats("projection.weight")?;
    let specials = WordPieces::for_table(tokenizer, config.max_len, config.vocab_size)?.encode(&[""])?.remove(0).ids;
    let mut tokenizer: Value = serde_json::from_slice(tokenizer).context("tokenizer.json")?;
    let mut prompts = json!({});
    if let Some((&first, rest)) = specials.split_first() {
        let first = first as usize * config.embed_dim;
        for &other in rest {
            let other = other as usize * config.embed_dim;
            for i in 0..config.embed_dim {
                table[first + i] += table[other + i];
            }
        }
        let content = special_content(&tokenizer, specials[0])?;
        prompts = json!({"query": format!("{content} "), "document": format!("{content} ")});
    }
    let pieces = config.max_len - specials.len() + usize::from(!specials.is_empty());
    tokenizer["truncation"] = json!({"direction": "Right", "max_length": pieces, "strategy": "LongestFirst", "stride": 0});
    tokenizer["padding"] = Value::Null;
    let modules = json!([
        {"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]);
    let dense = json!({
        "in_features": config.embed_dim,
        "out_features": config.dim,
        "bias": false,
        "activation_function": "torch.nn.modules.linear.Identity",
    });
    let default_prompt = if specials.is_empty() { Value::Null } else { json!("query") };
    let settings = json!({"prompts": prompts, "default_prompt_name": default_prompt, "similarity_fn_name": "cosine"});
    Ok(vec![
        ("modules.json".into(), pretty(&modules)),
        ("config_sentence_transformers.json".into(), pretty(&settings)),
        ("0_StaticEmbedding/model.safetensors".into(), f32_tensor("embedding.weight", &table, [config.vocab_size, config.embed_dim])?),
        ("0_StaticEmbedding/tokenizer.json".into(), serde_json::to_vec(&tokenizer)?),
        ("1_Dense/config.json".into(), pretty(&dense)),
        (
            "1_Dense/model.safetensors".into(),
            f32_tensor("linear.weight", &transpose(&map, config.embed_dim, config.dim), [config.dim, config.embed_dim])?,
        ),
    ])
}

/// The text of the added token `id` in a `tokenizer.json`.
fn special_content(tokenizer: &Value, id: u32) -> Result<String> {
    let added = tokenizer["added_tokens"].as_array().into_iter().flatten();
    let token = added.into_iter().find(|t| t["id"] == id).with_context(|| format!("tokenizer.json: token {id} is no added token"))?;
    token["content"].as_str().map(str::to_string).with_context(|| format!("tokenizer.json: added token {id} has no content"))
}

/// One f32 tensor as a safetensors file.
fn f32_tensor(name: &str, values: &[f32], shape: [usize; 2]) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, shape.to_vec(), &bytes)?;
    Ok(safetensors::serialize([(name, view)], None::<HashMap<String, String>>)?)
}

/// The tokens dowse reads of a text with a BERT of `config`: its default length, or fewer where
/// the model's positions end sooner.
pub fn bert_max_len(config: &BertConfig) -> usize {
    EncoderConfig::default().max_len.min(config.max_position_embeddings)
}

/// `tokenizer_config.json` for a word-piece `tokenizer.json` cut at `max_len` tokens: the class
/// and length Transformers.js reads (the vocabulary, normalizer and special tokens stay in
/// `tokenizer.json`).
pub fn tokenizer_config(max_len: usize) -> (String, Vec<u8>) {
    let config = json!({
        "tokenizer_class": "BertTokenizer",
        "model_max_length": max_len,
        "clean_up_tokenization_spaces": true,
    });
    ("tokenizer_config.json".into(), pretty(&config))
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("a JSON value serializes")
}

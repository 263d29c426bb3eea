//! What a model folder holds for other tools beside dowse's three files: the sentence-transformers
//! modules of a sentence encoder (Transformer, mean Pooling, Normalize: how dowse pools), and the
//! `tokenizer_config.json` that Transformers.js reads beside `tokenizer.json`. The ONNX graphs
//! go in `onnx/` ([`ONNX_F32`], [`ONNX_INT8`]), where Transformers.js looks for them.

use dowse_core::model::{BertConfig, EncoderConfig};
use serde_json::json;

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

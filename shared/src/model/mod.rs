//! The models: the BERT text encoder (configuration, the network in Burn and on dowse's own CPU
//! kernels, weight loading, tokenization, the encoder that turns texts into unit-length vectors),
//! the cross-encoder that scores pairs, the DSSM with its letter-trigram vocabulary, the two-tower LSTM, the static query encoder, and
//! [`Encoder`], any of them; weights in f32 or int8 safetensors. With the `tokenizer` feature
//! alone, tokenization and the static encoder's forward pass ([`StaticVectors`]) build without
//! Burn; with neither only [`TextMeasure`] and [`ModelError`] remain: a keyword-only build needs
//! no network.

mod error;
mod measure;

pub use error::ModelError;
pub use measure::{TextMeasure, WordSpan};

/// The `model_type` in a static encoder's `config.json` ([`StaticConfig`] with the `tokenizer`
/// feature): how a client without that feature tells which encoder worker a bundle needs.
pub const STATIC_MODEL_TYPE: &str = "dowse-static";

/// Compiles each item only with the `tokenizer` feature: tokenization and the static encoder's
/// forward pass, in plain Rust.
macro_rules! with_tokenizer {
    ($($item:item)*) => { $(#[cfg(feature = "tokenizer")] $item)* };
}

/// Compiles each item only with the `encoders` feature: everything that runs or loads a network
/// (Burn, gemm).
macro_rules! with_encoders {
    ($($item:item)*) => { $(#[cfg(feature = "encoders")] $item)* };
}

with_tokenizer! {
    mod bert_normalize;
    mod config;
    mod files;
    mod int8;
    mod static_vectors;
    mod tokenizer;
    mod word_pieces;

    pub use config::BertConfig;
    pub use files::ModelFiles;
    pub use int8::{dequantize_int8, int8_matrix, quantize_int8, read_metadata, read_tensor};
    pub use static_vectors::{PieceFragments, StaticConfig, StaticVectors, PIECES_PER_SHARD};
    pub use tokenizer::{Encoded, TextTokenizer};
    pub use word_pieces::WordPieces;
}

with_encoders! {
    mod batch;
    mod bert;
    mod cpu;
    mod cross_encoder;
    mod dssm;
    mod dsi;
    mod encoder;
    mod encoders;
    mod load;
    mod lora;
    mod lstm;
    mod pooling;
    mod static_encoder;
    mod trigram;

    pub use batch::{pad_batch, padded_length, LENGTH_STEP};
    pub use bert::Bert;
    pub use cpu::{CpuBert, CpuCrossEncoder};
    pub use cross_encoder::{CrossEncoder, CrossEncoderModel};
    pub use dsi::{Dsi, DsiConfig};
    pub use dssm::{feature_batch, Dssm, DssmConfig, DssmEncoder, Tower};
    pub use encoder::{EncoderConfig, TextEncoder};
    pub use encoders::{Encoder, EncoderKind, QueryTokens, Side};
    pub use load::{
        cross_encoder_from_bert, load_bert, load_cross_encoder, load_weights, save_bert, save_cross_encoder, save_weights,
    };
    pub use lora::{Lora, LoraConfig, LoraTarget};
    pub use lstm::{LstmEncoder, LstmTower, TwoTowerConfig, TwoTowerLstm};
    pub use static_encoder::{StaticEncoder, StaticModel};
    pub use trigram::{Features, TrigramVocab};
}

//! The models: the BERT text encoder (configuration, the network in Burn and on dowse's own CPU
//! kernels, weight loading, tokenization, the encoder that turns texts into unit-length vectors),
//! the cross-encoder that scores pairs, the DSSM with its letter-trigram vocabulary, the two-tower LSTM, the static query encoder, and
//! [`Encoder`], any of them; weights in f32 or int8 safetensors. Without the `encoders` feature
//! only [`TextMeasure`] and [`ModelError`] remain: a keyword-only build needs no network.

mod error;
mod measure;

pub use error::ModelError;
pub use measure::{TextMeasure, WordSpan};

/// Compiles each item only with the `encoders` feature: everything that runs or loads a network
/// (Burn, tokenizers, gemm).
macro_rules! with_encoders {
    ($($item:item)*) => { $(#[cfg(feature = "encoders")] $item)* };
}

with_encoders! {
    mod batch;
    mod bert;
    mod config;
    mod cpu;
    mod cross_encoder;
    mod dssm;
    mod encoder;
    mod encoders;
    mod int8;
    mod load;
    mod lora;
    mod lstm;
    mod pooling;
    mod static_encoder;
    mod tokenizer;
    mod trigram;

    pub use batch::{pad_batch, padded_length, LENGTH_STEP};
    pub use bert::Bert;
    pub use config::BertConfig;
    pub use cpu::{CpuBert, CpuCrossEncoder};
    pub use cross_encoder::{CrossEncoder, CrossEncoderModel};
    pub use dssm::{feature_batch, Dssm, DssmConfig, DssmEncoder, Tower};
    pub use encoder::{EncoderConfig, TextEncoder};
    pub use encoders::{Encoder, EncoderKind, QueryTokens, Side};
    pub use int8::{dequantize_int8, quantize_int8, read_tensor};
    pub use load::{
        cross_encoder_from_bert, load_bert, load_cross_encoder, load_weights, save_bert, save_cross_encoder, save_weights, ModelFiles,
    };
    pub use lora::{Lora, LoraConfig, LoraTarget};
    pub use lstm::{LstmEncoder, LstmTower, TwoTowerConfig, TwoTowerLstm};
    pub use static_encoder::{StaticConfig, StaticEncoder, StaticModel};
    pub use tokenizer::{Encoded, TextTokenizer};
    pub use trigram::{Features, TrigramVocab};
}

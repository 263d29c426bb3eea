//! The models: the BERT text encoder (configuration, the network in Burn and on dowse's own CPU
//! kernels, weight loading, tokenization, the encoder that turns texts into unit-length vectors),
//! the cross-encoder that scores pairs, the DSSM with its letter-trigram vocabulary, the two-tower LSTM, the static query encoder, and
//! [`Encoder`], any of them; weights in f32 or int8 safetensors.

mod batch;
mod bert;
mod config;
mod cpu;
mod cross_encoder;
mod dssm;
mod encoder;
mod encoders;
mod error;
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
pub use error::ModelError;
pub use int8::{dequantize_int8, quantize_int8, read_tensor};
pub use load::{
    cross_encoder_from_bert, load_bert, load_cross_encoder, load_weights, save_bert, save_cross_encoder, save_weights, ModelFiles,
};
pub use lora::{Lora, LoraConfig, LoraTarget};
pub use lstm::{LstmEncoder, LstmTower, TwoTowerConfig, TwoTowerLstm};
pub use static_encoder::{StaticConfig, StaticEncoder, StaticModel};
pub use tokenizer::{Encoded, TextMeasure, TextTokenizer, WordSpan};
pub use trigram::{Features, TrigramVocab};

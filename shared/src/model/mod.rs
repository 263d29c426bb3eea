//! The BERT text encoder: configuration, the network in Burn, weight loading, tokenization,
//! and the encoder that turns texts into unit-length vectors.

mod bert;
mod config;
mod encoder;
mod error;
mod load;
mod tokenizer;

pub use bert::Bert;
pub use config::BertConfig;
pub use encoder::{EncoderConfig, TextEncoder};
pub use error::ModelError;
pub use load::{load_bert, ModelFiles};
pub use tokenizer::{Encoded, TextTokenizer, WordSpan};

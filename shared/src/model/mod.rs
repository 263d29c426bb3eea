//! The BERT text encoder: configuration, the network in Burn, weight loading, tokenization,
//! the encoder that turns texts into unit-length vectors, and the cross-encoder that scores pairs.

mod batch;
mod bert;
mod config;
mod cross_encoder;
mod encoder;
mod error;
mod load;
mod tokenizer;

pub use batch::pad_batch;
pub use bert::Bert;
pub use config::BertConfig;
pub use cross_encoder::{CrossEncoder, CrossEncoderModel};
pub use encoder::{EncoderConfig, TextEncoder};
pub use error::ModelError;
pub use load::{load_bert, load_cross_encoder, ModelFiles};
pub use tokenizer::{Encoded, TextTokenizer, WordSpan};

//! What can go wrong while loading or running a model.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("config.json: {0}")]
    Config(String),
    #[error("model.safetensors: {0}")]
    Weights(String),
    #[error("tokenizer.json: {0}")]
    Tokenizer(String),
    #[error("reading the encoder's output: {0}")]
    Read(String),
}

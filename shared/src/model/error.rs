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
    /// A DSSM's letter-trigram vocabulary; the message names the file and line.
    #[error("{0}")]
    Vocab(String),
    #[error("reading the encoder's output: {0}")]
    Read(String),
}

//! Every model that turns queries and passages into vectors, behind one enum: BERT bi-encoders
//! (one network for both sides) and DSSMs (a tower per side). `config.json`'s `model_type` picks.

use burn::tensor::backend::Backend;
use serde::Deserialize;

use super::dssm::{DssmConfig, DssmEncoder};
use super::load::ModelFiles;
use super::{EncoderConfig, ModelError, TextEncoder};

/// Which side of a search a text is on; two-tower models encode each with its own tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Query,
    Passage,
}

/// A loaded encoder of any kind.
pub enum Encoder<B: Backend> {
    Bert(Box<TextEncoder<B>>),
    Dssm(Box<DssmEncoder<B>>),
}

impl<B: Backend> Encoder<B> {
    /// Loads a model folder's files; `config.max_len` applies to BERT, `batch_size` to both.
    pub fn load(files: ModelFiles, config: EncoderConfig, device: &B::Device) -> Result<Self, ModelError> {
        #[derive(Deserialize)]
        struct Kind {
            model_type: Option<String>,
        }
        let kind: Kind = serde_json::from_slice(files.config).map_err(|e| ModelError::Config(e.to_string()))?;
        match kind.model_type.as_deref() {
            Some(DssmConfig::MODEL_TYPE) => Ok(Self::Dssm(Box::new(DssmEncoder::load(files, config.batch_size, device)?))),
            _ => Ok(Self::Bert(Box::new(TextEncoder::load(files, config, device)?))),
        }
    }

    /// Length of the vectors this encoder makes.
    pub fn dim(&self) -> usize {
        match self {
            Self::Bert(encoder) => encoder.dim(),
            Self::Dssm(encoder) => encoder.dim(),
        }
    }

    /// Encodes `texts` on `side` into a row-major `[texts.len(), dim]` matrix of unit vectors.
    pub fn encode(&self, texts: &[&str], side: Side, progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        match self {
            Self::Bert(encoder) => encoder.encode(texts, progress),
            Self::Dssm(encoder) => encoder.encode(texts, side, progress),
        }
    }
}

//! Every model that turns queries and passages into vectors, behind one enum: BERT bi-encoders
//! (one network for both sides), DSSMs and two-tower LSTMs (a tower per side). `config.json`'s
//! `model_type` picks.

use burn::tensor::backend::Backend;
use serde::Deserialize;

use super::dssm::{DssmConfig, DssmEncoder};
use super::load::ModelFiles;
use super::lstm::{LstmEncoder, TwoTowerConfig};
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
    Lstm(Box<LstmEncoder<B>>),
}

/// Which kind of encoder a `config.json` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderKind {
    Bert,
    Dssm,
    Lstm,
}

impl EncoderKind {
    /// Reads `model_type` from a `config.json`; anything but dowse's own types is a BERT.
    pub fn of(config: &[u8]) -> Result<Self, ModelError> {
        #[derive(Deserialize)]
        struct Kind {
            model_type: Option<String>,
        }
        let kind: Kind = serde_json::from_slice(config).map_err(|e| ModelError::Config(e.to_string()))?;
        Ok(match kind.model_type.as_deref() {
            Some(DssmConfig::MODEL_TYPE) => Self::Dssm,
            Some(TwoTowerConfig::MODEL_TYPE) => Self::Lstm,
            _ => Self::Bert,
        })
    }
}

impl<B: Backend> Encoder<B> {
    /// Loads a model folder's files; `config.max_len` applies to BERT, `batch_size` to all.
    pub fn load(files: ModelFiles, config: EncoderConfig, device: &B::Device) -> Result<Self, ModelError> {
        Ok(match EncoderKind::of(files.config)? {
            EncoderKind::Dssm => Self::Dssm(Box::new(DssmEncoder::load(files, config.batch_size, device)?)),
            EncoderKind::Lstm => Self::Lstm(Box::new(LstmEncoder::load(files, config.batch_size, device)?)),
            EncoderKind::Bert => Self::Bert(Box::new(TextEncoder::load(files, config, device)?)),
        })
    }

    /// Length of the vectors this encoder makes.
    pub fn dim(&self) -> usize {
        match self {
            Self::Bert(encoder) => encoder.dim(),
            Self::Dssm(encoder) => encoder.dim(),
            Self::Lstm(encoder) => encoder.dim(),
        }
    }

    /// Encodes `texts` on `side` into a row-major `[texts.len(), dim]` matrix of unit vectors.
    pub fn encode(&self, texts: &[&str], side: Side, progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        match self {
            Self::Bert(encoder) => encoder.encode(texts, progress),
            Self::Dssm(encoder) => encoder.encode(texts, side, progress),
            Self::Lstm(encoder) => encoder.encode(texts, side, progress),
        }
    }
}

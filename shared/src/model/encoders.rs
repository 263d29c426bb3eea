//! Every model that turns queries and passages into vectors, behind one enum: BERT bi-encoders
//! (one network for both sides), DSSMs and two-tower LSTMs (a tower per side), and static
//! encoders (a query encoder aligned to a teacher's vectors). `config.json`'s `model_type` picks.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use serde::Deserialize;

use super::dssm::{DssmConfig, DssmEncoder};
use super::ModelFiles;
use super::lstm::{LstmEncoder, TwoTowerConfig};
use super::static_encoder::StaticEncoder;
use super::StaticConfig;
use super::trigram::Features;
use super::{Encoded, EncoderConfig, ModelError, TextEncoder};

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
    Static(Box<StaticEncoder<B>>),
}

/// A query as its encoder reads it: word pieces (BERT, LSTM, static) or letter-trigram features (DSSM).
pub enum QueryTokens {
    Pieces(Encoded),
    Trigrams(Features),
}

impl QueryTokens {
    /// Word pieces (special tokens included) or distinct trigrams read.
    pub fn len(&self) -> usize {
        match self {
            Self::Pieces(encoded) => encoded.ids.len(),
            Self::Trigrams(features) => features.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What [`QueryTokens::len`] counts, for people reading timings.
    pub fn unit(&self) -> &'static str {
        match self {
            Self::Pieces(_) => "tokens",
            Self::Trigrams(_) => "trigrams",
        }
    }
}

/// Which kind of encoder a `config.json` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderKind {
    Bert,
    Dssm,
    Lstm,
    Static,
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
            Some(StaticConfig::MODEL_TYPE) => Self::Static,
            _ => Self::Bert,
        })
    }

    /// Length of the vectors the model a `config.json` describes makes.
    pub fn dim_of(config: &[u8]) -> Result<usize, ModelError> {
        Ok(match Self::of(config)? {
            Self::Bert => super::BertConfig::from_json(config)?.hidden_size,
            Self::Dssm => DssmConfig::from_json(config)?.dim,
            Self::Lstm => TwoTowerConfig::from_json(config)?.dim,
            Self::Static => StaticConfig::from_json(config)?.dim,
        })
    }
}

impl<B: Backend> Encoder<B> {
    /// Loads a model folder's files; `config.max_len` applies to BERT, `batch_size` to all but
    /// static encoders (which read their own `max_len` and need no batches).
    pub fn load(files: ModelFiles, config: EncoderConfig, device: &B::Device) -> Result<Self, ModelError> {
        Ok(match EncoderKind::of(files.config)? {
            EncoderKind::Dssm => Self::Dssm(Box::new(DssmEncoder::load(files, config.batch_size, device)?)),
            EncoderKind::Lstm => Self::Lstm(Box::new(LstmEncoder::load(files, config.batch_size, device)?)),
            EncoderKind::Bert => Self::Bert(Box::new(TextEncoder::load(files, config, device)?)),
            EncoderKind::Static => Self::Static(Box::new(StaticEncoder::load(files, device)?)),
        })
    }

    /// Length of the vectors this encoder makes.
    pub fn dim(&self) -> usize {
        match self {
            Self::Bert(encoder) => encoder.dim(),
            Self::Dssm(encoder) => encoder.dim(),
            Self::Lstm(encoder) => encoder.dim(),
            Self::Static(encoder) => encoder.vectors().dim(),
        }
    }

    /// Encodes `texts` on `side` into a row-major `[texts.len(), dim]` matrix of unit vectors.
    pub fn encode(&self, texts: &[&str], side: Side, progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        match self {
            Self::Bert(encoder) => encoder.encode(texts, progress),
            Self::Dssm(encoder) => encoder.encode(texts, side, progress),
            Self::Lstm(encoder) => encoder.encode(texts, side, progress),
            Self::Static(encoder) => encoder.vectors().encode(texts, progress),
        }
    }

    /// Reads a query into what the query side takes; [`Encoder::embed_query`] runs the network.
    /// Two steps, so that a caller can time them apart.
    pub fn tokenize_query(&self, query: &str) -> Result<QueryTokens, ModelError> {
        Ok(match self {
            Self::Bert(encoder) => QueryTokens::Pieces(single(encoder.tokenizer().encode(&[query])?)),
            Self::Lstm(encoder) => QueryTokens::Pieces(single(encoder.tokenizer().encode(&[query])?)),
            Self::Static(encoder) => QueryTokens::Pieces(single(encoder.vectors().tokenizer().encode(&[query])?)),
            Self::Dssm(encoder) => QueryTokens::Trigrams(encoder.features(query)),
        })
    }

    /// The query's `[1, dim]` unit vector, left on the device: a browser reads it back asynchronously.
    pub fn embed_query(&self, tokens: &QueryTokens) -> Result<Tensor<B, 2>, ModelError> {
        match (self, tokens) {
            (Self::Bert(encoder), QueryTokens::Pieces(pieces)) => Ok(encoder.embed(&[pieces])),
            (Self::Lstm(encoder), QueryTokens::Pieces(pieces)) => Ok(encoder.embed(&[pieces], Side::Query)),
            (Self::Static(encoder), QueryTokens::Pieces(pieces)) => Ok(encoder.embed(&[pieces])),
            (Self::Dssm(encoder), QueryTokens::Trigrams(features)) => Ok(encoder.embed(&[features], Side::Query)),
            _ => Err(ModelError::Config("query tokens from another kind of encoder".into())),
        }
    }
}

fn single(mut encoded: Vec<Encoded>) -> Encoded {
    encoded.pop().expect("one text tokenizes to one row")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::model::{save_weights, Dssm, DssmConfig, TrigramVocab};

    #[test]
    fn a_query_tokenized_then_embedded_is_the_query_towers_vector() {
        let device = FlexDevice;
        let vocab = TrigramVocab::build(["protein folding in cells"], 100, 1, 50);
        let config = DssmConfig { model_type: "dssm".into(), num_features: vocab.num_features(), hidden_size: 16, dim: 8, max_words: 50 };
        let files =
            (serde_json::to_vec(&config).unwrap(), save_weights(&Dssm::<Flex>::new(&config, &device)).unwrap(), vocab.to_bytes());
        let files = ModelFiles { config: &files.0, weights: &files.1, tokenizer: &files.2 };
        let encoder = Encoder::<Flex>::load(files, EncoderConfig::default(), &device).unwrap();
        let tokens = encoder.tokenize_query("folding proteins").unwrap();
        assert!(matches!(&tokens, QueryTokens::Trigrams(_)) && !tokens.is_empty());
        let vector = encoder.embed_query(&tokens).unwrap().into_data().to_vec::<f32>().unwrap();
        assert_eq!(vector, encoder.encode(&["folding proteins"], Side::Query, |_| {}).unwrap());
        let pieces = QueryTokens::Pieces(Encoded { ids: vec![1, 2], type_ids: vec![0, 0] });
        assert!(encoder.embed_query(&pieces).is_err(), "a DSSM cannot read word pieces");
    }
}

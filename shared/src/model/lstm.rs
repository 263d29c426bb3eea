//! The two-tower LSTM: word-piece embeddings shared by both towers (optionally MiniLM's), an
//! LSTM per tower read left to right, the mean of its outputs over the real tokens, a linear
//! projection to unit length. The configuration (`config.json` with `"model_type":
//! "two-tower-lstm"`), the network in Burn, and the encoder; the tokenizer is a `tokenizer.json`.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::encoder::{encode_by_length, read_matrix};
use super::load::load_weights;
use super::ModelFiles;
use super::pooling::{masked_mean, unit_rows};
use super::{pad_batch, Encoded, ModelError, Side, TextTokenizer};

/// The shape of a two-tower LSTM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoTowerConfig {
    /// Always "two-tower-lstm".
    pub model_type: String,
    /// Rows of the word-piece embedding: the tokenizer's vocabulary.
    pub vocab_size: usize,
    pub embedding_size: usize,
    pub hidden_size: usize,
    /// Length of the output vectors.
    pub dim: usize,
    /// Word pieces read per text, special tokens included.
    pub max_len: usize,
}

impl TwoTowerConfig {
    pub const MODEL_TYPE: &'static str = "two-tower-lstm";

    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| ModelError::Config(e.to_string()))?;
        if config.model_type != Self::MODEL_TYPE {
            return Err(ModelError::Config(format!("model_type is {:?}, not {:?}", config.model_type, Self::MODEL_TYPE)));
        }
        if [config.vocab_size, config.embedding_size, config.hidden_size, config.dim, config.max_len].contains(&0) {
            return Err(ModelError::Config("vocab_size, embedding_size, hidden_size, dim and max_len must be above 0".into()));
        }
        Ok(config)
    }
}

/// One tower: an LSTM over the embedded pieces, mean-pooled, projected, unit length.
#[derive(Module, Debug)]
pub struct LstmTower<B: Backend> {
    lstm: Lstm<B>,
    output: Linear<B>,
}

impl<B: Backend> LstmTower<B> {
    fn new(config: &TwoTowerConfig, device: &B::Device) -> Self {
        Self {
            lstm: LstmConfig::new(config.embedding_size, config.hidden_size, true).init(device),
            output: LinearConfig::new(config.hidden_size, config.dim).init(device),
        }
    }

    /// `[batch, seq, embedding]` pieces and their `[batch, seq]` 1/0 mask -> `[batch, dim]` unit vectors.
    pub fn forward(&self, embedded: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let (states, _) = self.lstm.forward(embedded, None);
        unit_rows(self.output.forward(masked_mean(states, mask)))
    }
}

/// The shared embedding and the two towers.
#[derive(Module, Debug)]
pub struct TwoTowerLstm<B: Backend> {
    embedding: Embedding<B>,
    query: LstmTower<B>,
    passage: LstmTower<B>,
}

impl<B: Backend> TwoTowerLstm<B> {
    /// A freshly initialised model (Burn's backend seed decides the weights).
    pub fn new(config: &TwoTowerConfig, device: &B::Device) -> Self {
        Self {
            embedding: EmbeddingConfig::new(config.vocab_size, config.embedding_size).init(device),
            query: LstmTower::new(config, device),
            passage: LstmTower::new(config, device),
        }
    }

    /// Replaces the word-piece embedding, e.g. with a BERT's `[vocab_size, embedding_size]` one.
    pub fn with_word_embeddings(mut self, weights: Tensor<B, 2>) -> Result<Self, ModelError> {
        let expected = self.embedding.weight.dims();
        if weights.dims() != expected {
            return Err(ModelError::Weights(format!("word embeddings are {:?}, the model needs {expected:?}", weights.dims())));
        }
        self.embedding.weight = Param::from_tensor(weights);
        Ok(self)
    }

    /// Token ids `[batch, seq]` and their mask -> `[batch, dim]` unit vectors from `side`'s tower.
    pub fn embed(&self, side: Side, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let tower = match side {
            Side::Query => &self.query,
            Side::Passage => &self.passage,
        };
        tower.forward(self.embedding.forward(ids), mask)
    }
}

/// A loaded two-tower LSTM with its tokenizer: texts in, unit vectors out.
pub struct LstmEncoder<B: Backend> {
    model: TwoTowerLstm<B>,
    tokenizer: TextTokenizer,
    config: TwoTowerConfig,
    batch_size: usize,
    device: B::Device,
}

impl<B: Backend> LstmEncoder<B> {
    /// Loads a two-tower LSTM folder: `config.json`, `model.safetensors`, `tokenizer.json`.
    pub fn load(files: ModelFiles, batch_size: usize, device: &B::Device) -> Result<Self, ModelError> {
        let config = TwoTowerConfig::from_json(files.config)?;
        let tokenizer = TextTokenizer::for_table(files.tokenizer, config.max_len, config.vocab_size, None)?;
        let mut model = TwoTowerLstm::new(&config, device);
        load_weights(&mut model, files.weights)?;
        Ok(Self::new(model, tokenizer, config, batch_size, device))
    }

    pub fn new(model: TwoTowerLstm<B>, tokenizer: TextTokenizer, config: TwoTowerConfig, batch_size: usize, device: &B::Device) -> Self {
        Self { model, tokenizer, config, batch_size: batch_size.max(1), device: device.clone() }
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Unit vectors `[rows, dim]` from `side`'s tower for tokenized texts, left on the device.
    pub fn embed(&self, rows: &[&Encoded], side: Side) -> Tensor<B, 2> {
        let (ids, _, mask) = pad_batch::<B>(rows, self.tokenizer.max_len(), &self.device);
        self.model.embed(side, ids, mask)
    }

    /// Encodes `texts` with `side`'s tower into a row-major `[texts.len(), dim]` matrix of unit vectors.
    pub fn encode(&self, texts: &[&str], side: Side, progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        encode_by_length(&self.tokenizer.encode(texts)?, self.batch_size, self.dim(), |rows| read_matrix(self.embed(rows, side)), progress)
    }
}

//! DSSM (Huang et al., 2013): a text's letter-trigram bag through an MLP tower, one tower for
//! queries and one for passages, compared by cosine. The configuration (`config.json` with
//! `"model_type": "dssm"`), the network in Burn, and the encoder that turns texts into unit vectors.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::batch::padded_length;
use super::load::load_weights;
use super::ModelFiles;
use super::pooling::unit_rows;
use super::trigram::{Features, TrigramVocab};
use super::{ModelError, Side};

/// The shape of a DSSM and how much of a text it reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DssmConfig {
    /// Always "dssm": tells a DSSM folder from a BERT one.
    pub model_type: String,
    /// Rows of the first layer: the vocabulary's trigrams plus padding.
    pub num_features: usize,
    /// Width of the two hidden layers (300 in the paper).
    pub hidden_size: usize,
    /// Length of the output vectors (128 in the paper).
    pub dim: usize,
    /// Words of a text the towers read; the rest is ignored.
    pub max_words: usize,
}

impl DssmConfig {
    pub const MODEL_TYPE: &'static str = "dssm";

    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| ModelError::Config(e.to_string()))?;
        if config.model_type != Self::MODEL_TYPE {
            return Err(ModelError::Config(format!("model_type is {:?}, not {:?}", config.model_type, Self::MODEL_TYPE)));
        }
        if config.num_features < 2 || config.hidden_size == 0 || config.dim == 0 || config.max_words == 0 {
            return Err(ModelError::Config("num_features must be at least 2; hidden_size, dim and max_words above 0".into()));
        }
        Ok(config)
    }
}

/// One tower: the trigram bag (an embedding row per trigram, weighted by the bag), two tanh
/// layers, and a linear output normalised to unit length.
#[derive(Module, Debug)]
pub struct Tower<B: Backend> {
    bag: Embedding<B>,
    bag_bias: Param<Tensor<B, 1>>,
    hidden: Linear<B>,
    output: Linear<B>,
}

impl<B: Backend> Tower<B> {
    fn new(config: &DssmConfig, device: &B::Device) -> Self {
        let bound = (6.0 / (config.num_features + config.hidden_size) as f64).sqrt();
        Self {
            bag: EmbeddingConfig::new(config.num_features, config.hidden_size)
                .with_initializer(Initializer::Uniform { min: -bound, max: bound })
                .init(device),
            bag_bias: Param::from_tensor(Tensor::zeros([config.hidden_size], device)),
            hidden: LinearConfig::new(config.hidden_size, config.hidden_size).init(device),
            output: LinearConfig::new(config.hidden_size, config.dim).init(device),
        }
    }

    /// `[rows, features]` ids and weights (see [`feature_batch`]) -> `[rows, dim]` unit vectors.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, weights: Tensor<B, 2>) -> Tensor<B, 2> {
        let [rows, len] = ids.dims();
        let bag = (self.bag.forward(ids) * weights.reshape([rows, len, 1])).sum_dim(1).squeeze_dim::<2>(1);
        let x = (bag + self.bag_bias.val().unsqueeze::<2>()).tanh();
        let x = self.hidden.forward(x).tanh();
        unit_rows(self.output.forward(x))
    }
}

/// The two towers.
#[derive(Module, Debug)]
pub struct Dssm<B: Backend> {
    query: Tower<B>,
    passage: Tower<B>,
}

impl<B: Backend> Dssm<B> {
    /// A freshly initialised DSSM (Burn's backend seed decides the weights).
    pub fn new(config: &DssmConfig, device: &B::Device) -> Self {
        Self { query: Tower::new(config, device), passage: Tower::new(config, device) }
    }

    pub fn tower(&self, side: Side) -> &Tower<B> {
        match side {
            Side::Query => &self.query,
            Side::Passage => &self.passage,
        }
    }
}

/// Sparse feature rows as the `[rows, length]` id and weight tensors a tower reads, padded with
/// feature 0 at weight 0 to a multiple of [`LENGTH_STEP`](super::batch::LENGTH_STEP) (shapes a GPU
/// backend compiles kernels for; a text's feature count has no maximum).
pub fn feature_batch<B: Backend>(rows: &[&Features], device: &B::Device) -> (Tensor<B, 2, Int>, Tensor<B, 2>) {
    let len = padded_length(rows.iter().map(|r| r.len()).max().unwrap_or(0), usize::MAX);
    let mut ids = vec![0i64; rows.len() * len];
    let mut weights = vec![0f32; rows.len() * len];
    for (r, row) in rows.iter().enumerate() {
        for (t, &(id, weight)) in row.iter().enumerate() {
            ids[r * len + t] = i64::from(id);
            weights[r * len + t] = weight;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [rows.len(), len]), device),
        Tensor::from_data(TensorData::new(weights, [rows.len(), len]), device),
    )
}

/// A loaded DSSM with its vocabulary: texts in, unit vectors out.
pub struct DssmEncoder<B: Backend> {
    model: Dssm<B>,
    vocab: TrigramVocab,
    config: DssmConfig,
    batch_size: usize,
    device: B::Device,
}

impl<B: Backend> DssmEncoder<B> {
    /// Loads a DSSM folder's files: `config.json`, `model.safetensors` and, as the tokenizer, `vocab.txt`.
    pub fn load(files: ModelFiles, batch_size: usize, device: &B::Device) -> Result<Self, ModelError> {
        let config = DssmConfig::from_json(files.config)?;
        let vocab = TrigramVocab::from_bytes(files.tokenizer)?;
        if vocab.num_features() != config.num_features {
            return Err(ModelError::Vocab(format!(
                "vocab.txt: {} trigrams, but config.json says num_features {} (trigrams + 1)",
                vocab.num_features() - 1,
                config.num_features
            )));
        }
        let mut model = Dssm::new(&config, device);
        load_weights(&mut model, files.weights)?;
        Ok(Self::new(model, vocab, config, batch_size, device))
    }

    pub fn new(model: Dssm<B>, vocab: TrigramVocab, config: DssmConfig, batch_size: usize, device: &B::Device) -> Self {
        Self { model, vocab, config, batch_size: batch_size.max(1), device: device.clone() }
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// A text as the towers read it: the known trigrams of its first `max_words` words.
    pub fn features(&self, text: &str) -> Features {
        self.vocab.features(text, self.config.max_words)
    }

    /// Unit vectors `[rows, dim]` from `side`'s tower, left on the device.
    pub fn embed(&self, rows: &[&Features], side: Side) -> Tensor<B, 2> {
        let (ids, weights) = feature_batch::<B>(rows, &self.device);
        self.model.tower(side).forward(ids, weights)
    }

    /// Encodes `texts` with the `side` tower into a row-major `[texts.len(), dim]` matrix of unit
    /// vectors; `progress` hears how many are done after each batch.
    pub fn encode(&self, texts: &[&str], side: Side, mut progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        let mut out = Vec::with_capacity(texts.len() * self.dim());
        for batch in texts.chunks(self.batch_size) {
            let features: Vec<Features> = batch.iter().map(|t| self.features(t)).collect();
            let rows: Vec<&Features> = features.iter().collect();
            let vectors = self.embed(&rows, side).into_data().to_vec::<f32>().map_err(|e| ModelError::Read(format!("{e:?}")))?;
            out.extend(vectors);
            progress(out.len() / self.dim());
        }
        Ok(out)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::model::save_weights;

    #[test]
    fn saved_weights_load_and_encode_unit_vectors_per_tower() {
        let device = FlexDevice;
        let vocab = TrigramVocab::build(["protein folding in cells", "cell membranes and proteins"], 100, 1, 50);
        let config = DssmConfig { model_type: "dssm".into(), num_features: vocab.num_features(), hidden_size: 16, dim: 8, max_words: 50 };
        let model = Dssm::<Flex>::new(&config, &device);
        let files = (serde_json::to_vec(&config).unwrap(), save_weights(&model).unwrap(), vocab.to_bytes());
        let loaded =
            DssmEncoder::<Flex>::load(ModelFiles { config: &files.0, weights: &files.1, tokenizer: &files.2 }, 4, &device).unwrap();
        let fresh = DssmEncoder::new(model, vocab, config, 4, &device);
        let texts = ["protein cells", "membranes", "nothing known here: xyz"];
        for side in [Side::Query, Side::Passage] {
            let vectors = loaded.encode(&texts, side, |_| {}).unwrap();
            assert_eq!(vectors, fresh.encode(&texts, side, |_| {}).unwrap());
            for row in vectors.chunks_exact(8) {
                assert!((row.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
        let query = loaded.encode(&texts[..1], Side::Query, |_| {}).unwrap();
        assert_ne!(query, loaded.encode(&texts[..1], Side::Passage, |_| {}).unwrap(), "the towers differ");
    }

    #[test]
    fn a_vocabulary_of_another_size_is_refused() {
        let device = FlexDevice;
        let vocab = TrigramVocab::build(["abc"], 10, 1, 5);
        let config = DssmConfig { model_type: "dssm".into(), num_features: 10, hidden_size: 4, dim: 2, max_words: 5 };
        let weights = save_weights(&Dssm::<Flex>::new(&config, &device)).unwrap();
        let json = serde_json::to_vec(&config).unwrap();
        let error = DssmEncoder::<Flex>::load(ModelFiles { config: &json, weights: &weights, tokenizer: &vocab.to_bytes() }, 4, &device)
            .err()
            .unwrap();
        assert!(error.to_string().contains("num_features"), "{error}");
    }
}

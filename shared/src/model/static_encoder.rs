//! The static query encoder (Model2Vec / tokenlearn style): one learned vector per word piece,
//! averaged over a text's pieces and mapped by one linear layer into the teacher's vector space.
//! No transformer pass: a query costs a table lookup per piece and one small matrix product, so
//! it suits the browser's CPU path. A piece's weight in the mean is the length of its vector
//! (Model2Vec applies its weights the same way, folded into the table), so "one vector and one
//! weight per piece" is one table. `config.json` has `"model_type": "dowse-static"`; the
//! tokenizer is the teacher's `tokenizer.json`, possibly with a pruned vocabulary.
//!
//! The network lives in Burn for training ([`StaticModel`]); [`StaticEncoder`] reads its
//! weights into plain matrices and encodes on the CPU on every backend.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::encoder::read_matrix;
use super::int8::read_tensor;
use super::load::ModelFiles;
use super::pooling::{masked_mean, unit_rows};
use super::{pad_batch, Encoded, ModelError, TextTokenizer};

/// The shape of a static encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticConfig {
    /// Always "dowse-static": tells a static encoder's folder from a BERT's.
    pub model_type: String,
    /// Rows of the piece table: the tokenizer's word pieces.
    pub vocab_size: usize,
    /// Length of a piece's vector.
    pub embed_dim: usize,
    /// Length of the output vectors: the teacher's.
    pub dim: usize,
    /// Word pieces of a text read, special tokens included.
    pub max_len: usize,
}

impl StaticConfig {
    pub const MODEL_TYPE: &'static str = "dowse-static";

    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| ModelError::Config(e.to_string()))?;
        if config.model_type != Self::MODEL_TYPE {
            return Err(ModelError::Config(format!("model_type is {:?}, not {:?}", config.model_type, Self::MODEL_TYPE)));
        }
        if config.vocab_size == 0 || config.embed_dim == 0 || config.dim == 0 || config.max_len < 3 {
            return Err(ModelError::Config("vocab_size, embed_dim and dim must be above 0, max_len at least 3".into()));
        }
        Ok(config)
    }
}

/// The trainable network: the piece table and the linear map into the teacher's space.
#[derive(Module, Debug)]
pub struct StaticModel<B: Backend> {
    pieces: Embedding<B>,
    projection: Linear<B>,
}

impl<B: Backend> StaticModel<B> {
    /// A network with Burn's default initialisation (training starts from [`StaticModel::from_parts`]).
    pub fn new(config: &StaticConfig, device: &B::Device) -> Self {
        Self {
            pieces: EmbeddingConfig::new(config.vocab_size, config.embed_dim).init(device),
            projection: LinearConfig::new(config.embed_dim, config.dim).with_bias(false).init(device),
        }
    }

    /// A network from a row-major `[vocab_size, embed_dim]` piece table and a row-major
    /// `[embed_dim, dim]` map.
    pub fn from_parts(config: &StaticConfig, table: Vec<f32>, map: Vec<f32>, device: &B::Device) -> Self {
        let mut model = Self::new(config, device);
        let table = Tensor::from_data(TensorData::new(table, [config.vocab_size, config.embed_dim]), device);
        let map = Tensor::from_data(TensorData::new(map, [config.embed_dim, config.dim]), device);
        model.pieces.weight = Param::from_tensor(table);
        model.projection.weight = Param::from_tensor(map);
        model
    }

    /// `[rows, len]` piece ids and their 1/0 mask -> `[rows, dim]` unit vectors.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        unit_rows(self.projection.forward(masked_mean(self.pieces.forward(ids), mask)))
    }

    /// The row-major piece table and map ([`StaticModel::from_parts`] takes them back).
    pub fn parts(&self) -> (Vec<f32>, Vec<f32>) {
        let read = |tensor| read_matrix(tensor).expect("a float tensor reads back as f32");
        (read(self.pieces.weight.val()), read(self.projection.weight.val()))
    }

    /// Unit vectors for tokenized texts, padded into one batch.
    pub fn embed(&self, rows: &[&Encoded], device: &B::Device) -> Tensor<B, 2> {
        let (ids, _, mask) = pad_batch::<B>(rows, usize::MAX, device);
        self.forward(ids, mask)
    }
}

/// A loaded static encoder: texts in, unit vectors out, computed on the CPU.
pub struct StaticEncoder<B: Backend> {
    /// Row-major `[vocab_size, embed_dim]`.
    table: Vec<f32>,
    /// Row-major `[embed_dim, dim]`.
    map: Vec<f32>,
    tokenizer: TextTokenizer,
    config: StaticConfig,
    device: B::Device,
}

impl<B: Backend> StaticEncoder<B> {
    /// Loads a static encoder folder's files; vectors are handed out on `device`. The weights are
    /// read straight from the safetensors bytes, not through `device`: a browser cannot read a
    /// tensor back synchronously.
    pub fn load(files: ModelFiles, device: &B::Device) -> Result<Self, ModelError> {
        let config = StaticConfig::from_json(files.config)?;
        let tokenizer = TextTokenizer::for_table(files.tokenizer, config.max_len, config.vocab_size, None)?;
        let read = |name: &str, shape: [usize; 2]| -> Result<Vec<f32>, ModelError> {
            let (found, values) = read_tensor(files.weights, name)?;
            if found != shape {
                return Err(ModelError::Weights(format!("tensor `{name}`: shape {found:?}, the config says {shape:?}")));
            }
            Ok(values)
        };
        let table = read("pieces.weight", [config.vocab_size, config.embed_dim])?;
        let map = read("projection.weight", [config.embed_dim, config.dim])?;
        Ok(Self { table, map, tokenizer, config, device: device.clone() })
    }

    /// Reads a network in memory (one being trained) into an encoder.
    pub fn new(model: &StaticModel<B>, tokenizer: TextTokenizer, config: StaticConfig, device: &B::Device) -> Self {
        let (table, map) = model.parts();
        Self { table, map, tokenizer, config, device: device.clone() }
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// One tokenized text's unit vector.
    pub fn vector(&self, encoded: &Encoded) -> Vec<f32> {
        let width = self.config.embed_dim;
        let mut mean = vec![0f32; width];
        for &id in &encoded.ids {
            let row = &self.table[id as usize * width..(id as usize + 1) * width];
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        let mut out = vec![0f32; self.config.dim];
        for (m, map_row) in mean.iter().zip(self.map.chunks_exact(self.config.dim)) {
            out.iter_mut().zip(map_row).for_each(|(o, w)| *o += m * w);
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v /= norm);
        out
    }

    /// `[rows, dim]` unit vectors for tokenized texts, on the device.
    pub fn embed(&self, rows: &[&Encoded]) -> Tensor<B, 2> {
        let values: Vec<f32> = rows.iter().flat_map(|row| self.vector(row)).collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), self.dim()]), &self.device)
    }

    /// Encodes `texts` into a row-major `[texts.len(), dim]` matrix of unit vectors; `progress`
    /// hears how many are done every thousand texts.
    pub fn encode(&self, texts: &[&str], mut progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        let mut out = Vec::with_capacity(texts.len() * self.dim());
        for chunk in texts.chunks(1000) {
            for encoded in self.tokenizer.encode(chunk)? {
                out.extend(self.vector(&encoded));
            }
            progress(out.len() / self.dim());
        }
        Ok(out)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn_ndarray::{NdArray, NdArrayDevice};

    use super::*;
    use crate::model::save_weights;

    fn tokenizer_json() -> Vec<u8> {
        let vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "protein", "fold", "##ing", "cell", "a", "b"]
            .iter()
            .enumerate()
            .map(|(i, piece)| format!("{piece:?}: {i}"))
            .collect();
        format!(
            r###"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
            "normalizer":{{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}},
            "pre_tokenizer":{{"type":"BertPreTokenizer"}},
            "post_processor":{{"type":"TemplateProcessing","single":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}}],
              "pair":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":1}}}}],
              "special_tokens":{{"[CLS]":{{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]}},"[SEP]":{{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}}}},
            "decoder":null,
            "model":{{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{{{}}}}}}}"###,
            vocab.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn the_cpu_path_matches_the_network_and_loads_from_saved_weights() {
        let device = NdArrayDevice::Cpu;
        let config = StaticConfig { model_type: StaticConfig::MODEL_TYPE.into(), vocab_size: 10, embed_dim: 4, dim: 6, max_len: 16 };
        let table: Vec<f32> = (0..40).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let map: Vec<f32> = (0..24).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
        let model = StaticModel::<NdArray>::from_parts(&config, table, map, &device);
        let files = (serde_json::to_vec(&config).unwrap(), save_weights(&model).unwrap(), tokenizer_json());
        let loaded =
            StaticEncoder::<NdArray>::load(ModelFiles { config: &files.0, weights: &files.1, tokenizer: &files.2 }, &device).unwrap();
        let texts = ["protein folding", "a cell", "unknownword"];
        let vectors = loaded.encode(&texts, |_| {}).unwrap();
        let encoded = loaded.tokenizer().encode(&texts).unwrap();
        for (row, vector) in encoded.iter().zip(vectors.chunks(6)) {
            let network = read_matrix(model.embed(&[row], &device)).unwrap();
            assert!(network.iter().zip(vector).all(|(a, b)| (a - b).abs() < 1e-5), "{network:?} {vector:?}");
            assert!((vector.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let mut wide = serde_json::to_value(&config).unwrap();
        wide["vocab_size"] = 8.into();
        let wide = serde_json::to_vec(&wide).unwrap();
        let error = StaticEncoder::<NdArray>::load(ModelFiles { config: &wide, weights: &files.1, tokenizer: &files.2 }, &device);
        assert!(error.is_err(), "a tokenizer with more pieces than the table is refused");
    }
}

//! The static query encoder (Model2Vec / tokenlearn style): one learned vector per word piece,
//! averaged over a text's pieces and mapped by one linear layer into the teacher's vector space.
//! No transformer pass: a query costs a table lookup per piece and one small matrix product, so
//! it suits the browser's CPU path. A piece's weight in the mean is the length of its vector
//! (Model2Vec applies its weights the same way, folded into the table), so "one vector and one
//! weight per piece" is one table. `config.json` has `"model_type": "dowse-static"`; the
//! tokenizer is the teacher's `tokenizer.json`, possibly with a pruned vocabulary.
//!
//! The network lives in Burn for training ([`StaticModel`]); [`StaticVectors`] reads its
//! weights into plain matrices and encodes on the CPU without Burn, and [`StaticEncoder`] hands
//! those vectors out as tensors on any backend.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::encoder::read_matrix;
use super::pooling::{masked_mean, unit_rows};
use super::{pad_batch, Encoded, ModelError, ModelFiles, StaticConfig, StaticVectors};

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

    /// The same encoder with a square map folded into the table, and the identity as its map:
    /// the mean is linear, so every vector stays the same, one quantization fewer stands between
    /// the trained network and the int8 rows, and an identity map deflates to almost nothing in
    /// the bundle's head. A narrower table keeps its map: folding would widen every row.
    pub fn folded(&self) -> Self {
        let map = self.projection.weight.val();
        let [width, dim] = map.dims();
        if width != dim {
            return self.clone();
        }
        let mut folded = self.clone();
        folded.pieces.weight = Param::from_tensor(self.pieces.weight.val().matmul(map.clone()));
        folded.projection.weight = Param::from_tensor(Tensor::eye(dim, &map.device()));
        folded
    }

    /// Unit vectors for tokenized texts, padded into one batch.
    pub fn embed(&self, rows: &[&Encoded], device: &B::Device) -> Tensor<B, 2> {
        let (ids, _, mask) = pad_batch::<B>(rows, usize::MAX, device);
        self.forward(ids, mask)
    }
}

/// A loaded static encoder whose vectors are handed out as tensors on a device; it computes on
/// the CPU ([`StaticVectors`]) on every backend.
pub struct StaticEncoder<B: Backend> {
    vectors: StaticVectors,
    device: B::Device,
}

impl<B: Backend> StaticEncoder<B> {
    /// Loads a static encoder folder's files; vectors are handed out on `device`. The weights are
    /// read straight from the safetensors bytes, not through `device`: a browser cannot read a
    /// tensor back synchronously.
    pub fn load(files: ModelFiles, device: &B::Device) -> Result<Self, ModelError> {
        Ok(Self { vectors: StaticVectors::load(files)?, device: device.clone() })
    }

    /// The forward pass in plain Rust: dimension, tokenizer, vectors and texts encoded.
    pub fn vectors(&self) -> &StaticVectors {
        &self.vectors
    }

    /// `[rows, dim]` unit vectors for tokenized texts, on the device.
    pub fn embed(&self, rows: &[&Encoded]) -> Tensor<B, 2> {
        let values: Vec<f32> = rows.iter().flat_map(|row| self.vectors.vector(row)).collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), self.vectors.dim()]), &self.device)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::model::save_weights;
    use crate::model::static_vectors::tests::tokenizer_json;

    /// A network of ten pieces, `embed_dim` wide, mapped to 6 dimensions, with fixed weights.
    fn small_model(embed_dim: usize, device: &FlexDevice) -> (StaticConfig, StaticModel<Flex>) {
        let config = StaticConfig { model_type: StaticConfig::MODEL_TYPE.into(), vocab_size: 10, embed_dim, dim: 6, max_len: 16 };
        let table: Vec<f32> = (0..10 * embed_dim).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let map: Vec<f32> = (0..embed_dim * 6).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
        let model = StaticModel::from_parts(&config, table, map, device);
        (config, model)
    }

    #[test]
    fn the_cpu_path_matches_the_network_and_loads_from_saved_weights() {
        let device = FlexDevice;
        let (config, model) = small_model(4, &device);
        let files = (serde_json::to_vec(&config).unwrap(), save_weights(&model).unwrap(), tokenizer_json());
        let loaded =
            StaticEncoder::<Flex>::load(ModelFiles { config: &files.0, weights: &files.1, tokenizer: &files.2 }, &device).unwrap();
        let texts = ["protein folding", "a cell", "unknownword"];
        let vectors = loaded.vectors().encode(&texts, |_| {}).unwrap();
        let encoded = loaded.vectors().tokenizer().encode(&texts).unwrap();
        for (row, vector) in encoded.iter().zip(vectors.chunks(6)) {
            let network = read_matrix(model.embed(&[row], &device)).unwrap();
            assert!(network.iter().zip(vector).all(|(a, b)| (a - b).abs() < 1e-5), "{network:?} {vector:?}");
            assert!((vector.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let mut wide = serde_json::to_value(&config).unwrap();
        wide["vocab_size"] = 8.into();
        let wide = serde_json::to_vec(&wide).unwrap();
        let error = StaticEncoder::<Flex>::load(ModelFiles { config: &wide, weights: &files.1, tokenizer: &files.2 }, &device);
        assert!(error.is_err(), "a tokenizer with more pieces than the table is refused");
    }

    #[test]
    fn folding_a_square_map_keeps_every_vector() {
        let device = FlexDevice;
        let (_, model) = small_model(6, &device);
        let folded = model.folded();
        let (_, identity) = folded.parts();
        assert!(identity.iter().enumerate().all(|(i, &v)| v == if i / 6 == i % 6 { 1.0 } else { 0.0 }), "{identity:?}");
        let rows: Vec<Encoded> = [vec![2, 4, 5, 3], vec![2, 7, 3], vec![1]].into_iter().map(|ids| Encoded { type_ids: vec![0; ids.len()], ids }).collect();
        let rows: Vec<&Encoded> = rows.iter().collect();
        let (before, after) = (read_matrix(model.embed(&rows, &device)).unwrap(), read_matrix(folded.embed(&rows, &device)).unwrap());
        assert!(before.iter().zip(&after).all(|(a, b)| (a - b).abs() < 1e-5), "{before:?} {after:?}");
        let (_, narrow) = small_model(4, &device);
        assert_eq!(narrow.folded().parts(), narrow.parts(), "a narrower table keeps its map");
    }
}

//! The text encoder: texts -> token batches sorted by length -> BERT (on the Burn backend, or on
//! the CPU kernels) -> mean pooling -> unit vectors.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{load_bert, pad_batch, Bert, BertConfig, CpuBert, Encoded, ModelError, ModelFiles, TextTokenizer};

/// How texts are cut and batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncoderConfig {
    /// Tokens per text, special tokens included (sentence-transformers uses 256 for MiniLM).
    pub max_len: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Run a BERT on dowse's CPU kernels ([`CpuBert`]: no padding, fused GELU and softmax)
    /// instead of the Burn backend; the native CLI's choice on the CPU, three times Burn's speed.
    pub cpu_kernels: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self { max_len: 256, batch_size: 32, cpu_kernels: false }
    }
}

/// A BERT bi-encoder with its tokenizer.
pub struct TextEncoder<B: Backend> {
    network: Network<B>,
    tokenizer: TextTokenizer,
    bert: BertConfig,
    config: EncoderConfig,
    device: B::Device,
}

/// Where a [`TextEncoder`]'s BERT runs.
enum Network<B: Backend> {
    Burn(Box<Bert<B>>),
    Cpu(CpuBert),
}

impl<B: Backend> TextEncoder<B> {
    /// Loads a Hugging Face model folder's files onto `device`.
    pub fn load(files: ModelFiles, config: EncoderConfig, device: &B::Device) -> Result<Self, ModelError> {
        let bert = BertConfig::from_json(files.config)?;
        let max_len = config.max_len.min(bert.max_position_embeddings);
        let tokenizer = TextTokenizer::for_bert(files.tokenizer, max_len, &bert)?;
        let model = load_bert(&bert, files.weights, device)?;
        Ok(Self::new(model, tokenizer, bert, EncoderConfig { max_len, ..config }, device))
    }

    /// Wraps a network in memory (one being trained) with its tokenizer.
    pub fn new(model: Bert<B>, tokenizer: TextTokenizer, bert: BertConfig, config: EncoderConfig, device: &B::Device) -> Self {
        let network = match config.cpu_kernels {
            true => Network::Cpu(CpuBert::new(model, &bert)),
            false => Network::Burn(Box::new(model)),
        };
        Self { network, tokenizer, bert, config, device: device.clone() }
    }

    /// Length of the vectors this encoder makes.
    pub fn dim(&self) -> usize {
        self.bert.hidden_size
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Encodes `texts` into a row-major `[texts.len(), dim]` matrix of unit vectors.
    /// Texts are batched by length to cut padding; `progress` hears how many are done after each batch.
    pub fn encode(&self, texts: &[&str], progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        encode_by_length(&self.tokenizer.encode(texts)?, self.config.batch_size, self.dim(), |rows| self.vectors(rows), progress)
    }

    /// Unit vectors `[rows, dim]` for one batch of tokenized texts, on the device.
    pub fn embed(&self, rows: &[&Encoded]) -> Tensor<B, 2> {
        match &self.network {
            Network::Burn(model) => {
                let (ids, types, mask) = pad_batch::<B>(rows, self.tokenizer.max_len(), &self.device);
                model.embed(ids, types, mask)
            }
            Network::Cpu(model) => Tensor::from_data(TensorData::new(model.embed(rows), [rows.len(), model.dim()]), &self.device),
        }
    }

    /// [`TextEncoder::embed`] read back as a row-major matrix.
    fn vectors(&self, rows: &[&Encoded]) -> Result<Vec<f32>, ModelError> {
        match &self.network {
            Network::Burn(_) => read_matrix(self.embed(rows)),
            Network::Cpu(model) => Ok(model.embed(rows)),
        }
    }
}

/// A tensor's values as a row-major f32 matrix.
pub(crate) fn read_matrix<B: Backend>(tensor: Tensor<B, 2>) -> Result<Vec<f32>, ModelError> {
    tensor.into_data().to_vec::<f32>().map_err(|e| ModelError::Read(format!("{e:?}")))
}

/// Runs `embed` over `encoded` in batches of similar length (longest first, to cut padding) and
/// returns the `[encoded.len(), dim]` matrix in the input order; `progress` hears how many are done.
pub(crate) fn encode_by_length(
    encoded: &[Encoded],
    batch_size: usize,
    dim: usize,
    embed: impl Fn(&[&Encoded]) -> Result<Vec<f32>, ModelError>,
    mut progress: impl FnMut(usize),
) -> Result<Vec<f32>, ModelError> {
    let mut out = vec![0f32; encoded.len() * dim];
    let mut done = 0;
    for batch in length_sorted_batches(encoded, batch_size) {
        let rows: Vec<&Encoded> = batch.iter().map(|&i| &encoded[i]).collect();
        let vectors = embed(&rows)?;
        for (&i, vector) in batch.iter().zip(vectors.chunks_exact(dim)) {
            out[i * dim..(i + 1) * dim].copy_from_slice(vector);
        }
        done += batch.len();
        progress(done);
    }
    Ok(out)
}

/// Indices of `encoded` grouped into batches of similar length (longest first).
fn length_sorted_batches(encoded: &[Encoded], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].ids.len()));
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

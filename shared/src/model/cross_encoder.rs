//! The cross-encoder reranker: `[CLS] query [SEP] passage [SEP]` through BERT, the [CLS] state
//! through the pooler (dense + tanh) and a classification head, as Hugging Face's
//! `BertForSequenceClassification` computes it. One label: its logit is the score; two labels:
//! the margin of label 1 ("relevant") over label 0. A loaded reranker runs on Burn or, with
//! [`EncoderConfig::cpu_kernels`], on dowse's CPU kernels ([`CpuCrossEncoder`]).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{FloatDType, Int, Tensor};

use super::{
    load_cross_encoder, pad_batch, Bert, BertConfig, CpuCrossEncoder, Encoded, EncoderConfig, LoraConfig, ModelError, ModelFiles,
    TextTokenizer,
};

#[derive(Module, Debug)]
pub struct CrossEncoderModel<B: Backend> {
    bert: Bert<B>,
    pooler: Linear<B>,
    classifier: Linear<B>,
}

impl<B: Backend> CrossEncoderModel<B> {
    /// A randomly initialised network of the given shape.
    pub fn new(config: &BertConfig, device: &B::Device) -> Self {
        let hidden = config.hidden_size;
        Self {
            bert: Bert::new(config, device),
            pooler: LinearConfig::new(hidden, hidden).init(device),
            classifier: LinearConfig::new(hidden, config.id2label.len().max(1)).init(device),
        }
    }

    /// The encoder frozen with fresh LoRA adapters ([`Bert::with_lora`]); the head (pooler and
    /// classifier) still trains in full.
    pub fn with_lora(self, config: &LoraConfig) -> Self {
        Self { bert: self.bert.with_lora(config), ..self }
    }

    /// The network with its adapters folded into the encoder's weights ([`Bert::merge_lora`]).
    pub fn merge_lora(self) -> Self {
        Self { bert: self.bert.merge_lora(), ..self }
    }

    /// Logits `[batch, labels]` for tokenized pairs, in f32 whatever the weights' precision.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let states = self.bert.forward(ids, token_types, mask);
        let [batch, _, hidden] = states.dims();
        let cls = states.slice([0..batch, 0..1, 0..hidden]).reshape([batch, hidden]);
        self.classifier.forward(self.pooler.forward(cls).tanh()).cast(FloatDType::F32)
    }

    /// Logits `[rows, labels]` of tokenized pairs cut to `max_len` tokens, padded into one batch.
    pub fn logits(&self, rows: &[&Encoded], max_len: usize, device: &B::Device) -> Tensor<B, 2> {
        let (ids, types, mask) = pad_batch::<B>(rows, max_len, device);
        self.forward(ids, types, mask)
    }
}

/// How a loaded cross-encoder computes.
enum Network<B: Backend> {
    Burn(Box<CrossEncoderModel<B>>),
    Cpu(Box<CpuCrossEncoder>),
}

/// A loaded cross-encoder with its tokenizer.
pub struct CrossEncoder<B: Backend> {
    network: Network<B>,
    tokenizer: TextTokenizer,
    labels: usize,
    batch_size: usize,
    device: B::Device,
}

impl<B: Backend> CrossEncoder<B> {
    /// Wraps a network in memory (one being trained) with its tokenizer; it runs on Burn.
    pub fn new(model: CrossEncoderModel<B>, tokenizer: TextTokenizer, batch_size: usize, device: &B::Device) -> Self {
        let labels = model.classifier.weight.dims()[1];
        Self { network: Network::Burn(Box::new(model)), tokenizer, labels, batch_size: batch_size.max(1), device: device.clone() }
    }

    /// Loads a Hugging Face cross-encoder folder's files; pairs are cut to `config.max_len`
    /// tokens and scored `config.batch_size` at a time.
    pub fn load(files: ModelFiles, config: EncoderConfig, device: &B::Device) -> Result<Self, ModelError> {
        let bert = BertConfig::from_json(files.config)?;
        let labels = bert.id2label.len().max(1);
        if labels > 2 {
            return Err(ModelError::Config(format!("field `id2label`: {labels} labels; a reranker has 1 or 2")));
        }
        let tokenizer = TextTokenizer::for_bert(files.tokenizer, config.max_len.min(bert.max_position_embeddings), &bert)?;
        let model = load_cross_encoder(&bert, files.weights, device)?;
        let network = match config.cpu_kernels {
            true => {
                let CrossEncoderModel { bert: encoder, pooler, classifier } = model.merge_lora();
                Network::Cpu(Box::new(CpuCrossEncoder::new(encoder, &pooler, &classifier, &bert)))
            }
            false => Network::Burn(Box::new(model)),
        };
        Ok(Self { network, tokenizer, labels, batch_size: config.batch_size.max(1), device: device.clone() })
    }

    /// The tokenizer pairs are read with (what [`CrossEncoder::score_encoded`] expects).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The relevance score of each `(query, passage)` pair, higher is more relevant.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ModelError> {
        self.score_encoded(&self.tokenizer.encode_pairs(pairs)?)
    }

    /// [`CrossEncoder::score`] for pairs already tokenized with this reranker's tokenizer.
    pub fn score_encoded(&self, encoded: &[Encoded]) -> Result<Vec<f32>, ModelError> {
        let mut scores = Vec::with_capacity(encoded.len());
        for batch in encoded.chunks(self.batch_size) {
            let logits = self.logits(batch)?;
            scores.extend(logits.chunks_exact(self.labels).map(|l| if self.labels == 1 { l[0] } else { l[1] - l[0] }));
        }
        Ok(scores)
    }

    /// Logits `[rows.len(), labels]`, row-major.
    fn logits(&self, rows: &[Encoded]) -> Result<Vec<f32>, ModelError> {
        let rows: Vec<&Encoded> = rows.iter().collect();
        match &self.network {
            Network::Burn(model) => model
                .logits(&rows, self.tokenizer.max_len(), &self.device)
                .into_data()
                .to_vec::<f32>()
                .map_err(|e| ModelError::Read(format!("{e:?}"))),
            Network::Cpu(model) => Ok(model.logits(&rows)),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn::tensor::{TensorData, Tolerance};
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::model::{load_cross_encoder, save_cross_encoder};

    #[test]
    fn the_cpu_kernels_give_burns_logits() {
        let device = FlexDevice;
        let config = BertConfig::from_json(
            br#"{"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "intermediate_size": 12, "max_position_embeddings": 16, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}}"#,
        )
        .unwrap();
        let model = CrossEncoderModel::<Flex>::new(&config, &device);
        // Pairs of different lengths: Burn pads the shorter one, the kernels pack them.
        let encoded = [
            Encoded { ids: vec![2, 7, 9, 3, 11, 3], type_ids: vec![0, 0, 0, 0, 1, 1] },
            Encoded { ids: vec![2, 5, 3, 8, 3], type_ids: vec![0, 0, 0, 1, 1] },
            Encoded { ids: vec![2, 4, 3, 6, 12, 13, 14, 3], type_ids: vec![0, 0, 0, 1, 1, 1, 1, 1] },
        ];
        let rows: Vec<&Encoded> = encoded.iter().collect();
        let expected = model.logits(&rows, 16, &device).into_data();
        let CrossEncoderModel { bert, pooler, classifier } = model;
        let logits = CpuCrossEncoder::new(bert, &pooler, &classifier, &config).logits(&rows);
        TensorData::new(logits, [3, 2]).assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    }

    #[test]
    fn saved_weights_have_hugging_face_names_and_load_back_to_the_same_outputs() {
        let device = FlexDevice;
        let config = BertConfig::from_json(
            br#"{"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "intermediate_size": 12, "max_position_embeddings": 16, "id2label": {"0": "LABEL_0"}}"#,
        )
        .unwrap();
        let model = CrossEncoderModel::<Flex>::new(&config, &device);
        let bytes = save_cross_encoder(&model).unwrap();
        assert_eq!(bytes, save_cross_encoder(&model).unwrap(), "equal weights, equal bytes");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        let shape = |name: &str| header[name]["shape"].as_array().unwrap_or_else(|| panic!("no tensor {name}")).clone();
        assert_eq!(shape("bert.encoder.layer.1.intermediate.dense.weight"), [12, 8], "PyTorch's [out, in]");
        assert_eq!(shape("bert.embeddings.LayerNorm.weight"), [8]);
        assert_eq!(shape("bert.pooler.dense.bias"), [8]);
        assert_eq!(shape("classifier.weight"), [1, 8]);

        let loaded = load_cross_encoder::<Flex>(&config, &bytes, &device).unwrap();
        let encoded = [
            Encoded { ids: vec![2, 7, 9, 3, 11, 3], type_ids: vec![0, 0, 0, 0, 1, 1] },
            Encoded { ids: vec![2, 5, 3, 8, 3], type_ids: vec![0, 0, 0, 1, 1] },
        ];
        let rows: Vec<&Encoded> = encoded.iter().collect();
        let scores = |m: &CrossEncoderModel<Flex>| m.logits(&rows, 16, &device).into_data().to_vec::<f32>().unwrap();
        assert_eq!(scores(&loaded), scores(&model));

        // The encoder alone saves as a sentence-transformers BertModel does, without `bert.`.
        let bert = crate::model::Bert::<Flex>::new(&config, &device);
        let bytes = crate::model::save_bert(&bert).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        assert_eq!(header["encoder.layer.0.attention.self.query.weight"]["shape"], serde_json::json!([8, 8]));
        assert!(header["embeddings.word_embeddings.weight"].is_object());
        let loaded = crate::model::load_bert::<Flex>(&config, &bytes, &device).unwrap();
        let (ids, types, mask) = crate::model::pad_batch::<Flex>(&rows, 16, &device);
        let embed =
            |m: &crate::model::Bert<Flex>| m.embed(ids.clone(), types.clone(), mask.clone()).into_data().to_vec::<f32>().unwrap();
        assert_eq!(embed(&loaded), embed(&bert));
    }
}

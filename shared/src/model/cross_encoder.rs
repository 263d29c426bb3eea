//! The cross-encoder reranker: `[CLS] query [SEP] passage [SEP]` through BERT, the [CLS] state
//! through the pooler (dense + tanh) and a classification head, as Hugging Face's
//! `BertForSequenceClassification` computes it. One label: its logit is the score; two labels:
//! the margin of label 1 ("relevant") over label 0.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::{load_cross_encoder, pad_batch, Bert, BertConfig, Encoded, ModelError, ModelFiles, TextTokenizer};

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

    /// Logits `[batch, labels]` for tokenized pairs.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let states = self.bert.forward(ids, token_types, mask);
        let [batch, _, hidden] = states.dims();
        let cls = states.slice([0..batch, 0..1, 0..hidden]).reshape([batch, hidden]);
        self.classifier.forward(self.pooler.forward(cls).tanh())
    }
}

/// A loaded cross-encoder with its tokenizer.
pub struct CrossEncoder<B: Backend> {
    model: CrossEncoderModel<B>,
    tokenizer: TextTokenizer,
    labels: usize,
    batch_size: usize,
    device: B::Device,
}

impl<B: Backend> CrossEncoder<B> {
    /// Loads a Hugging Face cross-encoder folder's files; pairs are cut to `max_len` tokens.
    pub fn load(files: ModelFiles, max_len: usize, batch_size: usize, device: &B::Device) -> Result<Self, ModelError> {
        let config = BertConfig::from_json(files.config)?;
        let labels = config.id2label.len().max(1);
        if labels > 2 {
            return Err(ModelError::Config(format!("field `id2label`: {labels} labels; a reranker has 1 or 2")));
        }
        let tokenizer = TextTokenizer::from_bytes(files.tokenizer, max_len.min(config.max_position_embeddings))?;
        let model = load_cross_encoder(&config, files.weights, device)?;
        Ok(Self { model, tokenizer, labels, batch_size: batch_size.max(1), device: device.clone() })
    }

    /// The relevance score of each `(query, passage)` pair, higher is more relevant.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ModelError> {
        let encoded = self.tokenizer.encode_pairs(pairs)?;
        let mut scores = Vec::with_capacity(pairs.len());
        for batch in encoded.chunks(self.batch_size) {
            let logits = self.logits(batch).into_data().to_vec::<f32>().map_err(|e| ModelError::Read(format!("{e:?}")))?;
            scores.extend(logits.chunks_exact(self.labels).map(|l| if self.labels == 1 { l[0] } else { l[1] - l[0] }));
        }
        Ok(scores)
    }

    fn logits(&self, rows: &[Encoded]) -> Tensor<B, 2> {
        let rows: Vec<&Encoded> = rows.iter().collect();
        let (ids, types, mask) = pad_batch::<B>(&rows, &self.device);
        self.model.forward(ids, types, mask)
    }
}

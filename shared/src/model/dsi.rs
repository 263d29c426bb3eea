//! The generative retriever's network (DSI, NCI): a BERT reads the query, and a small transformer
//! decoder with cross-attention over the BERT's token states emits the document's semantic ID
//! ([`crate::semantic_ids`]) one digit at a time. A digit's embedding depends on its level (the
//! same digit at another depth is another row, as NCI's prefix-aware decoder has it), and the
//! decoder's first input is a start row. [`Dsi::forward`] gives every step's logits at once
//! (teacher forcing, for training); [`Dsi::digit_log_probs`] scores the next digit of any set of
//! prefixes, which is what [`crate::id_trie::IdTrie::beam_search`] asks for.

use burn::module::Module;
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{TransformerDecoder, TransformerDecoderConfig, TransformerDecoderInput};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{Bert, BertConfig, LoraConfig};

/// The decoder's shape; the encoder's is its BERT's `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DsiConfig {
    /// Values a digit takes ([`crate::semantic_ids::SemanticIds::digits`]).
    pub digits: usize,
    /// Most digits in an ID ([`crate::semantic_ids::SemanticIds::depth`]).
    pub depth: usize,
    pub decoder_layers: usize,
    pub decoder_heads: usize,
    /// The decoder's dropout while training. 0 by default: Burn's dropout draws from the
    /// backend's one random stream, which micro-batches training at once on several threads read
    /// in any order, so a run with dropout is not reproduced bit for bit (nor resumed exactly).
    pub dropout: f64,
}

impl Default for DsiConfig {
    fn default() -> Self {
        Self { digits: 32, depth: 4, decoder_layers: 2, decoder_heads: 6, dropout: 0.0 }
    }
}

#[derive(Module, Debug)]
pub struct Dsi<B: Backend> {
    encoder: Bert<B>,
    /// Row `level * digits + digit` embeds a digit at a level; the last row is the start.
    digit_embeddings: Embedding<B>,
    decoder: TransformerDecoder<B>,
    head: Linear<B>,
    digits: usize,
    depth: usize,
}

impl<B: Backend> Dsi<B> {
    /// A decoder initialised at random over `encoder` (MiniLM's, or a student's).
    pub fn new(encoder: Bert<B>, bert: &BertConfig, config: &DsiConfig, device: &B::Device) -> Self {
        let hidden = bert.hidden_size;
        let decoder = TransformerDecoderConfig::new(hidden, bert.intermediate_size, config.decoder_heads, config.decoder_layers)
            .with_dropout(config.dropout)
            .init(device);
        Self {
            encoder,
            digit_embeddings: EmbeddingConfig::new(config.depth * config.digits + 1, hidden).init(device),
            decoder,
            head: LinearConfig::new(hidden, config.digits).init(device),
            digits: config.digits,
            depth: config.depth,
        }
    }

    /// The encoder frozen with fresh LoRA adapters ([`Bert::with_lora`]); the decoder trains in full.
    pub fn with_lora(self, config: &LoraConfig) -> Self {
        Self { encoder: self.encoder.with_lora(config), ..self }
    }

    /// The network with its adapters folded into the encoder's weights.
    pub fn merge_lora(self) -> Self {
        Self { encoder: self.encoder.merge_lora(), ..self }
    }

    /// The query's token states `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        self.encoder.forward(ids, token_types, mask)
    }

    /// Logits `[batch, steps, digits]` of each step's digit given the digits before it:
    /// `inputs` `[batch, steps]` holds at step `t > 0` the digit of level `t - 1` (at step 0 the
    /// start row is fed, whatever the column holds), `memory` the queries' token states and
    /// `memory_pad` their padding (true where padded).
    fn decode(&self, inputs: Tensor<B, 2, Int>, memory: Tensor<B, 3>, memory_pad: Tensor<B, 2, Bool>) -> Tensor<B, 3> {
        let [batch, steps] = inputs.dims();
        let device = inputs.device();
        let levels = Tensor::<B, 1, Int>::arange(0..steps as i64, &device).sub_scalar(1).mul_scalar(self.digits as i64).reshape([1, steps]);
        let rows = inputs.add(levels);
        let start = Tensor::<B, 2, Int>::full([batch, 1], (self.depth * self.digits) as i64, &device);
        let rows = if steps > 1 { Tensor::cat(vec![start, rows.slice([0..batch, 1..steps])], 1) } else { start };
        let input = TransformerDecoderInput::new(self.digit_embeddings.forward(rows), memory)
            .memory_mask_pad(memory_pad)
            .target_mask_attn(generate_autoregressive_mask(batch, steps, &device));
        self.head.forward(self.decoder.forward(input))
    }

    /// Teacher-forced logits `[batch, steps, digits]` for IDs `targets` `[batch, steps]` (step
    /// `t` sees the target digits before it), from tokenized queries.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, token_types: Tensor<B, 2, Int>, mask: Tensor<B, 2>, targets: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let memory_pad = mask.clone().equal_elem(0.0);
        let memory = self.encode(ids, token_types, mask);
        let [batch, steps] = targets.dims();
        let start = targets.zeros_like().slice([0..batch, 0..1]);
        let inputs = Tensor::cat(vec![start, targets.slice([0..batch, 0..steps - 1])], 1);
        self.decode(inputs, memory, memory_pad)
    }

    /// Log-probabilities `[prefixes.len()][digits]` of the digit after each prefix (all of the
    /// same length, below the depth), for one query's token states `memory` `[1, seq, hidden]`.
    pub fn digit_log_probs(&self, memory: &Tensor<B, 3>, prefixes: &[Vec<u16>]) -> Vec<Vec<f32>> {
        let device = memory.device();
        let (batch, steps) = (prefixes.len(), prefixes.first().map_or(0, Vec::len) + 1);
        // Each row: a placeholder for the start, then the prefix's digits.
        let rows: Vec<i64> = prefixes.iter().flat_map(|p| std::iter::once(0).chain(p.iter().map(|&d| i64::from(d)))).collect();
        let prefixes = Tensor::<B, 2, Int>::from_data(TensorData::new(rows, [batch, steps]), &device);
        let [_, seq, hidden] = memory.dims();
        let memory = memory.clone().expand([batch, seq, hidden]);
        let pad = Tensor::<B, 2, Bool>::full([batch, seq], false, &device);
        let logits = self.decode(prefixes, memory, pad).slice([0..batch, steps - 1..steps]).reshape([batch, self.digits]);
        let values = log_softmax(logits, 1).into_data().to_vec::<f32>().expect("f32 logits");
        values.chunks(self.digits).map(<[f32]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use burn_flex::{Flex, FlexDevice};

    use super::*;
    use crate::id_trie::IdTrie;

    fn tiny() -> (Dsi<Flex>, FlexDevice) {
        let json = br#"{"vocab_size": 30, "hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 24, "max_position_embeddings": 16}"#;
        let bert = BertConfig::from_json(json).unwrap();
        let device = FlexDevice;
        let config = DsiConfig { digits: 3, depth: 3, decoder_layers: 1, decoder_heads: 2, dropout: 0.0 };
        (Dsi::new(Bert::new(&bert, &device), &bert, &config, &device), device)
    }

    fn query(device: &FlexDevice) -> [Tensor<Flex, 2, Int>; 2] {
        let ids = Tensor::from_data(TensorData::new(vec![2i64, 7, 9, 3], [1, 4]), device);
        [ids.clone(), ids.zeros_like()]
    }

    #[test]
    fn a_step_sees_only_the_digits_before_it() {
        let (model, device) = tiny();
        let [ids, types] = query(&device);
        let mask = Tensor::<Flex, 2>::ones([1, 4], &device);
        let logits = |digits: Vec<i64>| {
            let targets = Tensor::from_data(TensorData::new(digits, [1, 3]), &device);
            model.forward(ids.clone(), types.clone(), mask.clone(), targets).into_data().to_vec::<f32>().unwrap()
        };
        let a = logits(vec![0, 1, 2]);
        assert_eq!(a.len(), 9);
        assert_eq!(logits(vec![0, 1, 0]), a, "the last digit is predicted, never read");
        let b = logits(vec![0, 2, 2]);
        assert_eq!(a[..6], b[..6], "changing the second digit leaves the steps up to it alone");
        assert_ne!(a[6..], b[6..], "the third step reads the second digit");
    }

    #[test]
    fn log_probs_match_the_teacher_forced_logits_and_beam_search_finds_only_real_ids() {
        let (model, device) = tiny();
        let [ids, types] = query(&device);
        let mask = Tensor::<Flex, 2>::ones([1, 4], &device);
        let memory = model.encode(ids.clone(), types.clone(), mask.clone());
        let scores = model.digit_log_probs(&memory, &[vec![1, 2]]);
        let targets = Tensor::from_data(TensorData::new(vec![1i64, 2, 0], [1, 3]), &device);
        let forced = log_softmax(model.forward(ids, types, mask, targets), 2).into_data().to_vec::<f32>().unwrap();
        for (got, want) in scores[0].iter().zip(&forced[6..]) {
            assert!((got - want).abs() < 1e-5, "{:?} against {:?}", scores[0], &forced[6..]);
        }
        let table = vec![vec![0, 0], vec![0, 2, 1], vec![2, 1, 0], vec![1]];
        let trie = IdTrie::new(&table);
        let found = trie.beam_search(3, 4, |prefixes| Ok::<_, ()>(model.digit_log_probs(&memory, prefixes))).unwrap();
        let mut docs: Vec<u32> = found.iter().map(|&(doc, _)| doc).collect();
        docs.sort_unstable();
        assert_eq!(docs, vec![0, 1, 2, 3]);
        assert!(found.iter().all(|&(_, score)| score <= 0.0 && score.is_finite()));
    }
}

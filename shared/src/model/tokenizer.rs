//! Word-piece tokenization through Hugging Face `tokenizers`, set up the way the encoder reads:
//! special tokens added, truncation at the model's maximum length, no padding (batches pad themselves).

use tokenizers::{Tokenizer, TruncationParams};

use super::ModelError;

/// One tokenized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

/// A `tokenizer.json` configured for encoding.
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Reads `tokenizer.json` and sets truncation to `max_len` tokens, special tokens included.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self, ModelError> {
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Tokenizes each text on its own (no pairs).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoded>, ModelError> {
        let encodings = self
            .inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| Encoded { ids: e.get_ids().to_vec(), type_ids: e.get_type_ids().to_vec() })
            .collect())
    }
}

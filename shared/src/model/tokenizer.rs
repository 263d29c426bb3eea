//! Word-piece tokenization through Hugging Face `tokenizers`, set up the way the encoder reads:
//! special tokens added, truncation at the model's maximum length, no padding (batches pad themselves).
//! It also measures texts in word pieces, word by word, for cutting documents into passages.

use tokenizers::{EncodeInput, PostProcessor, Tokenizer, TruncationParams};

use super::word_pieces::check_fits_table;
use super::{BertConfig, ModelError, TextMeasure, WordSpan};

/// One tokenized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

/// A `tokenizer.json` configured for encoding.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for measuring whole texts.
    untruncated: Tokenizer,
    max_len: usize,
}

impl TextTokenizer {
    /// Number of word pieces in the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Tokens a text or pair is cut to, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Reads `tokenizer.json` and sets truncation to `max_len` tokens, special tokens included.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self, ModelError> {
        let mut untruncated = Tokenizer::from_bytes(bytes).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        untruncated.with_padding(None);
        untruncated.with_truncation(None).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut inner = untruncated.clone();
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(Self { inner, untruncated, max_len })
    }

    /// [`Self::from_bytes`] for a BERT: checked against its embedding tables by
    /// [`Self::for_table`] (`vocab_size` word pieces, `type_vocab_size` token types).
    pub fn for_bert(bytes: &[u8], max_len: usize, config: &BertConfig) -> Result<Self, ModelError> {
        Self::for_table(bytes, max_len, config.vocab_size, Some(config.type_vocab_size))
    }

    /// [`Self::from_bytes`] for a network whose embedding table has `vocab_size` rows (and
    /// `type_vocab_size` token types, where it reads them). A tokenizer with more pieces, or whose
    /// special tokens or token types fall outside the tables, belongs to another model: the
    /// network would read past its tables.
    pub fn for_table(bytes: &[u8], max_len: usize, vocab_size: usize, type_vocab_size: Option<usize>) -> Result<Self, ModelError> {
        let tokenizer = Self::from_bytes(bytes, max_len)?;
        // The post-processor adds special tokens by id, outside the vocabulary's count: a probe
        // single text and pair show every id and token type the network will be handed.
        let probes = [tokenizer.encode(&["a"])?, tokenizer.encode_pairs(&[("a", "b")])?].concat();
        check_fits_table(tokenizer.vocab_size(), probes.iter().flat_map(|encoded| encoded.ids.iter().copied()), vocab_size)?;
        if let Some(types) = type_vocab_size {
            if let Some(kind) = probes.iter().flat_map(|encoded| &encoded.type_ids).find(|&&t| t as usize >= types) {
                return Err(ModelError::Tokenizer(format!("token type {kind} is outside config.json's type_vocab_size {types}")));
            }
        }
        Ok(tokenizer)
    }

    /// Tokenizes `(query, passage)` pairs with token types 0 and 1, cut longest-first to the maximum.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<Encoded>, ModelError> {
        self.encode_inputs(pairs.iter().map(|&(a, b)| (a, b).into()).collect())
    }

    /// Tokenizes each text on its own (no pairs).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoded>, ModelError> {
        self.encode_inputs(texts.iter().map(|&t| t.into()).collect())
    }

    /// Tokenizes single texts or pairs, special tokens added, truncated to the maximum.
    fn encode_inputs(&self, inputs: Vec<EncodeInput>) -> Result<Vec<Encoded>, ModelError> {
        let encodings = self.inner.encode_batch(inputs, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(encodings.into_iter().map(|e| Encoded { ids: e.get_ids().to_vec(), type_ids: e.get_type_ids().to_vec() }).collect())
    }
}

/// Word pieces, word by word, plus the special tokens around every text.
impl TextMeasure for TextTokenizer {
    fn num_special_tokens(&self) -> usize {
        self.inner.get_post_processor().map_or(0, |p| p.added_tokens(false))
    }

    /// Long texts are measured a block at a time, cut at whitespace: the tokenizer keeps tens of
    /// bytes of alignments per byte of what it reads at once.
    fn word_spans(&self, text: &str) -> Result<Vec<WordSpan>, ModelError> {
        let mut spans: Vec<WordSpan> = Vec::new();
        let mut offset = 0;
        while offset < text.len() {
            let block = whitespace_block(&text[offset..], MEASURE_BLOCK_BYTES);
            let encoding = self.untruncated.encode(block, false).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
            let first = spans.len();
            let mut last_word = None;
            for (word, &(start, end)) in encoding.get_word_ids().iter().zip(encoding.get_offsets()) {
                let (start, end) = (offset + start, offset + end);
                let same_word = spans.len() > first && word.is_some() && last_word == *word;
                match spans.last_mut() {
                    Some(span) if same_word => {
                        span.end = span.end.max(end);
                        span.pieces += 1;
                    }
                    _ => spans.push(WordSpan { start, end, pieces: 1 }),
                }
                last_word = *word;
            }
            offset += block.len();
        }
        Ok(spans)
    }
}

/// Bytes of text the tokenizer measures at once.
const MEASURE_BLOCK_BYTES: usize = 1 << 16;

/// The start of `text`: all of it when shorter than `max` bytes, else up to the last whitespace
/// before `max` (or the next one after, for a longer run without any), on a character boundary.
fn whitespace_block(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let end = match text[..cut].rfind(char::is_whitespace) {
        Some(at) if at > 0 => at,
        _ => text[cut..].find(char::is_whitespace).map_or(text.len(), |at| cut + at),
    };
    &text[..end]
}

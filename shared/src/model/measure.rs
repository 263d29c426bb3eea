//! How an encoder measures a text, word by word: what passages are cut by. The word-piece
//! tokenizer and a DSSM's trigram vocabulary measure; cutting passages needs no model.

use super::ModelError;

/// One word of a text (as the encoder splits it) and its size in the encoder's units: word
/// pieces, or 1 for a DSSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordSpan {
    /// Byte range of the word in the text.
    pub start: usize,
    pub end: usize,
    pub pieces: usize,
}

/// How an encoder counts a text's length, word by word: what passages are cut by.
pub trait TextMeasure {
    /// The words of `text` with their byte ranges and what each costs, special tokens left out.
    fn word_spans(&self, text: &str) -> Result<Vec<WordSpan>, ModelError>;
    /// What the encoder adds around every text.
    fn num_special_tokens(&self) -> usize;
}

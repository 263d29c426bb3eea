//! The three files of a Hugging Face model folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`), as bytes: what every model here loads from.

/// The three files of a Hugging Face model folder, as bytes.
#[derive(Clone, Copy)]
pub struct ModelFiles<'a> {
    pub config: &'a [u8],
    pub weights: &'a [u8],
    pub tokenizer: &'a [u8],
}

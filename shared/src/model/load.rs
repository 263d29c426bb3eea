//! Loads a Hugging Face BERT checkpoint (config.json + model.safetensors) into [`Bert`]
//! through burn-store: keys remapped from Hugging Face names to this crate's module paths,
//! Linear weights transposed from PyTorch's [out, in] by burn-store's PyTorch adapter.

use burn::tensor::backend::Backend;
use burn_store::{KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use super::{Bert, BertConfig, ModelError};

/// The three files of a Hugging Face model folder, as bytes.
#[derive(Clone, Copy)]
pub struct ModelFiles<'a> {
    pub config: &'a [u8],
    pub weights: &'a [u8],
    pub tokenizer: &'a [u8],
}

/// Hugging Face BERT tensor names -> [`Bert`] module paths, applied in order.
/// Checkpoints saved from `BertFor...` heads prefix everything with `bert.`.
const KEY_MAP: &[(&str, &str)] = &[
    (r"^bert\.", ""),
    (r"^embeddings\.word_embeddings\.", "embeddings.word."),
    (r"^embeddings\.position_embeddings\.", "embeddings.position."),
    (r"^embeddings\.token_type_embeddings\.", "embeddings.token_type."),
    (r"^embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", "layers.$1.$2."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.$1.attention_output."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.$1.attention_norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", "layers.$1.intermediate."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", "layers.$1.output."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", "layers.$1.output_norm."),
];

/// Builds a [`Bert`] of the checkpoint's shape and fills every parameter from its safetensors.
/// A parameter missing from the file is an error; extra tensors (the pooler) are ignored.
pub fn load_bert<B: Backend>(config: &BertConfig, weights: &[u8], device: &B::Device) -> Result<Bert<B>, ModelError> {
    let remapper = KeyRemapper::from_pattern_iter(KEY_MAP.iter().copied()).expect("key map patterns are valid regexes");
    let mut store = SafetensorsStore::from_bytes(Some(weights.to_vec()))
        .remap(remapper)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(false)
        .validate(true);
    let mut model = Bert::new(config, device);
    model.load_from(&mut store).map_err(|e| ModelError::Weights(e.to_string()))?;
    Ok(model)
}

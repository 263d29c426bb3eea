//! Loads a Hugging Face BERT checkpoint (config.json + model.safetensors) into [`Bert`]
//! through burn-store: keys remapped from Hugging Face names to this crate's module paths,
//! Linear weights transposed from PyTorch's [out, in] by burn-store's PyTorch adapter; and
//! dowse's own models (the DSSM), saved and loaded under their Burn module paths. Every loader
//! also reads int8 files (see [`super::int8`]).

use burn::tensor::backend::Backend;
use burn_store::{BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use super::int8::dequantize_int8;
use super::{Bert, BertConfig, CrossEncoderModel, ModelError};

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

/// The cross-encoder's module paths: [`KEY_MAP`] for the encoder, moved under `bert.`,
/// then the pooler and the classification head.
const CROSS_ENCODER_KEY_MAP: &[(&str, &str)] = &[(r"^(embeddings|layers)\.", "bert.$1."), (r"^pooler\.dense\.", "pooler.")];

/// Builds a [`Bert`] of the checkpoint's shape and fills every parameter from its safetensors.
/// A parameter missing from the file is an error; extra tensors (the pooler) are ignored.
pub fn load_bert<B: Backend>(config: &BertConfig, weights: &[u8], device: &B::Device) -> Result<Bert<B>, ModelError> {
    let mut model = Bert::new(config, device);
    fill(&mut model, weights, KEY_MAP.iter())?;
    Ok(model)
}

/// [`CrossEncoderModel`] module paths -> Hugging Face `BertForSequenceClassification` names
/// (after burn-store's adapter has renamed LayerNorm's gamma/beta to weight/bias). A bare
/// [`Bert`] is saved through it by moving its paths under `bert.` first and back out last.
const CROSS_ENCODER_SAVE_MAP: &[(&str, &str)] = &[
    (r"^bert\.embeddings\.word\.", "bert.embeddings.word_embeddings."),
    (r"^bert\.embeddings\.position\.", "bert.embeddings.position_embeddings."),
    (r"^bert\.embeddings\.token_type\.", "bert.embeddings.token_type_embeddings."),
    (r"^bert\.embeddings\.norm\.", "bert.embeddings.LayerNorm."),
    (r"^bert\.layers\.(\d+)\.(query|key|value)\.", "bert.encoder.layer.$1.attention.self.$2."),
    (r"^bert\.layers\.(\d+)\.attention_output\.", "bert.encoder.layer.$1.attention.output.dense."),
    (r"^bert\.layers\.(\d+)\.attention_norm\.", "bert.encoder.layer.$1.attention.output.LayerNorm."),
    (r"^bert\.layers\.(\d+)\.intermediate\.", "bert.encoder.layer.$1.intermediate.dense."),
    (r"^bert\.layers\.(\d+)\.output\.", "bert.encoder.layer.$1.output.dense."),
    (r"^bert\.layers\.(\d+)\.output_norm\.", "bert.encoder.layer.$1.output.LayerNorm."),
    (r"^pooler\.", "bert.pooler.dense."),
];

/// Builds a [`CrossEncoderModel`] of the checkpoint's shape and fills it from its safetensors.
pub fn load_cross_encoder<B: Backend>(config: &BertConfig, weights: &[u8], device: &B::Device) -> Result<CrossEncoderModel<B>, ModelError> {
    let mut model = CrossEncoderModel::new(config, device);
    fill(&mut model, weights, KEY_MAP.iter().chain(CROSS_ENCODER_KEY_MAP))?;
    Ok(model)
}

/// A [`CrossEncoderModel`] started from a BERT bi-encoder checkpoint (all-MiniLM-L6-v2): its
/// encoder and, when the file has one, its pooler; the classification head (and a missing
/// pooler) keep their random initialisation. Any other missing tensor is an error.
pub fn cross_encoder_from_bert<B: Backend>(
    config: &BertConfig,
    weights: &[u8],
    device: &B::Device,
) -> Result<CrossEncoderModel<B>, ModelError> {
    let mut model = CrossEncoderModel::new(config, device);
    let remapper =
        KeyRemapper::from_pattern_iter(KEY_MAP.iter().chain(CROSS_ENCODER_KEY_MAP).copied()).expect("key map patterns are valid regexes");
    let mut store = SafetensorsStore::from_bytes(Some(dequantize_int8(weights)?.into_owned()))
        .remap(remapper)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .validate(true);
    let applied = model.load_from(&mut store).map_err(|e| ModelError::Weights(e.to_string()))?;
    let missing: Vec<&str> = applied
        .missing
        .iter()
        .map(|(path, _)| path.as_str())
        .filter(|p| !p.starts_with("classifier.") && !p.starts_with("pooler."))
        .collect();
    if !missing.is_empty() {
        return Err(ModelError::Weights(format!("the checkpoint lacks {missing:?}")));
    }
    Ok(model)
}

/// A cross-encoder's weights as safetensors under Hugging Face `BertForSequenceClassification`
/// names, Linear weights transposed to PyTorch's `[out, in]`: what [`load_cross_encoder`] and
/// Hugging Face loaders read. Equal weights give equal bytes.
pub fn save_cross_encoder<B: Backend>(model: &CrossEncoderModel<B>) -> Result<Vec<u8>, ModelError> {
    save_hugging_face(model, CROSS_ENCODER_SAVE_MAP.iter())
}

/// A BERT encoder's weights as safetensors under Hugging Face `BertModel` names (as
/// sentence-transformers saves them): what [`load_bert`] and Hugging Face loaders read.
pub fn save_bert<B: Backend>(model: &Bert<B>) -> Result<Vec<u8>, ModelError> {
    const INTO_BERT: &[(&str, &str)] = &[(r"^(embeddings|layers)\.", "bert.$1.")];
    const OUT_OF_BERT: &[(&str, &str)] = &[(r"^bert\.", "")];
    save_hugging_face(model, INTO_BERT.iter().chain(CROSS_ENCODER_SAVE_MAP).chain(OUT_OF_BERT))
}

/// `model`'s weights under the names `patterns` give them, in PyTorch's layout, with one metadata
/// entry (`format: pt`) so that equal weights give equal bytes.
fn save_hugging_face<B: Backend, M: ModuleSnapshot<B>>(
    model: &M,
    patterns: impl Iterator<Item = &'static (&'static str, &'static str)>,
) -> Result<Vec<u8>, ModelError> {
    let remapper = KeyRemapper::from_pattern_iter(patterns.copied()).expect("key map patterns are valid regexes");
    let mut store =
        SafetensorsStore::from_bytes(None).clear_metadata().metadata("format", "pt").remap(remapper).with_to_adapter(BurnToPyTorchAdapter);
    model.save_into(&mut store).map_err(|e| ModelError::Weights(e.to_string()))?;
    store.get_bytes().map_err(|e| ModelError::Weights(e.to_string()))
}

/// Loads every parameter of `model` from safetensors that dowse wrote (module paths as names).
pub fn load_weights<B: Backend, M: ModuleSnapshot<B>>(model: &mut M, weights: &[u8]) -> Result<(), ModelError> {
    let mut store = SafetensorsStore::from_bytes(Some(dequantize_int8(weights)?.into_owned())).allow_partial(false).validate(true);
    model.load_from(&mut store).map(|_| ()).map_err(|e| ModelError::Weights(e.to_string()))
}

/// `model`'s parameters as safetensors, named by module path (what [`load_weights`] reads). The
/// header holds one metadata entry, `format: pt` (what Hugging Face loaders look for), so equal
/// weights give equal bytes.
pub fn save_weights<B: Backend, M: ModuleSnapshot<B>>(model: &M) -> Result<Vec<u8>, ModelError> {
    let mut store = SafetensorsStore::from_bytes(None).clear_metadata().metadata("format", "pt");
    model.save_into(&mut store).map_err(|e| ModelError::Weights(e.to_string()))?;
    store.get_bytes().map_err(|e| ModelError::Weights(e.to_string()))
}

/// Loads every parameter of `model` from safetensors `weights`, names remapped by `patterns` in order.
fn fill<B: Backend, M: ModuleSnapshot<B>>(
    model: &mut M,
    weights: &[u8],
    patterns: impl Iterator<Item = &'static (&'static str, &'static str)>,
) -> Result<(), ModelError> {
    let remapper = KeyRemapper::from_pattern_iter(patterns.copied()).expect("key map patterns are valid regexes");
    let mut store = SafetensorsStore::from_bytes(Some(dequantize_int8(weights)?.into_owned()))
        .remap(remapper)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(false)
        .validate(true);
    model.load_from(&mut store).map_err(|e| ModelError::Weights(e.to_string()))?;
    Ok(())
}

//! Word-piece tokenization for the static query encoder: a BERT `tokenizer.json` (BertNormalizer,
//! BertPreTokenizer, WordPiece, special tokens from a template) read into `tokenizers`' own parts
//! and run part by part, without its `Tokenizer` pipeline. The pipeline links every normalizer,
//! pre-tokenizer, model and post-processor a `tokenizer.json` may name, and the regular
//! expressions of its added-token matching: most of the browser's encoder worker, which needs
//! none of them. The normalizer's settings are `tokenizers`' own, its steps
//! [`super::bert_normalize`]'s.
//!
//! The ids are the pipeline's ([`super::TextTokenizer`]'s) for every text but one kind: a special
//! token written in the text ("[SEP]") is read as text here, where the pipeline would insert the
//! special token. A query box should not let a visitor type the model's control tokens.

use serde_json::Value;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{Encoding, Model, NormalizedString, OffsetReferential, OffsetType, PostProcessor, PreTokenizedString, PreTokenizer, Token};

use super::bert_normalize::normalize;
use super::{Encoded, ModelError};

/// A BERT `tokenizer.json` set up for single texts: special tokens added, cut to `max_len`.
#[derive(Clone)]
pub struct WordPieces {
    normalizer: Option<BertNormalizer>,
    model: WordPiece,
    /// A single text's encoding with one placeholder piece: the special tokens around the text,
    /// with their token types.
    template: Vec<(u32, u32)>,
    /// Where the text's pieces go in `template`.
    text_at: usize,
    max_len: usize,
}

/// Stands for the text's pieces in the template; no vocabulary reaches it.
const PLACEHOLDER: u32 = u32::MAX;

impl WordPieces {
    /// Reads a `tokenizer.json`; texts are cut to `max_len` pieces, special tokens included.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self, ModelError> {
        let bad = |what: String| ModelError::Tokenizer(format!("tokenizer.json: {what}"));
        let json: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let part = |field: &str| json.get(field).filter(|v| !v.is_null());
        let kind = |field: &str| part(field).map(|v| v.get("type").and_then(Value::as_str).unwrap_or("(no type)"));
        let unsupported = |field: &str, found: &str| {
            bad(format!("`{field}` is {found}; a static encoder reads BERT word-piece tokenizers (BertNormalizer, BertPreTokenizer, WordPiece)"))
        };
        let normalizer = match kind("normalizer") {
            None => None,
            Some("BertNormalizer") => Some(read(part("normalizer"), "normalizer").map_err(bad)?),
            Some(other) => return Err(unsupported("normalizer", other)),
        };
        match kind("pre_tokenizer") {
            Some("BertPreTokenizer") => {}
            other => return Err(unsupported("pre_tokenizer", other.unwrap_or("null"))),
        }
        let model: WordPiece = match kind("model") {
            Some("WordPiece") => read(part("model"), "model").map_err(bad)?,
            other => return Err(unsupported("model", other.unwrap_or("null"))),
        };
        let probe = Encoding::from_tokens(vec![Token::new(PLACEHOLDER, String::new(), (0, 0))], 0);
        let processed = match kind("post_processor") {
            None => probe,
            Some("TemplateProcessing") => process(read::<TemplateProcessing>(part("post_processor"), "post_processor").map_err(bad)?, probe)?,
            Some("BertProcessing") => process(read::<BertProcessing>(part("post_processor"), "post_processor").map_err(bad)?, probe)?,
            Some(other) => return Err(bad(format!("`post_processor` is {other}; a static encoder reads TemplateProcessing or BertProcessing"))),
        };
        let template: Vec<(u32, u32)> = processed.get_ids().iter().copied().zip(processed.get_type_ids().iter().copied()).collect();
        let text_at = match template.iter().filter(|(id, _)| *id == PLACEHOLDER).count() {
            1 => template.iter().position(|(id, _)| *id == PLACEHOLDER).expect("counted once"),
            n => return Err(bad(format!("the post-processor's single-text template holds the text {n} times"))),
        };
        if template.len() > max_len {
            return Err(bad(format!("{} special tokens leave no room for the text in {max_len} pieces", template.len() - 1)));
        }
        Ok(Self { normalizer, model, template, text_at, max_len })
    }

    /// [`Self::from_bytes`] for a table of `vocab_size` rows: a tokenizer with more pieces, or
    /// whose special tokens fall outside the table, belongs to another model.
    pub fn for_table(bytes: &[u8], max_len: usize, vocab_size: usize) -> Result<Self, ModelError> {
        let pieces = Self::from_bytes(bytes, max_len)?;
        let special = pieces.template.iter().map(|&(id, _)| id).filter(|&id| id != PLACEHOLDER);
        check_fits_table(pieces.vocab_size(), special, vocab_size)?;
        Ok(pieces)
    }

    /// Word pieces in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.model.get_vocab_size()
    }

    /// Tokenizes each text on its own, special tokens added, the text's pieces cut to fit.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoded>, ModelError> {
        texts.iter().map(|text| self.encode_one(text)).collect()
    }

    fn encode_one(&self, text: &str) -> Result<Encoded, ModelError> {
        let failed = |e: tokenizers::Error| ModelError::Tokenizer(e.to_string());
        let normalized = match &self.normalizer {
            Some(normalizer) => NormalizedString::from(normalize(text, normalizer)),
            None => NormalizedString::from(text),
        };
        let mut words = PreTokenizedString::from(normalized);
        BertPreTokenizer.pre_tokenize(&mut words).map_err(failed)?;
        words.tokenize(|word| self.model.tokenize(word.get())).map_err(failed)?;
        let room = self.max_len - (self.template.len() - 1);
        let splits = words.get_splits(OffsetReferential::Original, OffsetType::None);
        let pieces = splits.iter().flat_map(|(_, _, tokens)| tokens.iter().flatten().map(|token| token.id)).take(room);
        let (before, after) = (&self.template[..self.text_at], &self.template[self.text_at + 1..]);
        let text_type = self.template[self.text_at].1;
        let (ids, type_ids) = before.iter().copied().chain(pieces.map(|id| (id, text_type))).chain(after.iter().copied()).unzip();
        Ok(Encoded { ids, type_ids })
    }
}

/// One part of the `tokenizer.json`, as the `tokenizers` type of that part reads it.
fn read<T: serde::de::DeserializeOwned>(part: Option<&Value>, field: &str) -> Result<T, String> {
    let part = part.ok_or_else(|| format!("no `{field}`"))?;
    T::deserialize(part).map_err(|e| format!("`{field}`: {e}"))
}

/// The probe encoding as `processor` adds special tokens to a single text.
fn process(processor: impl PostProcessor, probe: Encoding) -> Result<Encoding, ModelError> {
    processor.process(probe, None, true).map_err(|e| ModelError::Tokenizer(format!("tokenizer.json: `post_processor`: {e}")))
}

/// Refuses a tokenizer of `pieces` word pieces, whose post-processor adds the `special` ids, for a
/// table of `vocab_size` rows: more pieces, or a special id past the table, mean another model's
/// files.
pub(super) fn check_fits_table(pieces: usize, special: impl IntoIterator<Item = u32>, vocab_size: usize) -> Result<(), ModelError> {
    let not_one_model = "the two files are not of one model";
    if pieces > vocab_size {
        return Err(ModelError::Tokenizer(format!("{pieces} word pieces, more than config.json's vocab_size {vocab_size}: {not_one_model}")));
    }
    if let Some(id) = special.into_iter().find(|&id| id as usize >= vocab_size) {
        return Err(ModelError::Tokenizer(format!(
            "a special token has id {id}, outside config.json's vocab_size {vocab_size}: {not_one_model}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::static_vectors::tests::tokenizer_json;
    use crate::model::TextTokenizer;

    /// The query encoder that ships: all-MiniLM-L6-v2's tokenizer with its vocabulary.
    const MINILM: &[u8] = include_bytes!("../../../models/query/tokenizer.json");

    /// Texts with what the BERT pipeline does something to: case, accents, Chinese characters,
    /// control characters, odd whitespace, punctuation, pieces out of the vocabulary, a word
    /// past `max_input_chars_per_word`, emoji, and nothing at all.
    fn awkward_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "",
            "   ",
            "Protein folding in the ER",
            "Café RÉSUMÉ naïve coöperate",
            "糖尿病 treatment 的 effects",
            "tab\there\u{0}nul\u{fffd}replacement\u{200b}zero-width",
            "what's the p-value (p<0.05)?! [see: fig. 3]",
            "IL-6/STAT3 signaling; TNF-α; β-cells; 10^-3 mol·L⁻¹",
            "ﬁ ligature, Ⅻ numeral, ｆｕｌｌ width",
            "🙂 emoji 👩‍🔬 scientist",
            "mitochondrialbiogenesisisregulatedbyperoxisomeproliferatoractivatedreceptorgammacoactivatoronealphaandmanyothers",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push("word ".repeat(300));
        texts.push("x".repeat(101));
        texts
    }

    #[test]
    fn the_pipelines_ids_for_every_text() {
        for max_len in [3, 16, 128] {
            let pieces = WordPieces::from_bytes(MINILM, max_len).unwrap();
            let pipeline = TextTokenizer::from_bytes(MINILM, max_len).unwrap();
            let texts = awkward_texts();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            assert_eq!(pieces.encode(&texts).unwrap(), pipeline.encode(&texts).unwrap(), "max_len {max_len}");
        }
    }

    #[test]
    fn special_tokens_in_the_text_are_text() {
        let pieces = WordPieces::from_bytes(MINILM, 16).unwrap();
        let ids = &pieces.encode(&["a [SEP] b"]).unwrap()[0].ids;
        assert_eq!(ids.iter().filter(|&&id| id == 102).count(), 1, "only the closing [SEP]: {ids:?}");
    }

    #[test]
    fn the_tiny_tokenizer_agrees_too() {
        let pieces = WordPieces::for_table(&tokenizer_json(), 8, 10).unwrap();
        let pipeline = TextTokenizer::for_table(&tokenizer_json(), 8, 10, None).unwrap();
        let texts = ["protein folding", "a cell, b cell", "unknown words here", ""];
        assert_eq!(pieces.encode(&texts).unwrap(), pipeline.encode(&texts).unwrap());
        assert_eq!(pieces.vocab_size(), 10);
    }

    #[test]
    fn tokenizers_of_other_kinds_and_other_tables_are_refused() {
        let mut json: Value = serde_json::from_slice(&tokenizer_json()).unwrap();
        let error = WordPieces::for_table(&tokenizer_json(), 8, 9).err().expect("ten pieces for nine rows");
        assert!(error.to_string().contains("vocab_size 9"), "{error}");
        json["pre_tokenizer"] = serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
        let error = WordPieces::from_bytes(&serde_json::to_vec(&json).unwrap(), 8).err().expect("a byte-level tokenizer");
        assert!(error.to_string().contains("`pre_tokenizer` is ByteLevel"), "{error}");
        json["pre_tokenizer"] = serde_json::json!({"type": "BertPreTokenizer"});
        json["model"]["type"] = "BPE".into();
        let error = WordPieces::from_bytes(&serde_json::to_vec(&json).unwrap(), 8).err().expect("a BPE model");
        assert!(error.to_string().contains("`model` is BPE"), "{error}");
        let error = WordPieces::from_bytes(b"{\"model\":", 8).err().expect("truncated JSON");
        assert!(error.to_string().starts_with("tokenizer.json"), "{error}");
        let error = WordPieces::from_bytes(&tokenizer_json(), 2).err().expect("no room for the text");
        assert!(error.to_string().contains("2 special tokens"), "{error}");
    }
}

//! Pruning a WordPiece vocabulary to what a corpus uses: the special tokens, every single
//! character piece (with and without `##`, so any word still splits into pieces and nothing new
//! becomes `[UNK]`), and the corpus' most frequent pieces up to a size. Kept pieces keep their
//! order; the new `tokenizer.json` renumbers them and every place that names an id (added tokens,
//! the template's special tokens, padding).

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// A pruned tokenizer and, per new id, the old id whose embedding row it takes.
pub struct PrunedVocab {
    pub tokenizer_json: Vec<u8>,
    pub kept: Vec<u32>,
}

/// Keeps at most `max_vocab` pieces (more only when the special and single-character pieces
/// alone are more): those first, then the pieces with the highest `counts` (per old id; ties to
/// the lower id). A piece the corpus never uses is dropped.
pub fn prune(tokenizer_json: &[u8], counts: &[u64], max_vocab: usize) -> Result<PrunedVocab> {
    let mut json: Value = serde_json::from_slice(tokenizer_json).context("tokenizer.json")?;
    if json["model"]["type"] != "WordPiece" {
        bail!("tokenizer.json: field `model.type`: {} (only WordPiece vocabularies are pruned)", json["model"]["type"]);
    }
    let vocab = json["model"]["vocab"].as_object().context("tokenizer.json: field `model.vocab`")?;
    let mut pieces: Vec<(u32, String)> = Vec::with_capacity(vocab.len());
    for (piece, id) in vocab {
        let id = id.as_u64().with_context(|| format!("tokenizer.json: field `model.vocab.{piece}`"))?;
        pieces.push((id as u32, piece.clone()));
    }
    let added: HashSet<u32> =
        json["added_tokens"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_u64()).map(|id| id as u32).collect();
    let always = |id: u32, piece: &str| added.contains(&id) || piece.trim_start_matches("##").chars().count() == 1;
    let mut keep: HashSet<u32> = pieces.iter().filter(|(id, piece)| always(*id, piece)).map(|(id, _)| *id).collect();
    let mut used: Vec<(u32, u64)> = pieces
        .iter()
        .map(|(id, _)| (*id, counts.get(*id as usize).copied().unwrap_or(0)))
        .filter(|&(id, count)| count > 0 && !keep.contains(&id))
        .collect();
    used.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let room = max_vocab.saturating_sub(keep.len());
    keep.extend(used.iter().take(room).map(|&(id, _)| id));

    pieces.sort_unstable();
    let kept: Vec<(u32, String)> = pieces.into_iter().filter(|(id, _)| keep.contains(id)).collect();
    let new_id: HashMap<u32, u32> = kept.iter().enumerate().map(|(new, (old, _))| (*old, new as u32)).collect();
    let renumber = |value: &mut Value, what: &str| -> Result<()> {
        let old = value.as_u64().with_context(|| format!("tokenizer.json: field `{what}`"))? as u32;
        *value =
            Value::from(*new_id.get(&old).with_context(|| format!("tokenizer.json: field `{what}`: id {old} is not in the vocabulary"))?);
        Ok(())
    };
    json["model"]["vocab"] = Value::Object(kept.iter().enumerate().map(|(new, (_, piece))| (piece.clone(), Value::from(new))).collect());
    for token in json["added_tokens"].as_array_mut().into_iter().flatten() {
        renumber(&mut token["id"], "added_tokens.id")?;
    }
    for special in json["post_processor"]["special_tokens"].as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        for id in special["ids"].as_array_mut().into_iter().flatten() {
            renumber(id, "post_processor.special_tokens.ids")?;
        }
    }
    if json["padding"].is_object() {
        renumber(&mut json["padding"]["pad_id"], "padding.pad_id")?;
    }
    Ok(PrunedVocab { tokenizer_json: serde_json::to_vec(&json)?, kept: kept.iter().map(|(old, _)| *old).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dowse_core::model::TextTokenizer;

    const TOKENIZER: &str = r###"{
        "version": "1.0", "truncation": null,
        "padding": {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [
            {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "c": 4, "a": 5, "t": 6, "s": 7, "##a": 8, "##t": 9, "##s": 10,
                      "cat": 11, "dog": 12, "cats": 13, "at": 14}}
    }"###;

    #[test]
    fn keeps_specials_characters_and_frequent_pieces_and_renumbers() {
        let tokenizer = TextTokenizer::from_bytes(TOKENIZER.as_bytes(), 16).unwrap();
        assert_eq!(tokenizer.encode(&["cats cat at"]).unwrap()[0].ids, [2, 13, 11, 14, 3]);
        // Counted: "cats" twice, "at" once, "cat" and "dog" never; room for one piece beyond the 11 always kept.
        let mut counts = vec![0u64; 15];
        counts[13] = 2;
        counts[14] = 1;
        let pruned = prune(TOKENIZER.as_bytes(), &counts, 12).unwrap();
        assert_eq!(pruned.kept, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13]);
        let small = TextTokenizer::from_bytes(&pruned.tokenizer_json, 16).unwrap();
        // "cats" is kept (new id 11); "cat" and "at" now split into character pieces, never [UNK].
        assert_eq!(small.encode(&["cats cat at"]).unwrap()[0].ids, [2, 11, 4, 8, 9, 5, 9, 3]);
    }
}

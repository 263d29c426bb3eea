//! Documents to passages: each section of a document is cut into windows of whole words that
//! fit the encoder's token budget with the title and heading in front, consecutive windows
//! overlapping so that no sentence is only ever seen cut in two. Runs of words that weigh more
//! or less in BM25 (a site's `data-dowse-weight`) follow their words into the passages.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::corpus::Document;
use crate::model::{ModelError, TextMeasure, WordSpan};
use crate::text::Analyzer;

/// How documents are cut into passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkConfig {
    /// Word pieces per passage (words for a DSSM), special tokens, title and heading included:
    /// what the encoder reads.
    pub max_tokens: usize,
    /// Word pieces (words for a DSSM) that consecutive passages of one section share.
    pub overlap: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self { max_tokens: 256, overlap: 32 }
    }
}

/// A part of a document under one heading; HTML pages have one per h1-h3, other documents one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// The heading text, empty for the part before the first heading or for plain documents.
    pub heading: String,
    /// Where the section can be opened (`page.html#anchor`); `None` falls back to the document's URL.
    pub url: Option<String>,
    pub text: String,
    /// Runs of the text's words that weigh other than 1 in BM25, in order, not overlapping.
    pub weights: Vec<Weighted>,
}

/// Words `words` of a text, counted as `str::split_whitespace` counts them, weighing `weight`
/// (0 to [`crate::bm25::MAX_WEIGHT`]) in BM25.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub words: Range<u32>,
    pub weight: f32,
}

/// A document as the indexer reads it: identity and title, then its sections in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceDocument {
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    pub sections: Vec<Section>,
    /// Fields results show beside the title ([`crate::docstore::StoredDocument::meta`]).
    pub meta: Vec<(String, String)>,
    /// `(key, value)` pairs a search can keep documents by ([`crate::filters`]).
    pub filters: Vec<(String, String)>,
}

impl From<Document> for SourceDocument {
    fn from(doc: Document) -> Self {
        let section = Section { text: doc.text, ..Section::default() };
        Self { id: doc.id, title: doc.title, url: doc.url, sections: vec![section], meta: doc.meta, filters: doc.filters }
    }
}

/// One window of one section: the unit that is embedded, indexed and searched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Passage {
    /// Index of the document it came from.
    pub doc: u32,
    pub heading: String,
    /// The section's URL, if it has its own.
    pub url: Option<String>,
    pub text: String,
    /// The section's weighted runs within this passage's words. Used while indexing only: the
    /// bundle's documents do not keep them.
    pub weights: Vec<Weighted>,
}

/// Title, heading and text joined by spaces, leaving out empty parts: what the encoder and BM25 read.
/// For a one-passage document without a heading this is [`Document::full_text`].
pub fn passage_text(title: &str, heading: &str, text: &str) -> String {
    [title, heading, text].iter().filter(|part| !part.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// What BM25 indexes of a passage: the terms of its title, heading and text, as
/// [`passage_text`] joins them, each with the weight of the word it came from (1 in the title
/// and heading).
pub fn weighted_terms(analyzer: &Analyzer, title: &str, passage: &Passage) -> Vec<(String, f32)> {
    let prefix = passage_text(title, &passage.heading, "");
    let mut terms: Vec<(String, f32)> = analyzer.analyze(&prefix).into_iter().map(|term| (term, 1.0)).collect();
    let starts = word_starts(&passage.text);
    for (span, term) in analyzer.analyze_spans(&passage.text) {
        let word = starts.partition_point(|&s| s <= span.start).saturating_sub(1) as u32;
        let weight = passage.weights.iter().find(|w| w.words.contains(&word)).map_or(1.0, |w| w.weight);
        terms.push((term, weight));
    }
    terms
}

/// Cuts every document into passages, in document order.
/// A document with a title but no text becomes one passage of its title; one with neither, none.
pub fn split_documents(docs: &[SourceDocument], measure: &dyn TextMeasure, config: ChunkConfig) -> Result<Vec<Passage>, ModelError> {
    let mut passages = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let doc_index = u32::try_from(index).expect("fewer than 2^32 documents");
        let first = passages.len();
        for section in &doc.sections {
            let prefix = passage_text(&doc.title, &section.heading, "");
            let prefix_pieces: usize = measure.word_spans(&prefix)?.iter().map(|w| w.pieces).sum();
            // A very long title still leaves room for some text.
            let budget = config.max_tokens.saturating_sub(measure.num_special_tokens() + prefix_pieces).max(config.max_tokens / 4).max(1);
            let words = measure.word_spans(&section.text)?;
            let starts = if section.weights.is_empty() { Vec::new() } else { word_starts(&section.text) };
            for window in windows(&words, budget, config.overlap.min(budget / 2)) {
                let (start, end) = (words[window.start].start, words[window.end - 1].end);
                let text = section.text[start..end].to_string();
                let weights = weights_within(&section.weights, &starts, start, end);
                passages.push(Passage { doc: doc_index, heading: section.heading.clone(), url: section.url.clone(), text, weights });
            }
        }
        if passages.len() == first && !doc.title.is_empty() {
            passages.push(Passage { doc: doc_index, ..Passage::default() });
        }
    }
    Ok(passages)
}

/// Byte offsets where the whitespace-separated words of `text` start.
pub fn word_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut in_word = false;
    for (at, c) in text.char_indices() {
        if !c.is_whitespace() && !in_word {
            starts.push(at);
        }
        in_word = !c.is_whitespace();
    }
    starts
}

/// The runs of `weights` (over a section whose words start at `starts`) that fall in the bytes
/// `start..end`, counted from the word that holds `start` (a window may begin inside a
/// whitespace-separated word, at a word piece boundary such as after a full stop).
fn weights_within(weights: &[Weighted], starts: &[usize], start: usize, end: usize) -> Vec<Weighted> {
    let first = starts.partition_point(|&s| s <= start).saturating_sub(1) as u32;
    let last = starts.partition_point(|&s| s < end) as u32;
    weights
        .iter()
        .filter(|w| w.words.start < last && w.words.end > first)
        .map(|w| Weighted { words: w.words.start.max(first) - first..w.words.end.min(last) - first, weight: w.weight })
        .collect()
}

/// Ranges of `words` holding at most `budget` pieces each (a single longer word stands alone),
/// each starting so that it repeats at most `overlap` pieces of the one before.
fn windows(words: &[WordSpan], budget: usize, overlap: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < words.len() {
        let mut end = start;
        let mut pieces = 0;
        while end < words.len() && (end == start || pieces + words[end].pieces <= budget) {
            pieces += words[end].pieces;
            end += 1;
        }
        out.push(start..end);
        if end == words.len() {
            break;
        }
        let mut next = end;
        let mut shared = 0;
        while next > start + 1 && shared + words[next - 1].pieces <= overlap {
            shared += words[next - 1].pieces;
            next -= 1;
        }
        start = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pieces: &[usize]) -> Vec<WordSpan> {
        pieces.iter().enumerate().map(|(i, &pieces)| WordSpan { start: i * 2, end: i * 2 + 1, pieces }).collect()
    }

    #[test]
    fn windows_respect_budget_and_overlap() {
        let spans = words(&[1; 10]);
        assert_eq!(windows(&spans, 4, 1), vec![0..4, 3..7, 6..10]);
        assert_eq!(windows(&spans, 4, 0), vec![0..4, 4..8, 8..10]);
        assert_eq!(windows(&spans, 20, 5), vec![0..10]);
        assert!(windows(&[], 4, 1).is_empty());
    }

    #[test]
    fn a_word_longer_than_the_budget_stands_alone_and_progress_is_made() {
        let spans = words(&[1, 9, 1, 1]);
        assert_eq!(windows(&spans, 3, 2), vec![0..1, 1..2, 2..4]);
    }

    /// Word spans of whitespace-separated words, one piece each.
    struct Words;

    impl TextMeasure for Words {
        fn word_spans(&self, text: &str) -> Result<Vec<WordSpan>, ModelError> {
            let starts = word_starts(text);
            Ok(starts
                .iter()
                .map(|&start| WordSpan { start, end: text[start..].find(char::is_whitespace).map_or(text.len(), |e| start + e), pieces: 1 })
                .collect())
        }

        fn num_special_tokens(&self) -> usize {
            0
        }
    }

    #[test]
    fn weighted_runs_follow_their_words_into_passages() {
        let weighted = |words: Range<u32>, weight| Weighted { words, weight };
        let section = Section {
            text: "w0 w1 w2 w3 w4 w5 w6 w7".into(),
            weights: vec![weighted(1..3, 2.0), weighted(5..6, 0.0)],
            ..Section::default()
        };
        let doc = SourceDocument {
            id: "d".into(),
            title: String::new(),
            url: None,
            sections: vec![section],
            meta: Vec::new(),
            filters: Vec::new(),
        };
        let passages = split_documents(&[doc], &Words, ChunkConfig { max_tokens: 4, overlap: 1 }).unwrap();
        let got: Vec<(&str, Vec<Weighted>)> = passages.iter().map(|p| (p.text.as_str(), p.weights.clone())).collect();
        assert_eq!(got, [("w0 w1 w2 w3", vec![weighted(1..3, 2.0)]), ("w3 w4 w5 w6", vec![weighted(2..3, 0.0)]), ("w6 w7", vec![]),]);
        // Each term weighs what its word does; without weights, the terms are those of the whole text.
        let analyzer = Analyzer::default();
        let terms = weighted_terms(&analyzer, "Title", &passages[0]);
        assert_eq!(terms, [("titl", 1.0), ("w0", 1.0), ("w1", 2.0), ("w2", 2.0), ("w3", 1.0)].map(|(t, w)| (t.to_string(), w)));
        let plain =
            Passage { heading: "Sunlight needs".into(), text: "Give them eight hours, of direct sun.".into(), ..Passage::default() };
        let joined = analyzer.analyze(&passage_text("Growing tomatoes", &plain.heading, &plain.text));
        assert_eq!(weighted_terms(&analyzer, "Growing tomatoes", &plain), joined.into_iter().map(|t| (t, 1.0)).collect::<Vec<_>>());
    }

    #[test]
    fn a_window_starting_inside_a_word_counts_from_that_word() {
        let runs = [Weighted { words: 0..2, weight: 3.0 }];
        let text = "a.b c d";
        // A window from "b" (byte 2, inside the first word "a.b") to the end.
        assert_eq!(weights_within(&runs, &word_starts(text), 2, text.len()), [Weighted { words: 0..2, weight: 3.0 }]);
        assert_eq!(weights_within(&runs, &word_starts(text), 4, text.len()), [Weighted { words: 0..1, weight: 3.0 }]);
    }

    #[test]
    fn passage_text_skips_empty_parts() {
        assert_eq!(passage_text("T", "", "body"), "T body");
        assert_eq!(passage_text("", "H", ""), "H");
        let doc = Document { id: "d".into(), title: "T".into(), text: "body".into(), url: None, meta: Vec::new(), filters: Vec::new() };
        assert_eq!(passage_text(&doc.title, "", &doc.text), doc.full_text());
    }
}

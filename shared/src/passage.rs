//! Documents to passages: each section of a document is cut into windows of whole words that
//! fit the encoder's token budget with the title and heading in front, consecutive windows
//! overlapping so that no sentence is only ever seen cut in two.

use serde::{Deserialize, Serialize};

use crate::corpus::Document;
use crate::model::{ModelError, TextMeasure, WordSpan};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading text, empty for the part before the first heading or for plain documents.
    pub heading: String,
    /// Where the section can be opened (`page.html#anchor`); `None` falls back to the document's URL.
    pub url: Option<String>,
    pub text: String,
}

/// A document as the indexer reads it: identity and title, then its sections in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDocument {
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    pub sections: Vec<Section>,
    /// Fields results show beside the title ([`crate::docstore::StoredDocument::meta`]).
    pub meta: Vec<(String, String)>,
}

impl From<Document> for SourceDocument {
    fn from(doc: Document) -> Self {
        let section = Section { heading: String::new(), url: None, text: doc.text };
        Self { id: doc.id, title: doc.title, url: doc.url, sections: vec![section], meta: doc.meta }
    }
}

/// One window of one section: the unit that is embedded, indexed and searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Index of the document it came from.
    pub doc: u32,
    pub heading: String,
    /// The section's URL, if it has its own.
    pub url: Option<String>,
    pub text: String,
}

/// Title, heading and text joined by spaces, leaving out empty parts: what the encoder and BM25 read.
/// For a one-passage document without a heading this is [`Document::full_text`].
pub fn passage_text(title: &str, heading: &str, text: &str) -> String {
    [title, heading, text].iter().filter(|part| !part.is_empty()).copied().collect::<Vec<_>>().join(" ")
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
            for window in windows(&words, budget, config.overlap.min(budget / 2)) {
                let text = section.text[words[window.start].start..words[window.end - 1].end].to_string();
                passages.push(Passage { doc: doc_index, heading: section.heading.clone(), url: section.url.clone(), text });
            }
        }
        if passages.len() == first && !doc.title.is_empty() {
            passages.push(Passage { doc: doc_index, heading: String::new(), url: None, text: String::new() });
        }
    }
    Ok(passages)
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

    #[test]
    fn passage_text_skips_empty_parts() {
        assert_eq!(passage_text("T", "", "body"), "T body");
        assert_eq!(passage_text("", "H", ""), "H");
        let doc = Document { id: "d".into(), title: "T".into(), text: "body".into(), url: None, meta: Vec::new() };
        assert_eq!(passage_text(&doc.title, "", &doc.text), doc.full_text());
    }
}

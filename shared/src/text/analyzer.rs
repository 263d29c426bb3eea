//! The analyzer: text -> index terms, as Lucene's EnglishAnalyzer does it.
//!
//! Words are split by Unicode's word boundaries (UAX #29), lowercased, stripped of a
//! possessive `'s`, filtered by the English stopword list and stemmed with the
//! Snowball English (Porter2) stemmer.

use std::ops::Range;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

use super::stopwords::is_stopword;

/// Turns text into the terms BM25 indexes and searches.
pub struct Analyzer {
    stemmer: Stemmer,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self { stemmer: Stemmer::create(Algorithm::English) }
    }
}

impl Analyzer {
    /// The terms of `text`, in order, duplicates kept.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        self.analyze_spans(text).into_iter().map(|(_, term)| term).collect()
    }

    /// The terms of `text` with the byte range of the word each came from.
    pub fn analyze_spans(&self, text: &str) -> Vec<(Range<usize>, String)> {
        text.unicode_word_indices()
            .filter_map(|(start, word)| {
                let lower = word.to_lowercase();
                let stripped = lower.strip_suffix("'s").or_else(|| lower.strip_suffix("\u{2019}s")).unwrap_or(&lower);
                if stripped.is_empty() || is_stopword(stripped) {
                    return None;
                }
                Some((start..start + word.len(), self.stemmer.stem(stripped).into_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_stems_and_drops_stopwords() {
        let analyzer = Analyzer::default();
        assert_eq!(analyzer.analyze("The Running of the Proteins"), vec!["run", "protein"]);
        assert_eq!(analyzer.analyze("Einstein's theories"), vec!["einstein", "theori"]);
        assert_eq!(analyzer.analyze("Ünïcödé CAFÉ, 東京!"), vec!["ünïcödé", "café", "東", "京"]);
        assert!(analyzer.analyze("  ,.;  ").is_empty());
    }
}

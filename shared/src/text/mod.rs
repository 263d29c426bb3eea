//! Text analysis for lexical search (Unicode word splitting, lowercasing, stopwords, stemming),
//! the snippets that show its matches, and the cap on hostile words.

mod analyzer;
mod long_words;
mod snippet;
mod stopwords;

pub use analyzer::Analyzer;
pub use long_words::{cap_long_words, MAX_WORD_BYTES};
pub use snippet::{snippet, Snippet};
pub use stopwords::is_stopword;

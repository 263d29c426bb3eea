//! Text analysis for lexical search (Unicode word splitting, lowercasing, stopwords, stemming)
//! and the snippets that show its matches.

mod analyzer;
mod snippet;
mod stopwords;

pub use analyzer::Analyzer;
pub use snippet::{snippet, Snippet};

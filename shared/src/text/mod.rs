//! Text analysis for lexical search: Unicode word splitting, lowercasing, stopwords, stemming.

mod analyzer;
mod stopwords;

pub use analyzer::Analyzer;

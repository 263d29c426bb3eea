//! Corpus readers: every format dowse reads, parsed from bytes into the same few types.
//!
//! The CLI opens files and hands their bytes here with a name for error messages;
//! nothing in this module touches the file system.

mod csv_pairs;
mod json;
mod lines;
mod msmarco;
mod smart;
mod trec;

pub use csv_pairs::{read_labeled_pairs, LabeledPair};
pub use json::{read_documents_jsonl, read_queries_jsonl};
pub use msmarco::{read_id_text_tsv, read_triples_tsv, Triple};
pub use smart::{read_smart_qrels, read_smart_records, SmartGrades, SmartRecord};
pub use trec::{format_run, read_qrels, read_run, Qrels, Run};

/// A retrievable unit: a document, or later a passage of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
    /// Fields results show beside the title ([`crate::docstore::StoredDocument::meta`]).
    pub meta: Vec<(String, String)>,
    /// (key, value) pairs searches narrow by; a key may repeat ([`crate::filters`]).
    pub filters: Vec<(String, String)>,
}

impl Document {
    /// Title and text as one field, the way BM25 indexes and the encoders read them.
    pub fn full_text(&self) -> String {
        match (self.title.is_empty(), self.text.is_empty()) {
            (true, _) => self.text.clone(),
            (false, true) => self.title.clone(),
            (false, false) => format!("{} {}", self.title, self.text),
        }
    }
}

/// A query with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: String,
    pub text: String,
}

//! The search bundle: everything a client needs to search a corpus, as a folder of files.
//!
//! ```text
//! manifest.json            format version, models, counts, build settings, sha256 + length of each file
//! model/config.json        the query encoder, Hugging Face layout (in an asymmetric bundle the
//!                          passages were encoded natively by a larger model, named in the manifest)
//! model/model.safetensors
//! model/tokenizer.json    (a DSSM's letter trigrams: model/vocab.txt instead)
//! vectors.bin              passage vectors (crate::vectors)
//! graph.bin                HNSW graph over the passages (crate::hnsw)
//! bm25.bin                 inverted index over the passages (crate::bm25)
//! documents.bin            documents and passage texts (crate::docstore)
//! map.bin                  2-D PCA map of the passages (crate::projection)
//! fragments/NAME           format version 2's root and fragments (crate::fragments), each named by
//!                          its content address; the manifest names the root
//! ```
//!
//! Passage `i` is row `i` of the vectors, node `i` of the graph, document `i` of BM25 and point `i`
//! of the map.
//! [`Bundle::from_files`] takes bytes (the browser fetches them, the CLI reads them) and checks
//! every length, checksum, section and count before anything is searched.

mod manifest;
mod search;

use std::borrow::Cow;
use std::collections::HashMap;

use thiserror::Error;

pub use manifest::{
    sha256_hex, FileEntry, FragmentsInfo, HnswInfo, Manifest, ModelInfo, PassageModelInfo, RescoreCheck, FORMAT, FORMAT_VERSION,
};

use crate::bm25::Bm25Index;
use crate::docstore::DocStore;
use crate::error::FormatError;
use crate::hnsw::HnswGraph;
use crate::model::{EncoderKind, ModelFiles};
use crate::projection::Projection;
use crate::vectors::VectorStore;

pub const MANIFEST: &str = "manifest.json";
pub const MODEL_CONFIG: &str = "model/config.json";
pub const MODEL_WEIGHTS: &str = "model/model.safetensors";
pub const MODEL_TOKENIZER: &str = "model/tokenizer.json";
pub const MODEL_VOCAB: &str = "model/vocab.txt";
pub const VECTORS: &str = "vectors.bin";
pub const GRAPH: &str = "graph.bin";
pub const BM25: &str = "bm25.bin";
pub const DOCUMENTS: &str = "documents.bin";
pub const MAP: &str = "map.bin";
/// The folder of format version 2's root and fragments, each named by its content address.
pub const FRAGMENTS: &str = "fragments";

/// Every file a bundle may hold besides the manifest, in the order they are written and fetched;
/// a bundle holds one of the two tokenizer files, the one its model reads.
pub const FILES: [&str; 9] = [MODEL_CONFIG, MODEL_TOKENIZER, MODEL_VOCAB, MODEL_WEIGHTS, VECTORS, GRAPH, BM25, DOCUMENTS, MAP];

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("manifest.json: {0}")]
    Manifest(String),
    #[error(
        "manifest.json: bundle format version {found} is newer than this build reads ({supported}); upgrade dowse or rebuild the bundle"
    )]
    NewerFormat { found: u64, supported: u32 },
    #[error("{0}: missing from the bundle")]
    MissingFile(String),
    #[error("{path}: {found} bytes, the manifest says {expected} (truncated or replaced)")]
    Size { path: String, expected: u64, found: u64 },
    #[error("{path}: sha256 does not match the manifest (corrupted or tampered with)")]
    Checksum { path: String },
    #[error("{path}: {source}")]
    Section { path: String, source: FormatError },
    #[error("bundle is inconsistent: {0}")]
    Inconsistent(String),
}

/// The query encoder's three files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelBytes {
    pub config: Vec<u8>,
    pub weights: Vec<u8>,
    pub tokenizer: Vec<u8>,
}

impl ModelBytes {
    pub fn files(&self) -> ModelFiles<'_> {
        ModelFiles { config: &self.config, weights: &self.weights, tokenizer: &self.tokenizer }
    }

    /// Where the tokenizer goes in a bundle: a DSSM's vocabulary is `vocab.txt`, every other
    /// model's tokenizer `tokenizer.json`.
    pub fn tokenizer_path(&self) -> &'static str {
        match EncoderKind::of(&self.config) {
            Ok(EncoderKind::Dssm) => MODEL_VOCAB,
            _ => MODEL_TOKENIZER,
        }
    }
}

fn section(path: &str, source: FormatError) -> BundleError {
    BundleError::Section { path: path.to_string(), source }
}

/// A loaded bundle.
pub struct Bundle {
    /// Describes the bundle; its `files` are filled in by [`Bundle::to_files`].
    pub manifest: Manifest,
    pub model: ModelBytes,
    pub vectors: VectorStore,
    pub graph: HnswGraph,
    pub bm25: Bm25Index,
    pub docs: DocStore,
    pub map: Projection,
}

impl Bundle {
    /// Every file of the bundle, manifest last, with the manifest's file entries filled in. The
    /// model's files are borrowed (the weights are most of a bundle's bytes), the rest serialized.
    pub fn to_files(&self) -> Vec<(&'static str, Cow<'_, [u8]>)> {
        let mut files: Vec<(&'static str, Cow<'_, [u8]>)> = vec![
            (MODEL_CONFIG, Cow::Borrowed(self.model.config.as_slice())),
            (self.model.tokenizer_path(), Cow::Borrowed(self.model.tokenizer.as_slice())),
            (MODEL_WEIGHTS, Cow::Borrowed(self.model.weights.as_slice())),
            (VECTORS, Cow::Owned(self.vectors.to_bytes())),
            (GRAPH, Cow::Owned(self.graph.to_bytes())),
            (BM25, Cow::Owned(self.bm25.to_bytes())),
            (DOCUMENTS, Cow::Owned(self.docs.to_bytes())),
            (MAP, Cow::Owned(self.map.to_bytes())),
        ];
        let mut manifest = self.manifest.clone();
        manifest.files = files.iter().map(|(path, bytes)| FileEntry::describe(path, bytes)).collect();
        files.push((MANIFEST, Cow::Owned(manifest.to_json())));
        files
    }

    /// Reads a bundle from its files by path, checking each against the manifest.
    pub fn from_files(mut files: HashMap<String, Vec<u8>>) -> Result<Self, BundleError> {
        let manifest_bytes = files.remove(MANIFEST).ok_or_else(|| BundleError::MissingFile(MANIFEST.into()))?;
        let manifest = Manifest::from_json(&manifest_bytes)?;
        let mut take = |path: &str| -> Result<Vec<u8>, BundleError> {
            let bytes = files.remove(path).ok_or_else(|| BundleError::MissingFile(path.to_string()))?;
            manifest.verify(path, &bytes)?;
            Ok(bytes)
        };
        let tokenizer = if manifest.entry(MODEL_VOCAB).is_some() { MODEL_VOCAB } else { MODEL_TOKENIZER };
        let model = ModelBytes { config: take(MODEL_CONFIG)?, weights: take(MODEL_WEIGHTS)?, tokenizer: take(tokenizer)? };
        let vectors = VectorStore::from_bytes(&take(VECTORS)?).map_err(|source| section(VECTORS, source))?;
        let graph = HnswGraph::from_bytes(&take(GRAPH)?).map_err(|source| section(GRAPH, source))?;
        let bm25 = Bm25Index::from_bytes(&take(BM25)?).map_err(|source| section(BM25, source))?;
        let docs = DocStore::from_bytes(&take(DOCUMENTS)?).map_err(|source| section(DOCUMENTS, source))?;
        let map = Projection::from_bytes(&take(MAP)?).map_err(|source| section(MAP, source))?;
        let bundle = Self { manifest, model, vectors, graph, bm25, docs, map };
        bundle.check_counts()?;
        Ok(bundle)
    }

    /// A short id that changes whenever any file changes: the manifest's hash.
    pub fn id(&self) -> String {
        let files = self.manifest.files.iter().map(|f| format!("{} {}\n", f.path, f.sha256)).collect::<String>();
        sha256_hex(files.as_bytes())[..16].to_string()
    }

    fn check_counts(&self) -> Result<(), BundleError> {
        let passages = self.docs.passages.len();
        let counts = [
            ("manifest passages", self.manifest.passages),
            ("vectors", self.vectors.rows()),
            ("graph nodes", self.graph.num_nodes()),
            ("BM25 documents", self.bm25.num_docs()),
            ("map points", self.map.points().len()),
        ];
        if let Some((what, n)) = counts.iter().find(|(_, n)| *n != passages) {
            return Err(BundleError::Inconsistent(format!("{passages} passages but {n} {what}")));
        }
        if self.docs.documents.len() != self.manifest.documents {
            return Err(BundleError::Inconsistent(format!(
                "{} documents, the manifest says {}",
                self.docs.documents.len(),
                self.manifest.documents
            )));
        }
        if self.map.dim() != self.manifest.model.dim {
            return Err(BundleError::Inconsistent(format!(
                "the map projects {}-dimensional vectors, the manifest says {}",
                self.map.dim(),
                self.manifest.model.dim
            )));
        }
        if let Some(passage_model) = self.manifest.passage_model.as_ref().filter(|p| p.dim != self.manifest.model.dim) {
            return Err(BundleError::Inconsistent(format!(
                "the passage model {} makes {}-dimensional vectors, the query encoder {}-dimensional",
                passage_model.id, passage_model.dim, self.manifest.model.dim
            )));
        }
        let model_dim = EncoderKind::dim_of(&self.model.config).map_err(|e| BundleError::Inconsistent(format!("{MODEL_CONFIG}: {e}")))?;
        if model_dim != self.manifest.model.dim {
            return Err(BundleError::Inconsistent(format!(
                "the query encoder ({MODEL_CONFIG}) makes {model_dim}-dimensional vectors, the passages are {}-dimensional: it is not the model they were encoded with",
                self.manifest.model.dim
            )));
        }
        if self.vectors.dim() != self.manifest.model.dim || self.vectors.quantization() != self.manifest.quantization {
            return Err(BundleError::Inconsistent(format!(
                "vectors are {}-dimensional {}, the manifest says {}-dimensional {}",
                self.vectors.dim(),
                self.vectors.quantization(),
                self.manifest.model.dim,
                self.manifest.quantization
            )));
        }
        Ok(())
    }
}

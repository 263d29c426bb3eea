//! The search bundle (format version 2): everything a client needs to search a corpus, as a
//! folder of files.
//!
//! ```text
//! manifest.json            format version, models, counts, build settings, the root's name, and
//!                          the length and sha256 of the model's files and the map
//! model/config.json        the query encoder, Hugging Face layout (in an asymmetric bundle the
//!                          passages were encoded natively by a larger model, named in the manifest)
//! model/model.safetensors
//! model/tokenizer.json    (a DSSM's letter trigrams: model/vocab.txt instead)
//! map.bin                  2-D PCA map of the passages (crate::projection)
//! fragments/NAME           the root and the fragments (crate::fragments): BM25 term shards,
//!                          document chunks, the passages' sign codes and their vectors in chunks,
//!                          each named by the content address of its bytes
//! ```
//!
//! Passage `i` is row `i` of the vectors, document `i` of BM25 and point `i` of the map. A browser
//! reads the manifest and the root, then only the fragments each query asks for; natively
//! [`Bundle::from_files`] takes every file at once. Both search through the same
//! [`LazyBundle`], and every length, checksum, section and count is checked before anything is
//! searched.

mod manifest;

use std::collections::HashMap;

use thiserror::Error;

pub use manifest::{
    sha256_hex, FileEntry, FragmentsInfo, Manifest, ModelInfo, PassageModelInfo, RescoreCheck, FORMAT, FORMAT_VERSION,
};

use crate::error::FormatError;
use crate::fragments::{fragment_name, FragmentError, LazyBundle, Missing, Root, Split};
use crate::model::{EncoderKind, ModelFiles};
use crate::projection::Projection;
use crate::search::{Hit, SearchOptions};
use crate::text::Analyzer;

pub const MANIFEST: &str = "manifest.json";
pub const MODEL_CONFIG: &str = "model/config.json";
pub const MODEL_WEIGHTS: &str = "model/model.safetensors";
pub const MODEL_TOKENIZER: &str = "model/tokenizer.json";
pub const MODEL_VOCAB: &str = "model/vocab.txt";
pub const MAP: &str = "map.bin";
/// The folder of the root and the fragments, each named by its content address.
pub const FRAGMENTS: &str = "fragments";

/// Every file a bundle may hold besides the manifest and the fragments, in the order they are
/// written; a bundle holds one of the two tokenizer files, the one its model reads.
pub const FILES: [&str; 5] = [MODEL_CONFIG, MODEL_TOKENIZER, MODEL_VOCAB, MODEL_WEIGHTS, MAP];

/// A file of a bundle: its path inside the bundle folder, and its bytes.
pub type BundleFile = (String, Vec<u8>);

/// The path of a fragment (or the root) in a bundle folder.
pub fn fragment_path(name: &str) -> String {
    format!("{FRAGMENTS}/{name}")
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("manifest.json: {0}")]
    Manifest(String),
    #[error(
        "manifest.json: bundle format version {found} is newer than this build reads ({supported}); upgrade dowse or rebuild the bundle"
    )]
    NewerFormat { found: u64, supported: u32 },
    #[error(
        "manifest.json: bundle format version {found} is no longer read (this build reads version {supported}, fetched in fragments); index the site again with `dowse index`"
    )]
    OlderFormat { found: u64, supported: u32 },
    #[error("{0}: missing from the bundle")]
    MissingFile(String),
    #[error("{path}: {found} bytes, the manifest says {expected} (truncated or replaced)")]
    Size { path: String, expected: u64, found: u64 },
    #[error("{path}: sha256 does not match the manifest (corrupted or tampered with)")]
    Checksum { path: String },
    #[error("{path}: {source}")]
    Section { path: String, source: FormatError },
    #[error("{FRAGMENTS}/{0}")]
    Fragment(#[source] FragmentError),
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

    /// Reads the model's files through `take` (path -> checked bytes), the tokenizer file being
    /// the one the manifest lists.
    pub fn read(manifest: &Manifest, mut take: impl FnMut(&str) -> Result<Vec<u8>, BundleError>) -> Result<Self, BundleError> {
        let tokenizer = if manifest.entry(MODEL_VOCAB).is_some() { MODEL_VOCAB } else { MODEL_TOKENIZER };
        Ok(Self { config: take(MODEL_CONFIG)?, weights: take(MODEL_WEIGHTS)?, tokenizer: take(tokenizer)? })
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

/// A bundle with every fragment loaded, as the command line reads it.
pub struct Bundle {
    pub manifest: Manifest,
    pub model: ModelBytes,
    pub map: Projection,
    pub index: LazyBundle,
}

impl Bundle {
    /// Lays out every file of a bundle cut by [`Root::split`]: the model, the map, the fragments
    /// and the root under [`FRAGMENTS`], and the manifest last, its file entries filled in (its
    /// fragments info must describe `split`: [`FragmentsInfo::of`]).
    pub fn files(manifest: &Manifest, model: &ModelBytes, map: &Projection, split: Split) -> Vec<BundleFile> {
        let mut files = vec![
            (MODEL_CONFIG.to_string(), model.config.clone()),
            (model.tokenizer_path().to_string(), model.tokenizer.clone()),
            (MODEL_WEIGHTS.to_string(), model.weights.clone()),
            (MAP.to_string(), map.to_bytes()),
        ];
        let mut manifest = manifest.clone();
        manifest.files = files.iter().map(|(path, bytes)| FileEntry::describe(path, bytes)).collect();
        let root = split.root.to_bytes();
        let fragments = split.fragments.into_iter().chain([(fragment_name(&root), root)]);
        files.extend(fragments.map(|(name, bytes)| (fragment_path(&name), bytes)));
        files.push((MANIFEST.to_string(), manifest.to_json()));
        files
    }

    /// Reads a whole bundle from its files by path, checking each against the manifest or its
    /// name, and loads every fragment.
    pub fn from_files(mut files: HashMap<String, Vec<u8>>) -> Result<Self, BundleError> {
        let manifest_bytes = files.remove(MANIFEST).ok_or_else(|| BundleError::MissingFile(MANIFEST.into()))?;
        let manifest = Manifest::from_json(&manifest_bytes)?;
        let mut take = |path: &str| files.remove(path).ok_or_else(|| BundleError::MissingFile(path.to_string()));
        let model = ModelBytes::read(&manifest, |path| {
            let bytes = take(path)?;
            manifest.verify(path, &bytes)?;
            Ok(bytes)
        })?;
        let map_bytes = take(MAP)?;
        manifest.verify(MAP, &map_bytes)?;
        let map = Projection::from_bytes(&map_bytes).map_err(|source| section(MAP, source))?;
        let mut index = open_root(&manifest, &take(&fragment_path(&manifest.fragments.root))?)?;
        for name in index.every_fragment() {
            let bytes = take(&fragment_path(&name))?;
            index.load(&name, &bytes).map_err(BundleError::Fragment)?;
        }
        check_model(&manifest, &model)?;
        check_map(&manifest, &map)?;
        Ok(Self { manifest, model, map, index })
    }

    /// A short id that changes whenever any file changes: the hash of the manifest's file entries
    /// and the root's name (which names every fragment).
    pub fn id(&self) -> String {
        let files = self.manifest.files.iter().map(|f| format!("{} {}\n", f.path, f.sha256)).collect::<String>();
        sha256_hex(format!("{files}{}", self.manifest.fragments.root).as_bytes())[..16].to_string()
    }

    /// Runs a whole search. `vector` is the query's embedding; without one, dense retrieval adds
    /// nothing.
    pub fn search(&self, analyzer: &Analyzer, query: &str, vector: Option<&[f32]>, options: &SearchOptions) -> Result<Vec<Hit>, Missing> {
        self.index.search(&analyzer.analyze(query), vector, options)
    }
}

/// Reads the root the manifest names from its bytes, checked against its name and the manifest's
/// counts: a [`LazyBundle`] with no fragment loaded yet.
pub fn open_root(manifest: &Manifest, bytes: &[u8]) -> Result<LazyBundle, BundleError> {
    let name = &manifest.fragments.root;
    if fragment_name(bytes) != *name {
        return Err(BundleError::Fragment(FragmentError::Checksum(name.clone())));
    }
    let root = Root::from_bytes(bytes).map_err(|source| section(&fragment_path(name), source))?;
    let passages = root.documents.num_passages();
    if passages != manifest.passages || root.documents.num_documents() != manifest.documents {
        return Err(BundleError::Inconsistent(format!(
            "the root holds {passages} passages of {} documents, the manifest says {} of {}",
            root.documents.num_documents(),
            manifest.passages,
            manifest.documents
        )));
    }
    Ok(LazyBundle::new(root))
}

/// Checks that the query encoder makes vectors of the passages' dimension.
pub fn check_model(manifest: &Manifest, model: &ModelBytes) -> Result<(), BundleError> {
    if let Some(passage_model) = manifest.passage_model.as_ref().filter(|p| p.dim != manifest.model.dim) {
        return Err(BundleError::Inconsistent(format!(
            "the passage model {} makes {}-dimensional vectors, the query encoder {}-dimensional",
            passage_model.id, passage_model.dim, manifest.model.dim
        )));
    }
    let model_dim = EncoderKind::dim_of(&model.config).map_err(|e| BundleError::Inconsistent(format!("{MODEL_CONFIG}: {e}")))?;
    if model_dim != manifest.model.dim {
        return Err(BundleError::Inconsistent(format!(
            "the query encoder ({MODEL_CONFIG}) makes {model_dim}-dimensional vectors, the passages are {}-dimensional: it is not the model they were encoded with",
            manifest.model.dim
        )));
    }
    Ok(())
}

/// Checks that the map has a point for every passage and projects the passages' dimension.
pub fn check_map(manifest: &Manifest, map: &Projection) -> Result<(), BundleError> {
    if map.points().len() != manifest.passages || map.dim() != manifest.model.dim {
        return Err(BundleError::Inconsistent(format!(
            "the map has {} points of {} dimensions, the manifest says {} passages of {}",
            map.points().len(),
            map.dim(),
            manifest.passages,
            manifest.model.dim
        )));
    }
    Ok(())
}

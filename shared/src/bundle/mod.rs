//! The search bundle (format version 7): everything a client needs to search a corpus, as a
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
//!
//! Without the `encoders` feature the manifest, the root and the map are still read (what the
//! browser's keyword build needs); the query encoder's files ([`ModelBytes`]) and the whole
//! bundle ([`Bundle`]) need the models.

mod manifest;

use thiserror::Error;

pub use manifest::{sha256_hex, FileEntry, FragmentsInfo, Manifest, ModelInfo, PassageModelInfo, RescoreCheck, FORMAT, FORMAT_VERSION};

use crate::error::FormatError;
use crate::fragments::{open_fragment, FragmentError, LazyBundle, Root};
use crate::projection::Projection;

#[cfg(feature = "encoders")]
mod whole;
#[cfg(feature = "encoders")]
pub use whole::{check_model, Bundle, ModelBytes};

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
    Fragment(#[from] FragmentError),
    #[error("bundle is inconsistent: {0}")]
    Inconsistent(String),
}

fn section(path: &str, source: FormatError) -> BundleError {
    BundleError::Section { path: path.to_string(), source }
}

/// Reads the root the manifest names from its bytes, checked against its name and the manifest's
/// counts: a [`LazyBundle`] with no fragment loaded yet.
pub fn open_root(manifest: &Manifest, bytes: &[u8]) -> Result<LazyBundle, BundleError> {
    let name = &manifest.fragments.root;
    let root = Root::from_bytes(&open_fragment(name, bytes)?).map_err(|source| section(&fragment_path(name), source))?;
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

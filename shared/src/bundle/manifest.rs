//! `manifest.json`: what a bundle holds and how it was built, and the length and sha256 of every
//! other file in it, so that a reader can reject a truncated, corrupted or tampered bundle.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BundleError;
use crate::bm25::Bm25Params;
use crate::dense_chunks::CalibrationQueries;
use crate::fragments::Split;
use crate::passage::ChunkConfig;
use crate::vectors::Quantization;

/// The value of `format` in every manifest.
pub const FORMAT: &str = "dowse-bundle";
/// The bundle format this build reads and writes: version 7, a root and fragments named by 6
/// bytes of their sha256, documents with their metadata, BM25 counting weighted words, the vector
/// chunks named in the sign codes, the codes rotated where it pays. Versions 1 (whole files:
/// vectors, graph, BM25, documents), 2 (no metadata), 3 (BM25 counting words), 4 (every name in
/// the root), 5 (no rotation) and 6 (names of 8 bytes) are refused with a message to index again.
pub const FORMAT_VERSION: u32 = 7;

/// The query encoder: the model in the bundle's `model/` folder, which must encode its queries.
/// In a symmetric bundle it also encoded the passages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where the model came from (a name or folder), for people reading the manifest.
    pub id: String,
    pub dim: usize,
    /// Tokens per text, special tokens included.
    pub max_len: usize,
    /// A static encoder's table in fragments: the name of its head in `fragments/`, which names
    /// the shards of rows. The browser's small encoder worker loads these instead of the
    /// model's weights; absent for every other kind of model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<String>,
}

/// The model that encoded the passages of an asymmetric bundle, natively at index time; it is not
/// in the bundle. Its sha256 tells which weights the vectors came from, so a later index (or a
/// reader) can tell vectors of two different models apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassageModelInfo {
    pub id: String,
    pub dim: usize,
    /// sha256 of the passage model's `model.safetensors`.
    pub sha256: String,
}

/// The bundle's root and fragments: each is `fragments/NAME`, NAME the content address of its
/// bytes ([`crate::fragments::fragment_name`]), so the manifest names only the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FragmentsInfo {
    /// The root's name in `fragments/`.
    pub root: String,
    /// Fragments besides the root.
    pub count: usize,
    /// Candidates the sign codes pick for rescoring (also in the root).
    pub rescore: usize,
    /// What the depth was calibrated on and the recall@10 it reached against an exact search;
    /// absent when nothing was measured (a corpus too small: every passage is rescored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<RescoreCheck>,
}

impl FragmentsInfo {
    /// Describes a bundle cut by [`crate::fragments::Root::split`]. Too few calibration queries measure nothing
    /// (every passage is rescored): no calibration is recorded then.
    pub fn of(split: &Split) -> Self {
        let calibration =
            split.calibration.filter(|c| c.queries > 0).map(|c| RescoreCheck { queries: c.queries, of: c.of, recall: c.recall });
        Self { root: split.root_file.0.clone(), count: split.fragments.len(), rescore: split.root.rescore, calibration }
    }
}

/// What calibrating the rescore depth measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RescoreCheck {
    pub queries: usize,
    /// Pseudo-queries encoded by the query encoder (`given`) or passages held out (`passages`).
    pub of: CalibrationQueries,
    pub recall: f64,
}

/// One file of the bundle, by its path relative to the bundle folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// The same bytes as a fragment of this name (deflated), which a reader that fetches the file
    /// (the browser) takes instead: a plain static server sends a file as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<String>,
}

impl FileEntry {
    pub fn describe(path: &str, bytes: &[u8]) -> Self {
        Self { path: path.to_string(), bytes: bytes.len() as u64, sha256: sha256_hex(bytes), fragment: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The program and version that wrote the bundle.
    pub created_by: String,
    pub model: ModelInfo,
    /// Set when the passages were encoded by another model than [`Manifest::model`], to which
    /// the query encoder was aligned; absent in a symmetric bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_model: Option<PassageModelInfo>,
    pub documents: usize,
    pub passages: usize,
    pub quantization: Quantization,
    pub bm25: Bm25Params,
    pub chunking: ChunkConfig,
    pub fragments: FragmentsInfo,
    /// The files besides the manifest and the fragments (the model and the map).
    pub files: Vec<FileEntry>,
    /// The site's root as a path from the bundle folder (`../` for a bundle written to
    /// `site/_dowse`), which the documents' URLs start from; absent when the bundle is not inside
    /// the folder it indexed, and the URLs are then relative to the page that shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl Manifest {
    /// Parses `manifest.json`, refusing other formats and other versions before reading further.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        /// The two fields read first; typed rather than a `serde_json::Value`, whose parser the
        /// browser's module would carry for this alone.
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            format_version: Option<u64>,
        }
        let header: Header = serde_json::from_slice(bytes).map_err(|e| BundleError::Manifest(e.to_string()))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(BundleError::Manifest(format!("not a dowse bundle manifest (`format` is not {FORMAT:?})")));
        }
        let version = header.format_version.ok_or_else(|| BundleError::Manifest("`format_version` is missing".into()))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(BundleError::NewerFormat { found: version, supported: FORMAT_VERSION });
        }
        if version < u64::from(FORMAT_VERSION) {
            return Err(BundleError::OlderFormat { found: version, supported: FORMAT_VERSION });
        }
        serde_json::from_slice(bytes).map_err(|e| BundleError::Manifest(e.to_string()))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serializes")
    }

    /// The entry for `path`, if the bundle has that file.
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Checks `bytes` against the manifest's entry for `path`.
    pub fn verify(&self, path: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let entry = self.entry(path).ok_or_else(|| BundleError::MissingFile(path.to_string()))?;
        if entry.bytes != bytes.len() as u64 {
            return Err(BundleError::Size { path: path.to_string(), expected: entry.bytes, found: bytes.len() as u64 });
        }
        if sha256_hex(bytes) != entry.sha256 {
            return Err(BundleError::Checksum { path: path.to_string() });
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

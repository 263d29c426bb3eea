//! A whole bundle in memory, as the command line reads it, and the query encoder's files: the part
//! of [`crate::bundle`] that needs the models (the `encoders` feature).

use std::collections::HashMap;

use super::{
    check_map, fragment_path, open_root, section, sha256_hex, BundleError, BundleFile, FileEntry, Manifest, MANIFEST, MAP, MODEL_CONFIG,
    MODEL_TOKENIZER, MODEL_VOCAB, MODEL_WEIGHTS,
};
use crate::fragments::{fragment, open_fragment, LazyBundle, Missing, Split};
use crate::model::{EncoderKind, ModelFiles, PieceFragments, StaticVectors, PIECES_PER_SHARD};
use crate::projection::Projection;
use crate::search::{Hit, SearchOptions};
use crate::text::Analyzer;

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

    /// A static encoder's table in fragments (for the browser's small encoder worker); `None`
    /// for every other kind of model.
    pub fn piece_fragments(&self) -> Result<Option<PieceFragments>, BundleError> {
        Ok(self.static_vectors()?.map(|vectors| vectors.fragments(PIECES_PER_SHARD)))
    }

    /// The query encoder loaded, when it is a static encoder; `None` for every other kind.
    fn static_vectors(&self) -> Result<Option<StaticVectors>, BundleError> {
        if !matches!(EncoderKind::of(&self.config), Ok(EncoderKind::Static)) {
            return Ok(None);
        }
        let vectors = StaticVectors::load(self.files()).map_err(|e| BundleError::Inconsistent(format!("{MODEL_WEIGHTS}: {e}")))?;
        Ok(Some(vectors))
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

/// A bundle with every fragment loaded, as the command line reads it.
pub struct Bundle {
    pub manifest: Manifest,
    pub model: ModelBytes,
    pub map: Projection,
    pub index: LazyBundle,
}

impl Bundle {
    /// Lays out every file of a bundle cut by [`Root::split`]: the model, the map, the fragments
    /// and the root under [`FRAGMENTS`](super::FRAGMENTS) (with a static encoder's table in
    /// fragments too, named in [`ModelInfo::pieces`](super::ModelInfo::pieces)), and the manifest
    /// last, its file entries filled in (its fragments info must describe `split`:
    /// [`FragmentsInfo::of`]).
    pub fn files(manifest: &Manifest, model: &ModelBytes, map: &Projection, split: Split) -> Result<Vec<BundleFile>, BundleError> {
        let mut files = vec![
            (MODEL_CONFIG.to_string(), model.config.clone()),
            (model.tokenizer_path().to_string(), model.tokenizer.clone()),
            (MODEL_WEIGHTS.to_string(), model.weights.clone()),
            (MAP.to_string(), map.to_bytes()),
        ];
        let mut manifest = manifest.clone();
        manifest.files = files.iter().map(|(path, bytes)| FileEntry::describe(path, bytes)).collect();
        let mut fragments = split.fragments;
        fragments.push(split.root_file);
        // The tokenizer also as a fragment, for the browser: JSON (or a vocabulary's lines) that
        // deflates to about 40% of its bytes.
        let tokenizer = fragment(&model.tokenizer);
        let entry = manifest.files.iter_mut().find(|entry| entry.path == model.tokenizer_path()).expect("the tokenizer is listed");
        entry.fragment = Some(tokenizer.0.clone());
        fragments.push(tokenizer);
        if let Some(pieces) = model.piece_fragments()? {
            manifest.model.pieces = Some(pieces.head.0.clone());
            fragments.extend(pieces.shards);
            fragments.push(pieces.head);
        }
        files.extend(fragments.into_iter().map(|(name, bytes)| (fragment_path(&name), bytes)));
        files.push((MANIFEST.to_string(), manifest.to_json()));
        Ok(files)
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
        for entry in &manifest.files {
            if let Some(name) = &entry.fragment {
                manifest.verify(&entry.path, &open_fragment(name, &take(&fragment_path(name))?)?)?;
            }
        }
        let mut index = open_root(&manifest, &take(&fragment_path(&manifest.fragments.root))?)?;
        index.load_every_fragment(|name| take(&fragment_path(name)))?;
        check_model(&manifest, &model)?;
        check_map(&manifest, &map)?;
        check_pieces(&manifest, &model, take)?;
        Ok(Self { manifest, model, map, index })
    }

    /// A short id that changes whenever any file changes: the hash of the manifest's file entries
    /// and the root's name (which names every fragment).
    pub fn id(&self) -> String {
        let files = self.manifest.files.iter().map(|f| format!("{} {}\n", f.path, f.sha256)).collect::<String>();
        sha256_hex(format!("{files}{}", self.manifest.fragments.root).as_bytes())[..16].to_string()
    }

    /// Every document's id, in the bundle's order.
    pub fn document_ids(&self) -> Result<Vec<&str>, Missing> {
        (0..self.manifest.documents as u32).map(|doc| Ok(self.index.document(doc)?.id.as_str())).collect()
    }

    /// Runs a whole search. `vector` is the query's embedding; without one, dense retrieval adds
    /// nothing. `generative` ranks documents for the query (a DSI model's), fused in hybrid mode.
    pub fn search(
        &self,
        analyzer: &Analyzer,
        query: &str,
        vector: Option<&[f32]>,
        generative: &[(u32, f32)],
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, Missing> {
        self.index.search(&analyzer.analyze(query), vector, generative, options)
    }
}

/// Checks that the table in fragments the manifest names is the query encoder's own, each of its
/// fragments present and matching its name.
fn check_pieces(
    manifest: &Manifest,
    model: &ModelBytes,
    mut take: impl FnMut(&str) -> Result<Vec<u8>, BundleError>,
) -> Result<(), BundleError> {
    let Some(head) = manifest.model.pieces.as_deref() else { return Ok(()) };
    let not_the_table = || BundleError::Inconsistent(format!("{}: not the query encoder's table", fragment_path(head)));
    let vectors = model.static_vectors()?.ok_or_else(not_the_table)?;
    let mut open = |name: &str| Ok::<_, BundleError>(open_fragment(name, &take(&fragment_path(name))?)?);
    let head_part = open(head)?;
    match vectors.matches_fragments(PIECES_PER_SHARD, &head_part, open)? {
        true => Ok(()),
        false => Err(not_the_table()),
    }
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

//! A bundle fetched in fragments (format version 7): a small root that every query needs and
//! content-addressed fragments that a query asks for by name.
//!
//! The root ([`Root`]) holds BM25's statistics and shard boundaries ([`ShardedBm25`]), which
//! passages belong to which document and which chunk holds a document ([`DocumentIndex`]), how
//! many candidates a dense search rescores, and the names of the fragments a keyword search can
//! need: the first 6 bytes of the sha256 of their bytes, in hex (a chance collision among a
//! bundle's n fragments is about n² / 2⁴⁹: one in five million at the 10,000 the count is capped
//! at). A name changes exactly when the bytes do, so a host
//! caches fragments forever and a rebuild reuses every unchanged one; [`LazyBundle::load`]
//! refuses bytes that do not hash to the name asked for. The fragments: BM25 term shards,
//! document chunks, the passages' sign codes ([`SignCodes`], every dense query's first fetch,
//! which name the vector chunks: a keyword result does not pay for those names), their vectors
//! in chunks of one cluster, and, when documents carry filters, the [`FilterIndex`] (a filtered
//! search's first fetch).
//!
//! The reader never fetches: a caller asks what a search lacks ([`LazyBundle::search_or_missing`]
//! answers with the results or with what its next step lacks: its terms' shards and its vector's
//! fragments, asked again once the codes are in, and again for a hybrid search's feedback (the
//! vectors of its first ranking's top passages, then the moved query's chunks); then
//! [`LazyBundle::missing_for_hits`] for the text of the results shown), fetches those names
//! however it fetches (the browser lazily, the CLI from disk), hands the bytes to
//! [`LazyBundle::load`] and searches. Pagefind's `request_indexes` / `load_index_chunk` have the
//! same shape.
//!
//! Root layout: magic `DRT5`; LEB128 rescore depth; three LEB128-length-prefixed sections (the
//! BM25 root, the document index, the fragment names: LEB128 counts of BM25 shards, document
//! chunks and filter indexes (0 or 1), then 6 bytes per name: the shards', the chunks', the sign
//! codes', the filter index's).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::bm25::Bm25Index;
use crate::bm25_shards::{Bm25Shard, MissingShard, ShardedBm25};
use crate::dense_chunks::{DenseChunkConfig, MissingVectors, RescoreCalibration, SignCodes};
use crate::doc_chunks::{DocumentIndex, MissingChunk};
use crate::docstore::{DocStore, StoredDocument};
use crate::error::FormatError;
use crate::filters::{FilterIndex, Filters};
use crate::passage::Passage;
use crate::search::{document_passages, feedback_query, fuse, Hit, Mode, SearchOptions};
use crate::varint;
use crate::vectors::VectorStore;

const SECTION: &str = "bundle root";
const MAGIC: &[u8; 4] = b"DRT5";
/// Bytes of a fragment's content address (its name is their hex). Every name the root holds
/// travels to the first keyword result, so they are as short as a bundle's fragment count allows.
pub const NAME_BYTES: usize = 6;
/// A fragment's content address.
pub(crate) type FragmentAddress = [u8; NAME_BYTES];

/// How a bundle is cut into fragments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FragmentConfig {
    /// Bytes of postings per BM25 shard (a term's list is never cut). Smaller shards cost the
    /// root a name and a key each, and save a query's first result more: at 2 KiB rather than 4
    /// the first keyword result is smaller on every collection measured (results/bundle.md).
    pub bm25_shard_bytes: usize,
    /// Bytes of text per document chunk (a document is never cut).
    pub document_chunk_bytes: usize,
    /// At most this many fragments, a third each for BM25 shards, document chunks and vector
    /// chunks, besides the sign codes: static hosts cap a site's files (Cloudflare Pages at
    /// 20,000), so on a corpus that the budgets would cut finer, the budgets grow until it fits.
    pub max_fragments: usize,
    pub dense: DenseChunkConfig,
    /// Candidates the sign codes pick for rescoring with full vectors; `None` calibrates it
    /// ([`SignCodes::calibrate`]) to `target_recall`.
    pub rescore: Option<usize>,
    pub target_recall: f64,
}

impl Default for FragmentConfig {
    fn default() -> Self {
        Self {
            bm25_shard_bytes: 2 << 10,
            document_chunk_bytes: 4 << 10,
            max_fragments: 10_000,
            dense: DenseChunkConfig::default(),
            rescore: None,
            target_recall: 0.98,
        }
    }
}

/// A fragment the root names: every one but the vector chunks, which the sign codes name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    Bm25Shard(u32),
    DocumentChunk(u32),
    SignCodes,
    Filters,
}

/// What a fragment's bytes are read into: a fragment the root names, or a vector chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Root(Fragment),
    VectorChunk(u32),
}

/// A fragment refused; each message starts with the fragment's name, so a caller puts the folder
/// or URL it came from in front.
#[derive(Debug, Error)]
pub enum FragmentError {
    #[error("{0}: not a fragment of this bundle (the sign codes name the vector chunks: load them first)")]
    Unknown(String),
    #[error("{0}: its bytes do not hash to its name (truncated or replaced)")]
    Checksum(String),
    #[error("{name}: its bytes are not a deflate stream ({status})")]
    Inflate { name: String, status: String },
    #[error("{name}: {source}")]
    Section { name: String, source: FormatError },
}

/// A search needs a fragment that was not handed over: fetch it and search again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("fragment {0} is needed and not loaded")]
pub struct Missing(pub String);

/// A fragment's name and bytes, as a bundle folder stores it.
pub type NamedFragment = (String, Vec<u8>);

/// The content address of a fragment's bytes as stored.
pub fn fragment_name(bytes: &[u8]) -> String {
    hex::encode(content_address(bytes))
}

/// A part's fragment: its bytes deflated (raw deflate, RFC 1951, at level 9), named by the
/// content address of the deflated bytes, which a host serves as they are.
pub fn fragment(part: &[u8]) -> NamedFragment {
    let (address, stored) = store(part);
    (hex::encode(address), stored)
}

/// A part deflated, and the content address of the deflated bytes.
pub(crate) fn store(part: &[u8]) -> (FragmentAddress, Vec<u8>) {
    let stored = miniz_oxide::deflate::compress_to_vec(part, 9);
    (content_address(&stored), stored)
}

/// More bytes than any part inflates to: a fragment that claims more is refused.
const MAX_PART_BYTES: usize = 1 << 28;

/// A fetched fragment's part: `stored` checked against `name`, then inflated.
pub fn open_fragment(name: &str, stored: &[u8]) -> Result<Vec<u8>, FragmentError> {
    if fragment_name(stored) != name {
        return Err(FragmentError::Checksum(name.to_string()));
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(stored, MAX_PART_BYTES)
        .map_err(|e| FragmentError::Inflate { name: name.to_string(), status: format!("{:?}", e.status) })
}

/// The first bytes of the sha256 of `bytes`: a fragment's name before it is written in hex.
pub(crate) fn content_address(bytes: &[u8]) -> FragmentAddress {
    Sha256::digest(bytes)[..NAME_BYTES].try_into().expect("a prefix of 32 bytes")
}

/// A bundle cut by [`Root::split`].
#[derive(Debug, Clone)]
pub struct Split {
    pub root: Root,
    /// The root's name and bytes, as a bundle stores it beside the fragments.
    pub root_file: NamedFragment,
    pub fragments: Vec<NamedFragment>,
    /// How the rescore depth was chosen; `None` when the config fixed it.
    pub calibration: Option<RescoreCalibration>,
    /// Bits in a passage's sign code when the codes are rotated; `None` for one sign a dimension.
    pub rotated_bits: Option<usize>,
}

/// What every query needs, and the names of every fragment but the vector chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    pub bm25: ShardedBm25,
    pub documents: DocumentIndex,
    /// Candidates the sign codes pick for rescoring.
    pub rescore: usize,
    /// Whether the documents carry filters, in a fragment of their own.
    filters: bool,
    /// The fragments' names: shards, document chunks, the sign codes, filters.
    names: Vec<FragmentAddress>,
}

impl Root {
    /// Cuts a whole index, document store, passage vectors and the documents' filters into a root
    /// and its named fragments; `queries` (row-major query vectors, possibly none) calibrate the
    /// rescore depth ([`SignCodes::calibrate`]) unless the config fixes it.
    pub fn split(
        bm25: &Bm25Index,
        docs: &DocStore,
        vectors: &VectorStore,
        filters: &FilterIndex,
        queries: &[f32],
        config: &FragmentConfig,
    ) -> Result<Split, FormatError> {
        let cap = (config.max_fragments.saturating_sub(1) / 3).max(2);
        let split_bm25 = |budget| Ok::<_, FormatError>(ShardedBm25::split(bm25, budget));
        let (bm25_root, shards) = split_capped(config.bm25_shard_bytes, cap, split_bm25, |shard| shard.to_bytes().len())?;
        let split_docs = |budget| DocumentIndex::split(docs, budget);
        let (documents, chunks) = split_capped(config.document_chunk_bytes, cap, split_docs, |chunk| chunk.to_bytes().len())?;
        // k-means makes ceil(n / p) clusters and cuts those over 2p, so at most 1.5 n / p + 1 chunks.
        let passages_per_chunk = config.dense.passages_per_chunk.max((3 * vectors.rows()).div_ceil(2 * (cap - 1)));
        let (codes, vector_chunks) = SignCodes::split(vectors, &DenseChunkConfig { passages_per_chunk, ..config.dense });
        let counts = [bm25_root.num_docs(), documents.num_passages(), codes.num_passages()];
        if counts.iter().any(|&n| n != counts[0]) {
            return Err(corrupt(format!("{} passages in BM25, {} in the documents, {} vectors", counts[0], counts[1], counts[2])));
        }
        let stored: Vec<(FragmentAddress, Vec<u8>)> = shards
            .iter()
            .map(Bm25Shard::to_bytes)
            .chain(chunks.iter().map(DocStore::to_bytes))
            .chain([codes.to_bytes()])
            .chain((!filters.is_empty()).then(|| filters.to_bytes()))
            .map(|part| store(&part))
            .collect();
        let calibration = config.rescore.is_none().then(|| codes.calibrate(vectors, queries, config.target_recall));
        let rescore = config.rescore.or(calibration.map(|c| c.depth)).expect("fixed or calibrated");
        let names = stored.iter().map(|(address, _)| *address).collect();
        let root = Self { bm25: bm25_root, documents, rescore, filters: !filters.is_empty(), names };
        let fragments = stored.into_iter().map(|(address, bytes)| (hex::encode(address), bytes)).chain(vector_chunks).collect();
        let root_file = fragment(&root.to_bytes());
        let rotated_bits = codes.rotated_bits();
        Ok(Split { root, root_file, fragments, calibration, rotated_bits })
    }

    /// A fragment's name (its file name in the bundle's fragment folder).
    pub fn name(&self, fragment: Fragment) -> String {
        let (shards, chunks) = (self.bm25.num_shards(), self.documents.num_chunks());
        let index = match fragment {
            Fragment::Bm25Shard(i) => i as usize,
            Fragment::DocumentChunk(i) => shards + i as usize,
            Fragment::SignCodes => shards + chunks,
            Fragment::Filters => shards + chunks + 1,
        };
        hex::encode(self.names[index])
    }

    /// Every fragment the root names, in the order of their names.
    pub fn fragments(&self) -> impl Iterator<Item = Fragment> {
        let shards = (0..self.bm25.num_shards() as u32).map(Fragment::Bm25Shard);
        let chunks = (0..self.documents.num_chunks() as u32).map(Fragment::DocumentChunk);
        let filters = self.filters.then_some(Fragment::Filters);
        shards.chain(chunks).chain([Fragment::SignCodes]).chain(filters)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        varint::write(&mut out, self.rescore as u64);
        let mut names = Vec::new();
        for count in [self.bm25.num_shards(), self.documents.num_chunks(), usize::from(self.filters)] {
            varint::write(&mut names, count as u64);
        }
        names.extend(self.names.iter().flatten());
        for section in [self.bm25.to_bytes(), self.documents.to_bytes(), names] {
            varint::write(&mut out, section.len() as u64);
            out.extend_from_slice(&section);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let rescore = reader.varint("rescore depth")? as usize;
        let mut section = |what: &'static str| -> Result<&[u8], FormatError> {
            let len = reader.varint(what)? as usize;
            reader.bytes(len, what)
        };
        let bm25 = ShardedBm25::from_bytes(section("BM25 root")?)?;
        let documents = DocumentIndex::from_bytes(section("document index")?)?;
        let names = section("fragment names")?;
        if !reader.is_empty() {
            return Err(corrupt("bytes after the fragment names".into()));
        }
        let mut reader = varint::Reader::new(names, SECTION);
        let (shards, chunks) = (reader.varint("shard count")? as usize, reader.varint("chunk count")? as usize);
        let filters = match reader.varint("filter index count")? {
            0 => false,
            1 => true,
            n => return Err(corrupt(format!("{n} filter indexes (0 or 1)"))),
        };
        if shards != bm25.num_shards() || chunks != documents.num_chunks() {
            return Err(corrupt(format!(
                "{shards} shard and {chunks} chunk names for {} shards and {} chunks",
                bm25.num_shards(),
                documents.num_chunks()
            )));
        }
        if bm25.num_docs() != documents.num_passages() {
            return Err(corrupt(format!("BM25 indexes {} passages, the documents hold {}", bm25.num_docs(), documents.num_passages())));
        }
        let names: Vec<FragmentAddress> =
            (0..shards + chunks + 1 + usize::from(filters)).map(|_| reader.array("fragment name")).collect::<Result<_, FormatError>>()?;
        if !reader.is_empty() {
            return Err(corrupt("bytes after the last fragment name".into()));
        }
        Ok(Self { bm25, documents, rescore, filters, names })
    }
}

fn corrupt(message: String) -> FormatError {
    FormatError::Corrupt { section: SECTION, message }
}

/// Splits at `budget`, or, where that makes more than `cap` pieces, at the budget that cannot:
/// the pieces' bytes over `cap - 1`. A piece closes once it reaches the budget, so n pieces hold
/// at least (n - 1) budgets, and `bytes` never counts less than the split does.
fn split_capped<R, T>(
    budget: usize,
    cap: usize,
    split: impl Fn(usize) -> Result<(R, Vec<T>), FormatError>,
    bytes: impl Fn(&T) -> usize,
) -> Result<(R, Vec<T>), FormatError> {
    let (root, pieces) = split(budget)?;
    if pieces.len() <= cap {
        return Ok((root, pieces));
    }
    let total: usize = pieces.iter().map(bytes).sum();
    split(total.div_ceil(cap - 1))
}

/// The first of the names a step lacks, as the error of a search that needs everything loaded.
fn first_missing(names: Vec<String>) -> Missing {
    Missing(names.into_iter().next().unwrap_or_default())
}

/// `names` sorted, each once.
fn sorted_once(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// A bundle's root and whichever fragments have been handed over so far.
pub struct LazyBundle {
    root: Root,
    by_name: HashMap<String, Vec<Place>>,
    shards: HashMap<u32, Bm25Shard>,
    chunks: HashMap<u32, DocStore>,
    codes: Option<SignCodes>,
    vectors: HashMap<u32, VectorStore>,
    filters: Option<FilterIndex>,
}

impl LazyBundle {
    pub fn new(root: Root) -> Self {
        let mut by_name: HashMap<String, Vec<Place>> = HashMap::new();
        for fragment in root.fragments() {
            by_name.entry(root.name(fragment)).or_default().push(Place::Root(fragment));
        }
        Self { root, by_name, shards: HashMap::new(), chunks: HashMap::new(), codes: None, vectors: HashMap::new(), filters: None }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The fragments a keyword search for the analyzed `terms` (the last a prefix with `prefix`)
    /// needs and lacks, by name.
    pub fn missing_for_query(&self, terms: &[String], prefix: bool) -> Vec<String> {
        let shards = self.root.bm25.shards_for(terms, prefix).into_iter().filter(|shard| !self.shards.contains_key(shard));
        self.names(shards.map(Fragment::Bm25Shard))
    }

    /// The fragments a dense search for `vector` among the `allowed` passages needs and lacks, by
    /// name: the sign codes first, then, once they are loaded, the vector chunks of the candidates
    /// they pick at the root's depth (ask again).
    pub fn missing_for_vector(&self, vector: &[f32], allowed: Option<&[bool]>) -> Vec<String> {
        let Some(codes) = &self.codes else { return vec![self.root.name(Fragment::SignCodes)] };
        self.missing_chunks(codes, &codes.candidates(vector, self.root.rescore, allowed))
    }

    /// The vector chunks that hold `passages` and are not loaded, by name.
    fn missing_chunks(&self, codes: &SignCodes, passages: &[u32]) -> Vec<String> {
        let chunks = codes.chunks_for(passages).into_iter().filter(|chunk| !self.vectors.contains_key(chunk));
        sorted_once(chunks.map(|chunk| codes.chunk_name(chunk)))
    }

    /// The fragments a search with `options` needs and lacks, by name: what
    /// [`LazyBundle::search_or_missing`] names. Ask again after loading them, until nothing is missing.
    pub fn missing_for_search(&self, terms: &[String], vector: Option<&[f32]>, options: &SearchOptions) -> Vec<String> {
        self.search_or_missing(terms, vector, &[], options).err().unwrap_or_default()
    }

    /// The filter index, when the documents carry filters and it is not loaded yet, by name.
    pub fn missing_for_filters(&self) -> Vec<String> {
        match self.filters() {
            Err(Missing(name)) => vec![name],
            Ok(_) => Vec::new(),
        }
    }

    /// The documents' filters: `None` when they carry none.
    pub fn filters(&self) -> Result<Option<&FilterIndex>, Missing> {
        match (&self.filters, self.root.filters) {
            (Some(index), _) => Ok(Some(index)),
            (None, true) => Err(Missing(self.root.name(Fragment::Filters))),
            (None, false) => Ok(None),
        }
    }

    /// Which passages pass `filters` (their documents do); `None` when it names no key. A bundle
    /// whose documents carry no filters lets nothing through a filter.
    pub fn allowed(&self, filters: &Filters) -> Result<Option<Vec<bool>>, Missing> {
        if filters.is_empty() {
            return Ok(None);
        }
        let documents = &self.root.documents;
        let docs = match self.filters()? {
            Some(index) => index.allowed(filters).expect("filters that name a key"),
            None => vec![false; documents.num_documents()],
        };
        Ok(Some((0..documents.num_passages() as u32).map(|passage| docs[documents.doc_of(passage) as usize]).collect()))
    }

    /// The fragments that showing `hits` needs and lacks, by name.
    pub fn missing_for_hits(&self, hits: &[Hit]) -> Vec<String> {
        let mut chunks: Vec<u32> = hits.iter().map(|hit| self.root.documents.chunk_of(hit.doc)).collect();
        chunks.sort_unstable();
        chunks.dedup();
        self.names(chunks.into_iter().filter(|chunk| !self.chunks.contains_key(chunk)).map(Fragment::DocumentChunk))
    }

    /// Loads every fragment, each fetched by name through `fetch`: what a reader that has them
    /// all at hand does (the sign codes before the vector chunks they name). Returns the names
    /// loaded, each once.
    pub fn load_every_fragment<E: From<FragmentError>>(
        &mut self,
        mut fetch: impl FnMut(&str) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<String>, E> {
        let codes = self.root.name(Fragment::SignCodes);
        self.load(&codes, &fetch(&codes)?)?;
        let loaded = self.codes.as_ref().expect("the sign codes were just loaded");
        let vector_chunks = (0..loaded.num_chunks() as u32).map(|chunk| loaded.chunk_name(chunk));
        let mut names = sorted_once(self.root.fragments().map(|fragment| self.root.name(fragment)).chain(vector_chunks));
        names.retain(|name| *name != codes);
        for name in &names {
            self.load(name, &fetch(name)?)?;
        }
        names.push(codes);
        Ok(names)
    }

    fn names(&self, fragments: impl Iterator<Item = Fragment>) -> Vec<String> {
        sorted_once(fragments.map(|fragment| self.root.name(fragment)))
    }

    /// Takes a fetched fragment's bytes as stored, checking them against their name, inflating
    /// them and checking the part against its place.
    pub fn load(&mut self, name: &str, stored: &[u8]) -> Result<(), FragmentError> {
        if !self.by_name.contains_key(name) {
            return Err(FragmentError::Unknown(name.to_string()));
        }
        self.read(name, &open_fragment(name, stored)?)
    }

    /// Reads a fragment's part into every place its name stands for (identical fragments share
    /// a name), its hash already checked and its bytes inflated.
    fn read(&mut self, name: &str, bytes: &[u8]) -> Result<(), FragmentError> {
        let places = self.by_name.get(name).ok_or_else(|| FragmentError::Unknown(name.to_string()))?.clone();
        let section = |source| FragmentError::Section { name: name.to_string(), source };
        for place in places {
            match place {
                Place::Root(Fragment::Bm25Shard(i)) => {
                    let shard = self.root.bm25.read_shard(i, bytes).map_err(section)?;
                    self.shards.insert(i, shard);
                }
                Place::Root(Fragment::DocumentChunk(i)) => {
                    let chunk = self.root.documents.read_chunk(i, bytes).map_err(section)?;
                    self.chunks.insert(i, chunk);
                }
                Place::Root(Fragment::SignCodes) => {
                    let codes = SignCodes::from_bytes(bytes).map_err(section)?;
                    if codes.num_passages() != self.root.documents.num_passages() {
                        return Err(section(corrupt(format!(
                            "codes for {} passages, the root has {}",
                            codes.num_passages(),
                            self.root.documents.num_passages()
                        ))));
                    }
                    if self.codes.is_none() {
                        for chunk in 0..codes.num_chunks() as u32 {
                            self.by_name.entry(codes.chunk_name(chunk)).or_default().push(Place::VectorChunk(chunk));
                        }
                    }
                    self.codes = Some(codes);
                }
                Place::VectorChunk(i) => {
                    let codes = self.codes.as_ref().expect("the sign codes named this chunk");
                    let chunk = codes.read_chunk(i, bytes).map_err(section)?;
                    self.vectors.insert(i, chunk);
                }
                Place::Root(Fragment::Filters) => {
                    self.filters = Some(FilterIndex::from_bytes(bytes, self.root.documents.num_documents()).map_err(section)?);
                }
            }
        }
        Ok(())
    }

    /// The `n` passages nearest to `vector` among the `rescore` candidates (default: the root's
    /// depth) that the sign codes pick (among the `allowed` passages), rescored with their full
    /// vectors; the sign codes and the candidates' chunks must be loaded.
    pub fn dense_passages(
        &self,
        vector: &[f32],
        n: usize,
        rescore: Option<usize>,
        allowed: Option<&[bool]>,
    ) -> Result<Vec<(u32, f32)>, Missing> {
        self.dense_or_missing(vector, n, rescore, allowed).map_err(first_missing)
    }

    /// [`LazyBundle::dense_passages`], or what it lacks by name: the sign codes, else every vector
    /// chunk of its candidates that is not loaded.
    fn dense_or_missing(
        &self,
        vector: &[f32],
        n: usize,
        rescore: Option<usize>,
        allowed: Option<&[bool]>,
    ) -> Result<Vec<(u32, f32)>, Vec<String>> {
        let codes = self.codes.as_ref().ok_or_else(|| vec![self.root.name(Fragment::SignCodes)])?;
        let candidates = codes.candidates(vector, rescore.unwrap_or(self.root.rescore), allowed);
        let missing = self.missing_chunks(codes, &candidates);
        if !missing.is_empty() {
            return Err(missing);
        }
        codes.rescore(vector, &candidates, n, |i| self.vectors.get(&i)).map_err(|MissingVectors(i)| vec![codes.chunk_name(i)])
    }

    /// The `n` best passages (of the `allowed` ones) for the analyzed `terms` (the last a prefix
    /// with `prefix`) by BM25; every fragment [`LazyBundle::missing_for_query`] names must be loaded.
    pub fn bm25_passages(&self, terms: &[String], prefix: bool, n: usize, allowed: Option<&[bool]>) -> Result<Vec<(u32, f32)>, Missing> {
        let passages = self.root.bm25.search(terms, prefix, n, |i| self.shards.get(&i), allowed);
        passages.map_err(|MissingShard(i)| Missing(self.root.name(Fragment::Bm25Shard(i))))
    }

    /// A whole search for the analyzed `terms`; every fragment [`LazyBundle::missing_for_search`]
    /// names must be loaded (else the first one missing is the error).
    pub fn search(
        &self,
        terms: &[String],
        vector: Option<&[f32]>,
        generative: &[(u32, f32)],
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, Missing> {
        self.search_or_missing(terms, vector, generative, options).map_err(first_missing)
    }

    /// A whole search for the analyzed `terms`, or the fragments its next step lacks, by name:
    /// with filters, the filter index first; then the terms' shards (unless the mode is dense
    /// alone) and the vector's fragments (when the mode is semantic and there is a vector: the
    /// sign codes, then the candidates' chunks); then what a hybrid search's feedback reads.
    /// `vector` is the query's embedding; without one, dense retrieval adds nothing. `generative`
    /// is a generative retriever's ranking of documents, fused in hybrid mode (empty: none). A
    /// hybrid search with a vector feeds back ([`SearchOptions::feedback`]): its first fused
    /// ranking's top passages move the vector ([`feedback_query`]), and the moved vector's dense
    /// list is fused with the same others. A caller that fetches lazily asks, loads what is named
    /// and asks again; each step is computed once per ask.
    pub fn search_or_missing(
        &self,
        terms: &[String],
        vector: Option<&[f32]>,
        generative: &[(u32, f32)],
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, Vec<String>> {
        let allowed = self.allowed(&options.filters).map_err(|Missing(name)| vec![name])?;
        let allowed = allowed.as_deref();
        let vector = vector.filter(|_| options.mode.is_dense());
        let n = options.candidates.max(options.k);
        let mut missing = match options.mode {
            Mode::Dense => Vec::new(),
            _ => self.missing_for_query(terms, options.prefix),
        };
        let dense = match vector.map(|vector| self.dense_or_missing(vector, n, options.rescore, allowed)) {
            Some(Ok(dense)) => dense,
            Some(Err(names)) => {
                missing.extend(names);
                Vec::new()
            }
            None => Vec::new(),
        };
        if !missing.is_empty() {
            return Err(missing);
        }
        let lexical = match options.mode {
            Mode::Dense => Vec::new(),
            _ => self.bm25_passages(terms, options.prefix, n, allowed).map_err(|Missing(name)| vec![name])?,
        };
        let Some(vector) = vector.filter(|_| options.feeds_back()) else {
            return Ok(self.fused(&dense, &lexical, generative, options.mode, allowed, options.k));
        };
        let first = self.fused(&dense, &lexical, generative, options.mode, allowed, options.k.max(options.feedback));
        let moved = self.feedback_vector(vector, first.iter().take(options.feedback))?;
        let dense = self.dense_or_missing(&moved, n, options.rescore, allowed)?;
        Ok(self.fused(&dense, &lexical, generative, options.mode, allowed, options.k))
    }

    /// `vector` moved toward the passages of the `top` hits, or the vector chunks that lacks.
    fn feedback_vector<'a>(&self, vector: &[f32], top: impl Iterator<Item = &'a Hit>) -> Result<Vec<f32>, Vec<String>> {
        let codes = self.codes.as_ref().ok_or_else(|| vec![self.root.name(Fragment::SignCodes)])?;
        let top: Vec<u32> = top.map(|hit| hit.passage).collect();
        let missing = self.missing_chunks(codes, &top);
        if !missing.is_empty() {
            return Err(missing);
        }
        let passages = top.iter().map(|&passage| codes.vector(passage, |i| self.vectors.get(&i)));
        let passages = passages.collect::<Result<Vec<_>, _>>().map_err(|MissingVectors(i)| vec![codes.chunk_name(i)])?;
        Ok(feedback_query(vector, &passages))
    }

    /// The `dense` and `lexical` passage lists and the `generative` documents fused as `mode`
    /// fuses: `k` documents.
    fn fused(
        &self,
        dense: &[(u32, f32)],
        lexical: &[(u32, f32)],
        generative: &[(u32, f32)],
        mode: Mode,
        allowed: Option<&[bool]>,
        k: usize,
    ) -> Vec<Hit> {
        let documents = &self.root.documents;
        let doc_of = |passage| documents.doc_of(passage);
        let generative = document_passages(generative, &[dense, lexical], doc_of, |doc| documents.first_passage(doc));
        let generative: Vec<(u32, f32)> =
            generative.into_iter().filter(|&(passage, _)| allowed.is_none_or(|a| a[passage as usize])).collect();
        fuse(mode, dense, lexical, &generative, k, doc_of)
    }

    /// A result's document and passage; [`LazyBundle::missing_for_hits`] names the chunks needed.
    pub fn passage(&self, passage: u32) -> Result<(&StoredDocument, &Passage), Missing> {
        let found = self.root.documents.passage(passage, |i| self.chunks.get(&i));
        found.map_err(|MissingChunk(i)| Missing(self.root.name(Fragment::DocumentChunk(i))))
    }

    /// Document `doc` (below the root's document count), from its chunk.
    pub fn document(&self, doc: u32) -> Result<&StoredDocument, Missing> {
        let found = self.root.documents.document(doc, |i| self.chunks.get(&i));
        found.map_err(|MissingChunk(i)| Missing(self.root.name(Fragment::DocumentChunk(i))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Bm25Params;
    use crate::topk::top_k;
    use crate::vectors::Quantization;

    const DIM: usize = 16;

    struct Corpus {
        bm25: Bm25Index,
        docs: DocStore,
        vectors: VectorStore,
        filters: FilterIndex,
    }

    /// Document `doc`'s filters: `kind` a, b or c by `doc % 3`, `tag` even on even documents.
    fn doc_filters(doc: u32) -> Vec<(String, String)> {
        let kind = ("kind".to_string(), ["a", "b", "c"][doc as usize % 3].to_string());
        std::iter::once(kind).chain(doc.is_multiple_of(2).then(|| ("tag".to_string(), "even".to_string()))).collect()
    }

    /// 60 documents of 1 to 3 passages over a vocabulary of 80 words, each passage's vector the
    /// normalized sum of its words' random directions.
    fn corpus() -> Corpus {
        let mut state = 11u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let directions: Vec<f32> = (0..80 * DIM).map(|_| next(1000) as f32 / 500.0 - 1.0).collect();
        let mut docs = DocStore::default();
        for doc in 0..60u32 {
            docs.documents.push(StoredDocument {
                id: format!("d{doc}"),
                title: format!("Page {doc}"),
                url: Some(format!("/{doc}/")),
                meta: Vec::new(),
            });
            for _ in 0..1 + next(3) {
                let text = (0..4 + next(20))
                    .map(|_| {
                        let range = 1 + next(80);
                        format!("w{}", next(range))
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                docs.passages.push(Passage { doc, text, ..Passage::default() });
            }
        }
        let bm25 = Bm25Index::build(Bm25Params::default(), docs.passages.iter().map(|p| terms(&p.text)));
        let matrix: Vec<f32> = docs.passages.iter().flat_map(|p| embed(&directions, &p.text)).collect();
        let filters: Vec<Vec<(String, String)>> = (0..60).map(doc_filters).collect();
        let filters = FilterIndex::build(filters.iter().map(Vec::as_slice));
        Corpus { bm25, docs, vectors: VectorStore::quantize(&matrix, DIM, Quantization::Int8), filters }
    }

    fn embed(directions: &[f32], text: &str) -> Vec<f32> {
        let mut sum = [0f32; DIM];
        for word in text.split_whitespace() {
            let w: usize = word[1..].parse().unwrap_or(0) % 80;
            sum.iter_mut().zip(&directions[w * DIM..(w + 1) * DIM]).for_each(|(s, d)| *s += d);
        }
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        sum.iter().map(|x| x / norm).collect()
    }

    fn terms(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    /// Small budgets, and a rescore depth past the passage count, so that the dense half is exact.
    fn small() -> FragmentConfig {
        FragmentConfig {
            bm25_shard_bytes: 64,
            document_chunk_bytes: 200,
            dense: DenseChunkConfig { passages_per_chunk: 4, ..DenseChunkConfig::default() },
            rescore: Some(1000),
            ..FragmentConfig::default()
        }
    }

    fn split(corpus: &Corpus, config: &FragmentConfig) -> (Root, Vec<NamedFragment>) {
        let split = Root::split(&corpus.bm25, &corpus.docs, &corpus.vectors, &corpus.filters, &[], config).unwrap();
        (split.root, split.fragments)
    }

    /// What the whole bundle finds: BM25 over every passage, dense by scoring every vector.
    fn whole(corpus: &Corpus, terms: &[String], vector: &[f32], mode: Mode) -> Vec<Hit> {
        whole_passing(corpus, terms, vector, mode, |_| true)
    }

    /// What the whole bundle finds among the documents that `passes`.
    fn whole_passing(corpus: &Corpus, terms: &[String], vector: &[f32], mode: Mode, passes: impl Fn(u32) -> bool) -> Vec<Hit> {
        let doc_of = |p: u32| corpus.docs.passages[p as usize].doc;
        let prepared = corpus.vectors.prepare(vector);
        let rows = (0..corpus.vectors.rows() as u32).filter(|&r| passes(doc_of(r)));
        let dense = top_k(rows.map(|r| (r, corpus.vectors.rescore(&prepared, r))), 20);
        let lexical: Vec<(u32, f32)> =
            corpus.bm25.search(terms, corpus.bm25.num_docs()).into_iter().filter(|&(p, _)| passes(doc_of(p))).take(20).collect();
        fuse(mode, &dense, &lexical, &[], 5, doc_of)
    }

    /// The corpus cut small, its fragments by name, and a reader of its root read back from bytes.
    fn opened(corpus: &Corpus) -> (Root, HashMap<String, Vec<u8>>, LazyBundle) {
        let (root, fragments) = split(corpus, &small());
        let lazy = LazyBundle::new(Root::from_bytes(&root.to_bytes()).unwrap());
        (root, fragments.into_iter().collect(), lazy)
    }

    /// Searches as [`whole`] does: one ranking, no feedback (the feedback test turns it on).
    fn options(mode: Mode) -> SearchOptions {
        SearchOptions { k: 5, mode, candidates: 20, feedback: 0, ..SearchOptions::default() }
    }

    #[test]
    fn a_search_asks_for_its_fragments_and_then_matches_the_whole_bundle() {
        let corpus = corpus();
        let (root, fragments, mut lazy) = opened(&corpus);
        let directions_query =
            |text: &str| corpus.vectors.dequantize(corpus.docs.passages.iter().position(|p| p.text.contains(text)).unwrap_or(0) as u32);
        for query in ["w0 w1", "w3 w3 w70", "w12 nothing"] {
            let (terms, vector) = (terms(query), directions_query(query.split(' ').next().unwrap()));
            let needed = lazy.missing_for_query(&terms, false);
            assert!(!needed.is_empty() && needed.len() < root.bm25.num_shards(), "{needed:?}");
            assert!(needed.contains(&lazy.search(&terms, None, &[], &options(Mode::Bm25)).unwrap_err().0));
            for name in &needed {
                lazy.load(name, &fragments[name]).unwrap();
            }
            assert!(lazy.missing_for_query(&terms, false).is_empty());
            assert_eq!(lazy.search(&terms, None, &[], &options(Mode::Bm25)).unwrap(), whole(&corpus, &terms, &vector, Mode::Bm25));
            // The vector asks for the sign codes, then for the chunks of its candidates.
            for _ in 0..2 {
                for name in lazy.missing_for_vector(&vector, None) {
                    lazy.load(&name, &fragments[&name]).unwrap();
                }
            }
            assert!(lazy.missing_for_vector(&vector, None).is_empty());
            let hits = lazy.search(&terms, Some(&vector), &[], &options(Mode::Hybrid)).unwrap();
            assert_eq!(hits, whole(&corpus, &terms, &vector, Mode::Hybrid));
            for name in lazy.missing_for_hits(&hits) {
                lazy.load(&name, &fragments[&name]).unwrap();
            }
            for hit in &hits {
                let (document, passage) = lazy.passage(hit.passage).unwrap();
                let docs = &corpus.docs;
                assert_eq!((document, passage), (&docs.documents[hit.doc as usize], &docs.passages[hit.passage as usize]));
            }
            assert!(lazy.missing_for_hits(&hits).is_empty());
        }
    }

    #[test]
    fn a_hybrid_search_feeds_its_first_ranking_back_and_names_what_that_reads() {
        let corpus = corpus();
        let (_, fragments, mut lazy) = opened(&corpus);
        let feeding = SearchOptions { feedback: 3, ..options(Mode::Hybrid) };
        let (terms, vector) = (terms("w1 w5 w9 w2"), corpus.vectors.dequantize(3));
        while let names @ [_, ..] = lazy.missing_for_search(&terms, Some(&vector), &feeding).as_slice() {
            for name in names {
                lazy.load(name, &fragments[name]).unwrap();
            }
        }
        let first = whole(&corpus, &terms, &vector, Mode::Hybrid);
        let fed: Vec<Vec<f32>> = first.iter().take(3).map(|hit| corpus.vectors.dequantize(hit.passage)).collect();
        let moved = feedback_query(&vector, &fed);
        assert!(moved.iter().zip(&vector).any(|(m, v)| (m - v).abs() > 1e-3), "the passages move the query");
        let hits = lazy.search(&terms, Some(&vector), &[], &feeding).unwrap();
        assert_eq!(hits, whole(&corpus, &terms, &moved, Mode::Hybrid), "the moved query's dense list, fused with BM25's");
        assert_eq!(lazy.search(&terms, Some(&vector), &[], &options(Mode::Hybrid)).unwrap(), first, "feedback 0 ranks once");
        let dense = SearchOptions { feedback: 3, ..options(Mode::Dense) };
        assert_eq!(
            lazy.search(&terms, Some(&vector), &[], &dense).unwrap(),
            whole(&corpus, &terms, &vector, Mode::Dense),
            "dense alone ranks once"
        );
    }

    #[test]
    fn a_filtered_search_fetches_the_filters_first_and_keeps_only_passing_documents() {
        let corpus = corpus();
        let (root, fragments, mut lazy) = opened(&corpus);
        let filters: Filters = [("kind", vec!["a", "b"]), ("tag", vec!["even"])]
            .into_iter()
            .map(|(key, values)| (key.to_string(), values.into_iter().map(String::from).collect()))
            .collect();
        let passes = |doc: u32| doc.is_multiple_of(2) && doc % 3 != 2;
        let (terms, vector) = (terms("w1 w5 w9 w2"), corpus.vectors.dequantize(3));
        for mode in [Mode::Bm25, Mode::Dense, Mode::Hybrid] {
            let options = SearchOptions { filters: filters.clone(), ..options(mode) };
            if mode == Mode::Bm25 {
                assert_eq!(lazy.missing_for_search(&terms, Some(&vector), &options), [root.name(Fragment::Filters)]);
                assert_eq!(lazy.search(&terms, Some(&vector), &[], &options).unwrap_err().0, root.name(Fragment::Filters));
            }
            loop {
                let names = lazy.missing_for_search(&terms, Some(&vector), &options);
                if names.is_empty() {
                    break;
                }
                for name in names {
                    lazy.load(&name, &fragments[&name]).unwrap();
                }
            }
            let hits = lazy.search(&terms, Some(&vector), &[], &options).unwrap();
            assert!(!hits.is_empty() && hits.iter().all(|hit| passes(hit.doc)), "{mode:?}: {hits:?}");
            assert_eq!(hits, whole_passing(&corpus, &terms, &vector, mode, passes), "{mode:?}");
        }
        let totals = lazy.filters().unwrap().unwrap().totals();
        assert_eq!(totals["tag"][0].count, 30);
        assert_eq!(totals["kind"].iter().map(|v| v.count).sum::<u32>(), 60);

        // Documents without filters let nothing through one, and ask for no filter fragment.
        let plain = Corpus { filters: FilterIndex::default(), ..corpus };
        let (root, fragments) = split(&plain, &small());
        assert!(root.fragments().all(|fragment| fragment != Fragment::Filters));
        let mut lazy = LazyBundle::new(root);
        let by_name: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
        let loaded = lazy.load_every_fragment(|name| Ok::<_, FragmentError>(by_name[name].clone())).unwrap();
        assert_eq!(loaded.len(), by_name.len(), "every fragment is named by the root or the sign codes");
        let options = SearchOptions { filters, ..options(Mode::Hybrid) };
        assert!(lazy.missing_for_search(&terms, Some(&vector), &options).is_empty());
        assert_eq!(lazy.search(&terms, Some(&vector), &[], &options).unwrap(), []);
        assert!(lazy.filters().unwrap().is_none());
    }

    #[test]
    fn budgets_grow_to_keep_the_fragment_count_under_its_cap() {
        let corpus = corpus();
        let (_, uncapped) = split(&corpus, &small());
        for max_fragments in [10, 30, 60] {
            assert!(uncapped.len() > max_fragments);
            let (root, fragments) = split(&corpus, &FragmentConfig { max_fragments, ..small() });
            assert!(fragments.len() <= max_fragments + 1, "{} fragments for a cap of {max_fragments}", fragments.len());
            let mut lazy = LazyBundle::new(root);
            let by_name: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
            lazy.load_every_fragment(|name| Ok::<_, FragmentError>(by_name[name].clone())).unwrap();
            let (terms, vector) = (terms("w1 w5 w9"), corpus.vectors.dequantize(3));
            assert_eq!(
                lazy.search(&terms, Some(&vector), &[], &options(Mode::Hybrid)).unwrap(),
                whole(&corpus, &terms, &vector, Mode::Hybrid)
            );
        }
    }

    #[test]
    fn names_are_content_addresses_and_a_rebuild_reuses_unchanged_fragments() {
        let mut corpus = corpus();
        let (_, before) = split(&corpus, &small());
        for (name, bytes) in &before {
            assert_eq!(name, &fragment_name(bytes));
        }
        corpus.docs.documents[59].title = "Changed".into();
        let (_, after) = split(&corpus, &small());
        let kept = after.iter().filter(|(name, _)| before.iter().any(|(old, _)| old == name)).count();
        assert_eq!(kept, after.len() - 1, "only the last document chunk changed");
    }

    #[test]
    fn wrong_damaged_or_unknown_fragments_are_refused_by_name() {
        let corpus = corpus();
        let (root, fragments) = split(&corpus, &small());
        let mut lazy = LazyBundle::new(root.clone());
        let (name, bytes) = &fragments[0];
        let error = lazy.load(name, &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(&error, FragmentError::Checksum(n) if n == name), "{error}");
        assert!(error.to_string().contains(name.as_str()));
        assert!(matches!(lazy.load(&fragments[1].0, bytes), Err(FragmentError::Checksum(_))));
        assert!(matches!(lazy.load("00", bytes), Err(FragmentError::Unknown(_))));
        let garbage = b"not deflate";
        let error = open_fragment(&fragment_name(garbage), garbage).unwrap_err();
        assert!(matches!(error, FragmentError::Inflate { .. }), "bytes that hash to their name and do not inflate: {error}");
        let vector_chunk = fragments.iter().find(|(name, bytes)| open_fragment(name, bytes).unwrap().starts_with(b"DVC1")).unwrap();
        let error = lazy.load(&vector_chunk.0, &vector_chunk.1).unwrap_err();
        assert!(matches!(error, FragmentError::Unknown(_)), "a vector chunk before the sign codes that name it: {error}");
        let codes = root.name(Fragment::SignCodes);
        lazy.load(&codes, &fragments.iter().find(|(name, _)| *name == codes).unwrap().1).unwrap();
        lazy.load(&vector_chunk.0, &vector_chunk.1).unwrap();
        let root_bytes = root.to_bytes();
        for cut in 0..root_bytes.len() {
            assert!(Root::from_bytes(&root_bytes[..cut]).is_err(), "root truncated at {cut} was accepted");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Damage behind a matching name (a buggy writer, a crafted file) reaches the fragment
        /// readers: every other fragment loaded, the damaged one is refused or read, and every
        /// search and result after it answers or says what is missing, never panics.
        #[test]
        fn damaged_fragments_never_panic(which in proptest::prelude::any::<proptest::sample::Index>(), at in proptest::prelude::any::<proptest::sample::Index>(), mask in 1u8..=255, cut in proptest::option::of(proptest::prelude::any::<proptest::sample::Index>())) {
            let corpus = corpus();
            let (root, fragments) = split(&corpus, &FragmentConfig { rescore: Some(12), ..small() });
            let codes = root.name(Fragment::SignCodes);
            let mut lazy = LazyBundle::new(root);
            let mut names: Vec<String> = fragments.iter().map(|(name, _)| name.clone()).collect();
            names.sort_by_key(|name| *name != codes);
            let damaged_name = which.get(&names).clone();
            let fragments: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
            for name in &names {
                let mut bytes = open_fragment(name, &fragments[name]).unwrap();
                if *name == damaged_name {
                    let at = at.index(bytes.len());
                    bytes[at] ^= mask;
                    bytes.truncate(cut.map_or(bytes.len(), |cut| cut.index(bytes.len() + 1)));
                }
                let _ = lazy.read(name, &bytes);
            }
            for mode in [Mode::Bm25, Mode::Dense, Mode::Hybrid] {
                if let Ok(hits) = lazy.search(&terms("w1 w5 w9 w40"), Some(&corpus.vectors.dequantize(3)), &[], &options(mode)) {
                    for hit in hits {
                        let _ = lazy.passage(hit.passage);
                        let _ = lazy.document(hit.doc);
                    }
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = open_fragment(&fragment_name(&bytes), &bytes);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(root) = Root::from_bytes(&framed) {
                let mut lazy = LazyBundle::new(root);
                let names: Vec<String> = lazy.root().fragments().map(|f| lazy.root().name(f)).collect();
                for name in names {
                    let _ = lazy.load(&name, &bytes);
                }
                let _ = lazy.search(&terms("w1 w2"), None, &[], &options(Mode::Bm25));
            }
        }
    }
}

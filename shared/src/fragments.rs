//! A bundle fetched in fragments (format version 2, the keyword half): a small root that every
//! query needs and content-addressed fragments that a query asks for by name.
//!
//! The root ([`Root`]) holds BM25's statistics and shard boundaries ([`ShardedBm25`]), which
//! passages belong to which document and which chunk holds a document ([`DocumentIndex`]), and
//! the name of every fragment: the first 8 bytes of the sha256 of its bytes, in hex (a chance
//! collision among a bundle's n fragments is about n² / 2⁶⁵). A name changes exactly when the
//! bytes do, so a host caches fragments forever and a rebuild reuses every unchanged one; [`LazyBundle::load`] refuses bytes that do not hash to the name asked for.
//!
//! The reader never fetches: a caller asks what a query lacks ([`LazyBundle::missing_for_query`],
//! then [`LazyBundle::missing_for_hits`] for the text of the results shown), fetches those names
//! however it fetches (the browser lazily, the CLI from disk), hands the bytes to
//! [`LazyBundle::load`] and searches. Pagefind's `request_indexes` / `load_index_chunk` have the
//! same shape.
//!
//! Root layout: magic `DRT2`, then three length-prefixed sections (the BM25 root, the document
//! index, the fragment names: LEB128 counts of BM25 shards and document chunks, then 8 bytes per
//! name, shards first), lengths LEB128.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::bm25::Bm25Index;
use crate::bm25_shards::{Bm25Shard, MissingShard, ShardedBm25};
use crate::doc_chunks::{DocumentIndex, MissingChunk};
use crate::docstore::{DocStore, StoredDocument};
use crate::error::FormatError;
use crate::passage::Passage;
use crate::search::{fuse, Hit, Mode};
use crate::varint;

const SECTION: &str = "bundle root";
const MAGIC: &[u8; 4] = b"DRT2";
const NAME_BYTES: usize = 8;

/// How a bundle is cut into fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FragmentConfig {
    /// Bytes of postings per BM25 shard (a term's list is never cut).
    pub bm25_shard_bytes: usize,
    /// Bytes of text per document chunk (a document is never cut).
    pub document_chunk_bytes: usize,
    /// At most this many fragments, half of them BM25 shards and half document chunks: static
    /// hosts cap a site's files (Cloudflare Pages at 20,000), so on a corpus that the budgets
    /// above would cut finer, the budgets grow until it fits.
    pub max_fragments: usize,
}

impl Default for FragmentConfig {
    fn default() -> Self {
        Self { bm25_shard_bytes: 4 << 10, document_chunk_bytes: 4 << 10, max_fragments: 10_000 }
    }
}

/// One fragment of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    Bm25Shard(u32),
    DocumentChunk(u32),
}

#[derive(Debug, Error)]
pub enum FragmentError {
    #[error("fragment {0}: not a fragment of this bundle")]
    Unknown(String),
    #[error("fragment {0}: its bytes do not hash to its name (truncated or replaced)")]
    Checksum(String),
    #[error("fragment {name}: {source}")]
    Section { name: String, source: FormatError },
}

/// A search needs a fragment that was not handed over: fetch it and search again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("fragment {0} is needed and not loaded")]
pub struct Missing(pub String);

/// A fragment's name and bytes, as a bundle folder stores it.
pub type NamedFragment = (String, Vec<u8>);

/// The content address of a fragment's bytes.
pub fn fragment_name(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..NAME_BYTES])
}

/// What every query needs, and every fragment's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    pub bm25: ShardedBm25,
    pub documents: DocumentIndex,
    shard_names: Vec<[u8; NAME_BYTES]>,
    chunk_names: Vec<[u8; NAME_BYTES]>,
}

impl Root {
    /// Cuts a whole index and document store into a root and its named fragments.
    pub fn split(bm25: &Bm25Index, docs: &DocStore, config: &FragmentConfig) -> Result<(Self, Vec<NamedFragment>), FormatError> {
        let cap = (config.max_fragments / 2).max(2);
        let split_bm25 = |budget| Ok::<_, FormatError>(ShardedBm25::split(bm25, budget));
        let (bm25_root, shards) = split_capped(config.bm25_shard_bytes, cap, split_bm25, |shard| shard.to_bytes().len())?;
        let split_docs = |budget| DocumentIndex::split(docs, budget);
        let (documents, chunks) = split_capped(config.document_chunk_bytes, cap, split_docs, |chunk| chunk.to_bytes().len())?;
        if bm25_root.num_docs() != documents.num_passages() {
            return Err(corrupt(format!(
                "BM25 indexes {} passages, the documents hold {}",
                bm25_root.num_docs(),
                documents.num_passages()
            )));
        }
        let shard_bytes: Vec<Vec<u8>> = shards.iter().map(Bm25Shard::to_bytes).collect();
        let chunk_bytes: Vec<Vec<u8>> = chunks.iter().map(DocStore::to_bytes).collect();
        let address = |bytes: &Vec<u8>| -> [u8; NAME_BYTES] { Sha256::digest(bytes)[..NAME_BYTES].try_into().expect("8 of 32 bytes") };
        let root = Self {
            bm25: bm25_root,
            documents,
            shard_names: shard_bytes.iter().map(address).collect(),
            chunk_names: chunk_bytes.iter().map(address).collect(),
        };
        let fragments = shard_bytes.into_iter().chain(chunk_bytes).map(|bytes| (fragment_name(&bytes), bytes)).collect();
        Ok((root, fragments))
    }

    /// A fragment's name (its file name in the bundle's fragment folder).
    pub fn name(&self, fragment: Fragment) -> String {
        match fragment {
            Fragment::Bm25Shard(i) => hex::encode(self.shard_names[i as usize]),
            Fragment::DocumentChunk(i) => hex::encode(self.chunk_names[i as usize]),
        }
    }

    /// Every fragment, shards first.
    pub fn fragments(&self) -> impl Iterator<Item = Fragment> {
        let shards = (0..self.shard_names.len() as u32).map(Fragment::Bm25Shard);
        shards.chain((0..self.chunk_names.len() as u32).map(Fragment::DocumentChunk))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for section in [self.bm25.to_bytes(), self.documents.to_bytes()] {
            varint::write(&mut out, section.len() as u64);
            out.extend_from_slice(&section);
        }
        let mut names = Vec::new();
        varint::write(&mut names, self.shard_names.len() as u64);
        varint::write(&mut names, self.chunk_names.len() as u64);
        names.extend(self.shard_names.iter().chain(&self.chunk_names).flatten());
        varint::write(&mut out, names.len() as u64);
        out.extend_from_slice(&names);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
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
        let mut names = varint::Reader::new(names, SECTION);
        let (shards, chunks) = (names.varint("shard count")? as usize, names.varint("chunk count")? as usize);
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
        let mut read = |n: usize| -> Result<Vec<[u8; NAME_BYTES]>, FormatError> {
            (0..n).map(|_| Ok(names.bytes(NAME_BYTES, "fragment name")?.try_into().expect("8 bytes"))).collect()
        };
        let (shard_names, chunk_names) = (read(shards)?, read(chunks)?);
        if !names.is_empty() {
            return Err(corrupt("bytes after the last fragment name".into()));
        }
        Ok(Self { bm25, documents, shard_names, chunk_names })
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

/// A bundle's root and whichever fragments have been handed over so far.
pub struct LazyBundle {
    root: Root,
    by_name: HashMap<String, Vec<Fragment>>,
    shards: HashMap<u32, Bm25Shard>,
    chunks: HashMap<u32, DocStore>,
}

impl LazyBundle {
    pub fn new(root: Root) -> Self {
        let mut by_name: HashMap<String, Vec<Fragment>> = HashMap::new();
        for fragment in root.fragments() {
            by_name.entry(root.name(fragment)).or_default().push(fragment);
        }
        Self { root, by_name, shards: HashMap::new(), chunks: HashMap::new() }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The fragments a keyword search for the analyzed `terms` needs and lacks, by name.
    pub fn missing_for_query(&self, terms: &[String]) -> Vec<String> {
        let shards = self.root.bm25.shards_for(terms).into_iter().filter(|shard| !self.shards.contains_key(shard));
        self.names(shards.map(Fragment::Bm25Shard))
    }

    /// The fragments that showing `hits` needs and lacks, by name.
    pub fn missing_for_hits(&self, hits: &[Hit]) -> Vec<String> {
        let mut chunks: Vec<u32> = hits.iter().map(|hit| self.root.documents.chunk_of(hit.doc)).collect();
        chunks.sort_unstable();
        chunks.dedup();
        self.names(chunks.into_iter().filter(|chunk| !self.chunks.contains_key(chunk)).map(Fragment::DocumentChunk))
    }

    fn names(&self, fragments: impl Iterator<Item = Fragment>) -> Vec<String> {
        let mut names: Vec<String> = fragments.map(|fragment| self.root.name(fragment)).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Takes a fetched fragment's bytes, checking them against their name and their place.
    pub fn load(&mut self, name: &str, bytes: &[u8]) -> Result<(), FragmentError> {
        let fragments = self.by_name.get(name).ok_or_else(|| FragmentError::Unknown(name.to_string()))?;
        if fragment_name(bytes) != name {
            return Err(FragmentError::Checksum(name.to_string()));
        }
        let section = |source| FragmentError::Section { name: name.to_string(), source };
        for &fragment in fragments {
            match fragment {
                Fragment::Bm25Shard(i) => {
                    let shard = self.root.bm25.read_shard(i, bytes).map_err(section)?;
                    self.shards.insert(i, shard);
                }
                Fragment::DocumentChunk(i) => {
                    let chunk = self.root.documents.read_chunk(i, bytes).map_err(section)?;
                    self.chunks.insert(i, chunk);
                }
            }
        }
        Ok(())
    }

    /// The `k` best documents for the analyzed `terms` by BM25, each by its best passage, from
    /// `candidates` passages; every fragment [`LazyBundle::missing_for_query`] names must be loaded.
    pub fn keyword_search(&self, terms: &[String], k: usize, candidates: usize) -> Result<Vec<Hit>, Missing> {
        let passages = self.root.bm25.search(terms, candidates.max(k), |i| self.shards.get(&i));
        let passages = passages.map_err(|MissingShard(i)| Missing(self.root.name(Fragment::Bm25Shard(i))))?;
        Ok(fuse(Mode::Bm25, &[], &passages, k, |passage| self.root.documents.doc_of(passage)))
    }

    /// A result's document and passage; [`LazyBundle::missing_for_hits`] names the chunks needed.
    pub fn passage(&self, passage: u32) -> Result<(&StoredDocument, &Passage), Missing> {
        let found = self.root.documents.passage(passage, |i| self.chunks.get(&i));
        found.map_err(|MissingChunk(i)| Missing(self.root.name(Fragment::DocumentChunk(i))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Bm25Params;

    /// 60 documents of 1 to 3 passages over a vocabulary of 80 words.
    fn corpus() -> (Bm25Index, DocStore) {
        let mut state = 11u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut docs = DocStore::default();
        for doc in 0..60u32 {
            docs.documents.push(StoredDocument { id: format!("d{doc}"), title: format!("Page {doc}"), url: Some(format!("/{doc}/")) });
            for _ in 0..1 + next(3) {
                let text = (0..4 + next(20))
                    .map(|_| {
                        let range = 1 + next(80);
                        format!("w{}", next(range))
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                docs.passages.push(Passage { doc, heading: String::new(), url: None, text });
            }
        }
        let bm25 = Bm25Index::build(Bm25Params::default(), docs.passages.iter().map(|p| terms(&p.text)));
        (bm25, docs)
    }

    fn terms(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    fn small() -> FragmentConfig {
        FragmentConfig { bm25_shard_bytes: 64, document_chunk_bytes: 200, max_fragments: 10_000 }
    }

    #[test]
    fn budgets_grow_to_keep_the_fragment_count_under_its_cap() {
        let (bm25, docs) = corpus();
        let (_, uncapped) = Root::split(&bm25, &docs, &small()).unwrap();
        for max_fragments in [4, 10, 30] {
            assert!(uncapped.len() > max_fragments);
            let (root, fragments) = Root::split(&bm25, &docs, &FragmentConfig { max_fragments, ..small() }).unwrap();
            assert!(fragments.len() <= max_fragments, "{} fragments for a cap of {max_fragments}", fragments.len());
            let mut lazy = LazyBundle::new(root);
            for (name, bytes) in &fragments {
                lazy.load(name, bytes).unwrap();
            }
            let query = terms("w1 w5 w9");
            assert_eq!(
                lazy.keyword_search(&query, 5, 20).unwrap(),
                fuse(Mode::Bm25, &[], &bm25.search(&query, 20), 5, |p| docs.passages[p as usize].doc)
            );
        }
    }

    #[test]
    fn a_search_asks_for_its_fragments_and_then_matches_the_whole_bundle() {
        let (bm25, docs) = corpus();
        let (root, fragments) = Root::split(&bm25, &docs, &small()).unwrap();
        let fragments: HashMap<String, Vec<u8>> = fragments.into_iter().collect();
        let mut lazy = LazyBundle::new(Root::from_bytes(&root.to_bytes()).unwrap());
        for query in ["w0 w1", "w3 w3 w70", "w12 nothing"] {
            let query = terms(query);
            let needed = lazy.missing_for_query(&query);
            assert!(!needed.is_empty() && needed.len() < root.bm25.num_shards(), "{needed:?}");
            assert!(needed.contains(&lazy.keyword_search(&query, 5, 20).unwrap_err().0));
            for name in &needed {
                lazy.load(name, &fragments[name]).unwrap();
            }
            assert!(lazy.missing_for_query(&query).is_empty());
            let hits = lazy.keyword_search(&query, 5, 20).unwrap();
            let passages = bm25.search(&query, 20);
            assert_eq!(hits, fuse(Mode::Bm25, &[], &passages, 5, |p| docs.passages[p as usize].doc));
            for name in lazy.missing_for_hits(&hits) {
                lazy.load(&name, &fragments[&name]).unwrap();
            }
            for hit in &hits {
                let (document, passage) = lazy.passage(hit.passage).unwrap();
                assert_eq!((document, passage), (&docs.documents[hit.doc as usize], &docs.passages[hit.passage as usize]));
            }
            assert!(lazy.missing_for_hits(&hits).is_empty());
        }
    }

    #[test]
    fn names_are_content_addresses_and_a_rebuild_reuses_unchanged_fragments() {
        let (bm25, mut docs) = corpus();
        let (_, before) = Root::split(&bm25, &docs, &small()).unwrap();
        for (name, bytes) in &before {
            assert_eq!(name, &fragment_name(bytes));
        }
        docs.documents[59].title = "Changed".into();
        let (_, after) = Root::split(&bm25, &docs, &small()).unwrap();
        let kept = after.iter().filter(|(name, _)| before.iter().any(|(old, _)| old == name)).count();
        assert_eq!(kept, after.len() - 1, "only the last document chunk changed");
    }

    #[test]
    fn wrong_damaged_or_unknown_fragments_are_refused_by_name() {
        let (bm25, docs) = corpus();
        let (root, fragments) = Root::split(&bm25, &docs, &small()).unwrap();
        let mut lazy = LazyBundle::new(root.clone());
        let (name, bytes) = &fragments[0];
        let error = lazy.load(name, &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(&error, FragmentError::Checksum(n) if n == name), "{error}");
        assert!(error.to_string().contains(name.as_str()));
        assert!(matches!(lazy.load(&fragments[1].0, bytes), Err(FragmentError::Checksum(_))));
        assert!(matches!(lazy.load("00", bytes), Err(FragmentError::Unknown(_))));
        let root_bytes = root.to_bytes();
        for cut in 0..root_bytes.len() {
            assert!(Root::from_bytes(&root_bytes[..cut]).is_err(), "root truncated at {cut} was accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(root) = Root::from_bytes(&framed) {
                let mut lazy = LazyBundle::new(root);
                let names: Vec<String> = lazy.root().fragments().map(|f| lazy.root().name(f)).collect();
                for name in names {
                    let _ = lazy.load(&name, &bytes);
                }
                let _ = lazy.keyword_search(&terms("w1 w2"), 5, 10);
            }
        }
    }
}

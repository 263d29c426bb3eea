//! BM25 split by term, for a bundle fetched in fragments: a small [`ShardedBm25`] that every
//! query needs (the parameters, the corpus statistics, and where each shard's terms begin) and
//! [`Bm25Shard`]s of whole postings lists, cut where the sorted terms pass a byte budget, so a
//! query fetches only the shards that hold its own terms (Pagefind splits its index the same way).
//! Each posting carries its document's length, so a query's scores are exactly those of the
//! whole [`Bm25Index`], with no other fetch: idf from the document frequency in the shard, the
//! average length from the root.
//!
//! While a visitor types, the last word is unfinished: a query can ask for its last term to match
//! as a prefix. It then fetches the shards of every term it begins and scores each document by its
//! best such term, so that "superso" finds "supersonic". The term itself scores as usual; a longer
//! completion scores with the idf of all the completions together (their document frequencies
//! summed), weighted by how much of it the prefix is, so a rare completion never outweighs the
//! word itself at the same term frequency and length: a finished word keeps its own documents first.

use std::collections::HashMap;

use crate::bm25::{check_postings, idf, query_weights, term_score, Bm25Index, Bm25Params};
use crate::error::FormatError;
use crate::filters;
use crate::topk::top_k;
use crate::varint;

const ROOT: &str = "bm25 root";
const SHARD: &str = "bm25 shard";
/// Version 2 of both counts term frequencies and lengths in [`crate::bm25::UNITS`].
const ROOT_MAGIC: &[u8; 4] = b"DBR2";
const SHARD_MAGIC: &[u8; 4] = b"DBS2";
/// A last term shorter than this matches exactly: one or two letters begin much of the vocabulary.
pub const MIN_PREFIX_CHARS: usize = 3;
/// A last term whose completions span more shards than this matches exactly (a short prefix on a
/// large site): one keystroke should not fetch much of the index.
pub const MAX_PREFIX_SHARDS: usize = 4;

/// What every BM25 query needs: which shard holds a term, and the corpus statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedBm25 {
    params: Bm25Params,
    num_docs: u32,
    avg_doc_len: f32,
    /// Where each shard's terms begin, ascending; shard `i` holds the terms from `keys[i]` up to
    /// the next shard's key. The first shard's key is its first term; every other one is the
    /// shortest prefix of its first term that sorts after the shard before it ([`separator`]), so
    /// the root carries a few letters per shard instead of a word.
    keys: Vec<String>,
}

/// Whole postings lists of a run of terms: `(document gap, term frequency, document length)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Shard {
    terms: HashMap<String, (u32, usize, usize)>,
    order: Vec<String>,
    postings: Vec<u8>,
}

/// A query needed a shard that was not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("BM25 shard {0} is needed and not loaded")]
pub struct MissingShard(pub u32);

impl ShardedBm25 {
    /// Splits `index` into shards of about `shard_bytes` of postings each (a term's list is never
    /// cut, so one long list makes a shard of its own).
    pub fn split(index: &Bm25Index, shard_bytes: usize) -> (Self, Vec<Bm25Shard>) {
        let mut shards: Vec<Bm25Shard> = Vec::new();
        let mut keys = Vec::new();
        for (term, postings) in index.postings() {
            let full = shards.last().is_none_or(|shard| shard.postings.len() >= shard_bytes.max(1));
            if full {
                let previous = shards.last().and_then(|shard| shard.order.last());
                keys.push(previous.map_or(term, |previous| separator(previous, term)).to_string());
                shards.push(Bm25Shard { terms: HashMap::new(), order: Vec::new(), postings: Vec::new() });
            }
            let shard = shards.last_mut().expect("pushed above");
            let start = shard.postings.len();
            let mut previous = 0;
            for &(doc, tf) in &postings {
                varint::write(&mut shard.postings, u64::from(doc - previous));
                varint::write(&mut shard.postings, u64::from(tf));
                varint::write(&mut shard.postings, u64::from(index.doc_len(doc)));
                previous = doc;
            }
            shard.terms.insert(term.to_string(), (postings.len() as u32, start, shard.postings.len()));
            shard.order.push(term.to_string());
        }
        let root = Self { params: index.params(), num_docs: index.num_docs() as u32, avg_doc_len: index.avg_doc_len(), keys };
        (root, shards)
    }

    pub fn num_shards(&self) -> usize {
        self.keys.len()
    }

    /// Documents indexed (passages, in a bundle).
    pub fn num_docs(&self) -> usize {
        self.num_docs as usize
    }

    /// The shards that hold `query_terms` (or would: a term in no document still names one), and,
    /// with `prefix`, every term the last one begins, ascending, each once.
    pub fn shards_for(&self, query_terms: &[String], prefix: bool) -> Vec<u32> {
        let mut shards: Vec<u32> = query_terms.iter().filter_map(|term| self.shard_of(term)).collect();
        if let Some((_, prefix_shards)) = self.prefix_of(query_terms, prefix) {
            shards.extend(prefix_shards);
        }
        shards.sort_unstable();
        shards.dedup();
        shards
    }

    /// The last of `query_terms` when it matches as a prefix (asked to, at least
    /// [`MIN_PREFIX_CHARS`] long, and its completions in at most [`MAX_PREFIX_SHARDS`] shards),
    /// with the shards of its completions.
    fn prefix_of<'q>(&self, query_terms: &'q [String], prefix: bool) -> Option<(&'q str, Vec<u32>)> {
        let last = query_terms.last().filter(|last| prefix && last.chars().count() >= MIN_PREFIX_CHARS)?;
        let shards = self.prefix_shards(last);
        (shards.len() <= MAX_PREFIX_SHARDS).then_some((last.as_str(), shards))
    }

    /// The shards whose terms may begin with `prefix`: the one it would sort into and those after
    /// it whose key begins with it (a later key sorts after `prefix`, so it begins with it exactly
    /// when its shard's first term does).
    fn prefix_shards(&self, prefix: &str) -> Vec<u32> {
        let start = match self.shard_of(prefix) {
            Some(shard) => shard as usize,
            None if self.keys.first().is_some_and(|first| first.starts_with(prefix)) => 0,
            None => return Vec::new(),
        };
        (start..self.keys.len()).take_while(|&i| i == start || self.keys[i].starts_with(prefix)).map(|i| i as u32).collect()
    }

    fn shard_of(&self, term: &str) -> Option<u32> {
        let after = self.keys.partition_point(|key| key.as_str() <= term);
        after.checked_sub(1).map(|shard| shard as u32)
    }

    /// The `k` best documents for the analyzed query terms, the last matching as a prefix with
    /// `prefix`, best first, from the shards `shard` hands over (every one
    /// [`ShardedBm25::shards_for`] names must be there); with `allowed`, only the documents it
    /// marks.
    pub fn search<'a>(
        &self,
        query_terms: &[String],
        prefix: bool,
        k: usize,
        shard: impl Fn(u32) -> Option<&'a Bm25Shard>,
        allowed: Option<&[bool]>,
    ) -> Result<Vec<(u32, f32)>, MissingShard> {
        let passes = |doc: u32| filters::passes(allowed, doc as usize);
        let last = self.prefix_of(query_terms, prefix);
        let exact = &query_terms[..query_terms.len() - usize::from(last.is_some())];
        let mut scores: HashMap<u32, f32> = HashMap::new();
        if let Some((last, prefix_shards)) = last {
            let mut completions = Vec::new();
            for index in prefix_shards {
                let loaded = shard(index).ok_or(MissingShard(index))?;
                completions
                    .extend(loaded.order.iter().filter(|term| term.starts_with(last)).map(|term| (loaded, term, loaded.terms[term])));
            }
            let together: u64 = completions.iter().map(|&(_, _, (df, _, _))| u64::from(df)).sum();
            let together = together.min(u64::from(self.num_docs)) as u32;
            for (loaded, term, (df, start, end)) in completions {
                let (idf, weight) = match term == last {
                    true => (idf(self.num_docs as usize, df), 1.0),
                    false => (idf(self.num_docs as usize, together), last.len() as f32 / term.len() as f32),
                };
                for (doc, tf, doc_len) in postings(&loaded.postings[start..end]).filter(|&(doc, _, _)| passes(doc)) {
                    let score = weight * term_score(self.params, idf, tf, doc_len, self.avg_doc_len);
                    scores.entry(doc).and_modify(|best| *best = best.max(score)).or_insert(score);
                }
            }
        }
        for (term, weight) in query_weights(exact) {
            let Some(index) = self.shard_of(term) else { continue };
            let loaded = shard(index).ok_or(MissingShard(index))?;
            let Some(&(df, start, end)) = loaded.terms.get(term) else { continue };
            let idf = idf(self.num_docs as usize, df);
            for (doc, tf, doc_len) in postings(&loaded.postings[start..end]).filter(|&(doc, _, _)| passes(doc)) {
                *scores.entry(doc).or_default() += weight * term_score(self.params, idf, tf, doc_len, self.avg_doc_len);
            }
        }
        Ok(top_k(scores, k))
    }

    /// Magic, parameters, statistics and each shard's key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = ROOT_MAGIC.to_vec();
        out.extend_from_slice(&self.params.k1.to_le_bytes());
        out.extend_from_slice(&self.params.b.to_le_bytes());
        out.extend_from_slice(&self.avg_doc_len.to_le_bytes());
        varint::write(&mut out, u64::from(self.num_docs));
        varint::write(&mut out, self.keys.len() as u64);
        for key in &self.keys {
            varint::write(&mut out, key.len() as u64);
            out.extend_from_slice(key.as_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, ROOT);
        if reader.bytes(4, "magic")? != ROOT_MAGIC {
            return Err(FormatError::BadMagic { section: ROOT });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: ROOT, message };
        let params = Bm25Params { k1: reader.f32_le("k1")?, b: reader.f32_le("b")? };
        let avg_doc_len = reader.f32_le("average document length")?;
        if !(params.k1.is_finite() && params.k1 >= 0.0 && (0.0..=1.0).contains(&params.b) && avg_doc_len.is_finite() && avg_doc_len >= 1.0)
        {
            return Err(corrupt(format!("parameters out of range: k1={} b={} avgdl={avg_doc_len}", params.k1, params.b)));
        }
        let num_docs = reader.varint_u32("document count")?;
        let count = reader.varint("shard count")? as usize;
        if count > bytes.len() {
            return Err(FormatError::Truncated { section: ROOT, what: "shard keys" });
        }
        let mut keys: Vec<String> = Vec::with_capacity(count);
        for _ in 0..count {
            let len = reader.varint("shard key length")? as usize;
            let key = std::str::from_utf8(reader.bytes(len, "shard key")?).map_err(|_| corrupt("shard key is not UTF-8".into()))?;
            if keys.last().is_some_and(|previous| previous.as_str() >= key) {
                return Err(corrupt(format!("shard keys out of order at {key:?}")));
            }
            keys.push(key.to_string());
        }
        if !reader.is_empty() {
            return Err(corrupt("bytes after the last shard key".into()));
        }
        Ok(Self { params, num_docs, avg_doc_len, keys })
    }

    /// Reads one shard's bytes, checking that it is shard `index` of this root: its terms sort
    /// within the shard's range and its postings name documents of this corpus.
    pub fn read_shard(&self, index: u32, bytes: &[u8]) -> Result<Bm25Shard, FormatError> {
        let mut reader = varint::Reader::new(bytes, SHARD);
        if reader.bytes(4, "magic")? != SHARD_MAGIC {
            return Err(FormatError::BadMagic { section: SHARD });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: SHARD, message };
        let count = reader.varint("term count")? as usize;
        if count > bytes.len() {
            return Err(FormatError::Truncated { section: SHARD, what: "dictionary" });
        }
        let mut dictionary = Vec::with_capacity(count);
        for _ in 0..count {
            let len = reader.varint("term length")? as usize;
            let term = std::str::from_utf8(reader.bytes(len, "term")?).map_err(|_| corrupt("term is not UTF-8".into()))?;
            if self.shard_of(term) != Some(index) {
                return Err(corrupt(format!("term {term:?} does not belong in shard {index}")));
            }
            dictionary.push((term.to_string(), reader.varint_u32("document frequency")?, reader.varint("postings length")? as usize));
        }
        let postings_bytes = reader.rest().to_vec();
        let mut shard = Bm25Shard { terms: HashMap::with_capacity(count), order: Vec::with_capacity(count), postings: postings_bytes };
        let mut start = 0usize;
        for (term, df, len) in dictionary {
            let end = start.checked_add(len).filter(|&end| end <= shard.postings.len());
            let end = end.ok_or(FormatError::Truncated { section: SHARD, what: "postings" })?;
            check_postings(&shard.postings[start..end], df, self.num_docs as usize, SHARD, true).map_err(corrupt)?;
            if shard.terms.insert(term.clone(), (df, start, end)).is_some() {
                return Err(corrupt(format!("term {term:?} appears twice")));
            }
            shard.order.push(term);
            start = end;
        }
        if start != shard.postings.len() {
            return Err(corrupt(format!("{} bytes after the last postings list", shard.postings.len() - start)));
        }
        Ok(shard)
    }
}

impl Bm25Shard {
    /// Magic, dictionary (term, document frequency, postings bytes), postings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = SHARD_MAGIC.to_vec();
        varint::write(&mut out, self.order.len() as u64);
        for term in &self.order {
            let (df, start, end) = self.terms[term];
            varint::write(&mut out, term.len() as u64);
            out.extend_from_slice(term.as_bytes());
            varint::write(&mut out, u64::from(df));
            varint::write(&mut out, (end - start) as u64);
        }
        out.extend_from_slice(&self.postings);
        out
    }
}

/// The shortest prefix of `term`, cut at a character boundary, that sorts after `previous` (which
/// sorts before `term`): every string from it up to `term` sorts after `previous` too, so a
/// shard keyed by it holds the same terms as one keyed by `term`.
fn separator<'t>(previous: &str, term: &'t str) -> &'t str {
    let common = previous.bytes().zip(term.bytes()).take_while(|(a, b)| a == b).count();
    let end = (common + 1..=term.len()).find(|&end| term.is_char_boundary(end)).unwrap_or(term.len());
    &term[..end]
}

/// Decodes postings that [`check_postings`] accepted.
fn postings(list: &[u8]) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
    let mut reader = varint::Reader::new(list, SHARD);
    let mut doc = 0u32;
    std::iter::from_fn(move || {
        if reader.is_empty() {
            return None;
        }
        doc += reader.varint_u32("doc gap").expect("checked postings");
        let tf = reader.varint_u32("tf").expect("checked postings");
        Some((doc, tf, reader.varint_u32("document length").expect("checked postings")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    /// 300 documents over a vocabulary of 200 words, some frequent, most rare.
    fn index() -> Bm25Index {
        let mut state = 7u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let docs: Vec<Vec<String>> = (0..300)
            .map(|_| {
                (0..5 + next(40))
                    .map(|_| {
                        let range = 1 + next(200);
                        format!("w{}", next(range))
                    })
                    .collect()
            })
            .collect();
        Bm25Index::build(Bm25Params::default(), docs)
    }

    fn loaded(root: &ShardedBm25, shards: &[Bm25Shard]) -> Vec<Bm25Shard> {
        shards.iter().enumerate().map(|(i, s)| root.read_shard(i as u32, &s.to_bytes()).unwrap()).collect()
    }

    #[test]
    fn shards_score_exactly_as_the_whole_index() {
        let index = index();
        let (root, shards) = ShardedBm25::split(&index, 256);
        assert!(shards.len() > 5, "{} shards", shards.len());
        let root = ShardedBm25::from_bytes(&root.to_bytes()).unwrap();
        let shards = loaded(&root, &shards);
        for query in ["w0 w1", "w3 w3 w150", "w199 w7 w42 w9", "nothing w12"] {
            let query = terms(query);
            let whole = index.search(&query, 20);
            let needed = root.shards_for(&query, false);
            let split = root.search(&query, false, 20, |i| needed.contains(&i).then(|| &shards[i as usize]), None).unwrap();
            assert_eq!(split.len(), whole.len());
            for ((a, sa), (b, sb)) in split.iter().zip(&whole) {
                assert!((sa - sb).abs() <= 1e-5 * sb.abs(), "{query:?}: {a} {sa} against {b} {sb}");
            }
        }
    }

    #[test]
    fn a_query_names_its_shards_and_refuses_without_them() {
        let (root, shards) = ShardedBm25::split(&index(), 256);
        let query = terms("w0 w0 w199");
        let needed = root.shards_for(&query, false);
        assert!(!needed.is_empty() && needed.len() <= 2 && needed.windows(2).all(|w| w[0] < w[1]));
        let missing = root.search(&query, false, 5, |_| None, None).unwrap_err();
        assert!(needed.contains(&missing.0));
        assert!(root.shards_for(&terms("a"), false).is_empty(), "a term before every shard's first is in none");
        assert!(root.search(&terms("a"), false, 5, |i| Some(&shards[i as usize]), None).unwrap().is_empty());
    }

    #[test]
    fn the_last_term_matches_as_a_prefix_when_asked() {
        let index = index();
        let (root, shards) = ShardedBm25::split(&index, 256);
        let shards = loaded(&root, &shards);
        let all = |i: u32| Some(&shards[i as usize]);
        // "w19" begins w19 and w190 to w199, which sort into more than one shard.
        let query = terms("w3 w19");
        let needed = root.shards_for(&query, true);
        assert!(needed.len() > root.shards_for(&query, false).len(), "{needed:?}");
        let missing = root.search(&query, true, 20, |i| (!needed.contains(&i)).then(|| &shards[i as usize]), None).unwrap_err();
        assert!(needed.contains(&missing.0));
        let found = root.search(&query, true, 300, |i| needed.contains(&i).then(|| &shards[i as usize]), None).unwrap();
        let completions: Vec<u32> = (190..200).flat_map(|n| index.search(&terms(&format!("w{n}")), 300)).map(|(doc, _)| doc).collect();
        assert!(completions.iter().all(|doc| found.iter().any(|(d, _)| d == doc)), "every document of a completion is found");
        // The word's own documents keep at least their own score; its completions add documents.
        let own = root.search(&terms("w19"), false, 300, all, None).unwrap();
        let typed: HashMap<u32, f32> = root.search(&terms("w19"), true, 300, all, None).unwrap().into_iter().collect();
        assert!(typed.len() > own.len() && own.iter().all(|(doc, score)| typed[doc] >= *score), "{own:?} {typed:?}");
        // Too short a prefix matches exactly.
        assert_eq!(root.shards_for(&terms("w1"), true), root.shards_for(&terms("w1"), false));
        assert_eq!(root.search(&terms("w1"), true, 20, all, None).unwrap(), root.search(&terms("w1"), false, 20, all, None).unwrap());
    }

    #[test]
    fn damaged_or_misplaced_shards_are_refused() {
        let (root, shards) = ShardedBm25::split(&index(), 256);
        let bytes = shards[1].to_bytes();
        assert!(root.read_shard(2, &bytes).is_err(), "shard 1's terms are not shard 2's");
        for cut in 0..bytes.len() {
            assert!(root.read_shard(1, &bytes[..cut]).is_err(), "truncated at {cut} was accepted");
        }
        let root_bytes = root.to_bytes();
        for cut in 0..root_bytes.len() {
            assert!(ShardedBm25::from_bytes(&root_bytes[..cut]).is_err(), "root truncated at {cut} was accepted");
        }
    }

    #[test]
    fn shard_keys_are_the_shortest_prefixes_that_separate_the_shards() {
        let index = index();
        let (root, shards) = ShardedBm25::split(&index, 256);
        assert_eq!(root.keys[0], shards[0].order[0]);
        for (i, shard) in shards.iter().enumerate().skip(1) {
            let (key, previous, first) = (&root.keys[i], shards[i - 1].order.last().unwrap(), &shard.order[0]);
            assert!(first.starts_with(key.as_str()) && key > previous, "shard {i}: {previous:?} < {key:?} <= {first:?}");
            assert!(key[..key.len() - 1] <= **previous, "shard {i}: {key:?} is not the shortest after {previous:?}");
        }
    }

    proptest::proptest! {
        /// Words of letters that share prefixes and span UTF-8 lengths: every word routes to the
        /// shard that holds it, and every prefix to every shard that holds a completion.
        #[test]
        fn words_and_prefixes_route_to_the_shards_that_hold_them(
            words in proptest::collection::vec("[aáb€]{1,6}", 1..120),
            budget in 1usize..64,
            prefix in "[aáb€]{1,3}",
        ) {
            let index = Bm25Index::build(Bm25Params::default(), words.iter().map(|w| vec![w.clone()]));
            let (root, shards) = ShardedBm25::split(&index, budget);
            for (i, shard) in shards.iter().enumerate() {
                for term in &shard.order {
                    proptest::prop_assert_eq!(root.shard_of(term), Some(i as u32));
                }
            }
            let opened = root.prefix_shards(&prefix);
            for (i, shard) in shards.iter().enumerate() {
                if shard.order.iter().any(|term| term.starts_with(prefix.as_str())) {
                    proptest::prop_assert!(opened.contains(&(i as u32)), "{:?} misses shard {} for {:?}", opened, i, prefix);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let (root, _) = ShardedBm25::split(&index(), 256);
            let _ = ShardedBm25::from_bytes(&bytes);
            let mut framed = SHARD_MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(shard) = root.read_shard(0, &framed) {
                let _ = root.search(&terms("w0 w1"), true, 5, |_| Some(&shard), None);
            }
        }
    }
}

//! BM25 over an inverted index whose postings stay compressed (delta + varint) in memory
//! and in the bundle: the bytes written are the bytes searched.
//!
//! Scoring is Lucene's BM25 (as Pyserini runs it): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
//! term score = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), summed over the
//! query's terms, each weighted by how often it occurs in the query.
//!
//! A document's words may carry weights (a site's `data-dowse-weight` regions): a word then counts
//! its weight in the term frequency and in the document's length, as BM25F counts fields. To keep
//! both integers, they count quarter occurrences ([`UNITS`] to an unweighted word), so weights
//! are kept to the nearest quarter and an unweighted corpus scores exactly as plain BM25.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::FormatError;
use crate::topk::top_k;
use crate::varint;

const MAGIC: &[u8; 4] = b"DBM2";
/// Version 2 counts term frequencies and lengths in [`UNITS`]; version 1 counted words.
const VERSION: u32 = 2;
/// What one unweighted occurrence of a word counts, in term frequencies and document lengths.
pub const UNITS: u32 = 4;
/// The largest weight a word may carry.
pub const MAX_WEIGHT: f32 = 10.0;
const SECTION: &str = "bm25";

/// BM25's two knobs; the defaults are Pyserini's BEIR settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self { k1: 0.9, b: 0.4 }
    }
}

/// Where one term's postings live in the postings blob.
#[derive(Debug, Clone, Copy)]
struct TermEntry {
    df: u32,
    start: usize,
    end: usize,
}

/// An inverted index over documents numbered 0..n in the order they were given.
pub struct Bm25Index {
    params: Bm25Params,
    doc_lens: Vec<u32>,
    avg_doc_len: f32,
    terms: HashMap<String, TermEntry>,
    /// Term names in blob order, kept to write the index back out.
    term_order: Vec<String>,
    postings: Vec<u8>,
}

impl Bm25Index {
    /// Builds the index from each document's analyzed terms, every word weighing 1.
    pub fn build(params: Bm25Params, docs: impl IntoIterator<Item = Vec<String>>) -> Self {
        Self::build_weighted(params, docs.into_iter().map(|terms| terms.into_iter().map(|term| (term, 1.0)).collect()))
    }

    /// Builds the index from each document's analyzed terms with their weights (0 to
    /// [`MAX_WEIGHT`], kept to the nearest quarter; a word of weight 0 is not indexed).
    pub fn build_weighted(params: Bm25Params, docs: impl IntoIterator<Item = Vec<(String, f32)>>) -> Self {
        let mut doc_lens = Vec::new();
        let mut lists: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for (doc, terms) in docs.into_iter().enumerate() {
            let mut tfs: HashMap<String, u32> = HashMap::new();
            let mut len = 0;
            for (term, weight) in terms {
                let units = (weight.clamp(0.0, MAX_WEIGHT) * UNITS as f32).round() as u32;
                if units > 0 {
                    len += units;
                    *tfs.entry(term).or_default() += units;
                }
            }
            doc_lens.push(len);
            for (term, tf) in tfs {
                lists.entry(term).or_default().push((doc as u32, tf));
            }
        }
        let mut term_order: Vec<String> = lists.keys().cloned().collect();
        term_order.sort_unstable();
        let mut postings = Vec::new();
        let mut terms = HashMap::with_capacity(term_order.len());
        for term in &term_order {
            let list = &lists[term];
            let start = postings.len();
            let mut previous = 0u32;
            for &(doc, tf) in list {
                varint::write(&mut postings, u64::from(doc - previous));
                varint::write(&mut postings, u64::from(tf));
                previous = doc;
            }
            terms.insert(term.clone(), TermEntry { df: list.len() as u32, start, end: postings.len() });
        }
        let avg_doc_len = average(&doc_lens);
        Self { params, doc_lens, avg_doc_len, terms, term_order, postings }
    }

    pub fn num_docs(&self) -> usize {
        self.doc_lens.len()
    }

    /// The `k` best documents for the analyzed query terms, best first; documents that share
    /// no term with the query are never returned.
    pub fn search(&self, query_terms: &[String], k: usize) -> Vec<(u32, f32)> {
        let weights = query_weights(query_terms);
        let mut scores = vec![0f32; self.num_docs()];
        let mut touched = Vec::new();
        for (term, weight) in weights {
            let Some(entry) = self.terms.get(term) else { continue };
            let idf = idf(self.num_docs(), entry.df);
            for (doc, tf) in self.postings_of(entry) {
                let score = &mut scores[doc as usize];
                if *score == 0.0 {
                    touched.push(doc);
                }
                *score += weight * term_score(self.params, idf, tf, self.doc_lens[doc as usize], self.avg_doc_len);
            }
        }
        top_k(touched.into_iter().map(|doc| (doc, scores[doc as usize])), k)
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }

    pub fn avg_doc_len(&self) -> f32 {
        self.avg_doc_len
    }

    /// The document's length in [`UNITS`].
    pub fn doc_len(&self, doc: u32) -> u32 {
        self.doc_lens[doc as usize]
    }

    /// Every term in sorted order, with its `(document, term frequency in [`UNITS`])` postings.
    pub fn postings(&self) -> impl Iterator<Item = (&str, Vec<(u32, u32)>)> + '_ {
        self.term_order.iter().map(|term| (term.as_str(), self.postings_of(&self.terms[term]).collect()))
    }

    fn postings_of(&self, entry: &TermEntry) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut reader = varint::Reader::new(&self.postings[entry.start..entry.end], SECTION);
        let mut doc = 0u32;
        std::iter::from_fn(move || {
            if reader.is_empty() {
                return None;
            }
            // Postings were validated when the index was built or loaded.
            doc += reader.varint_u32("doc gap").expect("validated postings");
            Some((doc, reader.varint_u32("tf").expect("validated postings")))
        })
    }

    /// The compact binary form: magic, version, params, lengths, dictionary, postings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.postings.len() + 16 * self.term_order.len() + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.params.k1.to_le_bytes());
        out.extend_from_slice(&self.params.b.to_le_bytes());
        varint::write(&mut out, self.doc_lens.len() as u64);
        for &len in &self.doc_lens {
            varint::write(&mut out, u64::from(len));
        }
        varint::write(&mut out, self.term_order.len() as u64);
        for term in &self.term_order {
            let entry = self.terms[term];
            varint::write(&mut out, term.len() as u64);
            out.extend_from_slice(term.as_bytes());
            varint::write(&mut out, u64::from(entry.df));
            varint::write(&mut out, (entry.end - entry.start) as u64);
        }
        out.extend_from_slice(&self.postings);
        out
    }

    /// Reads [`Bm25Index::to_bytes`] output, checking every posting so that search cannot fail later.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let version = reader.u32_le("version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { section: SECTION, found: version, supported: VERSION });
        }
        let params = Bm25Params { k1: reader.f32_le("k1")?, b: reader.f32_le("b")? };
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        if !(params.k1.is_finite() && params.k1 >= 0.0 && (0.0..=1.0).contains(&params.b)) {
            return Err(corrupt(format!("parameters out of range: k1={} b={}", params.k1, params.b)));
        }
        let num_docs = reader.varint("document count")? as usize;
        // Each length takes at least one byte: a count beyond the input is corrupt, not an allocation.
        if num_docs > bytes.len() {
            return Err(FormatError::Truncated { section: SECTION, what: "document lengths" });
        }
        let doc_lens = (0..num_docs).map(|_| reader.varint_u32("document length")).collect::<Result<Vec<_>, _>>()?;
        let num_terms = reader.varint("term count")? as usize;
        if num_terms > bytes.len() {
            return Err(FormatError::Truncated { section: SECTION, what: "dictionary" });
        }
        let mut dictionary = Vec::with_capacity(num_terms);
        for _ in 0..num_terms {
            let len = reader.varint("term length")? as usize;
            let term = std::str::from_utf8(reader.bytes(len, "term")?).map_err(|_| corrupt("term is not UTF-8".into()))?;
            let df = reader.varint_u32("document frequency")?;
            let postings_len = reader.varint("postings length")? as usize;
            dictionary.push((term.to_string(), df, postings_len));
        }
        let postings = reader.rest().to_vec();
        let mut terms = HashMap::with_capacity(num_terms);
        let mut term_order = Vec::with_capacity(num_terms);
        let mut start = 0usize;
        for (term, df, postings_len) in dictionary {
            let end = start.checked_add(postings_len).filter(|&end| end <= postings.len());
            let end = end.ok_or(FormatError::Truncated { section: SECTION, what: "postings" })?;
            check_postings(&postings[start..end], df, num_docs, SECTION, false).map_err(corrupt)?;
            if terms.insert(term.clone(), TermEntry { df, start, end }).is_some() {
                return Err(corrupt(format!("term {term:?} appears twice")));
            }
            term_order.push(term);
            start = end;
        }
        if start != postings.len() {
            return Err(corrupt(format!("{} bytes after the last postings list", postings.len() - start)));
        }
        let avg_doc_len = average(&doc_lens);
        Ok(Self { params, doc_lens, avg_doc_len, terms, term_order, postings })
    }
}

/// Each distinct query term with its count, in term order: scores are summed in this order, so
/// a search gives the same floats in every process (a hash map's order differs per process).
pub(crate) fn query_weights(query_terms: &[String]) -> Vec<(&str, f32)> {
    let mut weights: std::collections::BTreeMap<&str, f32> = std::collections::BTreeMap::new();
    for term in query_terms {
        *weights.entry(term.as_str()).or_default() += 1.0;
    }
    weights.into_iter().collect()
}

/// Lucene's idf of a term in `df` of `num_docs` documents.
pub(crate) fn idf(num_docs: usize, df: u32) -> f32 {
    let (n, df) = (num_docs as f32, df as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// One query term's BM25 score in a document of length `doc_len` where its frequency is `tf`,
/// both in [`UNITS`].
pub(crate) fn term_score(params: Bm25Params, idf: f32, tf: u32, doc_len: u32, avg_doc_len: f32) -> f32 {
    let Bm25Params { k1, b } = params;
    let tf = tf as f32 / UNITS as f32;
    idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doc_len as f32 / avg_doc_len))
}

/// A postings list must hold exactly `df` entries of increasing document ids below `num_docs`,
/// each with a term frequency above 0; with `lengths`, each entry also carries its document's
/// length, which the frequency cannot exceed (how [`crate::bm25_shards`] stores postings).
pub(crate) fn check_postings(list: &[u8], df: u32, num_docs: usize, section: &'static str, lengths: bool) -> Result<(), String> {
    let mut reader = varint::Reader::new(list, section);
    let mut count = 0u32;
    let mut doc: Option<u32> = None;
    while !reader.is_empty() {
        let gap = reader.varint_u32("doc gap").map_err(|e| e.to_string())?;
        let tf = reader.varint_u32("tf").map_err(|e| e.to_string())?;
        let next = match doc {
            None => gap,
            Some(_) if gap == 0 => return Err("document ids do not increase".into()),
            Some(d) => d.checked_add(gap).ok_or("document id overflows")?,
        };
        if next as usize >= num_docs {
            return Err(format!("document {next} out of range ({num_docs} documents)"));
        }
        let doc_len = if lengths { reader.varint_u32("document length").map_err(|e| e.to_string())? } else { tf };
        if tf == 0 || tf > doc_len {
            return Err(format!("document {next}: term frequency {tf} with length {doc_len}"));
        }
        doc = Some(next);
        count += 1;
    }
    if count != df {
        return Err(format!("postings hold {count} documents, dictionary says {df}"));
    }
    Ok(())
}

fn average(lens: &[u32]) -> f32 {
    if lens.is_empty() {
        return 1.0;
    }
    let total: u64 = lens.iter().map(|&l| u64::from(l)).sum();
    (total as f32 / lens.len() as f32).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    fn index() -> Bm25Index {
        Bm25Index::build(Bm25Params::default(), ["a b c", "a a d", "e f", "b b b b b b"].map(terms))
    }

    #[test]
    fn scores_match_lucene_bm25_by_hand() {
        let index = index();
        let hits = index.search(&terms("a"), 10);
        // N=4, df(a)=2: idf = ln(1 + 2.5/2.5) = ln 2; avgdl = 14/4 = 3.5.
        let idf = 2f32.ln();
        let score = |tf: f32, dl: f32| idf * tf * 1.9 / (tf + 0.9 * (0.6 + 0.4 * dl / 3.5));
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].0, 1);
        assert!((hits[0].1 - score(2.0, 3.0)).abs() < 1e-6);
        assert!((hits[1].1 - score(1.0, 3.0)).abs() < 1e-6);
        assert!(index.search(&terms("zzz"), 10).is_empty());
        // A repeated query term counts twice.
        let twice = index.search(&terms("e e"), 1);
        let once = index.search(&terms("e"), 1);
        assert!((twice[0].1 - 2.0 * once[0].1).abs() < 1e-6);
    }

    #[test]
    fn weights_count_in_frequency_and_length_as_bm25f_does() {
        let weighted = |docs: &[&[(&str, f32)]]| {
            let docs = docs.iter().map(|doc| doc.iter().map(|&(t, w)| (t.to_string(), w)).collect());
            Bm25Index::build_weighted(Bm25Params::default(), docs)
        };
        // A word of weight 2 scores as the word written twice; weight 0 is not indexed at all.
        let twice = weighted(&[&[("a", 2.0), ("b", 1.0)], &[("c", 1.0)]]);
        let written = weighted(&[&[("a", 1.0), ("a", 1.0), ("b", 1.0)], &[("c", 1.0)]]);
        assert_eq!(twice.search(&terms("a b"), 2), written.search(&terms("a b"), 2));
        let hidden = weighted(&[&[("a", 0.0), ("b", 1.0)], &[("a", 1.0)]]);
        assert_eq!(hidden.search(&terms("a"), 2).iter().map(|h| h.0).collect::<Vec<_>>(), [1]);
        // Quarter weights count exactly, and weights above the cap count as the cap.
        let half = weighted(&[&[("a", 0.5), ("b", 1.0)], &[("a", 1.0), ("c", 1.0)]]);
        let (n, idf) = (2.0f32, (1.0f32 + 0.5 / 2.5).ln());
        let avgdl = (1.5 + 2.0) / n;
        let expected = idf * 0.5 * 1.9 / (0.5 + 0.9 * (0.6 + 0.4 * 1.5 / avgdl));
        assert!((half.search(&terms("a"), 2)[1].1 - expected).abs() < 1e-6);
        assert_eq!(weighted(&[&[("a", 50.0)]]).to_bytes(), weighted(&[&[("a", MAX_WEIGHT)]]).to_bytes());
    }

    #[test]
    fn bytes_round_trip() {
        let index = index();
        let bytes = index.to_bytes();
        let loaded = Bm25Index::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.to_bytes(), bytes);
        assert_eq!(loaded.search(&terms("b d"), 3), index.search(&terms("b d"), 3));
    }

    #[test]
    fn damaged_bytes_are_rejected() {
        let bytes = index().to_bytes();
        assert_eq!(Bm25Index::from_bytes(b"XXXX").err(), Some(FormatError::BadMagic { section: SECTION }));
        let mut newer = bytes.clone();
        newer[4] = 9;
        assert!(matches!(Bm25Index::from_bytes(&newer), Err(FormatError::UnsupportedVersion { found: 9, .. })));
        for cut in 0..bytes.len() {
            assert!(Bm25Index::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut} was accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = Bm25Index::from_bytes(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&VERSION.to_le_bytes());
            framed.extend_from_slice(&bytes);
            if let Ok(index) = Bm25Index::from_bytes(&framed) {
                let _ = index.search(&terms("a b"), 5);
            }
        }
    }
}

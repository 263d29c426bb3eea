//! Documents in chunks, for a bundle fetched in fragments: a small [`DocumentIndex`] that every
//! query needs (which passages belong to which document, which chunk holds a document) and
//! chunks of whole documents with their passages, cut where the documents pass a byte budget, so
//! a page fetches the text of only the results it shows.
//!
//! A chunk is a [`DocStore`] section of its documents alone, its passages numbering their
//! documents from the chunk's first. The index is document passage counts and chunk document
//! counts, LEB128.

use crate::docstore::{DocStore, StoredDocument};
use crate::error::FormatError;
use crate::passage::Passage;
use crate::varint;

const SECTION: &str = "document index";
const MAGIC: &[u8; 4] = b"DDI1";

/// Which passages belong to which document, and which chunk holds a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentIndex {
    /// The first passage of each document, then the passage count.
    passage_starts: Vec<u32>,
    /// The first document of each chunk, then the document count.
    chunk_starts: Vec<u32>,
}

/// A chunk's documents could not be shown because it was not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("document chunk {0} is needed and not loaded")]
pub struct MissingChunk(pub u32);

impl DocumentIndex {
    /// Splits `store` into chunks of about `chunk_bytes` each (a document is never cut, so a long
    /// one makes a chunk of its own). The passages must come in document order, as `dowse index`
    /// writes them.
    pub fn split(store: &DocStore, chunk_bytes: usize) -> Result<(Self, Vec<DocStore>), FormatError> {
        let mut passage_starts = vec![0u32; store.documents.len() + 1];
        for (i, passage) in store.passages.iter().enumerate() {
            let doc = passage.doc as usize;
            if i > 0 && store.passages[i - 1].doc > passage.doc || doc >= store.documents.len() {
                return Err(corrupt(format!("passage {i} of document {doc} is out of document order")));
            }
            passage_starts[doc + 1] = i as u32 + 1;
        }
        for doc in 1..passage_starts.len() {
            passage_starts[doc] = passage_starts[doc].max(passage_starts[doc - 1]);
        }
        let mut chunk_starts = Vec::new();
        let mut chunks: Vec<DocStore> = Vec::new();
        let mut bytes = usize::MAX;
        for (doc, document) in store.documents.iter().enumerate() {
            if bytes >= chunk_bytes.max(1) {
                chunk_starts.push(doc as u32);
                chunks.push(DocStore::default());
                bytes = 0;
            }
            let chunk = chunks.last_mut().expect("pushed above");
            let local = chunk.documents.len() as u32;
            chunk.documents.push(document.clone());
            bytes += document.id.len() + document.title.len() + document.url.as_ref().map_or(0, String::len);
            for passage in &store.passages[passage_starts[doc] as usize..passage_starts[doc + 1] as usize] {
                bytes += passage.heading.len() + passage.text.len() + passage.url.as_ref().map_or(0, String::len);
                chunk.passages.push(Passage { doc: local, ..passage.clone() });
            }
        }
        chunk_starts.push(store.documents.len() as u32);
        Ok((Self { passage_starts, chunk_starts }, chunks))
    }

    pub fn num_documents(&self) -> usize {
        self.passage_starts.len() - 1
    }

    pub fn num_passages(&self) -> usize {
        *self.passage_starts.last().expect("never empty") as usize
    }

    pub fn num_chunks(&self) -> usize {
        self.chunk_starts.len() - 1
    }

    /// The document a passage belongs to (`passage` below [`DocumentIndex::num_passages`]).
    pub fn doc_of(&self, passage: u32) -> u32 {
        (self.passage_starts.partition_point(|&start| start <= passage) - 1) as u32
    }

    /// A document's first passage (`doc` below [`DocumentIndex::num_documents`]).
    pub fn first_passage(&self, doc: u32) -> u32 {
        self.passage_starts[doc as usize]
    }

    /// The chunk that holds a document (`doc` below [`DocumentIndex::num_documents`]).
    pub fn chunk_of(&self, doc: u32) -> u32 {
        (self.chunk_starts.partition_point(|&start| start <= doc) - 1) as u32
    }

    /// A document, from the chunks `chunk` hands over.
    pub fn document<'a>(&self, doc: u32, chunk: impl Fn(u32) -> Option<&'a DocStore>) -> Result<&'a StoredDocument, MissingChunk> {
        let index = self.chunk_of(doc);
        let loaded = chunk(index).ok_or(MissingChunk(index))?;
        Ok(&loaded.documents[(doc - self.chunk_starts[index as usize]) as usize])
    }

    /// A document and one of its passages, from the chunks `chunk` hands over.
    pub fn passage<'a>(
        &self,
        passage: u32,
        chunk: impl Fn(u32) -> Option<&'a DocStore>,
    ) -> Result<(&'a StoredDocument, &'a Passage), MissingChunk> {
        let doc = self.doc_of(passage);
        let index = self.chunk_of(doc);
        let loaded = chunk(index).ok_or(MissingChunk(index))?;
        let first = self.chunk_starts[index as usize];
        let first_passage = self.passage_starts[first as usize];
        Ok((&loaded.documents[(doc - first) as usize], &loaded.passages[(passage - first_passage) as usize]))
    }

    /// Reads chunk `index`'s bytes, checking that it holds the documents and passages this index
    /// says it does; its passages then name their documents by their number in the whole bundle.
    pub fn read_chunk(&self, index: u32, bytes: &[u8]) -> Result<DocStore, FormatError> {
        let mut store = DocStore::from_bytes(bytes)?;
        let (first, end) = match self.chunk_starts.get(index as usize..index as usize + 2) {
            Some(&[first, end]) => (first as usize, end as usize),
            _ => return Err(corrupt(format!("there is no chunk {index}"))),
        };
        if store.documents.len() != end - first {
            return Err(corrupt(format!("chunk {index} holds {} documents, the index says {}", store.documents.len(), end - first)));
        }
        let expected: Vec<u32> = (first..end).map(|doc| self.passage_starts[doc + 1] - self.passage_starts[doc]).collect();
        let mut found = vec![0u32; expected.len()];
        for (i, passage) in store.passages.iter().enumerate() {
            if i > 0 && store.passages[i - 1].doc > passage.doc {
                return Err(corrupt(format!("chunk {index}: passages out of document order")));
            }
            found[passage.doc as usize] += 1;
        }
        if found != expected {
            return Err(corrupt(format!("chunk {index}: its documents' passage counts differ from the index")));
        }
        for passage in &mut store.passages {
            passage.doc += first as u32;
        }
        Ok(store)
    }

    /// Magic, then the passage count of each document and the document count of each chunk.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        write_counts(&mut out, &self.passage_starts);
        write_counts(&mut out, &self.chunk_starts);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let passage_starts = read_counts(&mut reader, bytes.len(), "passage counts")?;
        let chunk_starts = read_counts(&mut reader, bytes.len(), "chunk sizes")?;
        if !reader.is_empty() {
            return Err(corrupt("bytes after the chunk sizes".into()));
        }
        if chunk_starts.last() != Some(&((passage_starts.len() - 1) as u32)) || chunk_starts.windows(2).any(|w| w[0] == w[1]) {
            return Err(corrupt("the chunks do not cover the documents, each at least one".into()));
        }
        Ok(Self { passage_starts, chunk_starts })
    }
}

fn corrupt(message: String) -> FormatError {
    FormatError::Corrupt { section: SECTION, message }
}

/// Running starts written as their differences.
fn write_counts(out: &mut Vec<u8>, starts: &[u32]) {
    varint::write(out, starts.len() as u64 - 1);
    for pair in starts.windows(2) {
        varint::write(out, u64::from(pair[1] - pair[0]));
    }
}

fn read_counts(reader: &mut varint::Reader, total: usize, what: &'static str) -> Result<Vec<u32>, FormatError> {
    let n = reader.varint(what)? as usize;
    if n > total {
        return Err(FormatError::Truncated { section: SECTION, what });
    }
    let mut starts = Vec::with_capacity(n + 1);
    starts.push(0u32);
    for _ in 0..n {
        let next = starts.last().expect("starts at 0").checked_add(reader.varint_u32(what)?);
        starts.push(next.ok_or_else(|| corrupt(format!("{what} overflow")))?);
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 documents of 0 to 3 passages each.
    fn store() -> DocStore {
        let documents = (0..40)
            .map(|i| StoredDocument {
                id: format!("d{i}"),
                title: format!("Title {i}"),
                url: (i % 2 == 0).then(|| format!("{i}.html")),
                meta: Vec::new(),
            })
            .collect();
        let passages = (0..40u32)
            .flat_map(|doc| {
                (0..doc % 4).map(move |p| Passage {
                    doc,
                    heading: format!("h{p}"),
                    text: format!("text {doc} {p} ").repeat(5),
                    ..Passage::default()
                })
            })
            .collect();
        DocStore { documents, passages }
    }

    #[test]
    fn chunks_hold_every_passage_where_the_index_says() {
        let store = store();
        let (index, chunks) = DocumentIndex::split(&store, 300).unwrap();
        assert!(chunks.len() > 4, "{} chunks", chunks.len());
        let index = DocumentIndex::from_bytes(&index.to_bytes()).unwrap();
        let chunks: Vec<DocStore> = chunks.iter().enumerate().map(|(i, c)| index.read_chunk(i as u32, &c.to_bytes()).unwrap()).collect();
        assert_eq!((index.num_documents(), index.num_passages(), index.num_chunks()), (40, store.passages.len(), chunks.len()));
        for (p, passage) in store.passages.iter().enumerate() {
            assert_eq!(index.doc_of(p as u32), passage.doc);
            let (document, found) = index.passage(p as u32, |c| chunks.get(c as usize)).unwrap();
            assert_eq!(document, &store.documents[passage.doc as usize]);
            assert_eq!(found, passage);
        }
        let wanted = index.chunk_of(store.passages[0].doc);
        assert_eq!(index.passage(0, |_| None).unwrap_err(), MissingChunk(wanted));
    }

    #[test]
    fn misplaced_damaged_or_unordered_input_is_refused() {
        let store = store();
        let (index, chunks) = DocumentIndex::split(&store, 300).unwrap();
        let differs = |i: usize| chunks[i].passages.iter().map(|p| p.doc).ne(chunks[0].passages.iter().map(|p| p.doc));
        for other in (1..chunks.len()).filter(|&i| differs(i)) {
            assert!(index.read_chunk(other as u32, &chunks[0].to_bytes()).is_err(), "chunk 0 is not chunk {other}");
        }
        assert!(index.read_chunk(chunks.len() as u32, &chunks[0].to_bytes()).is_err());
        let bytes = index.to_bytes();
        for cut in 0..bytes.len() {
            assert!(DocumentIndex::from_bytes(&bytes[..cut]).is_err(), "index truncated at {cut} was accepted");
        }
        let mut shuffled = store.clone();
        shuffled.passages.swap(0, 5);
        assert!(DocumentIndex::split(&shuffled, 300).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(index) = DocumentIndex::from_bytes(&framed) {
                for p in 0..index.num_passages().min(50) as u32 {
                    let _ = index.passage(p, |_| None);
                }
            }
            let (index, _) = DocumentIndex::split(&store(), 300).unwrap();
            let _ = index.read_chunk(1, &bytes);
        }
    }
}

//! The document store section: what a result shows. Documents (id, title, URL, metadata) and their
//! passages (document, heading, section URL, text), numbered in the order the vectors, graph and
//! BM25 use.
//!
//! Layout: magic `DDOC`, u32 version (2), then LEB128 counts and length-prefixed UTF-8 strings;
//! an optional string is written as length + 1, with 0 for none. A document: id, title, optional
//! URL, LEB128 metadata count and each field's key and value.

use crate::error::FormatError;
use crate::passage::{passage_text, Passage};
use crate::varint::{self, Reader};

const MAGIC: &[u8; 4] = b"DDOC";
const VERSION: u32 = 2;
const SECTION: &str = "documents";

/// A document as results show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    /// Fields results show beside the title (an HTML page's `data-dowse-meta`: image, date...),
    /// in page order.
    pub meta: Vec<(String, String)>,
}

/// Documents and passages, with passage `i` being row `i` of every other section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocStore {
    pub documents: Vec<StoredDocument>,
    pub passages: Vec<Passage>,
}

/// The URL `passage` of `doc` links to: its section's, else its document's.
pub fn passage_url<'a>(doc: &'a StoredDocument, passage: &'a Passage) -> Option<&'a str> {
    passage.url.as_deref().or(doc.url.as_deref())
}

impl DocStore {
    /// The URL a passage links to: its section's, else its document's.
    pub fn passage_url(&self, passage: u32) -> Option<&str> {
        let passage = &self.passages[passage as usize];
        passage_url(&self.documents[passage.doc as usize], passage)
    }

    /// The text the encoder and BM25 read for a passage: title, heading and text.
    pub fn passage_text(&self, passage: u32) -> String {
        let passage = &self.passages[passage as usize];
        passage_text(&self.documents[passage.doc as usize].title, &passage.heading, &passage.text)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        varint::write(&mut out, self.documents.len() as u64);
        for doc in &self.documents {
            write_str(&mut out, &doc.id);
            write_str(&mut out, &doc.title);
            write_optional(&mut out, doc.url.as_deref());
            varint::write(&mut out, doc.meta.len() as u64);
            for (key, value) in &doc.meta {
                write_str(&mut out, key);
                write_str(&mut out, value);
            }
        }
        varint::write(&mut out, self.passages.len() as u64);
        for passage in &self.passages {
            varint::write(&mut out, u64::from(passage.doc));
            write_str(&mut out, &passage.heading);
            write_optional(&mut out, passage.url.as_deref());
            write_str(&mut out, &passage.text);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let version = reader.u32_le("version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { section: SECTION, found: version, supported: VERSION });
        }
        // Every entry takes at least three bytes: a larger count is corrupt, not an allocation to attempt.
        let num_docs = count(&mut reader, bytes.len(), "document count")?;
        let mut documents = Vec::with_capacity(num_docs);
        for _ in 0..num_docs {
            let id = read_str(&mut reader, "document id")?;
            let title = read_str(&mut reader, "title")?;
            let url = read_optional(&mut reader, "url")?;
            let fields = count(&mut reader, bytes.len(), "metadata count")?;
            let meta = (0..fields)
                .map(|_| Ok((read_str(&mut reader, "metadata key")?, read_str(&mut reader, "metadata value")?)))
                .collect::<Result<_, FormatError>>()?;
            documents.push(StoredDocument { id, title, url, meta });
        }
        let num_passages = count(&mut reader, bytes.len(), "passage count")?;
        let mut passages = Vec::with_capacity(num_passages);
        for _ in 0..num_passages {
            let doc = reader.varint_u32("passage document")?;
            if doc as usize >= documents.len() {
                return Err(FormatError::Corrupt { section: SECTION, message: format!("passage of document {doc}, which does not exist") });
            }
            let heading = read_str(&mut reader, "heading")?;
            let url = read_optional(&mut reader, "passage url")?;
            let text = read_str(&mut reader, "passage text")?;
            passages.push(Passage { doc, heading, url, text, weights: Vec::new() });
        }
        if !reader.is_empty() {
            return Err(FormatError::Corrupt { section: SECTION, message: "bytes after the last passage".into() });
        }
        Ok(Self { documents, passages })
    }
}

fn count(reader: &mut Reader, total: usize, what: &'static str) -> Result<usize, FormatError> {
    let n = reader.varint(what)? as usize;
    if n > total / 3 {
        return Err(FormatError::Truncated { section: SECTION, what });
    }
    Ok(n)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    varint::write(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn write_optional(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => varint::write(out, 0),
        Some(s) => {
            varint::write(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn read_bytes_as_str(reader: &mut Reader, len: usize, what: &'static str) -> Result<String, FormatError> {
    let bytes = reader.bytes(len, what)?;
    let text =
        std::str::from_utf8(bytes).map_err(|_| FormatError::Corrupt { section: SECTION, message: format!("{what} is not UTF-8") })?;
    Ok(text.to_string())
}

fn read_str(reader: &mut Reader, what: &'static str) -> Result<String, FormatError> {
    let len = reader.varint(what)? as usize;
    read_bytes_as_str(reader, len, what)
}

fn read_optional(reader: &mut Reader, what: &'static str) -> Result<Option<String>, FormatError> {
    match reader.varint(what)? as usize {
        0 => Ok(None),
        len => read_bytes_as_str(reader, len - 1, what).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DocStore {
        DocStore {
            documents: vec![
                StoredDocument {
                    id: "a".into(),
                    title: "Guide".into(),
                    url: Some("guide.html".into()),
                    meta: vec![("image".into(), "/guide.png".into()), ("date".into(), "2026-12-04".into())],
                },
                StoredDocument { id: "b".into(), title: String::new(), url: None, meta: Vec::new() },
            ],
            passages: vec![
                Passage {
                    doc: 0,
                    heading: "Install".into(),
                    url: Some("guide.html#install".into()),
                    text: "Run the installer.".into(),
                    weights: Vec::new(),
                },
                Passage { doc: 0, heading: "Use".into(), url: None, text: "Ünïcödé text.".into(), weights: Vec::new() },
                Passage { doc: 1, text: "Plain.".into(), ..Passage::default() },
            ],
        }
    }

    #[test]
    fn round_trips_and_resolves_urls_and_text() {
        let store = store();
        assert_eq!(DocStore::from_bytes(&store.to_bytes()).unwrap(), store);
        assert_eq!(store.passage_url(0), Some("guide.html#install"));
        assert_eq!(store.passage_url(1), Some("guide.html"));
        assert_eq!(store.passage_url(2), None);
        assert_eq!(store.passage_text(1), "Guide Use Ünïcödé text.");
    }

    #[test]
    fn rejects_every_truncation() {
        let bytes = store().to_bytes();
        for len in 0..bytes.len() {
            assert!(DocStore::from_bytes(&bytes[..len]).is_err(), "truncated at {len}");
        }
    }
}

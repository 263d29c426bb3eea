//! Filters (facets): each document's `key: value` pairs (a site's `data-dowse-filter`), indexed as
//! the sorted documents of every value of every key, so a search keeps only the documents that
//! pass ([`FilterIndex::allowed`]) and a page can show each value with how many documents carry
//! it ([`FilterIndex::counts`]).
//!
//! A search's [`Filters`] name, for some keys, the values wanted: a document passes a key when it
//! carries any of that key's values, and passes the filters when it passes every key named (the
//! usual faceted search: OR within a key, AND across keys). A key or value no document carries
//! lets nothing through.
//!
//! Bytes (one fragment of a bundle): magic `DFL1`; LEB128 key count; per key its length-prefixed
//! name and LEB128 value count; per value its length-prefixed text, LEB128 document count and the
//! documents as LEB128 gaps. Keys and values ascending, each once.

use std::collections::BTreeMap;

use crate::error::FormatError;
use crate::varint;

const SECTION: &str = "filters";
const MAGIC: &[u8; 4] = b"DFL1";

/// Wanted values by key; see the module's documentation.
pub type Filters = BTreeMap<String, Vec<String>>;

/// Reads [`Filters`] whose keys map to a value or to a list of values (`{"tag": "roses"}`,
/// `{"tag": ["roses", "tulips"]}`), for `#[serde(deserialize_with = "one_or_many")]`. A visitor,
/// not an untagged enum, which would buffer each value first (about 3 kB more of the browser's
/// module).
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Filters, D::Error> {
    struct Values(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Values {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(Values(Vec::new()))
        }
    }
    impl<'de> serde::de::Visitor<'de> for Values {
        type Value = Values;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a filter's value: a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Values, E> {
            Ok(Values(vec![value.to_string()]))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<Values, A::Error> {
            while let Some(value) = seq.next_element()? {
                self.0.push(value);
            }
            Ok(self)
        }
    }
    let wanted: BTreeMap<String, Values> = serde::Deserialize::deserialize(deserializer)?;
    Ok(wanted.into_iter().map(|(key, values)| (key, values.0)).collect())
}

/// Every key's values, each with the documents that carry it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterIndex {
    num_docs: u32,
    /// Key, then value, then the documents (ascending).
    keys: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
}

/// A value of a key and how many documents carry it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u32,
}

impl FilterIndex {
    /// Indexes each document's `(key, value)` pairs; a pair repeated on one document counts once.
    pub fn build<'a>(docs: impl IntoIterator<Item = &'a [(String, String)]>) -> Self {
        let mut keys: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
        let mut num_docs = 0;
        for (doc, pairs) in docs.into_iter().enumerate() {
            let doc = u32::try_from(doc).expect("fewer than 2^32 documents");
            for (key, value) in pairs {
                let list = keys.entry(key.clone()).or_default().entry(value.clone()).or_default();
                if list.last() != Some(&doc) {
                    list.push(doc);
                }
            }
            num_docs = doc + 1;
        }
        Self { num_docs, keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Which of the documents pass `filters`; `None` when it names no key (every document does).
    pub fn allowed(&self, filters: &Filters) -> Option<Vec<bool>> {
        let wanted: Vec<(&str, &[String])> = filters.iter().map(|(key, values)| (key.as_str(), values.as_slice())).collect();
        if wanted.is_empty() {
            return None;
        }
        let mut passes = vec![0u32; self.num_docs as usize];
        for (key, values) in &wanted {
            let Some(known) = self.keys.get(*key) else { continue };
            let mut docs: Vec<u32> = values.iter().filter_map(|value| known.get(value)).flatten().copied().collect();
            docs.sort_unstable();
            docs.dedup();
            for doc in docs {
                passes[doc as usize] += 1;
            }
        }
        Some(passes.into_iter().map(|n| n as usize == wanted.len()).collect())
    }

    /// For every key, each value with how many of `docs` carry it (all of them: `docs` = every
    /// document gives the site's totals); values that none of `docs` carries count 0.
    pub fn counts(&self, docs: &[u32]) -> BTreeMap<String, Vec<ValueCount>> {
        let mut sorted = docs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        self.count_each(|list| sorted.iter().filter(|doc| list.binary_search(doc).is_ok()).count() as u32)
    }

    /// Every key with each value and how many documents carry it.
    pub fn totals(&self) -> BTreeMap<String, Vec<ValueCount>> {
        self.count_each(|list| list.len() as u32)
    }

    /// Every key with each value and `count` of its documents. Inserted one by one: the keys
    /// come in order, and collecting into a map would sort them again, which costs the browser
    /// app a sort routine of its own.
    fn count_each(&self, count: impl Fn(&[u32]) -> u32) -> BTreeMap<String, Vec<ValueCount>> {
        let mut counted = BTreeMap::new();
        for (key, values) in &self.keys {
            let values = values.iter().map(|(value, list)| ValueCount { value: value.clone(), count: count(list) });
            counted.insert(key.clone(), values.collect());
        }
        counted
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let text = |out: &mut Vec<u8>, text: &str| {
            varint::write(out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
        };
        varint::write(&mut out, self.keys.len() as u64);
        for (key, values) in &self.keys {
            text(&mut out, key);
            varint::write(&mut out, values.len() as u64);
            for (value, docs) in values {
                text(&mut out, value);
                varint::write(&mut out, docs.len() as u64);
                let mut previous = 0;
                for (i, &doc) in docs.iter().enumerate() {
                    varint::write(&mut out, u64::from(if i == 0 { doc } else { doc - previous }));
                    previous = doc;
                }
            }
        }
        out
    }

    /// Reads [`FilterIndex::to_bytes`] output for a bundle of `num_docs` documents, checking that
    /// keys and values ascend and every document exists and appears once per value.
    pub fn from_bytes(bytes: &[u8], num_docs: usize) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        let text = |reader: &mut varint::Reader, what: &'static str| -> Result<String, FormatError> {
            let len = reader.varint(what)? as usize;
            let bytes = reader.bytes(len, what)?;
            String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(format!("a {what} is not UTF-8")))
        };
        let mut keys = BTreeMap::new();
        let num_keys = reader.varint("key count")? as usize;
        for _ in 0..num_keys.min(bytes.len()) {
            let key = text(&mut reader, "key")?;
            let num_values = reader.varint("value count")? as usize;
            let mut values = BTreeMap::new();
            for _ in 0..num_values.min(bytes.len()) {
                let value = text(&mut reader, "value")?;
                let count = reader.varint("document count")? as usize;
                if count > bytes.len() {
                    return Err(FormatError::Truncated { section: SECTION, what: "documents" });
                }
                let mut docs = Vec::with_capacity(count);
                for _ in 0..count {
                    let gap = reader.varint_u32("document gap")?;
                    let doc = match docs.last() {
                        None => gap,
                        Some(_) if gap == 0 => return Err(corrupt(format!("{key}={value}: documents do not ascend"))),
                        Some(&last) => u32::checked_add(last, gap).ok_or_else(|| corrupt(format!("{key}={value}: document overflows")))?,
                    };
                    if doc as usize >= num_docs {
                        return Err(corrupt(format!("{key}={value}: document {doc} of {num_docs}")));
                    }
                    docs.push(doc);
                }
                if values.keys().next_back().is_some_and(|last: &String| *last >= value) {
                    return Err(corrupt(format!("{key}: values do not ascend at {value:?}")));
                }
                values.insert(value, docs);
            }
            if keys.keys().next_back().is_some_and(|last: &String| *last >= key) {
                return Err(corrupt(format!("keys do not ascend at {key:?}")));
            }
            keys.insert(key, values);
        }
        if keys.len() != num_keys {
            return Err(FormatError::Truncated { section: SECTION, what: "keys" });
        }
        if !reader.is_empty() {
            return Err(corrupt("bytes after the last key".into()));
        }
        Ok(Self { num_docs: num_docs as u32, keys })
    }
}

/// Whether entry `index` passes a mask from [`FilterIndex::allowed`]: every entry does when there
/// is no mask, and an entry past its end does not.
pub fn passes(allowed: Option<&[bool]>, index: usize) -> bool {
    allowed.is_none_or(|allowed| allowed.get(index).copied().unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(spec: &str) -> Vec<(String, String)> {
        spec.split_whitespace().map(|p| p.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap()).collect()
    }

    fn index() -> FilterIndex {
        let docs =
            [pairs("tag=rose tag=garden kind=guide"), pairs("tag=garden kind=news"), pairs(""), pairs("tag=rose tag=rose kind=news")];
        FilterIndex::build(docs.iter().map(Vec::as_slice))
    }

    fn filters(spec: &[(&str, &[&str])]) -> Filters {
        spec.iter().map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect())).collect()
    }

    fn passing(index: &FilterIndex, spec: &[(&str, &[&str])]) -> Vec<usize> {
        let allowed = index.allowed(&filters(spec)).unwrap();
        allowed.iter().enumerate().filter(|(_, &ok)| ok).map(|(doc, _)| doc).collect()
    }

    #[test]
    fn or_within_a_key_and_across_keys() {
        let index = index();
        assert_eq!(index.allowed(&Filters::new()), None);
        assert_eq!(passing(&index, &[("tag", &["rose"])]), [0, 3]);
        assert_eq!(passing(&index, &[("tag", &["rose", "garden"])]), [0, 1, 3]);
        assert_eq!(passing(&index, &[("tag", &["rose", "garden"]), ("kind", &["news"])]), [1, 3]);
        assert_eq!(passing(&index, &[("tag", &["tulip"])]), Vec::<usize>::new());
        assert_eq!(passing(&index, &[("colour", &["red"])]), Vec::<usize>::new());
        assert_eq!(passing(&index, &[("tag", &[])]), Vec::<usize>::new());
    }

    #[test]
    fn counts_over_some_documents_and_totals() {
        let index = index();
        let count = |value: &str, count| ValueCount { value: value.to_string(), count };
        let totals = index.totals();
        assert_eq!(totals["tag"], [count("garden", 2), count("rose", 2)]);
        assert_eq!(totals["kind"], [count("guide", 1), count("news", 2)]);
        assert_eq!(index.counts(&[0, 1, 2, 3]), totals);
        let some = index.counts(&[3, 2, 3]);
        assert_eq!(some["tag"], [count("garden", 0), count("rose", 1)]);
        assert_eq!(some["kind"], [count("guide", 0), count("news", 1)]);
    }

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let index = index();
        let bytes = index.to_bytes();
        assert_eq!(FilterIndex::from_bytes(&bytes, 4).unwrap(), index);
        assert!(FilterIndex::from_bytes(&bytes, 3).is_err(), "document 3 of 3 accepted");
        for cut in 0..bytes.len() {
            assert!(FilterIndex::from_bytes(&bytes[..cut], 4).is_err(), "cut at {cut} accepted");
        }
        assert_eq!(FilterIndex::from_bytes(&FilterIndex::default().to_bytes(), 0).unwrap(), FilterIndex::default());
    }

    #[test]
    fn filters_read_from_a_value_or_a_list() {
        #[derive(serde::Deserialize)]
        struct Request {
            #[serde(deserialize_with = "one_or_many")]
            filters: Filters,
        }
        let read = |json: &str| serde_json::from_str::<Request>(json).map(|r| r.filters).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"filters": {"tag": "a", "kind": ["b", "c"]}}"#).unwrap(), filters(&[("kind", &["b", "c"]), ("tag", &["a"])]));
        let error = read(r#"{"filters": {"tag": 3}}"#).unwrap_err();
        assert!(error.contains("expected a filter's value: a string or a list of strings"), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_refused_or_read(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(index) = FilterIndex::from_bytes(&framed, 50) {
                let _ = index.allowed(&filters(&[("a", &["b"])]));
                let _ = index.counts(&[1, 2, 49]);
            }
        }
    }
}

//! JSON Lines readers: BEIR corpus.jsonl / queries.jsonl and plain `{id, title?, text, url?, meta?,
//! filters?}` files: `meta` an object of strings that results show beside the title (in key
//! order), `filters` an object of a string or a list of strings per key that searches narrow by.
//!
//! One reader serves both: the id is taken from `_id` (BEIR) or `id`, as a string or an integer.

use serde_json::{Map, Value};

use super::lines::{lines, Line};
use super::{Document, Query};
use crate::error::ParseError;

/// Reads documents, one JSON object per line; blank lines are skipped.
pub fn read_documents_jsonl(file: &str, bytes: &[u8]) -> Result<Vec<Document>, ParseError> {
    read_objects(file, bytes, |line, object| {
        Ok(Document {
            id: id_field(file, line, object)?,
            title: string_field(file, line, object, "title")?.unwrap_or_default(),
            text: string_field(file, line, object, "text")?.ok_or_else(|| ParseError::new(file, line.number, "text", "missing"))?,
            url: string_field(file, line, object, "url")?,
            meta: meta_field(file, line, object)?,
            filters: filters_field(file, line, object)?,
        })
    })
}

/// Reads queries, one JSON object per line with an id and `text`.
pub fn read_queries_jsonl(file: &str, bytes: &[u8]) -> Result<Vec<Query>, ParseError> {
    read_objects(file, bytes, |line, object| {
        Ok(Query {
            id: id_field(file, line, object)?,
            text: string_field(file, line, object, "text")?.ok_or_else(|| ParseError::new(file, line.number, "text", "missing"))?,
        })
    })
}

fn read_objects<T>(
    file: &str,
    bytes: &[u8],
    mut build: impl FnMut(&Line, &Map<String, Value>) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    let mut out = Vec::new();
    for line in lines(file, bytes) {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line.text).map_err(|e| ParseError::new(file, line.number, "json", format!("not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(ParseError::new(file, line.number, "json", "expected a JSON object"));
        };
        out.push(build(&line, &object)?);
    }
    Ok(out)
}

fn id_field(file: &str, line: &Line, object: &Map<String, Value>) -> Result<String, ParseError> {
    let (key, value) = ["_id", "id"]
        .iter()
        .find_map(|key| object.get(*key).map(|v| (*key, v)))
        .ok_or_else(|| ParseError::new(file, line.number, "_id", "missing (neither `_id` nor `id` is present)"))?;
    let id = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        other => return Err(ParseError::new(file, line.number, key, format!("expected a string or an integer, found {other}"))),
    };
    if id.is_empty() {
        return Err(ParseError::new(file, line.number, key, "empty"));
    }
    Ok(id)
}

fn string_field(file: &str, line: &Line, object: &Map<String, Value>, key: &str) -> Result<Option<String>, ParseError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ParseError::new(file, line.number, key, format!("expected a string, found {other}"))),
    }
}

fn meta_field(file: &str, line: &Line, object: &Map<String, Value>) -> Result<Vec<(String, String)>, ParseError> {
    let Some(fields) = object_field(file, line, object, "meta", "an object of strings")? else { return Ok(Vec::new()) };
    fields
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            other => Err(ParseError::new(file, line.number, "meta", format!("`{key}` is {other}, not a string"))),
        })
        .collect()
}

/// `filters`: each key's value, or its values as a list, as (key, value) pairs in key order.
fn filters_field(file: &str, line: &Line, object: &Map<String, Value>) -> Result<Vec<(String, String)>, ParseError> {
    let Some(keys) = object_field(file, line, object, "filters", "an object of strings or lists of strings")? else {
        return Ok(Vec::new());
    };
    let bad = |message: String| ParseError::new(file, line.number, "filters", message);
    let mut pairs = Vec::new();
    for (key, value) in keys {
        if key.is_empty() {
            return Err(bad("a key is empty".to_string()));
        }
        let values = match value {
            Value::Array(values) => values.as_slice(),
            single => std::slice::from_ref(single),
        };
        for value in values {
            match value {
                Value::String(text) if !text.is_empty() => pairs.push((key.clone(), text.clone())),
                Value::String(_) => return Err(bad(format!("`{key}` has an empty value"))),
                other => return Err(bad(format!("`{key}` has {other}, not a string or a list of strings"))),
            }
        }
    }
    Ok(pairs)
}

/// The object under `key`, `None` when it is absent or null; anything else is an error saying it
/// should have been `expected`.
fn object_field<'a>(
    file: &str,
    line: &Line,
    object: &'a Map<String, Value>,
    key: &str,
    expected: &str,
) -> Result<Option<&'a Map<String, Value>>, ParseError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(fields)) => Ok(Some(fields)),
        Some(other) => Err(ParseError::new(file, line.number, key, format!("expected {expected}, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_beir_and_plain_documents() {
        let bytes = b"{\"_id\": \"4983\", \"title\": \"T\", \"text\": \"body\", \"metadata\": {}}\n\n{\"id\": 7, \"text\": \"x\", \"url\": \"/a.html\", \"meta\": {\"image\": \"/a.png\", \"date\": \"2026\"}}\n";
        let docs = read_documents_jsonl("c.jsonl", bytes).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id, "4983");
        assert_eq!(docs[0].full_text(), "T body");
        assert_eq!(docs[1].id, "7");
        assert_eq!(docs[1].title, "");
        assert_eq!(docs[1].url.as_deref(), Some("/a.html"));
        assert!(docs[0].meta.is_empty());
        assert_eq!(docs[1].meta, [("date".to_string(), "2026".to_string()), ("image".to_string(), "/a.png".to_string())]);
    }

    #[test]
    fn reads_filters_as_one_value_or_a_list() {
        let bytes = b"{\"id\": \"a\", \"text\": \"x\", \"filters\": {\"tag\": [\"roses\", \"pruning\"], \"section\": \"Guides\"}}\n{\"id\": \"b\", \"text\": \"y\"}";
        let docs = read_documents_jsonl("c.jsonl", bytes).unwrap();
        let pairs: Vec<(&str, &str)> = docs[0].filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("section", "Guides"), ("tag", "roses"), ("tag", "pruning")]);
        assert!(docs[1].filters.is_empty());
        let err = read_documents_jsonl("c.jsonl", b"{\"id\":\"1\",\"text\":\"a\",\"filters\":{\"tag\":[\"a\",2]}}").unwrap_err();
        assert_eq!(err.to_string(), "c.jsonl:1: field `filters`: `tag` has 2, not a string or a list of strings");
        let err = read_documents_jsonl("c.jsonl", b"{\"id\":\"1\",\"text\":\"a\",\"filters\":[\"tag\"]}").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (1, "filters"));
        let err = read_documents_jsonl("c.jsonl", b"\n{\"id\":\"1\",\"text\":\"a\",\"filters\":{\"tag\":[\"a\",\"\"]}}").unwrap_err();
        assert_eq!(err.to_string(), "c.jsonl:2: field `filters`: `tag` has an empty value");
        let err = read_documents_jsonl("c.jsonl", b"{\"id\":\"1\",\"text\":\"a\",\"filters\":{\"\":\"a\"}}").unwrap_err();
        assert_eq!(err.to_string(), "c.jsonl:1: field `filters`: a key is empty");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = read_documents_jsonl("c.jsonl", b"{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"2\"}\n").unwrap_err();
        assert_eq!(err.to_string(), "c.jsonl:2: field `text`: missing");
        let err = read_documents_jsonl("c.jsonl", b"{\"_id\":\"1\",\"text\":3}").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (1, "text"));
        let err = read_documents_jsonl("c.jsonl", b"{\"_id\":\"1\",\"text\":\"a\",\"meta\":{\"date\":2026}}").unwrap_err();
        assert_eq!(err.to_string(), "c.jsonl:1: field `meta`: `date` is 2026, not a string");
        let err = read_queries_jsonl("q.jsonl", b"[1,2]").unwrap_err();
        assert_eq!(err.field, "json");
        let err = read_queries_jsonl("q.jsonl", b"{\"text\":\"a\"}").unwrap_err();
        assert_eq!(err.field, "_id");
    }
}

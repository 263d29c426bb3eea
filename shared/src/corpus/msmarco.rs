//! MS MARCO TSV files: `id \t text` (queries, collections) and `query \t positive \t negative` triples.

use super::lines::{lines, tab_fields};
use crate::error::ParseError;

/// A training triple: a query, a relevant passage and a non-relevant one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triple {
    pub query: String,
    pub positive: String,
    pub negative: String,
}

/// Reads `id \t text` lines (MS MARCO queries and collections); blank lines are skipped.
pub fn read_id_text_tsv(file: &str, bytes: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for line in lines(file, bytes) {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let fields = tab_fields(file, &line, &["id", "text"])?;
        let id = fields[0].trim();
        if id.is_empty() {
            return Err(ParseError::new(file, line.number, "id", "empty"));
        }
        out.push((id.to_string(), fields[1].trim().to_string()));
    }
    Ok(out)
}

/// Reads `query \t positive \t negative` triples.
pub fn read_triples_tsv(file: &str, bytes: &[u8]) -> Result<Vec<Triple>, ParseError> {
    let names = ["query", "positive", "negative"];
    let mut out = Vec::new();
    for line in lines(file, bytes) {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let fields = tab_fields(file, &line, &names)?;
        if let Some(i) = fields.iter().position(|f| f.trim().is_empty()) {
            return Err(ParseError::new(file, line.number, names[i], "empty"));
        }
        out.push(Triple {
            query: fields[0].trim().to_string(),
            positive: fields[1].trim().to_string(),
            negative: fields[2].trim().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_triples() {
        let rows = read_id_text_tsv("c.tsv", b"0\tfirst passage\r\n1\tsecond\n").unwrap();
        assert_eq!(rows, vec![("0".into(), "first passage".into()), ("1".into(), "second".into())]);
        let triples = read_triples_tsv("t.tsv", b"q\tp\tn\n").unwrap();
        assert_eq!(triples[0].negative, "n");
        let err = read_triples_tsv("t.tsv", b"q\tp\tn\nq\tp\n").unwrap_err();
        assert_eq!(err.to_string(), "t.tsv:2: field `negative`: missing: expected 3 tab-separated fields (query, positive, negative)");
        assert_eq!(read_triples_tsv("t.tsv", b"q\t \tn").unwrap_err().field, "positive");
    }
}

//! CSV of labelled query/passage pairs: a header naming `query`, `passage` and `label` columns.

use super::lines::lines;
use crate::error::ParseError;

/// A query, a passage and how relevant the passage is (1 relevant, 0 not, or a graded value).
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledPair {
    pub query: String,
    pub passage: String,
    pub label: f32,
}

/// Reads a CSV with a header that names `query`, `passage` and `label` (any order, other columns ignored).
pub fn read_labeled_pairs(file: &str, bytes: &[u8]) -> Result<Vec<LabeledPair>, ParseError> {
    // Validate the encoding line by line first, so a bad byte is reported with its line.
    for line in lines(file, bytes) {
        line?;
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let headers = reader.headers().map_err(|e| csv_error(file, &e, "header"))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
            .ok_or_else(|| ParseError::new(file, 1, name, format!("no `{name}` column in the header")))
    };
    let (query, passage, label) = (column("query")?, column("passage")?, column("label")?);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, &e, "record"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let label_text = record[label].trim();
        let label_value = label_text
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| ParseError::new(file, line, "label", format!("not a number: {label_text:?}")))?;
        for (index, name) in [(query, "query"), (passage, "passage")] {
            if record[index].trim().is_empty() {
                return Err(ParseError::new(file, line, name, "empty"));
            }
        }
        out.push(LabeledPair { query: record[query].to_string(), passage: record[passage].to_string(), label: label_value });
    }
    Ok(out)
}

fn csv_error(file: &str, error: &csv::Error, field: &str) -> ParseError {
    let line = error.position().map_or(0, |p| p.line() as usize);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} columns, found {len}")
        }
        _ => error.to_string(),
    };
    ParseError::new(file, line, field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_by_header_name() {
        let bytes = b"label,query,passage\n1,what is bm25,\"BM25, a ranking function\"\n0,q2,p2\n";
        let pairs = read_labeled_pairs("p.csv", bytes).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].passage, "BM25, a ranking function");
        assert_eq!(pairs[1].label, 0.0);
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let err = read_labeled_pairs("p.csv", b"query,passage,label\nq,p,1\nq,p,yes\n").unwrap_err();
        assert_eq!(err.to_string(), "p.csv:3: field `label`: not a number: \"yes\"");
        let err = read_labeled_pairs("p.csv", b"query,passage,label\nq,p\n").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (2, "expected 3 columns, found 2"));
        assert_eq!(read_labeled_pairs("p.csv", b"query,text,label\n").unwrap_err().field, "passage");
    }
}

//! SMART classic collections (Cranfield, ADI, CACM, ...): `.I` records with `.T/.A/.B/.W` sections.
//!
//! Query ids are the 1-based position of the query in its file: that is how every classic
//! qrels file numbers them (Cranfield's `.I` numbers skip values, its qrels do not).

use serde::{Deserialize, Serialize};

use super::lines::lines;
use super::trec::Qrels;
use crate::error::ParseError;

/// One `.I` record: a document or a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmartRecord {
    /// The number after `.I`.
    pub id: String,
    pub title: String,
    pub author: String,
    pub biblio: String,
    pub text: String,
}

/// How the third column of a SMART relevance file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmartGrades {
    /// Every listed pair is relevant with gain 1 (ADI, CACM, CISI, MED).
    Binary,
    /// Cleverdon's codes: 1 (complete answer) .. 4 (minimum interest) become gains 4 .. 1;
    /// -1 (no interest) is judged non-relevant (Cranfield).
    Cleverdon,
}

impl SmartGrades {
    /// Cleverdon codes when some line has a third column other than 0 (ADI and CACM write 0
    /// there for every pair; Cranfield writes 1..4 and -1), else binary.
    pub fn detect(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let graded = text.lines().any(|line| line.split_whitespace().nth(2).is_some_and(|g| g != "0"));
        if graded {
            SmartGrades::Cleverdon
        } else {
            SmartGrades::Binary
        }
    }
}

/// Reads every `.I` record of a SMART file.
pub fn read_smart_records(file: &str, bytes: &[u8]) -> Result<Vec<SmartRecord>, ParseError> {
    let mut records: Vec<SmartRecord> = Vec::new();
    let mut section: Option<char> = None;
    for line in lines(file, bytes) {
        let line = line?;
        if let Some(marker) = section_marker(line.text) {
            if marker == 'I' {
                let id = line.text[2..].trim();
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(ParseError::new(file, line.number, ".I", format!("expected a record number, found {id:?}")));
                }
                records.push(SmartRecord { id: canonical_number(id), ..Default::default() });
                section = None;
            } else {
                if records.is_empty() {
                    return Err(ParseError::new(file, line.number, &format!(".{marker}"), "section before the first .I record"));
                }
                section = Some(marker);
                append(records.last_mut().expect("checked above"), marker, line.text[2..].trim());
            }
            continue;
        }
        match (records.last_mut(), section) {
            (Some(record), Some(marker)) => append(record, marker, line.text.trim()),
            (_, None) if line.text.trim().is_empty() => {}
            _ => return Err(ParseError::new(file, line.number, "line", "text outside any .I record section")),
        }
    }
    Ok(records)
}

/// `007` and `7` name the same record; callers have checked that `digits` is all ASCII digits.
fn canonical_number(digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `.X` at the start of a line followed by nothing or whitespace, X an ASCII capital.
fn section_marker(text: &str) -> Option<char> {
    let mut chars = text.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('.'), Some(c), rest) if c.is_ascii_uppercase() && rest.is_none_or(char::is_whitespace) => Some(c),
        _ => None,
    }
}

fn append(record: &mut SmartRecord, marker: char, text: &str) {
    let target = match marker {
        'T' => &mut record.title,
        'A' => &mut record.author,
        'B' => &mut record.biblio,
        'W' => &mut record.text,
        _ => return,
    };
    if text.is_empty() {
        return;
    }
    if !target.is_empty() {
        target.push(' ');
    }
    target.push_str(text);
}

/// Reads a SMART relevance file: `qid docid [grade ...]`, whitespace-separated.
pub fn read_smart_qrels(file: &str, bytes: &[u8], grades: SmartGrades) -> Result<Qrels, ParseError> {
    let mut qrels = Qrels::new();
    for line in lines(file, bytes) {
        let line = line?;
        let fields: Vec<&str> = line.text.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        for (i, name) in ["qid", "docid"].into_iter().enumerate() {
            match fields.get(i) {
                Some(f) if f.parse::<u64>().is_ok() => {}
                Some(f) => return Err(ParseError::new(file, line.number, name, format!("not a number: {f:?}"))),
                None => return Err(ParseError::new(file, line.number, name, "missing")),
            }
        }
        let gain = match grades {
            SmartGrades::Binary => 1,
            SmartGrades::Cleverdon => match fields.get(2).map(|g| g.parse::<i32>()) {
                Some(Ok(code @ 1..=4)) => 5 - code,
                Some(Ok(-1)) => 0,
                Some(_) => return Err(ParseError::new(file, line.number, "grade", format!("expected 1..4 or -1, found {:?}", fields[2]))),
                None => return Err(ParseError::new(file, line.number, "grade", "missing")),
            },
        };
        qrels.entry(canonical_number(fields[0])).or_default().insert(canonical_number(fields[1]), gain);
    }
    Ok(qrels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_with_sections() {
        let bytes = b".I 1\n.T\nexperimental investigation\nof the wing .\n.A\nbrenckman,m.\n.B\nj. ae. scs. 25, 1958.\n.W\nan experiment\nwas made .\n.I 002\n.W\nsecond\n";
        let records = read_smart_records("cran.all", bytes).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].title, "experimental investigation of the wing .");
        assert_eq!(records[0].author, "brenckman,m.");
        assert_eq!(records[0].text, "an experiment was made .");
        assert_eq!(records[1].id, "2");
    }

    #[test]
    fn malformed_records_are_located() {
        let err = read_smart_records("f", b"stray\n.I 1\n").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (1, "line"));
        let err = read_smart_records("f", b".I 1\n.W\nx\n.I one\n").unwrap_err();
        assert_eq!(err.to_string(), "f:4: field `.I`: expected a record number, found \"one\"");
    }

    #[test]
    fn grades_map_to_gains() {
        let qrels = read_smart_qrels("cranqrel", b"1 184 2\n1 29 -1\n2 12 1\n", SmartGrades::Cleverdon).unwrap();
        assert_eq!(qrels["1"]["184"], 3);
        assert_eq!(qrels["1"]["29"], 0);
        assert_eq!(qrels["2"]["12"], 4);
        assert_eq!(read_smart_qrels("r", b"1 2 7\n", SmartGrades::Cleverdon).unwrap_err().field, "grade");
        assert_eq!(SmartGrades::detect(b"1 184 2\n1 29 -1\n"), SmartGrades::Cleverdon);
        assert_eq!(SmartGrades::detect(b"1   17   0   0.000000\n"), SmartGrades::Binary);
        let adi = read_smart_qrels("ADI.REL", b"1   17   0   0.000000\n", SmartGrades::Binary).unwrap();
        assert_eq!(adi["1"]["17"], 1);
    }
}

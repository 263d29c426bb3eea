//! TREC qrels and run files, and BEIR's qrels TSV (the same triples with a header line).
//!
//! Qrels: `qid iter docid rel` (TREC) or `query-id corpus-id score` (BEIR), whitespace-separated.
//! Run: `qid Q0 docid rank score tag`.

use std::collections::BTreeMap;

use super::lines::lines;
use crate::error::ParseError;

/// Relevance judgments: query id -> document id -> grade (> 0 relevant, <= 0 judged non-relevant).
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// A ranking per query: query id -> (document id, score) pairs, in any order.
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// Reads TREC (4 columns) or BEIR (3 columns, optional `query-id` header) qrels.
pub fn read_qrels(file: &str, bytes: &[u8]) -> Result<Qrels, ParseError> {
    let mut qrels = Qrels::new();
    for line in lines(file, bytes) {
        let line = line?;
        let fields: Vec<&str> = line.text.split_whitespace().collect();
        if fields.is_empty() || (line.number == 1 && fields[0] == "query-id") {
            continue;
        }
        let (qid, docid, grade) = match fields.as_slice() {
            [q, d, g] => (q, d, g),
            [q, _iter, d, g] => (q, d, g),
            _ => {
                return Err(ParseError::new(
                    file,
                    line.number,
                    "line",
                    format!("expected `qid docid grade` or `qid iter docid grade`, found {} fields", fields.len()),
                ))
            }
        };
        let grade = parse_grade(file, line.number, grade)?;
        qrels.entry(qid.to_string()).or_default().insert(docid.to_string(), grade);
    }
    Ok(qrels)
}

/// Grades are integers; BEIR files sometimes write them as `1.0`.
fn parse_grade(file: &str, line: usize, text: &str) -> Result<i32, ParseError> {
    if let Ok(grade) = text.parse::<i32>() {
        return Ok(grade);
    }
    match text.parse::<f64>() {
        Ok(g) if g.fract() == 0.0 && g.abs() < i32::MAX as f64 => Ok(g as i32),
        _ => Err(ParseError::new(file, line, "grade", format!("not an integer: {text:?}"))),
    }
}

/// Reads a TREC run file.
pub fn read_run(file: &str, bytes: &[u8]) -> Result<Run, ParseError> {
    let mut run = Run::new();
    for line in lines(file, bytes) {
        let line = line?;
        let fields: Vec<&str> = line.text.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [qid, _q0, docid, rank, score, _tag] = fields.as_slice() else {
            return Err(ParseError::new(
                file,
                line.number,
                "line",
                format!("expected `qid Q0 docid rank score tag`, found {} fields", fields.len()),
            ));
        };
        rank.parse::<u64>().map_err(|_| ParseError::new(file, line.number, "rank", format!("not a non-negative integer: {rank:?}")))?;
        let score = score
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite())
            .ok_or_else(|| ParseError::new(file, line.number, "score", format!("not a finite number: {score:?}")))?;
        run.entry(qid.to_string()).or_default().push((docid.to_string(), score));
    }
    Ok(run)
}

/// Writes a run as TREC lines, each query's documents ranked by score (ties as trec_eval breaks them).
pub fn format_run(run: &Run, tag: &str) -> String {
    let mut out = String::new();
    for (qid, docs) in run {
        for (rank, (docid, score)) in crate::metrics::ranked(docs).into_iter().enumerate() {
            out.push_str(&format!("{qid} Q0 {docid} {} {score:.6} {tag}\n", rank + 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_beir_and_trec_qrels() {
        let beir = read_qrels("q.tsv", b"query-id\tcorpus-id\tscore\n1\t31715818\t1\n3\t14717500\t1.0\n").unwrap();
        assert_eq!(beir["1"]["31715818"], 1);
        assert_eq!(beir["3"]["14717500"], 1);
        let trec = read_qrels("q.txt", b"301 0 FBIS3-10082 1\n301 0 FBIS3-10169 0\n").unwrap();
        assert_eq!(trec["301"].len(), 2);
        let err = read_qrels("q.txt", b"1 2\n").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (1, "line"));
        let err = read_qrels("q.txt", b"1 d x\n").unwrap_err();
        assert_eq!(err.field, "grade");
    }

    #[test]
    fn run_round_trips_through_text() {
        let run = read_run("r", b"q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 1.5 t\n").unwrap();
        let text = format_run(&run, "t");
        assert_eq!(text, "q1 Q0 d1 1 2.500000 t\nq1 Q0 d2 2 1.500000 t\n");
        assert_eq!(read_run("r", text.as_bytes()).unwrap(), run);
        assert_eq!(read_run("r", b"q1 Q0 d1 1 nan t").unwrap_err().field, "score");
    }
}

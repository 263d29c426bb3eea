//! Opens an evaluation collection folder: BEIR (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)
//! or a SMART classic collection (a `.all` documents file, a `.qry` queries file, a qrels file).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::corpus::{self, Document, Qrels, Query, SmartGrades};

/// Documents, the judged queries of one split, and their judgments.
pub struct Collection {
    pub docs: Vec<Document>,
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

/// Reads the collection in `dir`; queries without judgments in `split` are dropped.
pub fn load(dir: &Path, split: &str) -> Result<Collection> {
    let docs = documents(dir)?;
    if docs.is_empty() {
        bail!("{}: the collection has no documents", dir.display());
    }
    let (queries, qrels) = judged_queries(dir, split)?;
    Ok(Collection { docs, queries, qrels })
}

/// The queries of the collection in `dir` with judgments in `split` (at least one), and the
/// judgments; the documents are not read.
pub fn judged_queries(dir: &Path, split: &str) -> Result<(Vec<Query>, Qrels)> {
    let (queries, mut qrels) = if is_beir(dir) { beir_judgments(dir, split)? } else { smart_judgments(dir)? };
    let queries: Vec<Query> = queries.into_iter().filter(|q| qrels.get(&q.id).is_some_and(|j| !j.is_empty())).collect();
    if queries.is_empty() {
        bail!("{}: no query has judgments in split {split:?}", dir.display());
    }
    // A judged query without text cannot be searched: scoring it as a miss would lower every
    // retriever's numbers by the same silent amount.
    let known: std::collections::HashSet<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    let textless: Vec<String> =
        qrels.iter().filter(|(id, j)| !j.is_empty() && !known.contains(id.as_str())).map(|(id, _)| id.clone()).collect();
    if !textless.is_empty() {
        eprintln!(
            "warning: {}: {} judged queries of split {split:?} have no text among the queries (e.g. {:?}); they are left out, {} evaluated",
            dir.display(),
            textless.len(),
            &textless[..textless.len().min(5)],
            queries.len()
        );
        qrels.retain(|id, _| known.contains(id.as_str()));
    }
    Ok((queries, qrels))
}

/// The documents of the BEIR or SMART collection in `dir`.
pub fn documents(dir: &Path) -> Result<Vec<Document>> {
    if is_beir(dir) {
        let path = dir.join("corpus.jsonl");
        return Ok(corpus::read_documents_jsonl(&path.display().to_string(), &read(&path)?)?);
    }
    let path = find(dir, "documents (*.all*)", |n| n.contains(".all"))?;
    Ok(corpus::read_smart_records(&path.display().to_string(), &read(&path)?)?
        .into_iter()
        .map(|r| Document { id: r.id, title: r.title, text: r.text, url: None, meta: Vec::new(), filters: Vec::new() })
        .collect())
}

fn is_beir(dir: &Path) -> bool {
    dir.join("corpus.jsonl").is_file()
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn beir_judgments(dir: &Path, split: &str) -> Result<(Vec<Query>, Qrels)> {
    let queries_path = dir.join("queries.jsonl");
    let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
    let queries = corpus::read_queries_jsonl(&queries_path.display().to_string(), &read(&queries_path)?)?;
    let qrels = corpus::read_qrels(&qrels_path.display().to_string(), &read(&qrels_path)?)?;
    Ok((queries, qrels))
}

/// Finds the one file in `dir` whose lowercase name satisfies `matches`.
fn find(dir: &Path, what: &str, matches: impl Fn(&str) -> bool) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| matches(&n.to_lowercase())))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("{}: not a BEIR folder (no corpus.jsonl) and no SMART {what} file", dir.display()),
        _ => bail!("{}: several SMART {what} files: {found:?}", dir.display()),
    }
}

fn smart_judgments(dir: &Path) -> Result<(Vec<Query>, Qrels)> {
    let queries_path = find(dir, "queries (*.qry)", |n| n.ends_with(".qry"))?;
    let qrels_path = find(dir, "relevance (*qrel*, *.rel)", |n| {
        (n.contains("qrel") || n.ends_with(".rel")) && !n.ends_with(".readme") && !n.ends_with(".md")
    })?;
    let queries = corpus::read_smart_records(&queries_path.display().to_string(), &read(&queries_path)?)?
        .into_iter()
        .enumerate()
        .map(|(position, r)| Query { id: (position + 1).to_string(), text: r.text })
        .collect();
    let qrels_bytes = read(&qrels_path)?;
    let grades = SmartGrades::detect(&qrels_bytes);
    let qrels = corpus::read_smart_qrels(&qrels_path.display().to_string(), &qrels_bytes, grades)?;
    Ok((queries, qrels))
}

//! What `dowse index --input` accepts, read into documents: a BEIR folder or SMART collection,
//! a JSONL file (`{id, title?, text, url?, meta?, filters?}`), a CSV of `query,passage,label` (its distinct
//! passages), or a folder of HTML pages (a built static site).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::corpus::{read_documents_jsonl, read_labeled_pairs, Document};
use dowse_core::passage::SourceDocument;
use dowse_core::text::{cap_long_words, MAX_WORD_BYTES};

use super::{charset, html};
use crate::collection;

/// The documents at `path`, in a stable order, each id once (the first document with an id is
/// kept, later ones dropped with a warning) and no word longer than [`MAX_WORD_BYTES`].
pub fn read(path: &Path) -> Result<Vec<SourceDocument>> {
    Ok(cap_words(first_of_each_id(read_all(path)?, path)))
}

fn read_all(path: &Path) -> Result<Vec<SourceDocument>> {
    let name = path.display().to_string();
    if path.is_dir() {
        let pages = html_files(path)?;
        if !pages.is_empty() {
            let mut reported = HashSet::new();
            return pages.iter().map(|page| read_html(path, page, &mut reported)).collect();
        }
        let docs = collection::documents(path).with_context(|| format!("{name}: no HTML pages in this folder"))?;
        return Ok(docs.into_iter().map(SourceDocument::from).collect());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    match path.extension().and_then(|e| e.to_str()).map(str::to_lowercase).as_deref() {
        Some("jsonl") => Ok(read_documents_jsonl(&name, &bytes)?.into_iter().map(SourceDocument::from).collect()),
        Some("csv") => {
            let mut seen = HashSet::new();
            let passages = read_labeled_pairs(&name, &bytes)?.into_iter().map(|pair| pair.passage).filter(|p| seen.insert(p.clone()));
            let docs = passages.enumerate().map(|(i, text)| Document {
                id: format!("p{i}"),
                title: String::new(),
                text,
                url: None,
                meta: Vec::new(),
                filters: Vec::new(),
            });
            Ok(docs.map(SourceDocument::from).collect())
        }
        Some("html" | "htm") => Ok(vec![read_html(path.parent().unwrap_or(Path::new(".")), path, &mut Default::default())?]),
        _ => bail!("{name}: expected a folder, a .jsonl or a .csv file"),
    }
}

/// Drops documents whose id an earlier document has, saying how many and naming a few.
fn first_of_each_id(docs: Vec<SourceDocument>, path: &Path) -> Vec<SourceDocument> {
    let mut seen = HashSet::new();
    let mut dropped = Vec::new();
    let kept = docs
        .into_iter()
        .filter(|doc| {
            let first = seen.insert(doc.id.clone());
            if !first {
                dropped.push(doc.id.clone());
            }
            first
        })
        .collect();
    if !dropped.is_empty() {
        let shown: Vec<&str> = dropped.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "warning: {}: {} documents repeat an earlier document's id (e.g. {shown:?}); the first of each id is indexed, the later ones skipped",
            path.display(),
            dropped.len()
        );
    }
    kept
}

/// Cuts every word longer than [`MAX_WORD_BYTES`] in titles, headings and texts, warning once
/// per document (for the first few) and with a total.
fn cap_words(mut docs: Vec<SourceDocument>) -> Vec<SourceDocument> {
    const NAMED: usize = 10;
    let (mut documents, mut words) = (0, 0);
    for doc in &mut docs {
        let mut cut = 0;
        let mut cap = |text: &mut String| {
            let (capped, n) = cap_long_words(text, MAX_WORD_BYTES);
            if n > 0 {
                *text = capped.into_owned();
                cut += n;
            }
        };
        cap(&mut doc.title);
        for section in &mut doc.sections {
            cap(&mut section.heading);
            cap(&mut section.text);
        }
        if cut > 0 {
            if documents < NAMED {
                eprintln!("warning: {}: {cut} words longer than {MAX_WORD_BYTES} bytes cut to {MAX_WORD_BYTES} bytes", doc.id);
            }
            documents += 1;
            words += cut;
        }
    }
    if documents > NAMED {
        eprintln!("warning: {words} words in {documents} documents cut to {MAX_WORD_BYTES} bytes");
    }
    docs
}

/// Every `.html`/`.htm` file under `root`, sorted, skipping hidden folders and dowse's own output.
fn html_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading folder {}", dir.display()))? {
            let path = entry.with_context(|| format!("reading folder {}", dir.display()))?.path();
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n == "_dowse");
            // A bundle folder (its own drop-in page included) is output, never input.
            let bundle = path.join(dowse_core::bundle::MANIFEST).is_file();
            if hidden || bundle {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads one page of the site at `root`; warns of each `data-dowse-*` attribute dowse does not
/// read on the first page that has it, and adds it to `reported`.
fn read_html(root: &Path, page: &Path, reported: &mut HashSet<String>) -> Result<SourceDocument> {
    let bytes = std::fs::read(page).with_context(|| format!("reading {}", page.display()))?;
    let (text, warning) = charset::decode_html(&bytes);
    if let Some(warning) = warning {
        eprintln!("warning: {}: {warning}", page.display());
    }
    let relative = page.strip_prefix(root).unwrap_or(page);
    let url = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    let read = html::read_page(&url, &text);
    for attribute in read.unknown_attributes.into_iter().filter(|a| reported.insert(a.clone())) {
        eprintln!(
            "warning: {}: unknown attribute {attribute}, ignored here and on every page (dowse reads {})",
            page.display(),
            html::KNOWN_ATTRIBUTES.join(", ")
        );
    }
    for value in read.bad_weights {
        eprintln!("warning: {}: data-dowse-weight={value:?} is not a number from 0 to 10; the region weighs 1", page.display());
    }
    Ok(read.document)
}

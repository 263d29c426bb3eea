//! What `dowse index --input` accepts, read into documents: a BEIR folder or SMART collection,
//! a JSONL file (`{id, title?, text, url?}`), a CSV of `query,passage,label` (its distinct
//! passages), or a folder of HTML pages (a built static site).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::corpus::{read_documents_jsonl, read_labeled_pairs, Document};
use dowse_core::passage::SourceDocument;

use super::html;
use crate::collection;

/// The documents at `path`, in a stable order.
pub fn read(path: &Path) -> Result<Vec<SourceDocument>> {
    let name = path.display().to_string();
    if path.is_dir() {
        let pages = html_files(path)?;
        if !pages.is_empty() {
            return pages.iter().map(|page| read_html(path, page)).collect();
        }
        let docs = collection::documents(path).with_context(|| format!("{name}: no HTML pages in this folder"))?;
        return Ok(docs.into_iter().map(SourceDocument::from).collect());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    match path.extension().and_then(|e| e.to_str()).map(str::to_lowercase).as_deref() {
        Some("jsonl") => Ok(read_documents_jsonl(&name, &bytes)?.into_iter().map(SourceDocument::from).collect()),
        Some("csv") => {
            let mut seen = std::collections::HashSet::new();
            let passages = read_labeled_pairs(&name, &bytes)?.into_iter().map(|pair| pair.passage).filter(|p| seen.insert(p.clone()));
            let docs = passages.enumerate().map(|(i, text)| Document { id: format!("p{i}"), title: String::new(), text, url: None });
            Ok(docs.map(SourceDocument::from).collect())
        }
        Some("html" | "htm") => Ok(vec![read_html(path.parent().unwrap_or(Path::new(".")), path)?]),
        _ => bail!("{name}: expected a folder, a .jsonl or a .csv file"),
    }
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

fn read_html(root: &Path, page: &Path) -> Result<SourceDocument> {
    let bytes = std::fs::read(page).with_context(|| format!("reading {}", page.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let relative = page.strip_prefix(root).unwrap_or(page);
    let url = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    Ok(html::read_page(&url, &text))
}

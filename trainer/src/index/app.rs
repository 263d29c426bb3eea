//! `dowse index --with-app`: the built browser app (the one this binary carries, or a folder
//! scripts/build-app.sh wrote) copied beside the bundle, with its `dowse.js`, the one script a
//! static site adds to get search:
//!
//! ```html
//! <div id="dowse"></div>
//! <script type="module" src="/_dowse/dowse.js"></script>
//! ```
//!
//! The script loads the app, its styles and the bundle from its own folder, so the folder works
//! from any static host; with no server beside it the rerank toggle stays hidden. A page without
//! the `<div id="dowse">` gets no UI: it imports the script for its `search` function (the
//! JavaScript API, web/src/api.rs) and draws the results itself.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::app_inside;

/// What a site needs of the built app besides its hashed script, module and styles: the loader
/// (`dowse.js`, www/dowse.js with the hashed names filled in) and the query encoder's workers,
/// their script and modules, unhashed (the app starts them by name).
const FIXED: [&str; 8] = [
    "dowse.js",
    "dowse-worker.js",
    "dowse-static.js",
    "dowse-static_bg.wasm",
    "dowse-static_bg.deflate",
    "dowse-encoder.js",
    "dowse-encoder_bg.wasm",
    "dowse-encoder_bg.deflate",
];

/// The app's files and a page that uses them, as (path in the bundle folder, bytes): from `dist`
/// (a built app's folder) when given; else the app this binary carries, or, in a build that
/// carries none, the `dist` folder here.
pub fn files(dist: Option<&Path>) -> Result<Vec<(String, Vec<u8>)>> {
    match dist {
        Some(dist) => from_folder(dist),
        None if !app_inside::FILES.is_empty() => {
            let built = app_inside::FILES.iter().map(|(name, bytes)| (name.to_string(), bytes.to_vec())).collect();
            select("the app inside dowse", built)
        }
        None if Path::new("dist").is_dir() => from_folder(Path::new("dist")),
        None => bail!(
            "this dowse carries no browser app and there is no `dist` folder here: {}, or pass the folder it was built into (--with-app DIST)",
            app_inside::HOW_TO_BUILD
        ),
    }
}

/// Every file of the built app in `dist`, then [`select`].
fn from_folder(dist: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let entries = std::fs::read_dir(dist)
        .with_context(|| format!("{0}: no built browser app here; build it with `bash scripts/build-app.sh {0}`", dist.display()))?;
    let mut built = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dist.display()))?;
        if entry.file_type()?.is_file() {
            let path = entry.path();
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            built.push((entry.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    select(&dist.display().to_string(), built)
}

/// The app's own files: `dowse-web-<hash>` and these endings.
const APP: [&str; 3] = [".js", "_bg.wasm", "_bg.deflate"];

/// What a site needs of a built app (`built`: its files by name, from `origin`): the app's
/// [`APP`] files, its styles, the [`FIXED`] files, and a page for them.
fn select(origin: &str, built: Vec<(String, Vec<u8>)>) -> Result<Vec<(String, Vec<u8>)>> {
    let app_file = |name: &str, end: &str| name.starts_with("dowse-web-") && name.ends_with(end);
    let mut files: Vec<(String, Vec<u8>)> = built
        .into_iter()
        .filter(|(name, _)| APP.iter().any(|end| app_file(name, end)) || name.ends_with(".css") || FIXED.contains(&name.as_str()))
        .collect();
    files.sort();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    let lacks_app = APP.iter().any(|end| !names.iter().any(|name| app_file(name, end)));
    if lacks_app || FIXED.iter().any(|fixed| !names.contains(fixed)) {
        bail!(
            "{origin}: no built browser app here (dowse-web-*.js, dowse-web-*_bg.wasm and dowse-web-*_bg.deflate, {}); build it with `bash scripts/build-app.sh`",
            FIXED.join(", ")
        );
    }
    files.push(("index.html".to_string(), PAGE.as_bytes().to_vec()));
    Ok(files)
}

/// A page with nothing but the search, to try the folder on its own.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Search</title></head>
<body>
  <div id="dowse"></div>
  <script type="module" src="dowse.js"></script>
</body>
</html>
"#;

//! `dowse index --with-app`: the built browser app (the one this binary carries, or a folder
//! scripts/build-app.sh wrote) copied beside the bundle, with `dowse.js`, the one script a static site adds to get
//! search:
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

/// The query encoder's workers: their script and their modules (the static encoder's and every
/// model's), unhashed (the app starts them by name).
const WORKER: [&str; 5] = ["dowse-worker.js", "dowse-static.js", "dowse-static_bg.wasm", "dowse-encoder.js", "dowse-encoder_bg.wasm"];

/// The app's files, `dowse.js` and a page that uses it, as (path in the bundle folder, bytes):
/// from `dist` (a built app's folder) when given; else the app this binary carries, or, in a build that
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

/// What a site needs of a built app (`built`: its files by name, from `origin`): the app's
/// script and module, the workers, the styles, and `dowse.js` and a page for them.
fn select(origin: &str, mut built: Vec<(String, Vec<u8>)>) -> Result<Vec<(String, Vec<u8>)>> {
    built.sort();
    let names: Vec<String> = built.iter().map(|(name, _)| name.clone()).collect();
    let script = names.iter().find(|n| n.starts_with("dowse-web-") && n.ends_with(".js"));
    let wasm = names.iter().find(|n| n.starts_with("dowse-web-") && n.ends_with("_bg.wasm"));
    let worker = WORKER.iter().map(|file| names.iter().find(|n| n == file)).collect::<Option<Vec<_>>>();
    let (Some(script), Some(wasm), Some(worker)) = (script, wasm, worker) else {
        bail!(
            "{origin}: no built browser app here (dowse-web-*.js, dowse-web-*_bg.wasm and the encoders' workers, {}); build it with `bash scripts/build-app.sh`",
            WORKER.join(", ")
        );
    };
    let styles: Vec<&String> = names.iter().filter(|n| n.ends_with(".css")).collect();
    let wanted: Vec<&String> = [script, wasm].into_iter().chain(worker).chain(styles.iter().copied()).collect();
    let script_file = loader(script, wasm, &styles).into_bytes();
    let mut files: Vec<(String, Vec<u8>)> = built.into_iter().filter(|(name, _)| wanted.contains(&name)).collect();
    files.push(("dowse.js".to_string(), script_file));
    files.push(("index.html".to_string(), PAGE.as_bytes().to_vec()));
    Ok(files)
}

/// The drop-in script for the app's hashed file names.
fn loader(script: &str, wasm: &str, styles: &[&String]) -> String {
    let styles = serde_json::to_string(styles).expect("names serialize");
    format!(
        r#"// dowse: search for this site, running in the visitor's browser. Add to any page:
//   <div id="dowse"></div>
//   <script type="module" src="/_dowse/dowse.js"></script>
// The bundle is read from this script's folder unless the div's data-bundle names another.
// Pages that draw their own results import it instead (docs/site.md):
//   import * as dowse from "/_dowse/dowse.js";
//   const found = await dowse.search("query", {{ mode: "hybrid", k: 10, prefix: false, filters: {{ tag: "garden" }} }});
//   const facets = await dowse.filters();
import init, {{ search as searchBundle, filters as filtersOf }} from "./{script}";

const here = new URL("./", import.meta.url);
const mount = document.getElementById("dowse");
if (mount) {{
  if (!mount.dataset.bundle) mount.dataset.bundle = here.href;
  mount.dataset.app = here.href;
  for (const style of {styles}) {{
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL(style, here).href;
    document.head.appendChild(link);
  }}
}}
await init({{ module_or_path: new URL("{wasm}", here) }});

function bundle() {{
  const url = new URL(mount?.dataset.bundle || here.href, document.baseURI).href;
  return url.endsWith("/") ? url : url + "/";
}}

// Searches this site: resolves to {{ query, mode, results, timings_ms, fetched_bytes, filters }}.
export function search(query, options) {{
  return searchBundle(bundle(), here.href, query, options);
}}

// Every filter's values with how many pages carry each: {{ key: [{{ value, count }}] }}.
export function filters() {{
  return filtersOf(bundle(), here.href);
}}
"#
    )
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

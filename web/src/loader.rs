//! Loading a bundle in the browser: the manifest first, then every file it lists (from the Cache
//! API when the same bytes are there, else over the network with per-file progress), then
//! dowse-core's reader, which checks every length and sha256 before anything is searched.

use std::cell::RefCell;
use std::collections::HashMap;

use dowse_core::bundle::{Bundle, FileEntry, Manifest, FILES, MANIFEST};

use crate::fetch::{fetch_bytes, FileCache};

/// How far one file has come.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProgress {
    pub path: String,
    pub done: u64,
    pub total: u64,
    /// Read from the browser's cache rather than the network.
    pub cached: bool,
}

/// Loads the bundle at `base` (an absolute URL ending in `/`), reporting progress as files arrive.
pub async fn load_bundle(base: &str, progress: &dyn Fn(Vec<FileProgress>)) -> Result<Bundle, String> {
    let manifest_url = format!("{base}{MANIFEST}");
    let manifest_bytes = fetch_bytes(&manifest_url, &|_| {})
        .await
        .map_err(|e| format!("no bundle could be read at {base} ({e}). Build one with `dowse index --input CORPUS --out FOLDER`."))?;
    let manifest = Manifest::from_json(&manifest_bytes).map_err(|e| format!("the bundle at {base} cannot be used: {e}"))?;
    let cache = FileCache::open(&format!("dowse-bundle {base}")).await;
    let (files, any_cached) = fetch_files(base, &manifest, &cache, true, progress).await?;
    match read(base, &manifest_bytes, files) {
        // A cached copy that fails its checks is thrown away and fetched again, once.
        Err(_) if any_cached => {
            cache.clear().await;
            let (files, _) = fetch_files(base, &manifest, &cache, false, progress).await?;
            read(base, &manifest_bytes, files)
        }
        result => result,
    }
}

fn read(base: &str, manifest: &[u8], mut files: HashMap<String, Vec<u8>>) -> Result<Bundle, String> {
    files.insert(MANIFEST.to_string(), manifest.to_vec());
    Bundle::from_files(files).map_err(|e| format!("the bundle at {base} cannot be used: {e}"))
}

/// Every file the manifest lists, keyed by path, and whether any came from the cache.
async fn fetch_files(
    base: &str,
    manifest: &Manifest,
    cache: &FileCache,
    use_cache: bool,
    progress: &dyn Fn(Vec<FileProgress>),
) -> Result<(HashMap<String, Vec<u8>>, bool), String> {
    // Only files dowse reads, in its order; one the bundle lacks is named by Bundle::from_files.
    let entries: Vec<&FileEntry> = FILES.iter().filter_map(|path| manifest.entry(path)).collect();
    let state = RefCell::new(
        entries.iter().map(|e| FileProgress { path: e.path.clone(), done: 0, total: e.bytes, cached: false }).collect::<Vec<_>>(),
    );
    let mut files = HashMap::new();
    let mut keys = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = &entry.path;
        let url = format!("{base}{path}");
        let key = format!("{url}?sha256={}", entry.sha256);
        let cached = if use_cache { cache.get(&key).await } else { None };
        let bytes = match cached {
            Some(bytes) => {
                state.borrow_mut()[i].cached = true;
                bytes
            }
            None => {
                let report = |done| {
                    state.borrow_mut()[i].done = done;
                    progress(state.borrow().clone());
                };
                let mut bytes = fetch_bytes(&url, &report).await?;
                cache.put(&key, &mut bytes).await;
                bytes
            }
        };
        state.borrow_mut()[i].done = bytes.len() as u64;
        progress(state.borrow().clone());
        keys.push(key);
        files.insert(path.clone(), bytes);
    }
    cache.retain(&keys).await;
    let any_cached = state.borrow().iter().any(|f| f.cached);
    Ok((files, any_cached))
}

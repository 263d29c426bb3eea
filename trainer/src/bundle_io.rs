//! Bundles on disk: read a bundle folder into a [`Bundle`], and write one so that an interrupted
//! write never leaves a bundle behind that loads (temp folder beside the target, then rename).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use dowse_core::bundle::{Bundle, FILES, MANIFEST};

use crate::atomic;

/// Reads and checks the bundle in `dir`.
pub fn read(dir: &Path) -> Result<Bundle> {
    let mut files = HashMap::new();
    for path in FILES.into_iter().chain([MANIFEST]) {
        let full = dir.join(path);
        match std::fs::read(&full) {
            Ok(bytes) => {
                files.insert(path.to_string(), bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", full.display())),
        }
    }
    Bundle::from_files(files).with_context(|| format!("bundle {}", dir.display()))
}

/// Writes `bundle` and the `extra` files (path, bytes) beside it into the folder `out`, replacing
/// an earlier bundle there (and nothing else), and returns the size of each bundle file.
pub fn write(bundle: &Bundle, extra: &[(String, Vec<u8>)], out: &Path) -> Result<Vec<(&'static str, u64)>> {
    let files = bundle.to_files();
    let sizes = files.iter().map(|(path, bytes)| (*path, bytes.len() as u64)).collect();
    let all = extra
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
        .chain(files.iter().map(|(path, bytes)| (*path, bytes.as_ref())));
    atomic::write_folder(out, MANIFEST, all)?;
    Ok(sizes)
}

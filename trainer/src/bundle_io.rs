//! Bundles on disk: read a bundle folder into a [`Bundle`] with every fragment loaded, and write
//! one so that an interrupted write never leaves a bundle behind that loads (temp folder beside
//! the target, then rename).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use dowse_core::bundle::{fragment_path, Bundle, BundleFile, FILES, FRAGMENTS, MANIFEST};

use crate::atomic;

/// Reads and checks the bundle in `dir`: the manifest, the files it lists and every file in its
/// fragment folder (the reader takes the ones the root names and says which is missing).
pub fn read(dir: &Path) -> Result<Bundle> {
    let mut files = HashMap::new();
    let mut read = |path: String| -> Result<()> {
        let full = dir.join(&path);
        match std::fs::read(&full) {
            Ok(bytes) => {
                files.insert(path, bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", full.display())),
        }
        Ok(())
    };
    for path in FILES.into_iter().chain([MANIFEST]) {
        read(path.to_string())?;
    }
    let folder = dir.join(FRAGMENTS);
    if folder.is_dir() {
        for entry in std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))? {
            let entry = entry.with_context(|| format!("reading {}", folder.display()))?;
            read(fragment_path(&entry.file_name().to_string_lossy()))?;
        }
    }
    Bundle::from_files(files).with_context(|| format!("bundle {}", dir.display()))
}

/// Writes a bundle's files (path inside the folder, bytes; [`Bundle::files`] lays them out) into
/// the folder `out`, replacing an earlier bundle there (and nothing else).
pub fn write(files: &[BundleFile], out: &Path) -> Result<()> {
    atomic::write_folder(out, MANIFEST, files.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice())))
}

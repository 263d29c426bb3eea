//! Bundles on disk: read a bundle folder into a [`Bundle`], and write one so that an interrupted
//! write never leaves a bundle behind that loads (temp folder beside the target, then rename).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use dowse_core::bundle::{Bundle, FILES, MANIFEST};

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
/// any folder there, and returns the size of each bundle file.
pub fn write(bundle: &Bundle, extra: &[(String, Vec<u8>)], out: &Path) -> Result<Vec<(&'static str, u64)>> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".dowse-bundle-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    for (path, bytes) in extra {
        write_file(&staging.path().join(path), bytes)?;
    }
    let mut sizes = Vec::new();
    for (path, bytes) in bundle.to_files() {
        write_file(&staging.path().join(path), &bytes)?;
        sizes.push((path, bytes.len() as u64));
    }
    // Swap in the new bundle; an old one moves aside first, comes back if the swap fails,
    // and is removed with its temporary folder otherwise.
    let old = tempfile::Builder::new().prefix(".dowse-old-").tempdir_in(parent)?;
    let aside = old.path().join("bundle");
    let replacing = out.exists();
    if replacing {
        std::fs::rename(out, &aside).with_context(|| format!("moving the old {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(staging.path(), out) {
        if replacing {
            std::fs::rename(&aside, out).with_context(|| format!("restoring the old {}", out.display()))?;
        }
        return Err(e).with_context(|| format!("renaming the new bundle into {}", out.display()));
    }
    Ok(sizes)
}

fn write_file(full: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(full, bytes).with_context(|| format!("writing {}", full.display()))?;
    std::fs::File::open(full).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", full.display()))
}

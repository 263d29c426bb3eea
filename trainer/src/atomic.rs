//! Writes that never leave a half-written file or folder: write beside the target, then rename over it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.as_file().sync_all().with_context(|| format!("writing {}", path.display()))?;
    file.persist(path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Writes `files` (path inside the folder, bytes) into a new folder that replaces `out` in one
/// rename. An old `out` moves aside first, comes back if the swap fails, and is removed otherwise.
pub fn write_folder<'a>(out: &Path, files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<()> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".dowse-new-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    for (path, bytes) in files {
        write_synced(&staging.path().join(path), bytes)?;
    }
    let old = tempfile::Builder::new().prefix(".dowse-old-").tempdir_in(parent)?;
    let aside = old.path().join("old");
    let replacing = out.exists();
    if replacing {
        std::fs::rename(out, &aside).with_context(|| format!("moving the old {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(staging.path(), out) {
        if replacing {
            std::fs::rename(&aside, out).with_context(|| format!("restoring the old {}", out.display()))?;
        }
        return Err(e).with_context(|| format!("renaming the new folder into {}", out.display()));
    }
    Ok(())
}

fn write_synced(full: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(full, bytes).with_context(|| format!("writing {}", full.display()))?;
    std::fs::File::open(full).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", full.display()))
}

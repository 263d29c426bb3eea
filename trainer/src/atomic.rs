//! Writes that never leave a half-written file or folder: write beside the target, then rename over it.
//! What lands has the permissions a plain write would give (the umask applied to rw for all, rwx
//! for folders), not a temporary file's owner-only ones: a web server reading a bundle as another
//! user must be able to.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = staging(".dowse-", 0o666).tempfile_in(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))?;
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
    let staging =
        staging(".dowse-new-", 0o777).tempdir_in(parent).with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
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

/// A temporary file or folder named `prefix...`, created with `mode` less the umask on Unix.
fn staging(prefix: &str, mode: u32) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    #[cfg(not(unix))]
    let _ = mode;
    builder
}

fn write_synced(full: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(full, bytes).with_context(|| format!("writing {}", full.display()))?;
    std::fs::File::open(full).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", full.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn written_files_and_folders_get_a_plain_write_s_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("plain-folder")).unwrap();
        write(&dir.path().join("file"), b"x").unwrap();
        write_folder(&dir.path().join("folder"), [("inner/file", &b"x"[..])]).unwrap();
        assert_eq!(mode(&dir.path().join("file")), mode(&dir.path().join("plain")));
        assert_eq!(mode(&dir.path().join("folder")), mode(&dir.path().join("plain-folder")));
        assert_eq!(mode(&dir.path().join("folder/inner/file")), mode(&dir.path().join("plain")));
    }
}

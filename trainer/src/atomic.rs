//! Writes that never leave a half-written file or folder: write beside the target, then rename
//! over it (files) or exchange with it (folders), and never replace what dowse did not write.
//! What lands has the permissions a plain write would give (the umask applied to rw for all, rwx
//! for folders), not a temporary file's owner-only ones: a web server reading a bundle as another
//! user must be able to.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

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

/// Writes `files` (path inside the folder, bytes) into a new folder that takes the place of `out`
/// at once. `out` may be missing, an empty folder, or a folder holding `marker` (what dowse wrote
/// there before: a bundle's manifest, a checkpoint's state); anything else is refused untouched.
///
/// The new folder is written beside `out`, then swapped with it in one atomic exchange
/// (`renameat2(RENAME_EXCHANGE)`), so that `out` holds the old folder or the new one at every
/// instant, never nothing; the old one is removed after. Leftovers of a run killed earlier are
/// removed first. Where the file system cannot exchange, the old folder is moved aside first.
pub fn write_folder<'a>(out: &Path, marker: &str, files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<()> {
    check_replaceable(out, marker)?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = out.file_name().with_context(|| format!("{}: not a folder name", out.display()))?.to_string_lossy().into_owned();
    remove_leftovers(parent, &name)?;
    let staging = staging(&format!("{NEW}{name}."), 0o777)
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    for (path, bytes) in files {
        write_synced(&staging.path().join(path), bytes)?;
        fault_point("folder-file");
    }
    fault_point("folder-staged");
    if !out.exists() {
        return std::fs::rename(staging.keep(), out).with_context(|| format!("renaming the new folder into {}", out.display()));
    }
    match exchange(staging.path(), out) {
        // `staging` now holds the old folder and is removed when dropped.
        Ok(()) => fault_point("folder-exchanged"),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) => {
            move_aside_and_rename(staging, parent, &name, out)?
        }
        Err(e) => return Err(e).with_context(|| format!("swapping the new folder into {}", out.display())),
    }
    Ok(())
}

/// Prefixes of the temporary folders beside a target, followed by the target's name.
const NEW: &str = ".dowse-new-";
const OLD: &str = ".dowse-old-";

/// Refuses to replace a file, or a folder that dowse did not write (no `marker` in it).
pub fn check_replaceable(out: &Path, marker: &str) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(out) else { return Ok(()) };
    if !meta.is_dir() {
        bail!("{} exists and is not a folder dowse wrote: refusing to replace it (choose another output path)", out.display());
    }
    let empty = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?.next().is_none();
    if !empty && !out.join(marker).is_file() {
        bail!(
            "{} exists and is not a folder dowse wrote (it has no {marker}): refusing to replace it (choose another output path, or empty it first)",
            out.display()
        );
    }
    Ok(())
}

/// Removes what a killed run left beside `parent/name`: its staging folder, or the old folder it
/// had moved aside (when `name` itself is missing, the old one is put back instead).
fn remove_leftovers(parent: &Path, name: &str) -> Result<()> {
    for entry in std::fs::read_dir(parent).with_context(|| format!("reading {}", parent.display()))? {
        let path = entry.with_context(|| format!("reading {}", parent.display()))?.path();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ours = [NEW, OLD]
            .iter()
            .any(|prefix| file_name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix(name)).is_some_and(|r| r.starts_with('.')));
        if !ours {
            continue;
        }
        let target = parent.join(name);
        let aside = path.join(name);
        if file_name.starts_with(OLD) && !target.exists() && aside.exists() {
            std::fs::rename(&aside, &target).with_context(|| format!("restoring {} from {}", target.display(), path.display()))?;
            eprintln!("restored {} from an interrupted earlier write", target.display());
        }
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}, left by an interrupted earlier write", path.display()))?;
    }
    Ok(())
}

/// Swaps two paths in one step (Linux' `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput));
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths, relative to the working directory.
    let done = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Where no exchange exists: the old `out` moves aside into `.dowse-old-NAME.*` (restored by the
/// next write if a kill comes before the new one is in), comes back if the rename fails, and is
/// removed otherwise.
fn move_aside_and_rename(staging: tempfile::TempDir, parent: &Path, name: &str, out: &Path) -> Result<()> {
    let old = tempfile::Builder::new().prefix(&format!("{OLD}{name}.")).tempdir_in(parent)?;
    let aside = old.path().join(name);
    std::fs::rename(out, &aside).with_context(|| format!("moving the old {} aside", out.display()))?;
    fault_point("folder-moved-aside");
    if let Err(e) = std::fs::rename(staging.path(), out) {
        std::fs::rename(&aside, out).with_context(|| format!("restoring the old {}", out.display()))?;
        return Err(e).with_context(|| format!("renaming the new folder into {}", out.display()));
    }
    Ok(())
}

/// For crash-safety tests: when `DOWSE_FAULT_AT` names this point, the process kills itself
/// with SIGKILL here, as a power cut or `kill -9` would, with nothing cleaned up.
pub fn fault_point(point: &str) {
    if std::env::var_os("DOWSE_FAULT_AT").is_some_and(|at| at == point) {
        // SAFETY: raising a signal at the calling process.
        unsafe { libc::raise(libc::SIGKILL) };
    }
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
        write_folder(&dir.path().join("folder"), "inner/file", [("inner/file", &b"x"[..])]).unwrap();
        assert_eq!(mode(&dir.path().join("file")), mode(&dir.path().join("plain")));
        assert_eq!(mode(&dir.path().join("folder")), mode(&dir.path().join("plain-folder")));
        assert_eq!(mode(&dir.path().join("folder/inner/file")), mode(&dir.path().join("plain")));
    }
}

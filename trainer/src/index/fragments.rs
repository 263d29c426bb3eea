//! Format version 2's root and fragments, cut from a bundle's whole sections ([`Root::split`]) and
//! written beside version 1's files as `fragments/NAME`, each named by its content address, the
//! root's name recorded in the manifest; and read back from a bundle folder into a [`LazyBundle`]
//! holding every fragment, each checked against its name.

use std::path::Path;

use anyhow::{bail, Context, Result};
use dowse_core::bundle::{Bundle, FragmentsInfo, Manifest, RescoreCheck, FRAGMENTS, MANIFEST};
use dowse_core::fragments::{fragment_name, Fragment, FragmentConfig, LazyBundle, Root};

/// Cuts `bundle` into a root and fragments, the rescore depth calibrated on `queries` (row-major
/// query vectors; passages held out when there are none), records them in its manifest, and
/// returns the files to write beside it (path inside the bundle folder, bytes).
pub fn cut(bundle: &mut Bundle, queries: &[f32], config: &FragmentConfig) -> Result<Vec<(String, Vec<u8>)>> {
    let split = Root::split(&bundle.bm25, &bundle.docs, &bundle.vectors, queries, config).context("cutting the bundle into fragments")?;
    let root = split.root.to_bytes();
    let root_name = fragment_name(&root);
    // Too few queries measure nothing: every passage is rescored.
    let calibration = split.calibration.filter(|c| c.queries > 0).map(|c| RescoreCheck { queries: c.queries, of: c.of, recall: c.recall });
    bundle.manifest.fragments =
        Some(FragmentsInfo { root: root_name.clone(), count: split.fragments.len(), rescore: split.root.rescore, calibration });
    let files = split.fragments.into_iter().chain([(root_name, root)]);
    Ok(files.map(|(name, bytes)| (format!("{FRAGMENTS}/{name}"), bytes)).collect())
}

/// Reads the root and every fragment of the bundle in `dir`, the sign codes before the vector
/// chunks that need them.
pub fn read_all(dir: &Path) -> Result<LazyBundle> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = std::fs::read(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = Manifest::from_json(&manifest).with_context(|| format!("{}", manifest_path.display()))?;
    let Some(info) = manifest.fragments else {
        bail!("{}: the bundle has no fragments (written before dowse wrote them): index it again", manifest_path.display());
    };
    let folder = dir.join(FRAGMENTS);
    let read = |name: &str| {
        let path = folder.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let root_bytes = read(&info.root)?;
    if fragment_name(&root_bytes) != info.root {
        bail!("{}: its bytes do not hash to its name (truncated or replaced)", folder.join(&info.root).display());
    }
    let root = Root::from_bytes(&root_bytes).with_context(|| format!("{}", folder.join(&info.root).display()))?;
    let mut fragments: Vec<Fragment> = root.fragments().collect();
    fragments.sort_by_key(|fragment| !matches!(fragment, Fragment::SignCodes));
    let names: Vec<String> = fragments.into_iter().map(|fragment| root.name(fragment)).collect();
    let mut lazy = LazyBundle::new(root);
    for name in names {
        let bytes = read(&name)?;
        lazy.load(&name, &bytes).with_context(|| format!("{}", folder.join(&name).display()))?;
    }
    Ok(lazy)
}

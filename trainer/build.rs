//! Carries the built browser app inside `dowse` when the project's build step
//! (`bash scripts/build-app.sh`) has left it in `trainer/app/dist/`: `dowse index --with-app` and
//! `dowse serve` then need no Trunk, no wasm-bindgen-cli and no `dist/` folder, the way Pagefind
//! carries its UI. Without that folder the binary carries no app (crate::app_inside) and says how
//! to build one when it is asked for.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // trainer/app/ always exists (its README is tracked), so cargo watches it for the build step's
    // output appearing, changing or going.
    let app = Path::new(&manifest_dir).join("app");
    println!("cargo:rerun-if-changed={}", app.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(app.join("dist"))
        .into_iter()
        .flatten()
        .map(|entry| entry.expect("listing trainer/app/dist").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let entries: String = files
        .iter()
        .map(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).expect("scripts/build-app.sh names its files in UTF-8");
            format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string())
        })
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("app_inside.rs");
    std::fs::write(out, format!("&[\n{entries}]\n")).expect("writing the app's file list");
}

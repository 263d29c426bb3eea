//! Carries the built browser app inside `dowse`, the way Pagefind carries its UI, so that
//! `dowse index --with-app` and `dowse serve` need no wasm tools and no `dist/` folder:
//! - the build the project's build step (`bash scripts/build-app.sh`) left in `trainer/app/dist/`,
//!   where there is one (CI and the scripts build it first);
//! - otherwise, in a release build (`cargo install --path trainer`), the app built here by that
//!   same script into this build's own folder, with its own copies of wasm-bindgen-cli and
//!   wasm-opt, so a bare clone gives a `dowse` that carries the app (`DOWSE_BUILD_APP=0` skips it);
//! - otherwise (a debug build) nothing: the binary says how to build the app when it is asked
//!   for (crate::app_inside).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let trainer = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // trainer/app/ always exists (its README is tracked), so cargo watches it for the build step's
    // output appearing, changing or going.
    let prebuilt = trainer.join("app").join("dist");
    println!("cargo:rerun-if-changed={}", trainer.join("app").display());
    println!("cargo:rerun-if-env-changed=DOWSE_BUILD_APP");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let wanted = std::env::var("DOWSE_BUILD_APP").map_or(true, |value| value != "0");
    let dist = if prebuilt.is_dir() {
        Some(prebuilt)
    } else if release && wanted {
        Some(build_app(trainer.parent().expect("the trainer sits in the workspace"), &out))
    } else {
        None
    };
    let mut files: Vec<PathBuf> = dist
        .iter()
        .flat_map(|dist| std::fs::read_dir(dist).unwrap_or_else(|error| panic!("listing {}: {error}", dist.display())))
        .map(|entry| entry.expect("listing the built app").path())
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
    std::fs::write(out.join("app_inside.rs"), format!("&[\n{entries}]\n")).expect("writing the app's file list");
}

/// Runs `scripts/build-app.sh` into `OUT_DIR/app`, with its cargo builds in `OUT_DIR/app-target`
/// (a folder of their own: cargo holds this build's) and its tools in `OUT_DIR/web-tools`, and
/// returns that folder. Built again when the app's sources or build settings change (the
/// workspace's `Cargo.toml` holds the `web-app` profile, `.cargo/config.toml` the wasm32 flags).
fn build_app(workspace: &Path, out: &Path) -> PathBuf {
    let sources = [
        "web",
        "www",
        "shared/src",
        "shared/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "scripts/build-app.sh",
        "scripts/web-tools.sh",
    ];
    for source in sources {
        println!("cargo:rerun-if-changed={}", workspace.join(source).display());
    }
    let dist = out.join("app");
    let started = std::time::Instant::now();
    // The script's output goes to stderr: cargo reads a build script's stdout for its own
    // instructions. The host's rustflags are not the wasm modules' (.cargo/config.toml sets those).
    let status = Command::new("bash")
        .arg(workspace.join("scripts/build-app.sh"))
        .arg(&dist)
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", out.join("app-target"))
        .env("DOWSE_WEB_TOOLS", out.join("web-tools"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .expect("running bash scripts/build-app.sh");
    assert!(
        status.success(),
        "building the browser app into dowse failed (scripts/build-app.sh, output above); it needs rustup (for the wasm32 target) \
         and bash; build dowse without the app with DOWSE_BUILD_APP=0"
    );
    println!(
        "cargo:warning=built the browser app into dowse in {} s (scripts/build-app.sh); a build in trainer/app/dist is used instead where there is one",
        started.elapsed().as_secs()
    );
    dist
}

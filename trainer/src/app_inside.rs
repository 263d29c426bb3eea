//! The browser app this binary carries: the build of it that trainer/build.rs found in
//! `trainer/app/dist/` (`bash scripts/build-app.sh`) or, in a release build without one, made
//! itself; nothing in a debug build without it.

/// The app's files as (name, bytes), named as scripts/build-app.sh named them; empty when the binary carries none.
pub static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/app_inside.rs"));

/// How to get a `dowse` that carries the app, for errors where it was needed and is not there.
pub const HOW_TO_BUILD: &str =
    "a release build of dowse carries it (`cargo install --locked --path trainer`), or run `bash scripts/build-app.sh` and build dowse again";

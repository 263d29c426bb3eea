//! What the app (`dowse-web`) and its query encoder's workers (`dowse-static`, `dowse-encoder`)
//! share: the messages between them ([`protocol`]) and the browser's clock ([`browser`]); and,
//! with the `static-encoder` or `encoder` feature, the worker itself ([`worker`]). The app's own
//! modules are in `main.rs`.

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod protocol;
#[cfg(all(target_arch = "wasm32", feature = "static-encoder"))]
pub mod worker;

/// What a bin of this crate does when built natively: says it is a browser module, and exits.
#[cfg(not(target_arch = "wasm32"))]
pub fn not_native(module: &str) -> ! {
    eprintln!("{module} is a module of the browser app: build the app with `bash scripts/build-app.sh` (see the README)");
    std::process::exit(2);
}

//! What the app (`dowse-web`) and its query encoder's worker (`dowse-encoder`) share: the messages
//! between them ([`protocol`]) and the browser's clock ([`browser`]); and, with the `encoder`
//! feature, the worker itself ([`worker`]). The app's own modules are in `main.rs`.

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod protocol;
#[cfg(all(target_arch = "wasm32", feature = "encoder"))]
pub mod worker;

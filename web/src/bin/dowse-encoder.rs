//! dowse-encoder: the query encoder's Web Worker. The app starts it beside its keyword search and
//! posts it the bundle's model, then each query; it answers with the query's vector (see
//! `dowse_web::worker`). Built natively, it is a stub that says so.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("dowse-encoder is the browser app's query encoder worker: build the app with `trunk build --release` (see the README)");
    std::process::exit(2);
}

#[cfg(target_arch = "wasm32")]
fn main() {
    dowse_web::worker::run();
}

//! dowse-encoder: the query encoder's worker for every model (Burn, wgpu, tokenizers). The app
//! starts it beside its keyword search and posts it the bundle's model, then each query; it answers
//! with the query's vector (see `dowse_web::worker`). Built natively, it is a stub that says so.

fn main() {
    #[cfg(target_arch = "wasm32")]
    dowse_web::worker::run();
    #[cfg(not(target_arch = "wasm32"))]
    dowse_web::not_native("dowse-encoder");
}

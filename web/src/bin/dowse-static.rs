//! dowse-static: the worker for a static query encoder (the default bundle's), without Burn or
//! wgpu: the tokenizer and a mean of table rows, the rows fetched as queries need them (see `dowse_web::worker`). Built natively, it is a stub that says so.

fn main() {
    #[cfg(target_arch = "wasm32")]
    dowse_web::worker::run();
    #[cfg(not(target_arch = "wasm32"))]
    dowse_web::not_native("dowse-static");
}

//! dowse-web: semantic search that runs in the visitor's browser.
//!
//! The data path, in the browser: [`settings`] says where the bundle is; [`loader`] fetches its
//! manifest, root and the fragments each query asks for through [`fetch`] (Cache API) and
//! dowse-core checks them; [`encoder`] hands the query encoder to its worker (the second module,
//! `dowse-encoder`, with the networks: WebGPU or the CPU) and asks it for vectors; [`engine`]
//! asks dowse-core what a query lacks, fetches it, searches the sign codes and BM25 and fuses
//! them; [`rerank`] asks the optional server; [`app`] and [`map`] show it all.
//!
//! It mounts in the element with id `dowse` when the page has one; [`api`] is the JavaScript API
//! for pages that draw their own results (`dowse.search`, through the drop-in script). Built
//! natively (as `cargo build --workspace` does), it is a stub that says so.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod encoder;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod loader;
#[cfg(target_arch = "wasm32")]
mod map;
#[cfg(target_arch = "wasm32")]
mod rerank;
#[cfg(target_arch = "wasm32")]
mod settings;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    dowse_web::not_native("dowse-web");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    use wasm_bindgen::JsCast;

    console_error_panic_hook::set_once();
    let document = web_sys::window().and_then(|w| w.document()).expect("a page to run in");
    // A page without the element uses the JavaScript API alone ([`api`]).
    let Some(mount) = document.get_element_by_id("dowse") else { return };
    let settings = settings::Settings::read(&mount);
    leptos::mount::mount_to(mount.unchecked_into(), move || leptos::view! { <app::App settings=settings /> }).forget();
}

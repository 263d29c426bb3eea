//! What the page and the encoder's worker both take from the browser: a clock (`std::time::Instant`
//! panics in wasm32) and error messages from JavaScript values. Both read the global scope, a
//! window or a worker's.

use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds from the high-resolution clock of the page or the worker.
pub fn now_ms() -> f64 {
    global("performance").and_then(|p| p.dyn_into::<web_sys::Performance>().ok()).map_or(0.0, |p| p.now())
}

/// A property of the global scope (`window` on the page, `self` in a worker).
pub fn global(name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(&js_sys::global(), &name.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Turns a rejected promise or a thrown value into a message.
pub fn js_error(value: JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

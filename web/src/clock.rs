//! Milliseconds from the page's high-resolution clock (`std::time::Instant` panics in wasm32).

pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

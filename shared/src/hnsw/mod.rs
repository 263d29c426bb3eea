//! HNSW search over a graph built elsewhere (natively, by hnsw_rs) and stored in the bundle:
//! [`graph`] owns the section format, [`search`] walks it. No dependency here stops wasm32.

mod graph;
mod search;

pub use graph::{HnswGraph, Layer};
pub use search::search;

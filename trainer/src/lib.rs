//! dowse-trainer: the native side of dowse. The `dowse` binary (main.rs) parses the command line
//! and calls one module per subcommand; the tests and benchmarks call the same modules.
//!
//! The data path: [`index`] reads a corpus (BEIR, JSONL, CSV, SMART or a folder of HTML pages),
//! cuts it into passages, encodes them, builds BM25 and cuts both into fragments, and [`bundle_io`]
//! writes the bundle that [`search`], [`eval`], [`serve`] and the browser read. [`train`] makes
//! the models that path uses, from hard negatives that [`mine`] finds; [`generative`] searches
//! with a DSI model that [`train`] made; [`viz`] draws where a model puts queries and passages;
//! [`export`] writes a model as ONNX for other runtimes.

pub mod app_inside;
pub mod atomic;
pub mod bundle_io;
pub mod collection;
pub mod device;
pub mod embed_cache;
pub mod encode;
pub mod eval;
pub mod export;
pub mod generative;
pub mod graph;
pub mod home;
pub mod index;
pub mod mine;
pub mod model_fetch;
pub mod model_folder;
pub mod plot;
pub mod progress;
pub mod pseudo_queries;
pub mod score;
pub mod search;
pub mod serve;
pub mod shipped;
pub mod train;
pub mod viz;

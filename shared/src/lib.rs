//! dowse-core: what the trainer, the server and the browser share.
//!
//! The data path runs top to bottom: [`corpus`] readers turn bytes into documents, queries and
//! judgments; [`text`] and [`bm25`] give lexical search; [`model`] encodes text into vectors
//! that [`dense`] searches; [`fusion`] merges the two; [`metrics`] scores a run as trec_eval does.
//! Nothing here touches the file system or spawns threads, so it all builds for wasm32.

pub mod bm25;
pub mod corpus;
pub mod dense;
pub mod error;
pub mod fusion;
pub mod metrics;
pub mod model;
pub mod text;
pub mod topk;

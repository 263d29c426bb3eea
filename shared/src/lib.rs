//! dowse-core: what the trainer, the server and the browser share.
//!
//! The data path runs top to bottom: [`corpus`] readers turn bytes into documents, queries and
//! judgments; [`passage`] cuts documents into passages; [`text`] and [`bm25`] give lexical search
//! ([`bm25_shards`] split by term, for a bundle fetched in fragments, as [`doc_chunks`] splits
//! the documents and [`dense_chunks`] the vectors, and [`fragments`] names and reads them);
//! [`model`] encodes text into vectors that [`vectors`] stores quantized and [`hnsw`] (or [`dense`],
//! exactly, or [`partitions`], a few clusters of them) searches; [`docstore`] keeps what results show; [`bundle`] puts it all in one versioned,
//! checksummed folder, searched whole; [`search`] holds what every search shares, merging lists
//! with [`fusion`];
//! [`metrics`] scores a run as trec_eval does. For generative retrieval, [`semantic_ids`] gives
//! documents hierarchical IDs (by [`kmeans`], as [`partitions`] clusters vectors) and [`id_trie`]
//! decodes only valid ones.
//! Nothing here touches the file system or spawns threads, so it all builds for wasm32. The
//! `encoders` feature (default) brings [`model`]'s networks and a whole [`bundle`] in memory; without it,
//! the bundle's manifest and root and keyword and vector search over fragments build with no
//! Burn, tokenizers or gemm.

pub mod bm25;
pub mod bm25_shards;
pub mod bundle;
pub mod corpus;
pub mod dense;
pub mod dense_chunks;
pub mod doc_chunks;
pub mod docstore;
pub mod error;
pub mod filters;
pub mod fragments;
pub mod fusion;
pub mod hnsw;
pub mod id_trie;
pub mod kmeans;
pub mod metrics;
pub mod model;
pub mod partitions;
pub mod passage;
pub mod projection;
pub mod rng;
pub mod search;
pub mod semantic_ids;
pub mod sign_rotation;
pub mod text;
pub mod topk;
mod varint;
pub mod vectors;

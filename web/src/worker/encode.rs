//! The query encoder in the worker. A static encoder (the default bundle's) runs in plain Rust on
//! the CPU: its vector is a mean of table rows, which needs no GPU, and its table comes in
//! fragments, the rows a query needs fetched for it ([`StaticVectors::missing`]). With the
//! `encoder` feature, any other model runs on Burn ([`super::network`]).

use std::cell::RefCell;

use dowse_core::bundle::{fragment_path, BundleError, Manifest, MODEL_CONFIG, MODEL_TOKENIZER};
use dowse_core::fragments::open_fragment;
use dowse_core::model::StaticVectors;

#[cfg(feature = "encoder")]
use super::network;
use crate::browser::now_ms;
use crate::protocol::{BackendChoice, Encoding, Unit};

pub enum QueryEncoder {
    /// A static encoder, its table filled shard by shard as queries need them.
    Static(Box<RefCell<StaticVectors>>),
    #[cfg(feature = "encoder")]
    WebGpu(Box<network::Encoder<network::Wgpu>>),
    #[cfg(feature = "encoder")]
    Cpu(Box<network::Encoder<network::NdArray>>),
}

/// What encoding a query gave: its vector, or the table's shards it needs first.
pub enum Encoded {
    Vector(Encoding),
    Missing(Vec<String>),
}

impl QueryEncoder {
    /// Loads the bundle's query encoder from `files` (path, bytes): a static encoder from its
    /// table's head, any other model on WebGPU if `choice` allows and an adapter exists, else on
    /// the CPU. Says why the CPU was chosen when it was.
    pub async fn load(
        manifest: &Manifest,
        mut files: Vec<(String, Vec<u8>)>,
        choice: BackendChoice,
    ) -> Result<(Self, Option<String>), String> {
        let mut take = |path: &str| {
            let found = files.iter().position(|(p, _)| p == path);
            found.map(|i| files.swap_remove(i).1).ok_or_else(|| BundleError::MissingFile(path.to_string()))
        };
        let Some(head) = &manifest.model.pieces else {
            return Self::load_network(manifest, take, choice).await;
        };
        let checked = |path: &str, bytes: Result<Vec<u8>, BundleError>| bytes.and_then(|b| manifest.verify(path, &b).map(|()| b));
        let config = checked(MODEL_CONFIG, take(MODEL_CONFIG)).map_err(|e| e.to_string())?;
        let tokenizer = checked(MODEL_TOKENIZER, take(MODEL_TOKENIZER)).map_err(|e| e.to_string())?;
        let head_path = fragment_path(head);
        let head_bytes = take(&head_path).map_err(|e| e.to_string())?;
        let head_part = open_fragment(head, &head_bytes).map_err(|e| BundleError::from(e).to_string())?;
        let vectors = StaticVectors::from_head(&config, &tokenizer, &head_part).map_err(|e| e.to_string())?;
        if vectors.dim() != manifest.model.dim {
            return Err(format!(
                "the query encoder makes {}-dimensional vectors, the passages are {}-dimensional",
                vectors.dim(),
                manifest.model.dim
            ));
        }
        let why = "the query encoder is static: a mean of word-piece vectors needs no GPU".to_string();
        Ok((Self::Static(Box::new(RefCell::new(vectors))), Some(why)))
    }

    #[cfg(not(feature = "encoder"))]
    async fn load_network(
        _: &Manifest,
        _: impl FnMut(&str) -> Result<Vec<u8>, BundleError>,
        _: BackendChoice,
    ) -> Result<(Self, Option<String>), String> {
        Err("this worker runs static query encoders only; the bundle's model needs the dowse-encoder worker".to_string())
    }

    #[cfg(feature = "encoder")]
    async fn load_network(
        manifest: &Manifest,
        take: impl FnMut(&str) -> Result<Vec<u8>, BundleError>,
        choice: BackendChoice,
    ) -> Result<(Self, Option<String>), String> {
        network::load(manifest, take, choice).await
    }

    pub fn on_webgpu(&self) -> bool {
        #[cfg(feature = "encoder")]
        if matches!(self, Self::WebGpu(_)) {
            return true;
        }
        false
    }

    /// Encodes `query` once the table's shards named in `pieces` are loaded from `bytes`.
    pub async fn encode(&self, query: &str, pieces: &[String], bytes: &[Vec<u8>]) -> Result<Encoded, String> {
        match self {
            Self::Static(vectors) => {
                let mut vectors = vectors.borrow_mut();
                for (name, bytes) in pieces.iter().zip(bytes) {
                    vectors.load_shard(name, bytes).map_err(|e| e.to_string())?;
                }
                let start = now_ms();
                let tokens = vectors.tokenizer().encode(&[query]).map_err(|e| e.to_string())?.remove(0);
                let tokenized = now_ms();
                let missing = vectors.missing(&tokens);
                if !missing.is_empty() {
                    return Ok(Encoded::Missing(missing));
                }
                let vector = vectors.vector(&tokens);
                let encoding = Encoding {
                    vector,
                    tokens: tokens.ids.len(),
                    unit: Unit::Tokens,
                    tokenize_ms: tokenized - start,
                    encode_ms: now_ms() - tokenized,
                };
                Ok(Encoded::Vector(encoding))
            }
            #[cfg(feature = "encoder")]
            Self::WebGpu(encoder) => network::encode(encoder, query).await.map(Encoded::Vector),
            #[cfg(feature = "encoder")]
            Self::Cpu(encoder) => network::encode(encoder, query).await.map(Encoded::Vector),
        }
    }
}

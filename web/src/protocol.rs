//! The messages between the app and the query encoder's worker. Each is a JavaScript object
//! `{ id, body, bytes }`: `body` the JSON of a [`Request`] or a [`Reply`], `bytes` the files a
//! request carries (an array of `Uint8Array`, in the order of its `paths` or `pieces`). A reply
//! carries its request's `id`; the worker's first message, [`Reply::Ready`], has id [`READY`]
//! (messages posted before it would be lost: the worker listens only once its wasm has loaded).

use dowse_core::bundle::Manifest;
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::browser::js_error;

/// The id of the worker's first message.
pub const READY: u32 = 0;

/// Which backend runs the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// WebGPU when an adapter exists, the CPU otherwise.
    Auto,
    Cpu,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Load the bundle's query encoder from the model's files (checked against `manifest`), on
    /// the backend `choice` allows. A static encoder with its table in fragments comes as its
    /// config, its tokenizer and the table's head ([`dowse_core::bundle::ModelInfo::pieces`]).
    Load { manifest: Box<Manifest>, paths: Vec<String>, choice: BackendChoice },
    /// Encode `query`, with the table's shards named in `pieces` that an earlier
    /// [`Reply::Missing`] asked for.
    Encode {
        query: String,
        #[serde(default)]
        pieces: Vec<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The worker listens.
    Ready,
    /// The encoder runs on WebGPU or on the CPU, and why the CPU when it was not asked for.
    Loaded {
        webgpu: bool,
        why_cpu: Option<String>,
    },
    Encoded(Encoding),
    /// The query needs these shards of the static encoder's table (fragment names): fetch them
    /// and ask again.
    Missing {
        pieces: Vec<String>,
    },
    Failed {
        message: String,
    },
}

/// A query's vector and what it cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Encoding {
    pub vector: Vec<f32>,
    /// Word pieces the encoder read, special tokens included (distinct letter trigrams for a DSSM).
    pub tokens: usize,
    pub unit: Unit,
    pub tokenize_ms: f64,
    pub encode_ms: f64,
}

/// What [`Encoding::tokens`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Tokens,
    Trigrams,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::Trigrams => "trigrams",
        }
    }
}

/// The message for `body` with its id and files.
pub fn message(id: u32, body: &impl Serialize, bytes: &[Vec<u8>]) -> JsValue {
    let object = Object::new();
    let files: Array = bytes.iter().map(|b| JsValue::from(Uint8Array::from(b.as_slice()))).collect();
    let json = serde_json::to_string(body).expect("messages serialize");
    for (key, value) in [("id", JsValue::from(id)), ("body", JsValue::from(json)), ("bytes", files.into())] {
        Reflect::set(&object, &key.into(), &value).expect("setting a property of a new object");
    }
    object.into()
}

/// Reads a message: its id, its body and its files.
pub fn read<T: DeserializeOwned>(data: &JsValue) -> Result<(u32, T, Vec<Vec<u8>>), String> {
    let field = |key: &str| Reflect::get(data, &key.into()).map_err(js_error);
    let id = field("id")?.as_f64().ok_or("a message without an id")? as u32;
    let json = field("body")?.as_string().ok_or("a message without a body")?;
    // From bytes, as every JSON the app reads, so the module links one serde_json reader.
    let body = serde_json::from_slice(json.as_bytes()).map_err(|e| format!("a message that does not parse: {e}"))?;
    let files: Array = field("bytes")?.dyn_into().map_err(|_| "a message whose bytes are not an array")?;
    let bytes = files.iter().map(|file| file.dyn_into::<Uint8Array>().map(|a| a.to_vec())).collect::<Result<_, _>>();
    Ok((id, body, bytes.map_err(|_| "a message whose bytes are not Uint8Arrays")?))
}

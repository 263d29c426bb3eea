//! The server's models, each on its own thread behind a [`Batcher`]: the bundle's query encoder
//! and, when configured, a cross-encoder reranker and a DSI model.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use burn::tensor::backend::Backend;
use dowse_core::bundle::{Bundle, ModelBytes};
use dowse_core::model::{CrossEncoder, Encoder, EncoderConfig, Side};

use super::batcher::Batcher;
use super::config::Limits;
use crate::device::BackendJob;
use crate::generative::DsiRetriever;
use crate::model_folder;

/// Query text -> unit vector.
pub type QueryEncoder = Batcher<String, Vec<f32>>;

/// The reranker and the name the API reports for it.
pub struct Reranker {
    pub name: String,
    pub pairs: Batcher<(String, String), f32>,
}

/// Query text -> the bundle's documents a DSI model finds for it, best first.
pub type Generative = Batcher<String, Vec<(u32, f32)>>;

pub struct Models {
    pub encoder: QueryEncoder,
    pub reranker: Option<Reranker>,
    pub generative: Option<Generative>,
}

/// Starts the model threads on one backend.
pub struct LoadModels<'a> {
    pub bundle: &'a Bundle,
    /// Where the bundle was read from, for errors.
    pub bundle_dir: &'a Path,
    /// How the bundle's model encodes queries.
    pub encoder: EncoderConfig,
    pub reranker: Option<&'a Path>,
    pub dsi: Option<&'a Path>,
    pub limits: &'a Limits,
}

impl BackendJob for LoadModels<'_> {
    type Output = Result<Models>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Models> {
        let wait = Duration::from_millis(self.limits.max_batch_wait_ms);
        let batch = self.limits.max_batch;
        let model = self.bundle.model.clone();
        let config = self.encoder;
        let encoder_device = device.clone();
        let encoder = Batcher::spawn("query-encoder", batch, wait, move || {
            let encoder = Encoder::<B>::load(model.files(), config, &encoder_device).map_err(|e| format!("bundle model: {e}"))?;
            Ok(move |queries: &[String]| {
                let texts: Vec<&str> = queries.iter().map(String::as_str).collect();
                let matrix = encoder.encode(&texts, Side::Query, |_| {}).map_err(|e| e.to_string())?;
                Ok(matrix.chunks_exact(encoder.dim()).map(<[f32]>::to_vec).collect())
            })
        })
        .map_err(anyhow::Error::msg)?;
        let generative = match self.dsi {
            None => None,
            Some(dir) => {
                let documents: Vec<String> = self.bundle.document_ids()?.into_iter().map(str::to_string).collect();
                let (dir, device, depth) = (dir.to_path_buf(), device.clone(), self.limits.dsi_depth);
                let source = self.bundle_dir.display().to_string();
                let generative = Batcher::spawn("dsi", batch, wait, move || {
                    let documents: Vec<&str> = documents.iter().map(String::as_str).collect();
                    let retriever = DsiRetriever::<B>::load(&dir, &documents, &source, &device).map_err(|e| format!("{e:#}"))?;
                    Ok(move |queries: &[String]| {
                        queries.iter().map(|q| retriever.search(q, depth, depth).map_err(|e| e.to_string())).collect()
                    })
                })
                .map_err(anyhow::Error::msg)?;
                Some(generative)
            }
        };
        let reranker = match self.reranker {
            None => None,
            Some(dir) => {
                let files: ModelBytes = model_folder::read(dir)?;
                let config = EncoderConfig { max_len: EncoderConfig::default().max_len, batch_size: batch, ..self.encoder };
                let pairs = Batcher::spawn("reranker", batch, wait, move || {
                    let model = CrossEncoder::<B>::load(files.files(), config, &device).map_err(|e| format!("reranker: {e}"))?;
                    Ok(move |pairs: &[(String, String)]| {
                        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(q, d)| (q.as_str(), d.as_str())).collect();
                        model.score(&pairs).map_err(|e| e.to_string())
                    })
                })
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
                let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
                Some(Reranker { name, pairs })
            }
        };
        Ok(Models { encoder, reranker, generative })
    }
}

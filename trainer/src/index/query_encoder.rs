//! The two models of a bundle: which folders the flags name (the passage model and the query
//! encoder, one folder for a symmetric bundle), the query encoder adapted to the corpus where it
//! applies ([`super::adapt`]), kept from the bundle being replaced where it can be, and the
//! alignment check's verdict ([`super::alignment`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::model::{EncoderConfig, EncoderKind, StaticConfig};
use dowse_core::passage::SourceDocument;

use super::{adapt, alignment, folder_name, IndexArgs};
use crate::{bundle_io, model_fetch, model_folder, shipped};

/// Runs `--adapt` where it applies (on by default): the adapted encoder, or `None` with a line
/// saying why not. A bundle already in `--out` whose query encoder was adapted from the same one
/// for the same passage model keeps it (a re-index after a few pages changed need not train
/// again; its agreement on the new corpus is still measured); an explicit `--adapt` adapts anew,
/// and is an error where it cannot.
pub fn adapt_query_encoder(
    models: &Models,
    passage_sha256: &str,
    model_id: &str,
    docs: &[SourceDocument],
    texts: &[String],
    encoder: EncoderConfig,
    args: &IndexArgs,
) -> Result<Option<adapt::Adapted>> {
    if args.no_adapt {
        eprintln!("--no-adapt: the query encoder ships as it is");
        return Ok(None);
    }
    if !args.adapt {
        if let Some(previous) = previous_adapted(&args.out, passage_sha256, model_id, docs)? {
            eprintln!("keeping the adapted query encoder of the bundle in {} (--adapt adapts it anew)", args.out.display());
            return Ok(Some(previous));
        }
    }
    match adapt::adapt(&models.query_dir, &models.passage_dir, docs, texts, encoder, args.device, args.adapt_minutes)? {
        Ok(adapted) => {
            eprintln!(
                "adapted the query encoder to this corpus in {:.0} s (budget --adapt-minutes {}): {} pseudo-queries, {} word pieces kept",
                adapted.seconds, args.adapt_minutes, adapted.trained_on, adapted.vocab_size
            );
            Ok(Some(adapted))
        }
        Err(why) if args.adapt => bail!("--adapt: {why}"),
        Err(why) => {
            eprintln!("not adapting the query encoder: {why}");
            Ok(None)
        }
    }
}

/// The adapted query encoder of the bundle in `out`, if that bundle's passages came from the
/// passage model with `passage_sha256` and its encoder was adapted from the one named `model_id`.
fn previous_adapted(out: &Path, passage_sha256: &str, model_id: &str, docs: &[SourceDocument]) -> Result<Option<adapt::Adapted>> {
    let Ok(previous) = bundle_io::read(out) else { return Ok(None) };
    let same_passages = previous.manifest.passage_model.as_ref().is_some_and(|p| p.sha256 == passage_sha256);
    if !same_passages || previous.manifest.model.id != format!("{model_id}+adapted") {
        return Ok(None);
    }
    let dir = tempfile::tempdir().context("a temporary folder for the query encoder")?;
    let model = &previous.model;
    for (name, bytes) in [("config.json", &model.config), ("model.safetensors", &model.weights), ("tokenizer.json", &model.tokenizer)] {
        std::fs::write(dir.path().join(name), bytes).with_context(|| format!("writing {}", dir.path().join(name).display()))?;
    }
    let vocab_size = StaticConfig::from_json(&model.config)?.vocab_size;
    Ok(Some(adapt::Adapted { dir, held_back: adapt::pseudo_queries(docs).held_back, seconds: 0.0, vocab_size, trained_on: 0 }))
}

/// The two models of a bundle, by folder; one folder for a symmetric bundle.
pub struct Models {
    pub query_dir: PathBuf,
    pub passage_dir: PathBuf,
}

impl Models {
    /// The flags' models, the defaults fetched or written out. The query encoder's dimension is
    /// checked against the passage model's before any encoding.
    pub fn resolve(args: &IndexArgs) -> Result<Self> {
        let models = match (&args.model, &args.passage_model) {
            (Some(model), None) => {
                let dir = model_folder::resolve(Some(model))?;
                Self { query_dir: dir.clone(), passage_dir: dir }
            }
            (query, passage) => {
                let passage_dir = match passage {
                    Some(dir) => model_folder::resolve(Some(dir)).context("--passage-model")?,
                    None => model_fetch::fetch(model_fetch::DEFAULT_MODEL, None)?,
                };
                let query_dir = match query {
                    Some(dir) => model_folder::resolve(Some(dir)).context("--model")?,
                    None => shipped::query_dir()?,
                };
                Self { query_dir, passage_dir }
            }
        };
        if models.asymmetric() {
            // Only the configs: the weights are read once, when the models encode.
            let dim = |dir: &Path, what: &str| -> Result<usize> {
                let path = dir.join("config.json");
                let config = std::fs::read(&path).with_context(|| format!("{what}: reading {}", path.display()))?;
                EncoderKind::dim_of(&config).with_context(|| format!("{what}: {}", dir.display()))
            };
            let (query, passage) = (dim(&models.query_dir, "the query encoder")?, dim(&models.passage_dir, "--passage-model")?);
            if query != passage {
                bail!(
                    "the query encoder {} makes {query}-dimensional vectors, the passage model {} {passage}-dimensional: it cannot be aligned to it (pass a query encoder trained with `dowse distill --align-to` on this passage model)",
                    models.query_dir.display(),
                    models.passage_dir.display()
                );
            }
        }
        Ok(models)
    }

    pub fn asymmetric(&self) -> bool {
        self.query_dir != self.passage_dir
    }

    /// Prints the agreement of the query encoder in `query_dir` (the flags' or the adapted one)
    /// and refuses one that is not aligned.
    pub fn check(&self, query_dir: &Path, agreement: &alignment::Agreement) -> Result<()> {
        eprintln!(
            "query encoder {} against passage model {} on {} held-back pseudo-queries cut from the corpus: mean cosine {:.3}, recall@10 {:.3} of the passage model's own search",
            folder_name(&self.query_dir),
            folder_name(&self.passage_dir),
            agreement.queries,
            agreement.mean_cosine,
            agreement.recall_at_10
        );
        if agreement.mean_cosine < alignment::MIN_MEAN_COSINE {
            bail!(
                "the query encoder {} is not aligned to the passage model {}: mean cosine {:.3} on {} pseudo-queries, below {} (an encoder trained with `dowse distill --align-to` on this passage model scores above it); a bundle built from them would search wrongly",
                query_dir.display(),
                self.passage_dir.display(),
                agreement.mean_cosine,
                agreement.queries,
                alignment::MIN_MEAN_COSINE
            );
        }
        Ok(())
    }
}

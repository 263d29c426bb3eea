//! The two models of a bundle: which folders the flags name (the passage model and the query
//! encoder, one folder for a symmetric bundle), the plan for the query encoder (adapted to the
//! corpus where it applies ([`super::adapt`]), kept from the bundle being replaced where it can
//! be), and the alignment check's verdict ([`super::alignment`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dowse_core::model::{EncoderKind, StaticConfig};
use dowse_core::passage::SourceDocument;

use super::{adapt, alignment, folder_name, IndexArgs};
use crate::{bundle_io, model_fetch, model_folder, shipped};

/// What becomes of an asymmetric bundle's query encoder, decided before the passage model encodes
/// anything, so that one load of it encodes the passages and every pseudo-query the plan needs.
pub enum Plan {
    /// Ship the query encoder as it is, checked on these pseudo-queries.
    AsIs(Vec<String>),
    /// Keep the adapted encoder of the bundle being replaced, checked on its held-back pseudo-queries.
    Previous(adapt::Adapted),
    /// Adapt it to these pseudo-queries, checked on those held back.
    Adapt(adapt::PseudoQueries),
}

/// The query encoder a bundle ships, and the pseudo-queries its alignment is checked on with the
/// passage model's vectors of them (row-major).
pub struct Chosen {
    pub adapted: Option<adapt::Adapted>,
    pub check: Vec<String>,
    pub teacher: Vec<f32>,
}

impl Plan {
    /// `--adapt` where it applies (on by default), with a line saying why not where it does not.
    /// A bundle already in `--out` whose query encoder was adapted from the same one for the same
    /// passage model keeps it (a re-index after a few pages changed need not train again; its
    /// agreement on the new corpus is still measured); an explicit `--adapt` adapts anew, and is
    /// an error where it cannot.
    pub fn decide(models: &Models, passage_sha256: &str, model_id: &str, docs: &[SourceDocument], args: &IndexArgs) -> Result<Self> {
        let as_is = || Self::AsIs(alignment::check_queries(docs, alignment::CHECK_QUERIES, 0));
        if args.no_adapt {
            eprintln!("--no-adapt: the query encoder ships as it is");
            return Ok(as_is());
        }
        if !args.adapt {
            if let Some(previous) = previous_adapted(&args.out, passage_sha256, model_id, docs)? {
                eprintln!("keeping the adapted query encoder of the bundle in {} (--adapt adapts it anew)", args.out.display());
                return Ok(Self::Previous(previous));
            }
        }
        let queries = adapt::pseudo_queries(docs);
        match adapt::adaptable(&models.query_dir, &queries)? {
            Ok(()) => Ok(Self::Adapt(queries)),
            Err(why) => not_adapting(&why, args).map(|()| as_is()),
        }
    }

    /// The pseudo-queries the passage model encodes for this plan, in the order
    /// [`Plan::carry_out`] reads their vectors.
    pub fn teacher_texts(&self) -> Vec<String> {
        match self {
            Self::AsIs(check) => check.clone(),
            Self::Previous(previous) => previous.held_back.clone(),
            Self::Adapt(queries) => queries.held_back.iter().chain(&queries.train).cloned().collect(),
        }
    }

    /// Carries the plan out, given the passage model's vectors of [`Plan::teacher_texts`]
    /// (`dim` wide) and of the corpus' `passages`.
    pub fn carry_out(self, models: &Models, teacher: Vec<f32>, dim: usize, passages: &[String], args: &IndexArgs) -> Result<Chosen> {
        let queries = match self {
            Self::AsIs(check) => return Ok(Chosen { adapted: None, check, teacher }),
            Self::Previous(previous) => {
                let check = previous.held_back.clone();
                return Ok(Chosen { adapted: Some(previous), check, teacher });
            }
            Self::Adapt(queries) => queries,
        };
        let held = queries.held_back.len() * dim;
        match adapt::adapt(&models.query_dir, &queries, &teacher, dim, passages, args.device, args.adapt_minutes)? {
            Ok(adapted) => {
                eprintln!(
                    "adapted the query encoder to this corpus in {:.0} s (budget --adapt-minutes {}): {} pseudo-queries, {} word pieces kept",
                    adapted.seconds, args.adapt_minutes, adapted.trained_on, adapted.vocab_size
                );
                Ok(Chosen { adapted: Some(adapted), check: queries.held_back, teacher: teacher[..held].to_vec() })
            }
            Err(why) => {
                not_adapting(&why, args)?;
                Ok(Chosen { adapted: None, check: queries.held_back, teacher: teacher[..held].to_vec() })
            }
        }
    }
}

/// Says why the query encoder is not adapted; an error where `--adapt` asked for it.
fn not_adapting(why: &str, args: &IndexArgs) -> Result<()> {
    if args.adapt {
        bail!("--adapt: {why}");
    }
    eprintln!("not adapting the query encoder: {why}");
    Ok(())
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

//! `dowse index --adapt` (on by default for asymmetric bundles): fine-tunes the static query
//! encoder on the corpus' own text before it ships. Pseudo-queries cut from the corpus
//! ([`crate::pseudo_queries`]) are encoded by the passage model (with the passages, through the
//! embedding cache), and
//! the encoder is trained to put them where it does ([`crate::train::align`], started from the
//! shipped weights). Its vocabulary is pruned to the word pieces the corpus uses (the
//! [`MAX_VOCAB`] most frequent), plus the special and single-character pieces, so any query still
//! tokenizes; the pieces left can afford full-width vectors, so the table is widened to the
//! teacher's dimension (each piece's vector multiplied through the map, which becomes the
//! identity: the same encoder to start with, with more room to learn). Up to [`HELD_BACK`]
//! pseudo-queries, picked by a hash of their text (so the same ones on every re-index), are kept
//! out of training: the summary's agreement is measured on them.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use burn_flex::{Flex, FlexDevice};
use dowse_core::model::{load_weights, EncoderKind, StaticConfig, StaticModel, WordPieces};
use dowse_core::passage::SourceDocument;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::device::{run_on, Device};
use crate::train::align::{self, AlignData, AlignJob, AlignSettings, Student};
use crate::train::config::{Settings, TrainConfig};
use crate::train::distill::vocab;
use crate::train::fit::Run;
use crate::{model_folder, pseudo_queries};

/// Pseudo-queries held back from training, for the agreement the summary prints.
pub const HELD_BACK: usize = 500;
/// Fewest pseudo-queries to train on: fewer teach a table of 30,000 pieces nothing it keeps.
pub const MIN_TRAIN: usize = 1_000;
/// Most pseudo-queries to train on (the passage model encodes each: about 20 s per 20,000 on 2 cores).
pub const MAX_TRAIN: usize = 20_000;
/// Most word pieces kept: 12,000 full-width int8 vectors of 384 are 4.6 MB.
pub const MAX_VOCAB: usize = 12_000;
/// Pseudo-queries cut from each document.
const PER_DOCUMENT: usize = 8;
const SEED: u64 = 1;

/// A corpus' pseudo-queries: those held back from training, and the rest.
pub struct PseudoQueries {
    pub held_back: Vec<String>,
    pub train: Vec<String>,
}

/// Cuts `docs` into pseudo-queries and holds back one in [`HOLD_ONE_IN`] by the hash of its text,
/// at most [`HELD_BACK`]; of the rest, shuffled, up to [`MAX_TRAIN`] are kept to train on.
pub fn pseudo_queries(docs: &[SourceDocument]) -> PseudoQueries {
    let (mut held_back, train): (Vec<String>, Vec<String>) =
        pseudo_queries::cut(docs, PER_DOCUMENT, SEED).into_iter().partition(|text| Sha256::digest(text.as_bytes())[0] % HOLD_ONE_IN == 0);
    held_back.truncate(HELD_BACK);
    PseudoQueries { held_back, train: align::sample(train, MAX_TRAIN, SEED) }
}

/// One pseudo-query in this many is held back.
const HOLD_ONE_IN: u8 = 16;

/// An adapted query encoder, in a temporary model folder, and the pseudo-queries held back.
pub struct Adapted {
    pub dir: TempDir,
    pub held_back: Vec<String>,
    pub seconds: f64,
    pub vocab_size: usize,
    pub trained_on: usize,
}

/// Whether the query encoder in `query_dir` can be adapted on `queries`: `Err` says why not.
pub fn adaptable(query_dir: &Path, queries: &PseudoQueries) -> Result<Result<(), String>> {
    let (config, _) = model_folder::read_config_and_tokenizer(query_dir)?;
    if EncoderKind::of(&config)? != EncoderKind::Static {
        return Ok(Err(format!("the query encoder {} is not a static encoder (`dowse distill --align-to`)", query_dir.display())));
    }
    if queries.train.len() < MIN_TRAIN {
        return Ok(Err(format!(
            "the corpus is too small to adapt to: it gives {} pseudo-queries to train on ({PER_DOCUMENT} per document at most, {} held back), and adapting needs {MIN_TRAIN}",
            queries.train.len(),
            queries.held_back.len()
        )));
    }
    Ok(Ok(()))
}

/// Adapts the static query encoder in `query_dir` to a corpus (whose passages are `passages`)
/// with the passage model as the teacher: `targets` are its `dim`-wide vectors of `queries`, held
/// back first, in about `minutes`. `Err` of the inner result says why no encoder came of it.
pub fn adapt(
    query_dir: &Path,
    queries: &PseudoQueries,
    targets: &[f32],
    dim: usize,
    passages: &[String],
    device: Device,
    minutes: f64,
) -> Result<Result<Adapted, String>> {
    let started = Instant::now();
    let model = model_folder::read(query_dir)?;
    let config = StaticConfig::from_json(&model.config).context("the query encoder's config.json")?;
    let held = queries.held_back.len();
    let texts: Vec<String> = queries.held_back.iter().chain(&queries.train).cloned().collect();

    let whole = WordPieces::from_bytes(&model.tokenizer, usize::MAX)?;
    let mut counts = vec![0u64; config.vocab_size];
    for encoded in whole.encode(&passages.iter().map(String::as_str).collect::<Vec<_>>())? {
        encoded.ids.iter().for_each(|&id| counts[id as usize] += 1);
    }
    let pruned = vocab::prune(&model.tokenizer, &counts, MAX_VOCAB)?;
    let mut shipped = StaticModel::<Flex>::new(&config, &FlexDevice);
    load_weights(&mut shipped, &model.weights).context("the query encoder's model.safetensors")?;
    let (table, map) = shipped.parts();
    let width = config.embed_dim;
    let mut wide = vec![0f32; pruned.kept.len() * dim];
    for (row, &old) in wide.chunks_exact_mut(dim).zip(&pruned.kept) {
        for (&value, map_row) in table[old as usize * width..(old as usize + 1) * width].iter().zip(map.chunks_exact(dim)) {
            row.iter_mut().zip(map_row).for_each(|(w, m)| *w += value * m);
        }
    }
    let config = StaticConfig { vocab_size: pruned.kept.len(), embed_dim: dim, ..config };
    let tokenizer = WordPieces::from_bytes(&pruned.tokenizer_json, config.max_len)?;
    let student =
        Student { config: config.clone(), tokenizer, tokenizer_json: pruned.tokenizer_json, table: wide, map: align::init::identity(dim) };

    let trained_on = queries.train.len();
    let settings = TrainConfig::<AlignSettings> {
        train: crate::train::config::LoopConfig {
            epochs: 12,
            validation_fraction: held as f64 / texts.len() as f64,
            ..AlignSettings::loop_defaults()
        },
        model: AlignSettings { max_len: config.max_len, ..AlignSettings::default() },
        loss: AlignSettings::loss_defaults(),
    };
    let out = tempfile::tempdir().context("a temporary folder for the adapted encoder")?;
    let remaining = Duration::from_secs_f64(minutes.max(0.0) * 60.0).saturating_sub(started.elapsed());
    let run = Run {
        config: &settings.train,
        config_text: String::new(),
        out: out.path(),
        resume: false,
        max_steps: None,
        deadline: Some(Instant::now() + remaining),
        workers: device.training_workers(),
    };
    let data = AlignData { texts, targets: targets.to_vec(), dim };
    let outcome = run_on(device, AlignJob { data, student, config: &settings, run })??;
    if outcome.best_epoch.is_none() {
        return Ok(Err(format!("no epoch of training finished within --adapt-minutes {minutes}")));
    }
    Ok(Ok(Adapted {
        dir: out,
        held_back: queries.held_back.clone(),
        seconds: started.elapsed().as_secs_f64(),
        vocab_size: config.vocab_size,
        trained_on,
    }))
}

#[cfg(test)]
mod tests {
    use dowse_core::passage::Section;

    use super::*;

    fn report(i: usize) -> SourceDocument {
        let text = format!("Wing {i} fluttered at Mach {i}. The panel of wing {i} cracked under load. Engineers measured {i} modes of it.");
        SourceDocument {
            id: i.to_string(),
            title: format!("Report {i} on wing flutter"),
            sections: vec![Section { text, ..Section::default() }],
            ..SourceDocument::default()
        }
    }

    /// The summary's agreement is measured on pseudo-queries held back by the hash of their text,
    /// never trained on, and at most [`HELD_BACK`] of them however large the corpus.
    #[test]
    fn held_back_pseudo_queries_stay_out_of_training_up_to_the_cap() {
        for (documents, capped) in [(250, false), (2_000, true)] {
            let docs: Vec<SourceDocument> = (0..documents).map(report).collect();
            let queries = pseudo_queries(&docs);
            assert_eq!(queries.held_back.len() == HELD_BACK, capped, "{documents} documents: {} held back", queries.held_back.len());
            assert!(!queries.held_back.is_empty() && queries.held_back.iter().all(|q| !queries.train.contains(q)));
            assert_eq!(pseudo_queries(&docs).held_back, queries.held_back, "the same ones on every re-index");
        }
    }
}

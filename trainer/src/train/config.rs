//! Training configuration: typed TOML with a default for every field, so a config file holds
//! only what it changes. `configs/` has one file per model with every default written out.
//! Sections: `[train]` (the loop, shared by every model, with defaults that suit the model),
//! `[model]` (the model's own) and `[loss]` (the model's loss).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The training loop's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopConfig {
    /// Seeds the weights, the split, the batch order and the sampled negatives.
    pub seed: u64,
    pub epochs: usize,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Micro-batches whose gradients add up to one optimizer step.
    pub grad_accumulation: usize,
    /// AdamW.
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Save a checkpoint every this many optimizer steps (and at the end of every epoch).
    pub checkpoint_every: usize,
    /// Stop after this many epochs without a better validation nDCG@10.
    pub patience: usize,
    /// Share of the training queries held out for validation.
    pub validation_fraction: f64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            epochs: 10,
            batch_size: 64,
            grad_accumulation: 1,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            checkpoint_every: 100,
            patience: 3,
            validation_fraction: 0.1,
        }
    }
}

/// A model's `[model]` section: it names the model's `[loss]` section, and the loop and loss
/// defaults that suit the model (a BERT fine-tune wants another learning rate than a DSSM trained from scratch).
pub trait Settings: Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug {
    type Loss: Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug;

    fn loop_defaults() -> LoopConfig {
        LoopConfig::default()
    }

    fn loss_defaults() -> Self::Loss {
        Self::Loss::default()
    }
}

/// A whole config file: the loop, the model's own settings `M`, and its loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "M: Settings")]
pub struct TrainConfig<M: Settings> {
    #[serde(default)]
    pub train: LoopConfig,
    #[serde(default)]
    pub model: M,
    #[serde(default)]
    pub loss: M::Loss,
}

impl<M: Settings> Default for TrainConfig<M> {
    fn default() -> Self {
        Self { train: M::loop_defaults(), model: M::default(), loss: M::loss_defaults() }
    }
}

impl<M: Settings> TrainConfig<M> {
    /// Reads `path` over the model's defaults, or the defaults when there is none.
    pub fn read(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let invalid = || format!("{}: not a valid training config", path.display());
        // Parsing the text on its own reports a bad key or value with its line.
        toml::from_str::<Self>(&text).with_context(invalid)?;
        let mut merged = toml::Table::try_from(Self::default())?;
        overlay(&mut merged, toml::from_str(&text).with_context(invalid)?);
        let config: Self = merged.try_into().with_context(invalid)?;
        // Checked here, before a model cuts its steps into micro-batches by these numbers.
        let train = &config.train;
        if train.batch_size == 0 || train.grad_accumulation == 0 || train.checkpoint_every == 0 {
            bail!("{}: [train] batch_size, grad_accumulation and checkpoint_every must be at least 1", path.display());
        }
        Ok(config)
    }
}

/// Writes `over`'s values into `base`, table by table.
fn overlay(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => overlay(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::align::AlignSettings;
    use crate::train::bi_encoder::BiEncoderSettings;
    use crate::train::cross_encoder::CrossEncoderSettings;
    use crate::train::distill::DistillSettings;
    use crate::train::dsi::DsiSettings;
    use crate::train::dssm::DssmSettings;
    use crate::train::lstm::LstmSettings;

    fn checked_in_is_default<M: Settings>(file: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(file);
        assert_eq!(TrainConfig::<M>::read(Some(&path)).unwrap(), TrainConfig::<M>::read(None).unwrap(), "{file}");
    }

    #[test]
    fn a_partial_section_keeps_the_model_s_own_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ce.toml");
        std::fs::write(&path, "[train]\nepochs = 5\n\n[loss]\nkind = \"bce\"\n").unwrap();
        let config = TrainConfig::<CrossEncoderSettings>::read(Some(&path)).unwrap();
        assert_eq!(config.train.epochs, 5);
        assert_eq!(config.train.learning_rate, CrossEncoderSettings::loop_defaults().learning_rate);
        assert_eq!(config.loss.kind, crate::train::cross_encoder::RerankLoss::Bce);
        std::fs::write(&path, "[train]\nepochs = 5\n\n[model]\nnegativs = 3\n").unwrap();
        let error = format!("{:#}", TrainConfig::<CrossEncoderSettings>::read(Some(&path)).unwrap_err());
        assert!(error.contains("line 5") && error.contains("negativs"), "{error}");
    }

    #[test]
    fn the_checked_in_configs_are_the_defaults() {
        checked_in_is_default::<DssmSettings>("dssm.toml");
        checked_in_is_default::<LstmSettings>("two-tower.toml");
        checked_in_is_default::<CrossEncoderSettings>("cross-encoder.toml");
        checked_in_is_default::<BiEncoderSettings>("bi-encoder.toml");
        checked_in_is_default::<DistillSettings>("distill.toml");
        checked_in_is_default::<AlignSettings>("query.toml");
        checked_in_is_default::<DsiSettings>("dsi.toml");
    }

    #[test]
    fn the_shipped_student_s_recipe_reads_in_both_stages() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/student.toml");
        let config = TrainConfig::<DistillSettings>::read(Some(&path)).unwrap();
        assert_eq!((config.model.layers, config.model.max_vocab, config.train.epochs), (2, 10_000, 12));
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/student-narrow.toml");
        let config = TrainConfig::<DistillSettings>::read(Some(&path)).unwrap();
        assert_eq!((config.model.layers, config.model.max_vocab, config.model.intermediate_size), (2, 0, 768));
    }
}

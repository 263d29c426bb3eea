//! Training configuration: typed TOML with a default for every field, so a config file holds
//! only what it changes. `configs/` has one file per model with every default written out.
//! Sections: `[train]` (the loop, shared by every model), `[model]` (the model's own) and
//! `[loss]`.

use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::contrastive::LossConfig;

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

/// A whole config file: the loop, the model's own settings `M`, and the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig<M> {
    #[serde(default)]
    pub train: LoopConfig,
    #[serde(default)]
    pub model: M,
    #[serde(default)]
    pub loss: LossConfig,
}

impl<M: DeserializeOwned + Default> TrainConfig<M> {
    /// Reads `path`, or the defaults when there is none.
    pub fn read(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self { train: LoopConfig::default(), model: M::default(), loss: LossConfig::default() });
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a valid training config", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::dssm::DssmSettings;
    use crate::train::lstm::LstmSettings;

    fn checked_in_is_default<M: DeserializeOwned + Default + PartialEq + std::fmt::Debug>(file: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(file);
        assert_eq!(TrainConfig::<M>::read(Some(&path)).unwrap(), TrainConfig::<M>::read(None).unwrap(), "{file}");
    }

    #[test]
    fn the_checked_in_configs_are_the_defaults() {
        checked_in_is_default::<DssmSettings>("dssm.toml");
        checked_in_is_default::<LstmSettings>("two-tower.toml");
    }
}

//! LoRA: low-rank adapters on BERT's attention projections. An adapter adds
//! `scale * x * down * up` to a projection `x * W + b` (`down` is `[in, rank]`, `up` is
//! `[rank, out]`, `scale = alpha / rank`); `up` starts at zero, so a model with fresh adapters
//! computes exactly what its base does. While adapters train, the base weights stay frozen;
//! [`Lora::merge`] folds an adapter into its projection's weight, so what ships is a plain BERT
//! that every loader reads.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which adapters to train: the `[model.lora]` section of a training config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank of each adapter; 0 trains every weight of the model instead.
    pub rank: usize,
    /// The adapters' updates are scaled by `alpha / rank`.
    pub alpha: f64,
    /// The attention projections that get an adapter, in every layer.
    pub targets: Vec<LoraTarget>,
}

impl Default for LoraConfig {
    /// Off; when a rank is set, Hugging Face PEFT's defaults for BERT: alpha 16 on query and value.
    fn default() -> Self {
        Self { rank: 0, alpha: 16.0, targets: vec![LoraTarget::Query, LoraTarget::Value] }
    }
}

impl LoraConfig {
    pub fn enabled(&self) -> bool {
        self.rank > 0 && !self.targets.is_empty()
    }
}

impl std::fmt::Display for LoraConfig {
    /// What trains, in words: "LoRA rank 8, alpha 16 on query, value" or "every weight".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.enabled() {
            return write!(f, "every weight");
        }
        let targets: Vec<&str> = self.targets.iter().map(|t| t.name()).collect();
        write!(f, "LoRA rank {}, alpha {} on {}", self.rank, self.alpha, targets.join(", "))
    }
}

/// An attention projection of a BERT layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoraTarget {
    Query,
    Key,
    Value,
    /// The dense layer after attention (`attention.output.dense` in Hugging Face's names).
    AttentionOutput,
}

impl LoraTarget {
    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Key => "key",
            Self::Value => "value",
            Self::AttentionOutput => "attention_output",
        }
    }
}

/// One adapter: a trainable low-rank update of a frozen projection.
#[derive(Module, Debug)]
pub struct Lora<B: Backend> {
    down: Param<Tensor<B, 2>>,
    up: Param<Tensor<B, 2>>,
    scale: f64,
}

impl<B: Backend> Lora<B> {
    /// A fresh adapter for `linear`: `down` initialised as Linear layers are (Kaiming uniform,
    /// as PEFT does), `up` zero.
    pub fn new(linear: &Linear<B>, config: &LoraConfig) -> Self {
        let weight = linear.weight.val();
        let [inputs, outputs] = weight.dims();
        let device = weight.device();
        let rank = config.rank;
        let kaiming = Initializer::KaimingUniform { gain: 1.0 / 3.0f64.sqrt(), fan_out_only: false };
        Self {
            down: kaiming.init_with([inputs, rank], Some(inputs), Some(rank), &device),
            up: Initializer::Zeros.init([rank, outputs], &device),
            scale: config.alpha / rank as f64,
        }
    }

    /// `x * W + b` of `linear`, plus this adapter's update.
    pub fn forward(&self, linear: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let update = x.clone().matmul(self.down.val()).matmul(self.up.val()).mul_scalar(self.scale);
        linear.forward(x) + update
    }

    /// `linear` with this adapter folded into its weight: `W + scale * down * up`.
    pub fn merge(self, mut linear: Linear<B>) -> Linear<B> {
        let update = self.down.val().matmul(self.up.val()).mul_scalar(self.scale);
        let weight = linear.weight.val() + update;
        linear.weight = Param::from_tensor(weight.detach());
        linear
    }
}

/// `linear(x)`, through `adapter` when there is one.
pub(super) fn project<B: Backend>(linear: &Linear<B>, adapter: &Option<Lora<B>>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    match adapter {
        Some(adapter) => adapter.forward(linear, x),
        None => linear.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use burn_flex::{Flex, FlexDevice};

    use super::*;

    type B = Flex;

    fn trained(linear: &Linear<B>, config: &LoraConfig) -> Lora<B> {
        let mut adapter = Lora::new(linear, config);
        let shape = adapter.up.val().dims();
        adapter.up = Param::from_tensor(Tensor::random(shape, Distribution::Normal(0.0, 1.0), &FlexDevice));
        adapter
    }

    #[test]
    fn a_fresh_adapter_changes_nothing_and_a_merged_one_computes_what_it_did() {
        let device = FlexDevice;
        let linear = LinearConfig::new(12, 5).init::<B>(&device);
        let x = Tensor::<B, 2>::random([3, 12], Distribution::Normal(0.0, 1.0), &device);
        let config = LoraConfig { rank: 2, alpha: 4.0, ..LoraConfig::default() };
        let fresh = Lora::new(&linear, &config);
        assert_eq!(fresh.down.val().dims(), [12, 2]);
        assert_eq!(fresh.up.val().dims(), [2, 5]);
        fresh.forward(&linear, x.clone()).into_data().assert_eq(&linear.forward(x.clone()).into_data(), true);

        let adapter = trained(&linear, &config);
        let adapted = adapter.forward(&linear, x.clone()).into_data();
        assert_ne!(adapted, linear.forward(x.clone()).into_data());
        let merged = adapter.merge(linear.clone());
        merged.forward(x).into_data().assert_approx_eq::<f32>(&adapted, Tolerance::absolute(1e-5));
    }

    #[test]
    fn the_update_is_scaled_by_alpha_over_rank() {
        let device = FlexDevice;
        let mut linear = LinearConfig::new(2, 2).with_bias(false).init::<B>(&device);
        linear.weight = Param::from_tensor(Tensor::zeros([2, 2], &device));
        let mut adapter = Lora::new(&linear, &LoraConfig { rank: 1, alpha: 3.0, ..LoraConfig::default() });
        adapter.down = Param::from_tensor(Tensor::from_data(TensorData::from([[1.0f32], [2.0]]), &device));
        adapter.up = Param::from_tensor(Tensor::from_data(TensorData::from([[1.0f32, -1.0]]), &device));
        let merged = adapter.merge(linear);
        merged.weight.val().into_data().assert_eq(&TensorData::from([[3.0f32, -3.0], [6.0, -6.0]]), true);
    }

    #[test]
    fn config_reads_targets_by_name() {
        let config: LoraConfig = serde_json::from_str(r#"{"rank": 8, "targets": ["key", "attention_output"]}"#).unwrap();
        assert_eq!(config, LoraConfig { rank: 8, alpha: 16.0, targets: vec![LoraTarget::Key, LoraTarget::AttentionOutput] });
        assert!(config.enabled());
        assert_eq!(config.to_string(), "LoRA rank 8, alpha 16 on key, attention_output");
        assert_eq!(LoraConfig::default().to_string(), "every weight");
        assert!(!LoraConfig::default().enabled());
        assert!(serde_json::from_str::<LoraConfig>(r#"{"targets": ["intermediate"]}"#).is_err());
    }
}

//! Mixed precision for the BERT trainers: the weights and AdamW's moments stay in f32, and each
//! step's forward and backward passes run on a copy of the weights cast to bf16 or f16. The
//! casts are part of the autodiff graph, so gradients reach the f32 weights, and the models hand
//! their outputs (logits, pooled vectors) back in f32, so every loss is computed in f32.

use anyhow::{bail, Result};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// What a training step computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// bfloat16: f32's range, 8 bits of mantissa; needs no loss scaling.
    Bf16,
    /// IEEE half: more mantissa, but gradients under 6e-8 flush to zero.
    F16,
}

impl Precision {
    fn dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::Bf16 => FloatDType::BF16,
            Self::F16 => FloatDType::F16,
        }
    }

    /// Fails, naming the backend, when it cannot compute in this precision.
    pub fn check<B: Backend>(self, device: &B::Device) -> Result<()> {
        if !B::supports_dtype(device, DType::from(self.dtype())) {
            bail!("[model] precision = {:?}: the {} backend cannot compute in it on this device", self, B::name(device));
        }
        Ok(())
    }

    /// `model` with every float parameter cast to this precision (itself for f32).
    pub fn cast<B: Backend, M: Module<B>>(self, model: &M) -> M {
        match self {
            Self::F32 => model.clone(),
            _ => model.clone().map(&mut Caster(self.dtype())),
        }
    }
}

struct Caster(FloatDType);

impl<B: Backend> ModuleMapper<B> for Caster {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.cast(self.0), mapper)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Autodiff;
    use burn::module::AutodiffModule;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;
    use burn_flex::{Flex, FlexDevice};

    use super::*;

    type B = Autodiff<Flex>;

    #[test]
    fn a_half_precision_step_sends_gradients_to_the_f32_weights() {
        let device = FlexDevice;
        let linear: Linear<B> = LinearConfig::new(16, 4).init(&device);
        let x = Tensor::<B, 2>::random([8, 16], Distribution::Normal(0.0, 1.0), &device);
        let full = GradientsParams::from_grads(linear.forward(x.clone()).powi_scalar(2).sum().backward(), &linear);
        for precision in [Precision::Bf16, Precision::F16] {
            precision.check::<B>(&device).unwrap();
            let half = precision.cast(&linear);
            assert_eq!(half.weight.val().dtype(), DType::from(precision.dtype()));
            assert_eq!(linear.weight.val().dtype(), DType::F32, "the weights themselves stay f32");
            let y = half.forward(x.clone().cast(precision.dtype())).cast(FloatDType::F32);
            let grads = GradientsParams::from_grads(y.powi_scalar(2).sum().backward(), &linear);
            let grad = grads.get::<Flex, 2>(linear.weight.id).expect("the f32 weight has a gradient");
            assert_eq!(grad.dtype(), DType::F32);
            let expected = full.get::<Flex, 2>(linear.weight.id).unwrap();
            let error = (grad - expected.clone()).abs().max().into_scalar();
            let scale = expected.abs().max().into_scalar();
            assert!(error < scale * 0.05, "{precision:?}: gradient off by {error} of {scale}");
        }
        assert_eq!(Precision::F32.cast(&linear).valid().weight.val().dtype(), DType::F32);
    }

    #[test]
    fn configs_name_precisions_in_lowercase() {
        #[derive(Deserialize)]
        struct Section {
            precision: Precision,
        }
        let section: Section = toml::from_str("precision = \"bf16\"").unwrap();
        assert_eq!(section.precision, Precision::Bf16);
        assert!(toml::from_str::<Section>("precision = \"fp8\"").is_err());
    }
}

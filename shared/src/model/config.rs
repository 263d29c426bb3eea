//! `config.json` of a Hugging Face BERT checkpoint: the fields the encoder needs.

use serde::{Deserialize, Serialize};

use super::ModelError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    /// BERT checkpoints use 1e-12, not Burn's 1e-5 default: read it, never assume it.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Class names of a classification head (cross-encoders have one: relevance).
    #[serde(default)]
    pub id2label: std::collections::BTreeMap<String, String>,
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".to_string()
}

impl BertConfig {
    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| ModelError::Config(e.to_string()))?;
        if config.hidden_act != "gelu" {
            return Err(ModelError::Config(format!("field `hidden_act`: {:?} is not supported (only exact \"gelu\")", config.hidden_act)));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(ModelError::Config(format!(
                "field `num_attention_heads`: {} does not divide hidden_size {}",
                config.num_attention_heads, config.hidden_size
            )));
        }
        Ok(config)
    }
}

//! `dowse export --model DIR --format onnx [--int8] --out DIR`: a model folder that other tools
//! load. The graph is built from the model's weights ([`networks`] on [`graph`], messages in
//! [`proto`]) and written with the layout of a Hugging Face ONNX export ([`layout`]): the model's
//! config and tokenizer, its weights in f32 (so `transformers` reads them), `onnx/model.onnx`,
//! with `--int8` also `onnx/model_quantized.onnx`, and for a sentence encoder the
//! sentence-transformers modules. BERT encoders, cross-encoders and static encoders export;
//! DSSM and LSTM models are refused, and so is a folder that holds no model, before anything is
//! written.

pub mod graph;
pub mod layout;
pub mod networks;
pub mod proto;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dowse_core::model::{dequantize_int8, quantize_int8, BertConfig, EncoderKind, StaticConfig};
use prost::Message;
use safetensors::SafeTensors;

use crate::{atomic, model_folder};
use graph::Weights;
use networks::Head;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model folder to export (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Onnx)]
    pub format: Format,
    /// Also write a graph with int8 weights and dynamically quantized matrix products.
    #[arg(long)]
    pub int8: bool,
    /// The folder to write (missing, empty, or one `dowse export` wrote before).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// ONNX (opset 17), in the layout Transformers.js and ONNX Runtime load.
    Onnx,
}

/// What kind of network a model folder holds, as far as export is concerned.
enum Network {
    Bert(BertConfig, Head),
    Static(StaticConfig),
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let files = export(args)?;
    atomic::write_folder(&args.out, layout::ONNX_F32, files.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice())))?;
    println!("exported {} to {} ({:?}):", args.model.display(), args.out.display(), args.format);
    for (path, bytes) in &files {
        println!("  {path}: {} bytes", bytes.len());
    }
    Ok(())
}

/// The exported folder's files (path inside it, bytes).
pub fn export(args: &ExportArgs) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = &args.model;
    if !dir.join("config.json").is_file() || !dir.join("model.safetensors").is_file() {
        bail!("{}: not a model folder (it needs config.json and model.safetensors)", dir.display());
    }
    let model = model_folder::read(dir)?;
    let config_path = dir.join("config.json");
    let network = match EncoderKind::of(&model.config).with_context(|| format!("{}", config_path.display()))? {
        EncoderKind::Bert => {
            let head = if model_folder::names_a_cross_encoder(&model.config, &config_path)? { Head::Classifier } else { Head::Sentence };
            Network::Bert(BertConfig::from_json(&model.config).with_context(|| format!("{}", config_path.display()))?, head)
        }
        EncoderKind::Static => {
            Network::Static(StaticConfig::from_json(&model.config).with_context(|| format!("{}", config_path.display()))?)
        }
        kind @ (EncoderKind::Dssm | EncoderKind::Lstm) => bail!(
            "{}: a {kind:?} model cannot be exported to ONNX (export covers BERT encoders, cross-encoders and static encoders)",
            dir.display()
        ),
    };
    let weights_path = dir.join("model.safetensors");
    let floats = dequantize_int8(&model.weights).with_context(|| format!("{}", weights_path.display()))?.into_owned();
    let codes = if args.int8 { quantize_int8(&floats).with_context(|| format!("{}", weights_path.display()))? } else { Vec::new() };
    let parse = |bytes| SafeTensors::deserialize(bytes).with_context(|| format!("{}", weights_path.display()));
    let graph = |int8: bool| -> Result<Vec<u8>> {
        let weights = Weights { floats: parse(&floats)?, codes: if int8 { Some(parse(&codes)?) } else { None } };
        let proto = match &network {
            Network::Bert(config, head) => networks::bert(&weights, config, *head, int8)?,
            Network::Static(config) => networks::static_encoder(&weights, config, int8)?,
        };
        Ok(proto.encode_to_vec())
    };

    let mut files = vec![(layout::ONNX_F32.to_string(), graph(false)?)];
    if args.int8 {
        files.push((layout::ONNX_INT8.to_string(), graph(true)?));
    }
    match &network {
        Network::Bert(config, Head::Sentence) => files.extend(layout::sentence_encoder(config)),
        Network::Bert(config, Head::Classifier) => files.push(layout::tokenizer_config(layout::bert_max_len(config))),
        Network::Static(config) => {
            let weights = Weights { floats: parse(&floats)?, codes: None };
            files.extend(layout::static_encoder(config, &weights, &model.tokenizer)?);
            files.push(layout::tokenizer_config(config.max_len));
        }
    }
    // A static encoder's weights are dowse's own format; a BERT's are written in f32, which
    // `transformers` reads (it has no reader for dowse's int8 rows).
    let weights = if matches!(network, Network::Static(_)) { model.weights } else { floats };
    files.extend([
        ("config.json".to_string(), model.config),
        ("tokenizer.json".to_string(), model.tokenizer),
        ("model.safetensors".to_string(), weights),
    ]);
    Ok(files)
}

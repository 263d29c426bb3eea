//! `dowse index`: corpus -> passages -> BM25 + vectors + HNSW graph -> bundle folder.
//!
//! [`input`] reads the corpus (with [`html`] and [`charset`] for static sites), dowse-core cuts passages and
//! builds BM25, [`crate::encode`] embeds (through the embedding cache), [`graph`] builds the
//! HNSW graph, [`fragments`] cuts format 2's fragments from it, and [`crate::bundle_io`] writes it
//! all atomically, with the browser app from [`app`] beside it when asked.
//!
//! By default a bundle is asymmetric: the passage model (all-MiniLM-L6-v2) encodes the passages
//! here, natively, and the bundle ships only the small query encoder aligned to it
//! ([`crate::shipped`]), which [`alignment`] checks before anything is written. `--model` alone
//! builds a symmetric bundle, its model encoding both sides.

pub mod adapt;
pub mod alignment;
pub mod app;
pub mod charset;
pub mod fragments;
pub mod graph;
pub mod html;
pub mod input;
pub mod query_encoder;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::{Bundle, HnswInfo, Manifest, ModelBytes, ModelInfo, PassageModelInfo, RescoreCheck, FORMAT, FORMAT_VERSION};
use dowse_core::dense_chunks::CalibrationQueries;
use dowse_core::docstore::{DocStore, StoredDocument};
use dowse_core::fragments::FragmentConfig;
use dowse_core::model::{DssmConfig, EncoderKind, TextMeasure, TextTokenizer, TrigramVocab, TwoTowerConfig};
use dowse_core::passage::{split_documents, ChunkConfig};
use dowse_core::projection::Projection;
use dowse_core::text::Analyzer;
use dowse_core::vectors::{Quantization, VectorStore};
use indicatif::ProgressBar;

use crate::device::Device;
use crate::{bundle_io, embed_cache, model_fetch, model_folder, shipped};
use graph::{Calibrated, GraphConfig};
use query_encoder::{Models, Plan};

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// A BEIR folder, SMART collection folder, JSONL file, CSV (query,passage,label) or a folder of HTML pages.
    #[arg(long)]
    pub input: PathBuf,
    /// The query encoder, shipped in the bundle: a Hugging Face BERT folder, a static encoder
    /// (`dowse distill --align-to`), or a DSSM or two-tower LSTM that `dowse train` wrote; default:
    /// the static encoder that ships inside dowse, aligned to all-MiniLM-L6-v2. Given without
    /// --passage-model, it encodes the passages too (a symmetric bundle).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The model that encodes the passages, here and never in the bundle; the query encoder must
    /// be aligned to it. Default (without --model): all-MiniLM-L6-v2, fetched as `dowse model
    /// fetch` does.
    #[arg(long)]
    pub passage_model: Option<PathBuf>,
    /// Fine-tune the static query encoder on this corpus' own text before it ships (the default
    /// for asymmetric bundles; given explicitly, a corpus too small to adapt to is an error
    /// instead of a skip).
    #[arg(long, conflicts_with = "no_adapt")]
    pub adapt: bool,
    /// Ship the query encoder as it is.
    #[arg(long)]
    pub no_adapt: bool,
    /// Time budget for --adapt, in minutes: training stops at the first step after it.
    #[arg(long, default_value_t = 5.0)]
    pub adapt_minutes: f64,
    /// The bundle folder to write (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// How vectors are stored: f32, f16, int8 or binary.
    #[arg(long, default_value = "int8")]
    pub quant: Quantization,
    /// HNSW neighbours per node (twice as many on the bottom layer).
    #[arg(long, default_value_t = GraphConfig::default().m)]
    pub m: usize,
    /// HNSW beam width while building.
    #[arg(long, default_value_t = GraphConfig::default().ef_construction)]
    pub ef_construction: usize,
    /// Smallest default HNSW beam width for searches of this bundle: doubled until held-out
    /// passages reach --target-recall.
    #[arg(long, default_value_t = GraphConfig::default().ef_search)]
    pub ef_search: usize,
    /// Recall@10 against exact search that the default beam width must reach on held-out
    /// passages; where no beam cheaper than a scan reaches it, the bundle searches exactly.
    /// 0 keeps --ef-search as given.
    #[arg(long, default_value_t = GraphConfig::default().target_recall, value_parser = parse_recall)]
    pub target_recall: f64,
    /// Build the HNSW graph one point at a time, so the same input always gives a byte-identical
    /// bundle (browsers keep their cached files); parallel insertion is faster on many cores but
    /// its graph depends on thread timing.
    #[arg(long)]
    pub reproducible: bool,
    /// Word pieces per passage, title and special tokens included (the encoder reads no more).
    #[arg(long, default_value_t = ChunkConfig::default().max_tokens)]
    pub max_tokens: usize,
    /// Word pieces shared by consecutive passages of a section.
    #[arg(long, default_value_t = ChunkConfig::default().overlap)]
    pub overlap: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Re-encode the passages even when cached embeddings exist.
    #[arg(long)]
    pub no_cache: bool,
    /// Also write the built browser app (Trunk's dist folder, default `dist`) and `dowse.js` into
    /// the bundle folder, so a static site gets search from one <div> and one <script>.
    #[arg(long, value_name = "DIST", num_args = 0..=1, default_missing_value = "dist")]
    pub with_app: Option<PathBuf>,
}

/// A corpus cut into passages and embedded: what every section of a bundle is built from.
pub struct Prepared {
    /// The query encoder's files, and the name the manifest records for it.
    pub model: ModelBytes,
    pub model_id: String,
    /// The passage model of an asymmetric bundle.
    pub passage_model: Option<PassageModelInfo>,
    pub store: DocStore,
    /// Each passage's text as the encoder and BM25 read it.
    pub texts: Vec<String>,
    /// Row-major `[passages, dim]` unit vectors.
    pub matrix: Vec<f32>,
    pub dim: usize,
    /// How passages were cut: the flags', with passages no longer than the model reads.
    pub chunking: ChunkConfig,
    /// The shipped query encoder's vectors (row-major) of the pseudo-queries its alignment was
    /// checked on, which calibrate format 2's rescore depth; none in a symmetric bundle.
    pub query_vectors: Vec<f32>,
}

pub fn run(args: &IndexArgs) -> Result<()> {
    let started = Instant::now();
    check_output(&args.input, &args.out)?;
    // Read the app first: a missing build should fail before minutes of encoding, not after.
    let app = match &args.with_app {
        Some(dist) => app::files(dist)?,
        None => Vec::new(),
    };
    let mut prepared = prepare(args)?;
    let query_vectors = std::mem::take(&mut prepared.query_vectors);
    let mut bundle = build(prepared, args);
    let step = Instant::now();
    let cut = fragments::cut(&mut bundle, &query_vectors, &FragmentConfig::default())?;
    print_fragments(&bundle, &cut, step);
    let extra: Vec<(String, Vec<u8>)> = app.into_iter().chain(cut).collect();
    let sizes = bundle_io::write(&bundle, &extra, &args.out)?;
    print_summary(&bundle, &sizes, &args.out, started);
    Ok(())
}

/// Reads the input, cuts it into passages and embeds them; for an asymmetric bundle, checks that
/// the query encoder is aligned to the passage vectors.
pub fn prepare(args: &IndexArgs) -> Result<Prepared> {
    let models = Models::resolve(args)?;
    let (config, tokenizer) = model_folder::read_config_and_tokenizer(&models.passage_dir)?;
    let (measure, chunking) =
        passage_measure(&config, &tokenizer, args.chunking()).with_context(|| format!("{}", models.passage_dir.display()))?;
    let step = Instant::now();
    let docs = input::read(&args.input)?;
    let passages = split_documents(&docs, measure.as_ref(), chunking)?;
    if passages.is_empty() {
        bail!("{}: no text to index", args.input.display());
    }
    // The documents stay whole until the query encoder is adapted to them and checked.
    let documents = docs.iter().map(|d| StoredDocument { id: d.id.clone(), title: d.title.clone(), url: d.url.clone() }).collect();
    let store = DocStore { documents, passages };
    let texts: Vec<String> = (0..store.passages.len() as u32).map(|p| store.passage_text(p)).collect();
    eprintln!("read {} documents into {} passages in {:.1} s", docs.len(), texts.len(), step.elapsed().as_secs_f64());
    let encoder = args.device.encoder(chunking.max_tokens, args.batch_size);
    let mut model_id = model_id(args.model.as_deref());
    let sha256 = model_fetch::sha256_file(&models.passage_dir.join("model.safetensors"))?;
    let plan = match models.asymmetric() {
        true => Some(Plan::decide(&models, &sha256, &model_id, &docs, args)?),
        false => None,
    };
    let pseudo_queries = plan.as_ref().map(Plan::teacher_texts).unwrap_or_default();
    let cached = [("passage", texts.as_slice()), ("pseudo-query", pseudo_queries.as_slice())];
    let mut embedded = embed_cache::embed(&models.passage_dir, encoder, args.device, &[], &cached, !args.no_cache)?;
    let dim = embedded.dim;
    let teacher = embedded.passages.split_off(texts.len() * dim);
    let matrix = embedded.passages;
    let (model, passage_model, query_vectors) = match plan {
        None => (model_folder::read(&models.query_dir)?, None, Vec::new()),
        Some(plan) => {
            let chosen = plan.carry_out(&models, teacher, dim, &texts, args)?;
            let query_dir = chosen.adapted.as_ref().map_or(models.query_dir.as_path(), |adapted| adapted.dir.path());
            let (agreement, query_vectors) = alignment::measure(query_dir, encoder, args.device, &chosen.check, &chosen.teacher, &matrix)?;
            models.check(query_dir, &agreement)?;
            if chosen.adapted.is_some() {
                model_id.push_str("+adapted");
            }
            let passage_model = PassageModelInfo { id: folder_name(&models.passage_dir), dim, sha256 };
            (model_folder::read(query_dir)?, Some(passage_model), query_vectors)
        }
    };
    Ok(Prepared { model, model_id, passage_model, store, texts, matrix, dim, chunking, query_vectors })
}

/// How a model measures passages (word pieces, or words for a DSSM), from its config and
/// tokenizer, and `chunking` with passages no longer than the model reads.
fn passage_measure(config: &[u8], tokenizer: &[u8], chunking: ChunkConfig) -> Result<(Box<dyn TextMeasure>, ChunkConfig)> {
    let capped = |max: usize| ChunkConfig { max_tokens: chunking.max_tokens.min(max), ..chunking };
    let text_tokenizer = || TextTokenizer::from_bytes(tokenizer, chunking.max_tokens).context("reading the model's tokenizer.json");
    Ok(match EncoderKind::of(config)? {
        EncoderKind::Bert | EncoderKind::Static => (Box::new(text_tokenizer()?), chunking),
        EncoderKind::Lstm => (Box::new(text_tokenizer()?), capped(TwoTowerConfig::from_json(config)?.max_len)),
        EncoderKind::Dssm => {
            let vocab = TrigramVocab::from_bytes(tokenizer)?;
            (Box::new(vocab), capped(DssmConfig::from_json(config)?.max_words))
        }
    })
}

/// Builds every section: BM25, quantized vectors, the HNSW graph, and the manifest.
pub fn build(prepared: Prepared, args: &IndexArgs) -> Bundle {
    let Prepared { model, model_id, passage_model, store, texts, matrix, dim, chunking, .. } = prepared;
    let step = Instant::now();
    let analyzer = Analyzer::default();
    let bm25 = Bm25Index::build(Bm25Params::default(), texts.iter().map(|t| analyzer.analyze(t)));
    eprintln!("built BM25 in {:.1} s", step.elapsed().as_secs_f64());

    let step = Instant::now();
    let vectors = VectorStore::quantize(&matrix, dim, args.quant);
    let graph_config = GraphConfig {
        m: args.m,
        ef_construction: args.ef_construction,
        ef_search: args.ef_search,
        target_recall: args.target_recall,
        reproducible: args.reproducible,
    };
    let spinner = ProgressBar::new_spinner().with_message(format!("building the HNSW graph over {} vectors", texts.len()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let built = graph::build(&matrix, dim, &graph_config);
    let graph = graph::export(&built.hnsw);
    spinner.finish_and_clear();
    eprintln!("built the HNSW graph (M {}, ef_construction {}) in {:.1} s", args.m, args.ef_construction, step.elapsed().as_secs_f64());
    let calibration = built.calibration;
    match calibration.outcome {
        Calibrated::Skipped => eprintln!("default beam width {} (not calibrated)", calibration.ef_search),
        Calibrated::Scan { queries } => eprintln!(
            "no beam cheaper than a scan reached recall@10 {} on {queries} held-out passages: searches score every passage",
            args.target_recall
        ),
        Calibrated::Beam { queries, recall } => eprintln!(
            "default beam width {}: recall@10 {recall:.4} on {queries} held-out passages (target {})",
            calibration.ef_search, args.target_recall
        ),
    }
    let map = Projection::fit(&matrix, dim);

    let manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        created_by: format!("dowse {}", env!("CARGO_PKG_VERSION")),
        model: ModelInfo { id: model_id, dim, max_len: chunking.max_tokens },
        passage_model,
        documents: store.documents.len(),
        passages: texts.len(),
        quantization: args.quant,
        hnsw: HnswInfo { m: args.m, ef_construction: args.ef_construction, ef_search: calibration.ef_search },
        bm25: Bm25Params::default(),
        chunking,
        fragments: None,
        files: Vec::new(),
    };
    Bundle { manifest, model, vectors, graph, bm25, docs: store, map }
}

impl IndexArgs {
    /// Parses `dowse index` flags (`["--input", "corpus", "--out", "bundle"]`), defaults filled in:
    /// how tests and benchmarks configure an index exactly as the command line would.
    pub fn from_flags(flags: &[&str]) -> Result<Self> {
        let command = <Self as clap::Args>::augment_args(clap::Command::new("index").no_binary_name(true));
        let matches = command.try_get_matches_from(flags)?;
        Ok(<Self as clap::FromArgMatches>::from_arg_matches(&matches)?)
    }

    fn chunking(&self) -> ChunkConfig {
        ChunkConfig { max_tokens: self.max_tokens, overlap: self.overlap }
    }
}

/// Refuses, before any work, an `--out` that would destroy what it replaces: one that is or holds
/// the input, a file, or a folder that is not a bundle.
fn check_output(input: &Path, out: &Path) -> Result<()> {
    let (input_full, out_full) = (resolved(input)?, resolved(out)?);
    if input_full.starts_with(&out_full) {
        bail!(
            "--out {} is or contains the input {}: refusing to replace it (write the bundle elsewhere, e.g. {}/_dowse)",
            out.display(),
            input.display(),
            out.display()
        );
    }
    crate::atomic::check_replaceable(out, dowse_core::bundle::MANIFEST).context("--out")
}

/// `path` made absolute with every link resolved, for the part of it that exists.
fn resolved(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).with_context(|| format!("{}", path.display()))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(parent) = existing.parent() else { break };
        rest.push(existing.file_name().unwrap_or_default().to_owned());
        existing = parent;
    }
    let mut full = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    full.extend(rest.iter().rev());
    Ok(full)
}

/// A recall between 0 and 1; anything else (1.5, NaN) is refused by clap, naming the flag.
fn parse_recall(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(recall) if (0.0..=1.0).contains(&recall) => Ok(recall),
        _ => Err(format!("{text:?} is not a recall between 0 and 1")),
    }
}

/// The name the manifest records for the query encoder: the default's name, or the folder's.
fn model_id(given: Option<&Path>) -> String {
    match given {
        None => format!("dowse/{}", shipped::QUERY),
        Some(dir) => folder_name(dir),
    }
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn print_fragments(bundle: &Bundle, files: &[(String, Vec<u8>)], step: Instant) {
    let Some(info) = &bundle.manifest.fragments else { return };
    let bytes: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    let depth = match info.calibration {
        Some(RescoreCheck { queries, of: CalibrationQueries::Given, recall }) => {
            format!("recall@10 {recall:.4} on the query encoder's {queries} check pseudo-queries")
        }
        Some(RescoreCheck { queries, of: CalibrationQueries::Passages, recall }) => {
            format!("recall@10 {recall:.4} on {queries} held-out passages")
        }
        None => "every passage: too few to measure".to_string(),
    };
    eprintln!(
        "cut {} fragments and a root for format 2 ({bytes} bytes) in {:.1} s; a dense query rescores {} candidates ({depth})",
        info.count,
        step.elapsed().as_secs_f64(),
        info.rescore
    );
}

fn print_summary(bundle: &Bundle, sizes: &[(&str, u64)], out: &Path, started: Instant) {
    let passages = bundle.docs.passages.len() as f64;
    eprintln!("{:<26} {:>12} {:>12}", "file", "bytes", "per passage");
    for (path, bytes) in sizes {
        eprintln!("{path:<26} {bytes:>12} {:>12.1}", *bytes as f64 / passages);
    }
    let search_bytes: u64 = sizes.iter().filter(|(p, _)| matches!(*p, "vectors.bin" | "graph.bin" | "bm25.bin")).map(|(_, b)| b).sum();
    eprintln!(
        "{} documents, {} passages, {} vectors; vectors + graph + postings: {:.0} bytes per passage; {:.1} s in all",
        bundle.docs.documents.len(),
        bundle.docs.passages.len(),
        bundle.manifest.quantization,
        search_bytes as f64 / passages,
        started.elapsed().as_secs_f64()
    );
    println!("{}", out.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_recall_must_be_a_recall() {
        let flags = |recall: &str| IndexArgs::from_flags(&["--input", "in", "--out", "out", &format!("--target-recall={recall}")]);
        assert_eq!(flags("0.9").unwrap().target_recall, 0.9);
        assert_eq!(flags("0").unwrap().target_recall, 0.0);
        for bad in ["1.5", "-0.1", "NaN", "high"] {
            let error = flags(bad).unwrap_err().to_string();
            assert!(error.contains("--target-recall") && error.contains("not a recall between 0 and 1"), "{bad}: {error}");
        }
    }
}

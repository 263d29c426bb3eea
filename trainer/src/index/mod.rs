//! `dowse index`: corpus -> passages -> BM25 + vectors -> root and fragments -> bundle folder.
//!
//! [`input`] reads the corpus (with [`html`] and [`charset`] for static sites), dowse-core cuts
//! passages and builds BM25, [`crate::encode`] embeds (through the embedding cache), dowse-core's
//! `fragments` cuts the index into a root and content-addressed fragments, calibrating the rescore
//! depth, and [`crate::bundle_io`] writes it all atomically, with the browser app from [`app`]
//! beside it when asked.
//!
//! By default a bundle is asymmetric: the passage model (all-MiniLM-L6-v2) encodes the passages
//! here, natively, and the bundle ships only the small query encoder aligned to it
//! ([`crate::shipped`]), which [`alignment`] checks before anything is written. `--model` alone
//! builds a symmetric bundle, its model encoding both sides.

pub mod adapt;
pub mod alignment;
pub mod app;
pub mod charset;
pub mod html;
pub mod input;
pub mod query_encoder;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::{
    Bundle, BundleFile, FragmentsInfo, Manifest, ModelBytes, ModelInfo, PassageModelInfo, RescoreCheck, FORMAT, FORMAT_VERSION,
};
use dowse_core::dense_chunks::{CalibrationQueries, CodeKind, DenseChunkConfig};
use dowse_core::docstore::{DocStore, StoredDocument};
use dowse_core::filters::FilterIndex;
use dowse_core::fragments::{FragmentConfig, Root, Split};
use dowse_core::model::{DssmConfig, EncoderKind, TextMeasure, TextTokenizer, TrigramVocab, TwoTowerConfig};
use dowse_core::passage::{split_documents, weighted_terms, ChunkConfig};
use dowse_core::projection::Projection;
use dowse_core::text::Analyzer;
use dowse_core::vectors::{Quantization, VectorStore};

use crate::device::Device;
use crate::{bundle_io, embed_cache, model_fetch, model_folder, shipped};
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
    /// Candidates the passages' sign codes pick for rescoring with their vectors in every dense
    /// search; default: calibrated, raised from 25 in steps of a quarter until the query encoder's check
    /// pseudo-queries (held-out passages in a symmetric bundle) reach --target-recall.
    #[arg(long)]
    pub rescore: Option<usize>,
    /// Recall@10 against an exact search that the calibrated rescore depth must reach, less two
    /// standard errors.
    #[arg(long, default_value_t = FragmentConfig::default().target_recall, value_parser = parse_recall)]
    pub target_recall: f64,
    /// The passages' sign codes: `signs` (one bit per dimension of a vector), a number of bits (the
    /// signs of each vector projected onto that many learned directions, whose int8 weights the
    /// codes carry), or `auto`: two thirds of the dimensions where the bytes saved outweigh the
    /// projection's, else `signs`.
    #[arg(long, default_value = "auto", value_parser = parse_codes)]
    pub sign_codes: CodeKind,
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
    /// Also write the browser app and `dowse.js` into the bundle folder, so a static site gets
    /// search from one <div> and one <script>: the app this binary carries (scripts/build-app.sh),
    /// or the folder scripts/build-app.sh built it into when given (in a build that carries none, `dist`).
    #[arg(long, value_name = "DIST", num_args = 0..=1)]
    pub with_app: Option<Option<PathBuf>>,
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
    /// The shipped query encoder's vectors (row-major) of the check pseudo-queries (in an
    /// asymmetric bundle those its alignment was checked on), which calibrate the rescore depth.
    pub query_vectors: Vec<f32>,
    /// The documents' filters.
    pub filters: FilterIndex,
}

pub fn run(args: &IndexArgs) -> Result<()> {
    let started = Instant::now();
    check_output(&args.input, &args.out)?;
    // Read the app first: a missing build should fail before minutes of encoding, not after.
    let app = match &args.with_app {
        Some(dist) => app::files(dist.as_deref())?,
        None => Vec::new(),
    };
    let (manifest, files) = build(prepare(args)?, args)?;
    print_summary(&manifest, &files, &args.out, started);
    bundle_io::write(&app.into_iter().chain(files).collect::<Vec<_>>(), &args.out)
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
    let documents = docs
        .iter()
        .map(|d| StoredDocument { id: d.id.clone(), title: d.title.clone(), url: d.url.clone(), meta: d.meta.clone() })
        .collect();
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
    // A symmetric bundle's model encodes its own check pseudo-queries (as queries), which
    // calibrate the rescore depth as the shipped encoder's do in an asymmetric bundle.
    let own_queries = if plan.is_none() { adapt::pseudo_queries(&docs).held_back } else { Vec::new() };
    let embedded = embed_cache::embed(&models.passage_dir, encoder, args.device, &own_queries, &cached, !args.no_cache)?;
    let embed_cache::Embedded { queries: own_vectors, passages: mut matrix, dim } = embedded;
    let teacher = matrix.split_off(texts.len() * dim);
    let (model, passage_model, query_vectors) = match plan {
        None => (model_folder::read(&models.query_dir)?, None, own_vectors),
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
    let filters = FilterIndex::build(docs.iter().map(|d| d.filters.as_slice()));
    Ok(Prepared { model, model_id, passage_model, store, texts, matrix, dim, chunking, query_vectors, filters })
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

/// Builds every section (BM25, quantized vectors, documents, the map), cuts them into a root and
/// fragments, and lays out the bundle's files, manifest last ([`Bundle::files`]).
pub fn build(prepared: Prepared, args: &IndexArgs) -> Result<(Manifest, Vec<BundleFile>)> {
    let Prepared { model, model_id, passage_model, store, texts, matrix, dim, chunking, query_vectors, filters } = prepared;
    let step = Instant::now();
    let analyzer = Analyzer::default();
    let terms = store.passages.iter().map(|p| weighted_terms(&analyzer, &store.documents[p.doc as usize].title, p));
    let bm25 = Bm25Index::build_weighted(Bm25Params::default(), terms);
    let vectors = VectorStore::quantize(&matrix, dim, args.quant);
    let map = Projection::fit(&matrix, dim);
    eprintln!("built BM25, {} vectors and the map in {:.1} s", args.quant, step.elapsed().as_secs_f64());

    let step = Instant::now();
    let dense = DenseChunkConfig { codes: args.sign_codes, ..DenseChunkConfig::default() };
    let config = FragmentConfig { rescore: args.rescore, target_recall: args.target_recall, dense, ..FragmentConfig::default() };
    let split = Root::split(&bm25, &store, &vectors, &filters, &query_vectors, &config).context("cutting the bundle into fragments")?;
    let fragments = FragmentsInfo::of(&split);
    print_fragments(&fragments, &split, step);
    let manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        created_by: format!("dowse {}", env!("CARGO_PKG_VERSION")),
        model: ModelInfo { id: model_id, dim, max_len: chunking.max_tokens, pieces: None },
        passage_model,
        documents: store.documents.len(),
        passages: texts.len(),
        quantization: args.quant,
        bm25: Bm25Params::default(),
        chunking,
        fragments,
        files: Vec::new(),
        site: site_root(&args.input, &args.out)?,
    };
    let files = Bundle::files(&manifest, &model, &map, split).context("laying out the bundle")?;
    Ok((manifest, files))
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

/// The path from the bundle folder `out` back to the folder `input` it indexes (`../` for
/// `site/_dowse`), when `out` is inside it: result links and images are relative to the site's root.
fn site_root(input: &Path, out: &Path) -> Result<Option<String>> {
    let (input_full, out_full) = (resolved(input)?, resolved(out)?);
    if !input.is_dir() {
        return Ok(None);
    }
    Ok(out_full.strip_prefix(&input_full).ok().map(|inside| "../".repeat(inside.components().count())))
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
fn parse_codes(text: &str) -> Result<CodeKind, String> {
    match text {
        "auto" => Ok(CodeKind::Auto),
        "signs" => Ok(CodeKind::Signs),
        _ => match text.parse::<usize>() {
            Ok(bits) if bits > 0 => Ok(CodeKind::Rotated(bits)),
            _ => Err(format!("{text:?} is not `auto`, `signs` or a number of bits")),
        },
    }
}

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

fn print_fragments(info: &FragmentsInfo, split: &Split, step: Instant) {
    let bytes: usize = split.fragments.iter().map(|(_, bytes)| bytes.len()).sum();
    let codes = match split.rotated_bits {
        Some(bits) => format!("{bits} rotated bits"),
        None => "a sign per dimension".to_string(),
    };
    let depth = match info.calibration {
        Some(RescoreCheck { queries, of: CalibrationQueries::Given, recall }) => {
            format!("recall@10 {recall:.4} on the query encoder's {queries} check pseudo-queries")
        }
        Some(RescoreCheck { queries, of: CalibrationQueries::Passages, recall }) => {
            format!("recall@10 {recall:.4} on {queries} held-out passages")
        }
        None => "not calibrated".to_string(),
    };
    eprintln!(
        "cut {} fragments and a root ({bytes} bytes) in {:.1} s; sign codes of {codes} a passage; a dense query rescores {} candidates ({depth})",
        info.count,
        step.elapsed().as_secs_f64(),
        info.rescore
    );
}

/// Prints each kind of file's count and bytes, and the totals.
fn print_summary(manifest: &Manifest, files: &[BundleFile], out: &Path, started: Instant) {
    let mut kinds: Vec<(&str, usize, usize)> = Vec::new();
    for (path, bytes) in files {
        let kind = if path.starts_with(dowse_core::bundle::FRAGMENTS) { "fragments/" } else { path.as_str() };
        match kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, count, total)) => (*count, *total) = (*count + 1, *total + bytes.len()),
            None => kinds.push((kind, 1, bytes.len())),
        }
    }
    eprintln!("{:<26} {:>8} {:>12} {:>12}", "file", "files", "bytes", "per passage");
    for (kind, count, bytes) in &kinds {
        eprintln!("{kind:<26} {count:>8} {bytes:>12} {:>12.1}", *bytes as f64 / manifest.passages as f64);
    }
    eprintln!(
        "{} documents, {} passages, {} vectors; {:.1} s in all",
        manifest.documents,
        manifest.passages,
        manifest.quantization,
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

    #[test]
    fn the_site_root_is_found_from_a_bundle_inside_the_site() {
        let site = std::env::temp_dir().join(format!("dowse-site-root-{}", std::process::id()));
        std::fs::create_dir_all(site.join("docs")).unwrap();
        assert_eq!(site_root(&site, &site.join("_dowse")).unwrap().as_deref(), Some("../"));
        assert_eq!(site_root(&site, &site.join("docs/search/_dowse")).unwrap().as_deref(), Some("../../../"));
        assert_eq!(site_root(&site.join("docs"), &site.join("_dowse")).unwrap(), None);
        std::fs::write(site.join("page.html"), "<p>one page</p>").unwrap();
        assert_eq!(site_root(&site.join("page.html"), &site.join("_dowse")).unwrap(), None);
        std::fs::remove_dir_all(&site).unwrap();
    }
}

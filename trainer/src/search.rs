//! `dowse search`: one query against a bundle, printed as a ranked list with highlighted snippets
//! (or JSON), and a line timing each step: tokenize, encode, decode (a DSI model's, with `--dsi`),
//! search.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use dowse_core::bundle::ModelBytes;
use dowse_core::docstore::passage_url;
use dowse_core::fragments::{LazyBundle, Missing};
use dowse_core::model::{Encoder, EncoderConfig};
use dowse_core::search::{Hit, Mode, SearchOptions, FEEDBACK_PASSAGES};
use dowse_core::text::{snippet, Analyzer};
use serde_json::json;

use crate::bundle_io;
use crate::device::{run_on, BackendJob, Device};
use crate::generative::{RankQueries, Ranked};

/// Snippet length in bytes.
const SNIPPET_BYTES: usize = 240;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The bundle folder `dowse index` wrote.
    #[arg(long)]
    pub bundle: PathBuf,
    /// What to search for.
    pub query: String,
    /// Documents to show.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// hybrid (dense + BM25 fused by RRF), dense or bm25.
    #[arg(long, default_value = "hybrid")]
    pub mode: Mode,
    /// Candidates the sign codes pick for rescoring; default: the bundle's calibrated depth.
    #[arg(long)]
    pub rescore: Option<usize>,
    /// Match the query's last word as a prefix, as the browser does while a visitor types it.
    #[arg(long)]
    pub prefix: bool,
    /// Hybrid only: the first fused ranking's top passages whose vectors move the query before
    /// the dense list is searched again (Rocchio feedback); 0 ranks once.
    #[arg(long, default_value_t = FEEDBACK_PASSAGES)]
    pub feedback: usize,
    /// Only documents whose filter KEY has VALUE (`data-dowse-filter`); repeat it: values of one
    /// key are alternatives, different keys must all match.
    #[arg(long = "filter", value_name = "KEY:VALUE", value_parser = parse_filter)]
    pub filters: Vec<(String, String)>,
    /// A DSI model (`dowse train dsi`) trained on the bundle's documents: its ranking joins hybrid
    /// search as a third list, fused by RRF.
    #[arg(long)]
    pub dsi: Option<PathBuf>,
    /// Documents the DSI model returns, and prefixes its beam search keeps a step.
    #[arg(long, default_value_t = 20)]
    pub dsi_depth: usize,
    /// Print JSON instead of a list.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
}

/// The query's vector and how long tokenizing and encoding took, in milliseconds.
struct QueryVector {
    vector: Vec<f32>,
    tokenize_ms: f64,
    encode_ms: f64,
}

/// Loads the bundle's encoder and encodes one query.
struct EncodeQuery<'a> {
    model: &'a ModelBytes,
    config: EncoderConfig,
    query: &'a str,
}

impl BackendJob for EncodeQuery<'_> {
    type Output = Result<QueryVector>;

    fn run<B: Backend>(self, device: B::Device) -> Result<QueryVector> {
        let encoder = Encoder::<B>::load(self.model.files(), self.config, &device).context("loading the bundle's model")?;
        let started = Instant::now();
        let tokens = encoder.tokenize_query(self.query)?;
        let tokenize_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let vector =
            encoder.embed_query(&tokens)?.into_data().to_vec::<f32>().map_err(|e| anyhow::anyhow!("reading the query vector: {e:?}"))?;
        let encode_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(QueryVector { vector, tokenize_ms, encode_ms })
    }
}

pub fn run(args: &SearchArgs) -> Result<()> {
    if args.dsi.is_some() && args.mode != Mode::Hybrid {
        bail!("--dsi fuses a DSI model's ranking into hybrid search: drop --mode {}", args.mode.name());
    }
    let started = Instant::now();
    let bundle = bundle_io::read(&args.bundle)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let query = if args.mode.is_dense() {
        let config = args.device.encoder(bundle.manifest.model.max_len, 1);
        let job = EncodeQuery { model: &bundle.model, config, query: &args.query };
        Some(run_on(args.device, job)??)
    } else {
        None
    };
    let generative = match &args.dsi {
        Some(dir) => {
            let (documents, source) = (bundle.document_ids()?, args.bundle.display().to_string());
            let job = RankQueries { dir, documents: &documents, source: &source, queries: &[args.query.as_str()], depth: args.dsi_depth };
            run_on(args.device, job)??
        }
        None => Ranked { rankings: vec![Vec::new()], decode_ms_per_query: 0.0 },
    };
    let analyzer = Analyzer::default();
    let index = &bundle.index;
    let mut options = SearchOptions {
        k: args.k,
        mode: args.mode,
        rescore: args.rescore,
        prefix: args.prefix,
        feedback: args.feedback,
        ..SearchOptions::default()
    };
    for (key, value) in &args.filters {
        options.filters.entry(key.clone()).or_default().push(value.clone());
    }
    let started = Instant::now();
    let hits = bundle.search(&analyzer, &args.query, query.as_ref().map(|q| q.vector.as_slice()), &generative.rankings[0], &options)?;
    let search_ms = started.elapsed().as_secs_f64() * 1e3;
    let (tokenize_ms, encode_ms) = query.as_ref().map_or((0.0, 0.0), |q| (q.tokenize_ms, q.encode_ms));
    let decode_ms = generative.decode_ms_per_query;

    let results: Vec<serde_json::Value> = hits
        .iter()
        .enumerate()
        .map(|(rank, hit)| {
            let (doc, passage) = index.passage(hit.passage)?;
            let snippet = snippet(&analyzer, &passage.text, &args.query, SNIPPET_BYTES);
            Ok(json!({
                "rank": rank + 1,
                "doc_id": doc.id,
                "title": doc.title,
                "heading": passage.heading,
                "url": passage_url(doc, passage),
                "meta": meta_json(&doc.meta),
                "score": hit.score,
                "snippet": snippet.text,
                "highlights": snippet.highlights.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>(),
            }))
        })
        .collect::<Result<_, Missing>>()?;
    let timings = json!({"load": load_ms, "tokenize": tokenize_ms, "encode": encode_ms, "decode": decode_ms, "search": search_ms});
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"query": args.query, "mode": args.mode, "results": results, "timings_ms": timings}))?
        );
        return Ok(());
    }
    print_results(index, &hits, &analyzer, &args.query)?;
    eprintln!(
        "tokenize {tokenize_ms:.2} ms · encode {encode_ms:.1} ms · decode {decode_ms:.1} ms · search {search_ms:.2} ms (bundle load {load_ms:.0} ms)"
    );
    Ok(())
}

fn print_results(index: &LazyBundle, hits: &[Hit], analyzer: &Analyzer, query: &str) -> Result<()> {
    let color = std::io::stdout().is_terminal();
    if hits.is_empty() {
        println!("no results");
    }
    for (rank, hit) in hits.iter().enumerate() {
        let (doc, passage) = index.passage(hit.passage)?;
        let title = if doc.title.is_empty() { doc.id.as_str() } else { doc.title.as_str() };
        let heading = if passage.heading.is_empty() { String::new() } else { format!(" › {}", passage.heading) };
        let url = passage_url(doc, passage).map(|u| format!("  {u}")).unwrap_or_default();
        println!("{:>3}. {:.4}  {title}{heading}{url}", rank + 1, hit.score);
        let snippet = snippet(analyzer, &passage.text, query, SNIPPET_BYTES);
        let line: String = snippet
            .pieces()
            .into_iter()
            .map(|(piece, term)| match (term, color) {
                (false, _) => piece.to_string(),
                (true, true) => format!("\x1b[1;33m{piece}\x1b[0m"),
                (true, false) => format!("[{piece}]"),
            })
            .collect();
        println!("     {line}");
    }
    Ok(())
}

/// A document's metadata as a JSON object, key to value (a later field of a repeated key wins).
pub fn meta_json(meta: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Object(meta.iter().map(|(key, value)| (key.clone(), value.clone().into())).collect())
}

/// `--filter KEY:VALUE`: both parts non-empty.
fn parse_filter(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => Ok((key.trim().to_string(), value.trim().to_string())),
        _ => Err(format!("{text:?} is not KEY:VALUE (e.g. --filter tag:garden)")),
    }
}

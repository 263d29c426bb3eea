//! `dowse eval`: runs BM25, dense, generative (DSI) or fused retrieval over a collection (or
//! through a bundle), optionally reranks the top of each ranking with a cross-encoder, and scores
//! it as trec_eval does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::bundle::Bundle;
use dowse_core::corpus::{format_run, Qrels, Query, Run};
use dowse_core::dense::top_k_exact;
use dowse_core::fragments::Missing;
use dowse_core::fusion::{reciprocal_rank_fusion, RRF_K};
use dowse_core::metrics::{evaluate, ranked, Metric};
use dowse_core::model::Side;
use dowse_core::search::{Mode, SearchOptions, FEEDBACK_PASSAGES};
use dowse_core::text::Analyzer;
use serde_json::json;

use crate::collection::{self, Collection};
use crate::device::run_on;
use crate::encode::{encode_all, EncodeArgs};
use crate::generative::RankQueries;
use crate::{atomic, bundle_io, model_folder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Retriever {
    /// Lexical BM25 (k1=0.9, b=0.4) over title and text.
    Bm25,
    /// Exact cosine search over the model's embeddings.
    Dense,
    /// BM25 and dense fused by Reciprocal Rank Fusion (k=60).
    Hybrid,
    /// Generative retrieval: a `dowse train dsi` model (--model, or --dsi) decodes each query's
    /// document IDs by beam search constrained to its ID table.
    Dsi,
    /// BM25, dense (--model) and DSI (--dsi) fused by Reciprocal Rank Fusion (k=60).
    Hybrid3,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) or a SMART collection folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Which qrels/SPLIT.tsv to evaluate (BEIR folders).
    #[arg(long, default_value = "test")]
    pub split: String,
    #[arg(long, value_enum, default_value_t = Retriever::Hybrid)]
    pub retriever: Retriever,
    /// A Hugging Face model folder (config.json, model.safetensors, tokenizer.json);
    /// default: the fetched all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write metrics.json and run.trec into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub encode: EncodeArgs,
    /// Documents ranked per query (and written to run.trec).
    #[arg(long, default_value_t = 1000)]
    pub depth: usize,
    /// Search this bundle instead of indexing --data's documents: its model, fragments, quantized
    /// vectors, BM25 and fusion, exactly as it ships. --data still gives the queries and judgments.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Candidates the sign codes pick for rescoring when searching a bundle; default: the
    /// bundle's calibrated depth.
    #[arg(long)]
    pub rescore: Option<usize>,
    /// Match each query's last word as a prefix when searching a bundle, as the browser does
    /// while a visitor types it.
    #[arg(long)]
    pub prefix: bool,
    /// Hybrid search of a bundle: the first fused ranking's top passages whose vectors move the
    /// query before the dense list is searched again (Rocchio feedback); 0 ranks once.
    #[arg(long, default_value_t = FEEDBACK_PASSAGES)]
    pub feedback: usize,
    /// Rerank each query's top documents with this cross-encoder (a Hugging Face folder).
    #[arg(long)]
    pub rerank: Option<PathBuf>,
    /// Documents per query the cross-encoder rescores; the rest keep their order below them.
    #[arg(long, default_value_t = 100)]
    pub rerank_depth: usize,
    /// The DSI model folder (`dowse train dsi`) for --retriever hybrid3 (and dsi, instead of --model).
    #[arg(long)]
    pub dsi: Option<PathBuf>,
    /// Documents a DSI model returns per query, and the prefixes its beam search keeps a step.
    #[arg(long, default_value_t = 100)]
    pub dsi_depth: usize,
}

/// The metrics reported; the first four are printed.
const METRICS: [Metric; 9] = [
    Metric::Ndcg(10),
    Metric::Mrr(10),
    Metric::Map,
    Metric::Recall(100),
    Metric::Recall(1),
    Metric::Recall(5),
    Metric::Recall(10),
    Metric::Precision(10),
    Metric::Hit(10),
];

pub fn run(args: &EvalArgs) -> Result<()> {
    let started = Instant::now();
    let collection = collection::load(&args.data, &args.split)?;
    eprintln!("{}: {} documents, {} judged queries ({})", args.data.display(), collection.docs.len(), collection.queries.len(), args.split);
    let run = match &args.bundle {
        Some(dir) => bundle_run(&collection, dir, args)?,
        None => {
            let rankings = match args.retriever {
                Retriever::Bm25 => bm25_rankings(&collection, args.depth),
                Retriever::Dense => dense_rankings(&collection, args)?,
                Retriever::Hybrid => {
                    let lexical = bm25_rankings(&collection, args.depth);
                    let dense = dense_rankings(&collection, args)?;
                    lexical.iter().zip(&dense).map(|(l, d)| reciprocal_rank_fusion(&[l, d], RRF_K, args.depth)).collect()
                }
                Retriever::Dsi => {
                    dsi_rankings(&collection, &doc_ids(&collection), &args.data, args.dsi.as_ref().or(args.model.as_ref()), args)?
                }
                Retriever::Hybrid3 => {
                    let lexical = bm25_rankings(&collection, args.depth);
                    let dense = dense_rankings(&collection, args)?;
                    let generative = dsi_rankings(&collection, &doc_ids(&collection), &args.data, args.dsi.as_ref(), args)?;
                    let lists = lexical.iter().zip(&dense).zip(&generative);
                    lists.map(|((l, d), g)| reciprocal_rank_fusion(&[l, d, g], RRF_K, args.depth)).collect()
                }
            };
            to_run(&collection.queries, &rankings, |doc| collection.docs[doc as usize].id.as_str())
        }
    };
    let (run, name) = match &args.rerank {
        Some(model) => (rerank(run, &collection, model, args)?, format!("{:?}+rerank", args.retriever).to_lowercase()),
        None => (run, format!("{:?}", args.retriever).to_lowercase()),
    };
    let evaluation = evaluate(&collection.qrels, &run, &METRICS);
    println!("{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}", "retriever", "queries", "nDCG@10", "MRR@10", "MAP", "R@100");
    let mean = |m: Metric| evaluation.mean[&m.to_string()];
    println!(
        "{name:<10} {:>8} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
        evaluation.num_queries,
        mean(Metric::Ndcg(10)),
        mean(Metric::Mrr(10)),
        mean(Metric::Map),
        mean(Metric::Recall(100))
    );
    if let Some(out) = &args.out {
        let report = json!({
            "data": args.data.display().to_string(),
            "split": args.split,
            "retriever": name,
            "model": args.model.as_ref().map(|m| m.display().to_string()),
            "bundle": args.bundle.as_ref().map(|b| b.display().to_string()),
            "rerank": args.rerank.as_ref().map(|m| m.display().to_string()),
            "rerank_depth": args.rerank.as_ref().map(|_| args.rerank_depth),
            "num_queries": evaluation.num_queries,
            "mean": evaluation.mean,
            "per_query": evaluation.per_query,
        });
        atomic::write(&out.join("metrics.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
        atomic::write(&out.join("run.trec"), format_run(&run, &format!("dowse-{name}")).as_bytes())?;
        eprintln!("wrote {} and {}", out.join("metrics.json").display(), out.join("run.trec").display());
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A trec run from each query's ranked documents.
fn to_run<'a>(queries: &[Query], rankings: &[Vec<(u32, f32)>], id: impl Fn(u32) -> &'a str) -> Run {
    queries
        .iter()
        .zip(rankings)
        .map(|(q, hits)| (q.id.clone(), hits.iter().map(|&(doc, score)| (id(doc).to_string(), f64::from(score))).collect()))
        .collect()
}

/// Reorders each query's top `--rerank-depth` documents by the cross-encoder's scores; the
/// documents below keep their order and are scored below the reranked ones.
fn rerank(run: Run, collection: &Collection, model: &Path, args: &EvalArgs) -> Result<Run> {
    if args.rerank_depth == 0 {
        anyhow::bail!("--rerank-depth must be at least 1");
    }
    let texts: HashMap<&str, String> = collection.docs.iter().map(|d| (d.id.as_str(), d.full_text())).collect();
    let queries: HashMap<&str, &str> = collection.queries.iter().map(|q| (q.id.as_str(), q.text.as_str())).collect();
    let ranked: Vec<(String, Vec<(String, f64)>)> = run.into_iter().map(|(q, hits)| (q, ranked(&hits))).collect();
    let mut pairs = Vec::new();
    for (query, hits) in &ranked {
        for (doc, _) in hits.iter().take(args.rerank_depth) {
            let text = texts.get(doc.as_str()).with_context(|| format!("the run ranks document {doc:?}, which the collection lacks"))?;
            pairs.push((queries[query.as_str()], text.as_str()));
        }
    }
    eprintln!("reranking the top {} of {} queries with {}", args.rerank_depth, ranked.len(), model.display());
    let scores = args.encode.score(model, &pairs)?;
    let mut scores = scores.into_iter();
    Ok(ranked
        .into_iter()
        .map(|(query, hits)| {
            let depth = hits.len().min(args.rerank_depth);
            let mut reranked: Vec<(String, f64)> =
                hits[..depth].iter().map(|(doc, _)| (doc.clone(), f64::from(scores.next().expect("a score per pair")))).collect();
            let floor = reranked.iter().map(|h| h.1).fold(f64::INFINITY, f64::min);
            reranked.extend(hits[depth..].iter().enumerate().map(|(i, (doc, _))| (doc.clone(), floor - 1.0 - i as f64)));
            (query, reranked)
        })
        .collect())
}

/// Refuses a search over documents that hold none of the judged ones (a bundle of another
/// corpus scores zero everywhere) and warns when some judged documents are missing.
fn check_judged_documents(qrels: &Qrels, bundle: &Bundle, dir: &Path, data: &Path) -> Result<()> {
    let source = format!("bundle {}", dir.display());
    let present: std::collections::HashSet<&str> = bundle.document_ids()?.into_iter().collect();
    let judged: std::collections::BTreeSet<&str> =
        qrels.values().flat_map(|docs| docs.iter().filter(|(_, &grade)| grade > 0).map(|(doc, _)| doc.as_str())).collect();
    let missing = judged.iter().filter(|doc| !present.contains(*doc)).count();
    if missing == judged.len() && !judged.is_empty() {
        anyhow::bail!(
            "{source} holds none of the {} documents judged relevant in {}: it was built from another corpus",
            judged.len(),
            data.display()
        );
    }
    if missing > 0 {
        eprintln!(
            "warning: {source} lacks {missing} of the {} documents judged relevant in {}: they count as misses",
            judged.len(),
            data.display()
        );
    }
    Ok(())
}

/// The run of the bundle in `dir` over the collection's queries.
fn bundle_run(collection: &Collection, dir: &Path, args: &EvalArgs) -> Result<Run> {
    let bundle = bundle_io::read(dir)?;
    check_judged_documents(&collection.qrels, &bundle, dir, &args.data)?;
    let mode = match args.retriever {
        Retriever::Bm25 => Mode::Bm25,
        Retriever::Dense => Mode::Dense,
        Retriever::Hybrid | Retriever::Hybrid3 => Mode::Hybrid,
        Retriever::Dsi => bail!("--retriever dsi ranks with the DSI model alone: drop --bundle (hybrid3 fuses it into a bundle's search)"),
    };
    eprintln!(
        "bundle {}: {} passages of {} documents, {} vectors, mode {mode:?}",
        dir.display(),
        bundle.manifest.passages,
        bundle.manifest.documents,
        bundle.manifest.quantization
    );
    let texts: Vec<String> = collection.queries.iter().map(|q| q.text.clone()).collect();
    let vectors = if mode.is_dense() {
        let config = args.encode.device.encoder(bundle.manifest.model.max_len, args.encode.batch_size);
        encode_all(args.encode.device, &dir.join("model"), config, &[("queries", Side::Query, texts.as_slice())])?.matrices.remove(0)
    } else {
        Vec::new()
    };
    let ids = bundle.document_ids()?;
    let generative = match args.retriever {
        Retriever::Hybrid3 => dsi_rankings(collection, &ids, dir, args.dsi.as_ref(), args)?,
        _ => vec![Vec::new(); collection.queries.len()],
    };
    let dim = bundle.manifest.model.dim;
    let options = SearchOptions {
        k: args.depth,
        mode,
        rescore: args.rescore,
        candidates: args.depth,
        prefix: args.prefix,
        feedback: args.feedback,
        ..SearchOptions::default()
    };
    let analyzer = Analyzer::default();
    let started = Instant::now();
    let rankings: Vec<Vec<(u32, f32)>> = collection
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let vector = vectors.get(i * dim..(i + 1) * dim);
            Ok(bundle.search(&analyzer, &q.text, vector, &generative[i], &options)?.iter().map(|hit| (hit.doc, hit.score)).collect())
        })
        .collect::<Result<_, Missing>>()?;
    eprintln!("searched {} queries in {:.1} s", rankings.len(), started.elapsed().as_secs_f64());
    Ok(to_run(&collection.queries, &rankings, |doc| ids[doc as usize]))
}

/// Each query's BM25 top `depth`, in query order.
fn bm25_rankings(collection: &Collection, depth: usize) -> Vec<Vec<(u32, f32)>> {
    let analyzer = Analyzer::default();
    let index = Bm25Index::build(Bm25Params::default(), collection.docs.iter().map(|d| analyzer.analyze(&d.full_text())));
    collection.queries.iter().map(|q| index.search(&analyzer.analyze(&q.text), depth)).collect()
}

/// The collection's document ids, in its order.
fn doc_ids(collection: &Collection) -> Vec<&str> {
    collection.docs.iter().map(|d| d.id.as_str()).collect()
}

/// Each query's top `--dsi-depth` documents by the DSI model in `dir`, decoded on `--device`, in
/// query order, numbered as `documents` (found in `source`), which its ID table must name exactly.
fn dsi_rankings(
    collection: &Collection,
    documents: &[&str],
    source: &Path,
    dir: Option<&PathBuf>,
    args: &EvalArgs,
) -> Result<Vec<Vec<(u32, f32)>>> {
    let dir = dir.context("--retriever dsi and hybrid3 need a DSI model folder (--dsi DIR, or --model DIR for dsi)")?;
    let queries: Vec<&str> = collection.queries.iter().map(|q| q.text.as_str()).collect();
    let source = source.display().to_string();
    let job = RankQueries { dir, documents, source: &source, queries: &queries, depth: args.dsi_depth };
    let ranked = run_on(args.encode.device, job)??;
    eprintln!("DSI: {} queries decoded in {:.1} ms each (beam {})", queries.len(), ranked.decode_ms_per_query, args.dsi_depth);
    Ok(ranked.rankings)
}

/// Each query's exact-cosine top `depth`, in query order; passage embeddings come from the cache when possible.
fn dense_rankings(collection: &Collection, args: &EvalArgs) -> Result<Vec<Vec<(u32, f32)>>> {
    let model_dir = model_folder::resolve(args.model.as_deref())?;
    let passages: Vec<String> = collection.docs.iter().map(|d| d.full_text()).collect();
    let queries: Vec<String> = collection.queries.iter().map(|q| q.text.clone()).collect();
    let embedded = args.encode.embed(&model_dir, &queries, &passages)?;
    let dim = embedded.dim;
    Ok(embedded.queries.chunks_exact(dim).map(|q| top_k_exact(&embedded.passages, dim, q, args.depth)).collect())
}

//! `dowse viz`: where a model puts a collection's queries and passages, as a PNG. Each query
//! split gets its own colour over a sample of the passages, projected to the plane by PCA or
//! t-SNE ([`tsne`]): the picture the seeds used to see a domain gap (test queries that land
//! where no training query does).

pub mod tsne;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use dowse_core::projection::Projection;

use crate::encode::EncodeArgs;
use crate::plot::{self, PointGroup};
use crate::{collection, model_folder};
use tsne::TsneConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// The two principal axes: linear, global distances kept.
    Pca,
    /// t-SNE from the PCA start: neighbourhoods kept, clusters visible.
    Tsne,
}

#[derive(Debug, Args)]
pub struct VizArgs {
    /// A BEIR or SMART collection folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Query splits to plot, a colour each (BEIR qrels names).
    #[arg(long, value_delimiter = ',', default_value = "train,test")]
    pub splits: Vec<String>,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Any model `dowse eval` takes; default: the fetched all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Method::Tsne)]
    pub method: Method,
    /// Passages plotted, evenly spaced through the corpus (all are encoded, for the cache).
    #[arg(long, default_value_t = 2000)]
    pub passages: usize,
    /// t-SNE's effective number of neighbours.
    #[arg(long, default_value_t = TsneConfig::default().perplexity)]
    pub perplexity: f64,
    /// t-SNE's gradient steps.
    #[arg(long, default_value_t = TsneConfig::default().iterations)]
    pub iterations: usize,
    #[command(flatten)]
    pub encode: EncodeArgs,
}

pub fn run(args: &VizArgs) -> Result<()> {
    if args.splits.is_empty() {
        bail!("--splits names no split");
    }
    let model_dir = model_folder::resolve(args.model.as_deref())?;
    let docs = collection::documents(&args.data)?;
    let mut labels = vec!["passages".to_string()];
    let mut queries = Vec::new();
    let mut sizes = vec![0];
    for split in &args.splits {
        let (judged, _) = collection::judged_queries(&args.data, split)?;
        labels.push(format!("{split} queries"));
        sizes.push(judged.len());
        queries.extend(judged.into_iter().map(|q| q.text));
    }
    let passages: Vec<String> = docs.iter().map(|d| d.full_text()).collect();
    let embedded = args.encode.embed(&model_dir, &queries, &passages)?;
    let dim = embedded.dim;
    let step = passages.len().div_ceil(args.passages.max(1));
    let sample: Vec<usize> = if args.passages == 0 { Vec::new() } else { (0..passages.len()).step_by(step).collect() };
    sizes[0] = sample.len();
    let mut vectors: Vec<f32> = sample.iter().flat_map(|&p| embedded.passages[p * dim..(p + 1) * dim].iter().copied()).collect();
    vectors.extend_from_slice(&embedded.queries);
    let pca = Projection::fit(&vectors, dim).points().to_vec();
    let points = match args.method {
        Method::Pca => pca,
        Method::Tsne => {
            let config = TsneConfig { perplexity: args.perplexity, iterations: args.iterations, ..TsneConfig::default() };
            eprintln!("t-SNE of {} points (perplexity {}, {} iterations)", pca.len(), args.perplexity, args.iterations);
            tsne::tsne(&vectors, dim, &pca, &config)
        }
    };
    let mut groups = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for (label, &size) in labels.iter().zip(&sizes) {
        groups.push(PointGroup { label, points: &points[start..start + size] });
        start += size;
    }
    let method = format!("{:?}", args.method).to_uppercase().replace("TSNE", "t-SNE");
    let name = model_dir.file_name().map_or_else(|| model_dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let corpus = args.data.file_name().map_or_else(|| args.data.display().to_string(), |n| n.to_string_lossy().into_owned());
    plot::scatter(&args.out, &format!("{corpus}: {method} of {name} embeddings"), &groups)?;
    println!("{}", args.out.display());
    Ok(())
}

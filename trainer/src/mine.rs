//! `dowse mine`: hard negatives for training rerankers and bi-encoders.
//!
//! Each judged query's candidates are BM25's top `depth` and a dense retriever's top `depth`,
//! its relevant passages left out. A teacher scores every candidate against the query (by
//! default the dense model's cosine; or another bi-encoder; or a cross-encoder). Candidates are
//! ranked by that score; the `skip_top` highest are skipped (the likeliest unjudged positives),
//! a candidate the teacher finds nearly as relevant as the positive (at least `max_ratio` of its
//! score) is dropped as a false negative, and the next `negatives` are kept (NV-Retriever's
//! "TopK-PercPos" filter).
//!
//! Output: one JSONL line per (query, relevant passage), see [`MinedExample`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use dowse_core::bm25::{Bm25Index, Bm25Params};
use dowse_core::dense::{dot, top_k_exact};
use dowse_core::text::Analyzer;
use serde::{Deserialize, Serialize};

use crate::embed_cache::Embedded;
use crate::encode::EncodeArgs;
use crate::train::data::{JudgmentArgs, RelevanceData};
use crate::{atomic, model_folder};

#[derive(Debug, Args)]
pub struct MineArgs {
    #[command(flatten)]
    pub judgments: JudgmentArgs,
    /// The JSONL file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The dense retriever proposing candidates (any model `dowse eval` takes); default: the fetched all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The model scoring candidates: a bi-encoder or a cross-encoder folder; default: --model.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Candidates taken from each retriever per query.
    #[arg(long, default_value_t = 50)]
    pub depth: usize,
    /// Highest-scored candidates skipped per query.
    #[arg(long, default_value_t = 3)]
    pub skip_top: usize,
    /// Negatives kept per (query, positive).
    #[arg(long, default_value_t = 8)]
    pub negatives: usize,
    /// Candidates scoring at least this fraction of the positive's score are false negatives
    /// (scores are cosines for bi-encoders, sigmoid probabilities for cross-encoders).
    #[arg(long, default_value_t = 0.95)]
    pub max_ratio: f32,
    #[command(flatten)]
    pub encode: EncodeArgs,
}

/// One line of a mined file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinedExample {
    pub query_id: String,
    pub query: String,
    pub positive_id: String,
    pub positive: String,
    pub negative_ids: Vec<String>,
    pub negatives: Vec<String>,
    /// The teacher's scores: the positive's, then each negative's.
    pub scores: Vec<f32>,
    /// What the scores are.
    pub score_kind: ScoreKind,
}

/// What a teacher's scores are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// A bi-encoder's cosines.
    Cosine,
    /// A cross-encoder's logits.
    Logit,
}

impl ScoreKind {
    /// The score as a relevance in 0..1-ish, the scale `--max-ratio` applies to: cosines as they
    /// are, logits through the sigmoid.
    fn relevance(self, score: f32) -> f32 {
        match self {
            Self::Cosine => score,
            Self::Logit => 1.0 / (1.0 + (-score).exp()),
        }
    }
}

pub fn run(args: &MineArgs) -> Result<()> {
    let data = args.judgments.read()?;
    let model_dir = model_folder::resolve(args.model.as_deref())?;
    eprintln!("{}: {} passages, {} judged queries", args.judgments.path().display(), data.passages.len(), data.queries.len());
    let dense = args.encode.embed(&model_dir, &data.queries, &data.passages)?;
    let candidates = candidates(&data, &dense, args.depth);
    let pairs: Vec<(usize, u32)> =
        (0..data.queries.len()).flat_map(|q| data.relevant[q].iter().chain(&candidates[q]).map(move |&p| (q, p))).collect();
    let teacher = teacher_scores(args, &data, &dense, &pairs)?;
    let mut scores = teacher.scores.iter().copied();
    let mut lines = String::new();
    let (mut written, mut dropped, mut empty, mut kept) = (0, 0, 0, 0);
    for (q, pool) in candidates.iter().enumerate() {
        let positives: Vec<(u32, f32)> = data.relevant[q].iter().map(|&p| (p, scores.next().expect("a score per pair"))).collect();
        let mut ranked: Vec<(u32, f32)> = pool.iter().map(|&p| (p, scores.next().expect("a score per pair"))).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (positive, positive_score) in positives {
            let threshold = args.max_ratio * teacher.kind.relevance(positive_score);
            let (chosen, too_close): (Vec<_>, Vec<_>) =
                ranked.iter().skip(args.skip_top).partition(|&&(_, s)| teacher.kind.relevance(s) < threshold);
            dropped += too_close.len();
            let chosen = &chosen[..chosen.len().min(args.negatives)];
            if chosen.is_empty() {
                empty += 1;
                continue;
            }
            kept += chosen.len();
            let example = MinedExample {
                query_id: data.query_ids[q].clone(),
                query: data.queries[q].clone(),
                positive_id: data.passage_ids[positive as usize].clone(),
                positive: data.passages[positive as usize].clone(),
                negative_ids: chosen.iter().map(|&(p, _)| data.passage_ids[p as usize].clone()).collect(),
                negatives: chosen.iter().map(|&(p, _)| data.passages[p as usize].clone()).collect(),
                scores: std::iter::once(positive_score).chain(chosen.iter().map(|&(_, s)| s)).collect(),
                score_kind: teacher.kind,
            };
            lines.push_str(&serde_json::to_string(&example)?);
            lines.push('\n');
            written += 1;
        }
    }
    atomic::write(&args.out, lines.as_bytes())?;
    eprintln!(
        "{written} (query, positive) lines, {:.1} negatives each; {dropped} candidates dropped as false negatives; \
         {empty} pairs left out with no negative",
        kept as f64 / written.max(1) as f64
    );
    println!("{}", args.out.display());
    Ok(())
}

/// Per query, the union of BM25's and the dense model's top `depth`, relevant passages left out, ascending.
fn candidates(data: &RelevanceData, dense: &Embedded, depth: usize) -> Vec<Vec<u32>> {
    let analyzer = Analyzer::default();
    let bm25 = Bm25Index::build(Bm25Params::default(), data.passages.iter().map(|p| analyzer.analyze(p)));
    let dim = dense.dim;
    (0..data.queries.len())
        .map(|q| {
            let lexical = bm25.search(&analyzer.analyze(&data.queries[q]), depth);
            let semantic = top_k_exact(&dense.passages, dim, &dense.queries[q * dim..(q + 1) * dim], depth);
            let mut pool: Vec<u32> =
                lexical.iter().chain(&semantic).map(|&(p, _)| p).filter(|p| data.relevant[q].binary_search(p).is_err()).collect();
            pool.sort_unstable();
            pool.dedup();
            pool
        })
        .collect()
}

/// The teacher's score of each (query, passage) pair.
struct TeacherScores {
    scores: Vec<f32>,
    kind: ScoreKind,
}

fn teacher_scores(args: &MineArgs, data: &RelevanceData, dense: &Embedded, pairs: &[(usize, u32)]) -> Result<TeacherScores> {
    let cosines = |e: &Embedded| {
        let dim = e.dim;
        let scores =
            pairs.iter().map(|&(q, p)| dot(&e.queries[q * dim..(q + 1) * dim], &e.passages[p as usize * dim..(p as usize + 1) * dim]));
        TeacherScores { scores: scores.collect(), kind: ScoreKind::Cosine }
    };
    let Some(dir) = &args.teacher else { return Ok(cosines(dense)) };
    if !model_folder::is_cross_encoder(dir)? {
        let teacher = args.encode.embed(dir, &data.queries, &data.passages)?;
        return Ok(cosines(&teacher));
    }
    let texts: Vec<(&str, &str)> = pairs.iter().map(|&(q, p)| (data.queries[q].as_str(), data.passages[p as usize].as_str())).collect();
    let scores = args.encode.score(dir, &texts)?;
    Ok(TeacherScores { scores, kind: ScoreKind::Logit })
}

/// Reads a mined file, failing with its path, line and field on a bad line.
pub fn read_mined(path: &Path) -> Result<Vec<MinedExample>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{}:{}", path.display(), i + 1);
        let example: MinedExample = serde_json::from_str(line).with_context(|| format!("{}: not a mined example", at()))?;
        if example.negative_ids.len() != example.negatives.len() {
            bail!("{}: field `negative_ids`: {} ids for {} negatives", at(), example.negative_ids.len(), example.negatives.len());
        }
        if example.scores.len() != example.negatives.len() + 1 {
            bail!("{}: field `scores`: {} scores for the positive and {} negatives", at(), example.scores.len(), example.negatives.len());
        }
        examples.push(example);
    }
    if examples.is_empty() {
        bail!("{}: no mined examples", path.display());
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_mined_line_is_reported_with_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mined.jsonl");
        let good = r#"{"query_id":"1","query":"q","positive_id":"a","positive":"pa","negative_ids":["b"],"negatives":["pb"],"scores":[0.9,0.1],"score_kind":"cosine"}"#;
        std::fs::write(&path, format!("{good}\n\n{}\n", good.replace("[0.9,0.1]", "[0.9]"))).unwrap();
        let error = format!("{:#}", read_mined(&path).unwrap_err());
        assert!(error.contains("mined.jsonl:3: field `scores`: 1 scores"), "{error}");
        std::fs::write(&path, format!("{good}\n{}\n", good.replace(r#""query":"q","#, ""))).unwrap();
        let error = format!("{:#}", read_mined(&path).unwrap_err());
        assert!(error.contains("mined.jsonl:2") && error.contains("missing field `query`"), "{error}");
        std::fs::write(&path, format!("{good}\n")).unwrap();
        assert_eq!(read_mined(&path).unwrap()[0].scores, [0.9, 0.1]);
    }
}

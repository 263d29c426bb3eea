//! Training data for retrieval models: the passages searched, the queries, which passages are
//! relevant to which query, and a seeded split of the queries into training and validation.
//! Reads a BEIR or SMART collection folder (judgments of one split) or a CSV of
//! `query,passage,label` rows (label > 0 is relevant; the CSV's passages are the corpus).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use dowse_core::corpus::{read_labeled_pairs, Qrels, Run};
use dowse_core::metrics::{evaluate, Metric};
use dowse_core::rng::SplitMix;
use dowse_core::topk::top_k;

use crate::collection;

/// `--data PATH [--split train]`: the judgments a command learns from (`dowse train`, `dowse mine`).
#[derive(Debug, Args)]
pub struct JudgmentArgs {
    /// Judgments: a BEIR or SMART collection folder, or a CSV with query, passage and label columns.
    #[arg(long, required = true)]
    pub data: Option<PathBuf>,
    /// Which qrels of a BEIR folder to use.
    #[arg(long, default_value = "train")]
    pub split: String,
}

impl JudgmentArgs {
    /// `--data`, which every command but `dowse distill --align-to` requires.
    pub fn path(&self) -> &Path {
        self.data.as_deref().expect("clap requires --data here")
    }

    pub fn read(&self) -> Result<RelevanceData> {
        RelevanceData::read(self.path(), &self.split)
    }
}

/// Queries and passages by index, with the relevant passages of each query.
pub struct RelevanceData {
    pub passage_ids: Vec<String>,
    pub passages: Vec<String>,
    pub query_ids: Vec<String>,
    pub queries: Vec<String>,
    /// Per query, its relevant passages (at least one), ascending.
    pub relevant: Vec<Vec<u32>>,
}

impl RelevanceData {
    /// Reads `path`: a collection folder (judgments of `split`) or a CSV file.
    pub fn read(path: &Path, split: &str) -> Result<Self> {
        if path.is_dir() {
            return Self::from_collection(path, split);
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let pairs = read_labeled_pairs(&path.display().to_string(), &bytes)?;
        let mut data =
            Self { passage_ids: Vec::new(), passages: Vec::new(), query_ids: Vec::new(), queries: Vec::new(), relevant: Vec::new() };
        let (mut passage_index, mut query_index) = (HashMap::new(), HashMap::new());
        for pair in pairs {
            let passage = *passage_index.entry(pair.passage.clone()).or_insert_with(|| {
                data.passage_ids.push(format!("p{}", data.passages.len()));
                data.passages.push(pair.passage.clone());
                data.passages.len() as u32 - 1
            });
            let query = *query_index.entry(pair.query.clone()).or_insert_with(|| {
                data.query_ids.push(format!("q{}", data.queries.len()));
                data.queries.push(pair.query.clone());
                data.relevant.push(Vec::new());
                data.queries.len() - 1
            });
            if pair.label > 0.0 {
                data.relevant[query].push(passage);
            }
        }
        data.keep_judged(path)
    }

    fn from_collection(dir: &Path, split: &str) -> Result<Self> {
        let collection = collection::load(dir, split)?;
        let index: HashMap<&str, u32> = collection.docs.iter().enumerate().map(|(i, d)| (d.id.as_str(), i as u32)).collect();
        let relevant = collection
            .queries
            .iter()
            .map(|q| {
                collection.qrels[&q.id]
                    .iter()
                    .filter(|&(_, &grade)| grade > 0)
                    .filter_map(|(doc, _)| index.get(doc.as_str()).copied())
                    .collect()
            })
            .collect();
        let data = Self {
            passage_ids: collection.docs.iter().map(|d| d.id.clone()).collect(),
            passages: collection.docs.iter().map(|d| d.full_text()).collect(),
            query_ids: collection.queries.iter().map(|q| q.id.clone()).collect(),
            queries: collection.queries.into_iter().map(|q| q.text).collect(),
            relevant,
        };
        data.keep_judged(dir)
    }

    /// Drops queries without a relevant passage; fails if none is left.
    fn keep_judged(mut self, source: &Path) -> Result<Self> {
        let keep: Vec<bool> = self.relevant.iter().map(|r| !r.is_empty()).collect();
        let mut flags = keep.iter();
        self.query_ids.retain(|_| *flags.next().unwrap());
        let mut flags = keep.iter();
        self.queries.retain(|_| *flags.next().unwrap());
        self.relevant.retain(|r| !r.is_empty());
        for relevant in &mut self.relevant {
            relevant.sort_unstable();
            relevant.dedup();
        }
        if self.queries.is_empty() {
            bail!("{}: no query has a relevant passage", source.display());
        }
        Ok(self)
    }

    /// Query index by query id.
    pub fn query_index(&self) -> HashMap<&str, usize> {
        self.query_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect()
    }

    /// Passage index by passage id.
    pub fn passage_index(&self) -> HashMap<&str, u32> {
        self.passage_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i as u32)).collect()
    }

    /// Every (query, relevant passage) pair of the `queries`.
    pub fn positive_pairs(&self, queries: &[usize]) -> Vec<(usize, u32)> {
        queries.iter().flat_map(|&q| self.relevant[q].iter().map(move |&p| (q, p))).collect()
    }

    /// nDCG@10 of the `queries` when each searches every passage by dot product of the given
    /// unit vectors (`query_vectors` row `i` is `queries[i]`).
    pub fn ndcg_at_10(&self, queries: &[usize], query_vectors: &[f32], passage_vectors: &[f32], dim: usize) -> f64 {
        let rankings: Vec<Vec<(u32, f32)>> = query_vectors
            .chunks_exact(dim)
            .map(|vector| {
                top_k(
                    passage_vectors.chunks_exact(dim).enumerate().map(|(p, passage)| (p as u32, dowse_core::dense::dot(vector, passage))),
                    10,
                )
            })
            .collect();
        self.ndcg_at_10_of(queries, &rankings)
    }

    /// nDCG@10 of the `queries` given each one's scored passages (`rankings[i]` is `queries[i]`'s).
    pub fn ndcg_at_10_of(&self, queries: &[usize], rankings: &[Vec<(u32, f32)>]) -> f64 {
        let mut qrels = Qrels::new();
        let mut run = Run::new();
        for (&q, ranking) in queries.iter().zip(rankings) {
            let id = self.query_ids[q].clone();
            qrels.insert(id.clone(), self.relevant[q].iter().map(|&p| (self.passage_ids[p as usize].clone(), 1)).collect());
            run.insert(id, ranking.iter().map(|&(p, s)| (self.passage_ids[p as usize].clone(), f64::from(s))).collect());
        }
        evaluate(&qrels, &run, &[Metric::Ndcg(10)]).mean["ndcg_cut_10"]
    }
}

/// Query indices for training and for validation.
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
}

/// Holds out `fraction` of `count` queries (at least one when `fraction > 0` and there are two
/// or more), chosen by `seed`.
pub fn split(count: usize, fraction: f64, seed: u64) -> Split {
    let mut order: Vec<usize> = (0..count).collect();
    SplitMix::at(seed, &[u64::MAX]).shuffle(&mut order);
    let held = ((count as f64 * fraction).round() as usize).max(usize::from(fraction > 0.0 && count > 1)).min(count.saturating_sub(1));
    let mut validation = order[..held].to_vec();
    let mut train = order[held..].to_vec();
    validation.sort_unstable();
    train.sort_unstable();
    Split { train, validation }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_queries_passages_and_judgments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.csv");
        std::fs::write(&path, "query,passage,label\nq one,p one,1\nq one,p two,0\nq two,p two,1\nq three,p one,0\n").unwrap();
        let data = RelevanceData::read(&path, "train").unwrap();
        assert_eq!(data.queries, ["q one", "q two"]);
        assert_eq!(data.passages, ["p one", "p two"]);
        assert_eq!(data.relevant, [vec![0], vec![1]]);
        assert_eq!(data.positive_pairs(&[0, 1]), [(0, 0), (1, 1)]);
    }

    #[test]
    fn the_split_is_seeded_disjoint_and_complete() {
        let a = split(100, 0.1, 3);
        assert_eq!(a.validation.len(), 10);
        assert_eq!(split(100, 0.1, 3).validation, a.validation);
        assert_ne!(split(100, 0.1, 4).validation, a.validation);
        let mut all: Vec<usize> = a.train.iter().chain(&a.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split(5, 0.0, 1).validation.len(), 0);
        assert_eq!(split(2, 0.01, 1).validation.len(), 1);
    }
}

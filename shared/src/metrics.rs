//! Retrieval metrics with trec_eval's semantics, per query and averaged.
//!
//! - A document is relevant when its grade is >= 1; nDCG's gain is the grade itself.
//! - Rankings are ordered by score descending, ties by document id descending (as trec_eval).
//! - Queries without any judgment are not evaluated. A judged query that is missing from the
//!   run, or has no relevant document, scores 0 (trec_eval with `-c`).
//! - nDCG@k discounts by log2(rank + 1) and normalises by the ideal ranking of all judged
//!   documents, cut at k.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::corpus::{Qrels, Run};

/// One metric, named as trec_eval names it (`ndcg_cut_10`, `map`, `recall_100`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// nDCG cut at k.
    Ndcg(usize),
    /// Reciprocal rank of the first relevant document within the top k, else 0.
    Mrr(usize),
    /// Reciprocal rank of the first relevant document anywhere in the ranking.
    RecipRank,
    /// Mean average precision over the whole ranking.
    Map,
    /// Average precision counting only the top k.
    MapCut(usize),
    /// Fraction of the relevant documents found in the top k.
    Recall(usize),
    /// Fraction of the top k that is relevant.
    Precision(usize),
    /// 1 when any relevant document is in the top k (trec_eval's success@k).
    Hit(usize),
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Ndcg(k) => write!(f, "ndcg_cut_{k}"),
            Metric::Mrr(k) => write!(f, "mrr_cut_{k}"),
            Metric::RecipRank => write!(f, "recip_rank"),
            Metric::Map => write!(f, "map"),
            Metric::MapCut(k) => write!(f, "map_cut_{k}"),
            Metric::Recall(k) => write!(f, "recall_{k}"),
            Metric::Precision(k) => write!(f, "P_{k}"),
            Metric::Hit(k) => write!(f, "success_{k}"),
        }
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let cut = |prefix: &str| name.strip_prefix(prefix).and_then(|k| k.parse::<usize>().ok()).filter(|&k| k > 0);
        let metric = match name {
            "map" => Some(Metric::Map),
            "recip_rank" => Some(Metric::RecipRank),
            _ => None,
        };
        metric
            .or_else(|| cut("ndcg_cut_").map(Metric::Ndcg))
            .or_else(|| cut("mrr_cut_").map(Metric::Mrr))
            .or_else(|| cut("map_cut_").map(Metric::MapCut))
            .or_else(|| cut("recall_").map(Metric::Recall))
            .or_else(|| cut("P_").map(Metric::Precision))
            .or_else(|| cut("success_").map(Metric::Hit))
            .ok_or_else(|| format!("unknown metric {name:?}"))
    }
}

/// Scores per query and their means over the evaluated queries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub per_query: BTreeMap<String, BTreeMap<String, f64>>,
    pub mean: BTreeMap<String, f64>,
    pub num_queries: usize,
}

/// A query's documents in trec_eval's order: score descending, then document id descending.
pub fn ranked(docs: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut docs = docs.to_vec();
    docs.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    docs
}

/// Evaluates `run` against `qrels` on every judged query.
pub fn evaluate(qrels: &Qrels, run: &Run, metrics: &[Metric]) -> Evaluation {
    let mut evaluation = Evaluation::default();
    for (qid, judged) in qrels.iter().filter(|(_, judged)| !judged.is_empty()) {
        let ranking = run.get(qid).map(|docs| ranked(docs)).unwrap_or_default();
        let grades: Vec<i32> = ranking.iter().map(|(doc, _)| judged.get(doc).copied().unwrap_or(0)).collect();
        let scores = metrics.iter().map(|&m| (m.to_string(), score(m, &grades, judged))).collect();
        evaluation.per_query.insert(qid.clone(), scores);
    }
    evaluation.num_queries = evaluation.per_query.len();
    for metric in metrics {
        let name = metric.to_string();
        let total: f64 = evaluation.per_query.values().map(|scores| scores[&name]).sum();
        let mean = if evaluation.num_queries == 0 { 0.0 } else { total / evaluation.num_queries as f64 };
        evaluation.mean.insert(name, mean);
    }
    evaluation
}

/// The mean of per-query scores and its standard error: the sample standard deviation over the
/// square root of their number. With fewer than two scores the spread is unknown and the error
/// infinite, so no bound drawn from it holds.
pub fn mean_and_standard_error(scores: &[f64]) -> (f64, f64) {
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    if scores.len() < 2 {
        return (mean, f64::INFINITY);
    }
    let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (variance / n).sqrt())
}

/// One metric for one query, given the grades of its ranked documents (0 for unjudged).
fn score(metric: Metric, grades: &[i32], judged: &BTreeMap<String, i32>) -> f64 {
    let num_relevant = judged.values().filter(|&&g| g >= 1).count();
    let top = |k: usize| &grades[..k.min(grades.len())];
    let first_relevant = |k: usize| top(k).iter().position(|&g| g >= 1).map_or(0.0, |i| 1.0 / (i + 1) as f64);
    let relevant_in = |k: usize| top(k).iter().filter(|&&g| g >= 1).count();
    match metric {
        Metric::Ndcg(k) => {
            let mut ideal: Vec<i32> = judged.values().copied().filter(|&g| g > 0).collect();
            ideal.sort_unstable_by(|a, b| b.cmp(a));
            let ideal_dcg = dcg(&ideal[..k.min(ideal.len())]);
            if ideal_dcg == 0.0 {
                0.0
            } else {
                dcg(top(k)) / ideal_dcg
            }
        }
        Metric::Mrr(k) => first_relevant(k),
        Metric::RecipRank => first_relevant(grades.len()),
        Metric::Map => average_precision(grades, num_relevant),
        Metric::MapCut(k) => average_precision(top(k), num_relevant),
        Metric::Recall(k) if num_relevant > 0 => relevant_in(k) as f64 / num_relevant as f64,
        Metric::Recall(_) => 0.0,
        Metric::Precision(k) => relevant_in(k) as f64 / k as f64,
        Metric::Hit(k) => f64::from(u8::from(relevant_in(k) > 0)),
    }
}

/// Folded from +0.0: `Sum` for floats starts at -0.0, which a ranking with nothing relevant
/// would report as "-0.0000".
fn dcg(grades: &[i32]) -> f64 {
    grades
        .iter()
        .enumerate()
        .filter(|(_, &g)| g > 0)
        .map(|(i, &g)| f64::from(g) / ((i + 2) as f64).log2())
        .fold(0.0, |total, gain| total + gain)
}

fn average_precision(grades: &[i32], num_relevant: usize) -> f64 {
    if num_relevant == 0 {
        return 0.0;
    }
    let mut found = 0usize;
    let mut total = 0.0;
    for (i, _) in grades.iter().enumerate().filter(|(_, &g)| g >= 1) {
        found += 1;
        total += found as f64 / (i + 1) as f64;
    }
    total / num_relevant as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error_of_scores() {
        let (mean, error) = mean_and_standard_error(&[0.5, 1.0, 0.0]);
        assert_eq!(mean, 0.5);
        assert!((error - (0.25f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_and_standard_error(&[0.7]), (0.7, f64::INFINITY));
    }

    #[test]
    fn nothing_relevant_found_scores_positive_zero() {
        let judged = BTreeMap::from([("d1".to_string(), 1)]);
        for metric in [Metric::Ndcg(10), Metric::Map, Metric::Mrr(10), Metric::Recall(10)] {
            let value = score(metric, &[0, 0, 0], &judged);
            assert!(value == 0.0 && value.is_sign_positive(), "{metric}: {value}");
        }
    }

    #[test]
    fn names_round_trip() {
        for metric in [
            Metric::Ndcg(10),
            Metric::Mrr(10),
            Metric::RecipRank,
            Metric::Map,
            Metric::MapCut(100),
            Metric::Recall(100),
            Metric::Precision(5),
            Metric::Hit(1),
        ] {
            assert_eq!(metric.to_string().parse::<Metric>(), Ok(metric));
        }
        assert!("ndcg_cut_0".parse::<Metric>().is_err());
        assert!("bleu".parse::<Metric>().is_err());
    }

    #[test]
    fn ties_break_by_doc_id_descending() {
        let docs = vec![("d1".to_string(), 1.0), ("d3".to_string(), 1.0), ("d2".to_string(), 2.0)];
        let order: Vec<String> = ranked(&docs).into_iter().map(|(d, _)| d).collect();
        assert_eq!(order, ["d2", "d3", "d1"]);
    }

    #[test]
    fn judged_queries_without_run_or_relevant_docs_count_as_zero() {
        let mut qrels = Qrels::new();
        qrels.entry("q1".into()).or_default().insert("d1".into(), 1);
        qrels.entry("q2".into()).or_default().insert("d9".into(), 1);
        qrels.entry("q3".into()).or_default().insert("d1".into(), 0);
        let mut run = Run::new();
        run.insert("q1".into(), vec![("d1".into(), 1.0)]);
        run.insert("q3".into(), vec![("d1".into(), 1.0)]);
        run.insert("unjudged".into(), vec![("d1".into(), 1.0)]);
        let evaluation = evaluate(&qrels, &run, &[Metric::Ndcg(10), Metric::Map]);
        assert_eq!(evaluation.num_queries, 3);
        assert_eq!(evaluation.per_query["q2"]["map"], 0.0);
        assert_eq!(evaluation.per_query["q3"]["ndcg_cut_10"], 0.0);
        assert!((evaluation.mean["ndcg_cut_10"] - 1.0 / 3.0).abs() < 1e-12);
    }
}

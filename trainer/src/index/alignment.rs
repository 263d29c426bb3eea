//! The check that an asymmetric bundle's query encoder is aligned to its passage vectors: both
//! models encode pseudo-queries cut from the corpus, and the query encoder must put them where
//! the passage model does. Measured two ways: the mean cosine between the two vectors of each
//! pseudo-query, and recall@10 of searching the bundle's passages with the query encoder's
//! vectors against searching them with the passage model's own.

use std::path::Path;

use anyhow::{bail, Result};
use dowse_core::dense::dot;
use dowse_core::model::{EncoderConfig, Side};
use dowse_core::passage::SourceDocument;
use dowse_core::topk::top_k;

use crate::device::Device;
use crate::encode::encode_all;
use crate::pseudo_queries;

/// Pseudo-queries the check encodes.
pub const CHECK_QUERIES: usize = 500;

/// The lowest mean cosine a bundle is built with. Encoders of unrelated models score near 0, the
/// shipped query encoder above 0.8 on every corpus tried (results/models.md); an encoder below
/// half the way puts queries nearer to other texts than to their own.
pub const MIN_MEAN_COSINE: f64 = 0.5;

/// How well the query encoder agrees with the passage model.
#[derive(Debug, Clone, Copy)]
pub struct Agreement {
    pub queries: usize,
    pub mean_cosine: f64,
    pub recall_at_10: f64,
}

/// Up to `n` pseudo-queries of `docs`, spread over the corpus, each different.
pub fn check_queries(docs: &[SourceDocument], n: usize, seed: u64) -> Vec<String> {
    let all = pseudo_queries::cut(docs, 2, seed);
    let step = (all.len() / n.max(1)).max(1);
    all.into_iter().step_by(step).take(n).collect()
}

/// Encodes `queries` with the query encoder in `query_dir` and measures its agreement with
/// `teacher`, the passage model's vectors of the same queries, over `passages` (the passage
/// model's row-major unit vectors); returns it with the query encoder's vectors (row-major).
pub fn measure(
    query_dir: &Path,
    config: EncoderConfig,
    device: Device,
    queries: &[String],
    teacher: &[f32],
    passages: &[f32],
) -> Result<(Agreement, Vec<f32>)> {
    let mut encoded = encode_all(device, query_dir, config, &[("check queries", Side::Query, queries)])?;
    let (student, dim) = (encoded.matrices.remove(0), encoded.dim);
    let teacher_dim = teacher.len() / queries.len().max(1);
    if dim != teacher_dim {
        bail!("the query encoder makes {dim}-dimensional vectors, the passage model {teacher_dim}-dimensional");
    }
    Ok((agreement(&student, teacher, passages, dim), student))
}

/// [`Agreement`] of two row-major matrices of unit vectors for the same texts, over `passages`.
fn agreement(student: &[f32], teacher: &[f32], passages: &[f32], dim: usize) -> Agreement {
    let top10 = |query: &[f32]| -> Vec<u32> {
        let scores = passages.chunks_exact(dim).enumerate().map(|(i, p)| (i as u32, dot(query, p)));
        top_k(scores, 10).into_iter().map(|(i, _)| i).collect()
    };
    let (mut cosines, mut recall) = (0.0, 0.0);
    let rows = student.len() / dim;
    for (s, t) in student.chunks_exact(dim).zip(teacher.chunks_exact(dim)) {
        cosines += f64::from(dot(s, t));
        let expected = top10(t);
        let found = top10(s);
        recall += found.iter().filter(|i| expected.contains(i)).count() as f64 / expected.len().max(1) as f64;
    }
    Agreement { queries: rows, mean_cosine: cosines / rows.max(1) as f64, recall_at_10: recall / rows.max(1) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_vectors_agree_fully_and_opposite_ones_not_at_all() {
        let passages = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let queries = [1.0, 0.0, 0.0, 1.0];
        let same = agreement(&queries, &queries, &passages, 2);
        assert_eq!((same.queries, same.mean_cosine, same.recall_at_10), (2, 1.0, 1.0));
        let flipped = [-1.0, 0.0, 0.0, -1.0];
        assert_eq!(agreement(&flipped, &queries, &passages, 2).mean_cosine, -1.0);
    }
}

//! Exact dense retrieval: brute-force inner product over a contiguous row-major f32 matrix.
//!
//! Vectors are L2-normalised when they are made, so the inner product is the cosine.

use crate::topk::top_k;

/// Inner product, accumulated in eight independent lanes so the compiler emits SIMD.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    const LANES: usize = 8;
    let mut acc = [0f32; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..LANES {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The `k` rows of `matrix` (each `dim` wide) with the highest inner product with `query`, best first.
pub fn top_k_exact(matrix: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<(u32, f32)> {
    assert_eq!(query.len(), dim, "query has {} dimensions, the matrix {dim}", query.len());
    assert_eq!(matrix.len() % dim, 0, "matrix length is not a multiple of {dim}");
    top_k(matrix.chunks_exact(dim).enumerate().map(|(row, v)| (row as u32, dot(v, query))), k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_at_every_length() {
        for len in [0, 1, 7, 8, 9, 384, 385] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "len {len}");
        }
    }

    #[test]
    fn finds_nearest_rows() {
        let rows = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8, -1.0, 0.0];
        let hits = top_k_exact(&rows, 2, &[0.0, 1.0], 2);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
        assert!((hits[1].1 - 0.8).abs() < 1e-6);
    }
}

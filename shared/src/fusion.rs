//! Fusing ranked lists: Reciprocal Rank Fusion, and min-max weighted score fusion for comparison.

use std::collections::HashMap;

use crate::topk::top_k;

/// The `k` in RRF's 1 / (k + rank), as Cormack et al. set it.
pub const RRF_K: f32 = 60.0;

/// Reciprocal Rank Fusion: each list adds 1 / (k + rank) for the documents it ranks (rank from 1).
pub fn reciprocal_rank_fusion(lists: &[&[(u32, f32)]], k: f32, limit: usize) -> Vec<(u32, f32)> {
    let mut fused: HashMap<u32, f32> = HashMap::new();
    for list in lists {
        for (rank, &(doc, _)) in list.iter().enumerate() {
            *fused.entry(doc).or_default() += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    top_k(fused, limit)
}

/// Each list's scores scaled to [0, 1] by its own min and max, then summed with `weights`;
/// a document missing from a list gets 0 from it.
pub fn min_max_fusion(lists: &[&[(u32, f32)]], weights: &[f32], limit: usize) -> Vec<(u32, f32)> {
    assert_eq!(lists.len(), weights.len(), "one weight per list");
    let mut fused: HashMap<u32, f32> = HashMap::new();
    for (list, &weight) in lists.iter().zip(weights) {
        let (min, max) = list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| (lo.min(s), hi.max(s)));
        let range = max - min;
        for &(doc, score) in list.iter() {
            let scaled = if range > 0.0 { (score - min) / range } else { 1.0 };
            *fused.entry(doc).or_default() += weight * scaled;
        }
    }
    top_k(fused, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let bm25 = [(1, 9.0), (2, 8.0), (3, 7.0)];
        let dense = [(2, 0.9), (4, 0.8), (1, 0.7)];
        let fused = reciprocal_rank_fusion(&[&bm25, &dense], RRF_K, 10);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), [2, 1, 4, 3]);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-7);
    }

    #[test]
    fn min_max_scales_each_list() {
        let a = [(1, 10.0), (2, 5.0), (3, 0.0)];
        let b = [(3, 1.0), (2, 0.5)];
        // a scales to 1, 0.5, 0; b to 1 (doc 3), 0 (doc 2).
        let fused = min_max_fusion(&[&a, &b], &[0.5, 0.5], 3);
        assert_eq!(fused, vec![(1, 0.5), (3, 0.5), (2, 0.25)]);
    }
}

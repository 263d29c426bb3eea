//! Top-k selection over scored ids: the one place that decides ranking order and ties.
//!
//! Higher score first; equal scores go to the lower id, so results are deterministic.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A scored id ordered by rank: a higher score is greater, and at equal scores the lower id is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored(pub f32, pub u32);

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best `(id, score)` pairs, best first.
pub fn top_k(scored: impl IntoIterator<Item = (u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    // The worst kept entry on top, to be evicted first.
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (id, score) in scored {
        let entry = Scored(score, id);
        if heap.len() < k {
            heap.push(Reverse(entry));
        } else if heap.peek().is_some_and(|Reverse(worst)| entry > *worst) {
            heap.pop();
            heap.push(Reverse(entry));
        }
    }
    // Ascending `Reverse`s: the best entry first.
    heap.into_sorted_vec().into_iter().map(|Reverse(Scored(score, id))| (id, score)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_with_ties_to_lower_ids() {
        let scored = vec![(0, 0.5), (1, 0.9), (2, 0.5), (3, 0.1), (4, 0.9)];
        assert_eq!(top_k(scored.clone(), 3), vec![(1, 0.9), (4, 0.9), (0, 0.5)]);
        assert_eq!(top_k(scored.clone(), 10).len(), 5);
        assert!(top_k(scored, 0).is_empty());
    }
}

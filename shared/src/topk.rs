//! Top-k selection over scored ids: the one place that decides ranking order and ties.
//!
//! Higher score first; equal scores go to the lower id, so results are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A scored id ordered so that the heap's top is the entry to evict first.
#[derive(Clone, Copy, PartialEq)]
struct Entry(f32, u32);

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Worst first: lower score, then higher id.
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best `(id, score)` pairs, best first.
pub fn top_k(scored: impl IntoIterator<Item = (u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (id, score) in scored {
        let entry = Entry(score, id);
        if heap.len() < k {
            heap.push(entry);
        } else if let Some(worst) = heap.peek() {
            if entry < *worst {
                heap.pop();
                heap.push(entry);
            }
        }
    }
    let mut best: Vec<Entry> = heap.into_vec();
    best.sort();
    best.into_iter().map(|Entry(score, id)| (id, score)).collect()
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

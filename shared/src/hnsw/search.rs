//! Searching an [`HnswGraph`]: greedy descent through the upper layers to the node closest to the
//! query, then a best-first beam of width `ef` on layer 0 (Malkov and Yashunin, algorithms 2 and 5).
//!
//! The score is a closure, higher is closer, so the same walk serves every vector quantization.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::HnswGraph;
use crate::topk::{top_k, Scored};

/// The `k` best nodes found with a beam of `max(ef, k)`, best first, by `score(node)`.
/// A beam as wide as the graph is an exact scan: every node is scored in order, which finds what
/// the walk would, and faster (bundles whose data no narrower beam searches well enough say so).
pub fn search(graph: &HnswGraph, k: usize, ef: usize, mut score: impl FnMut(u32) -> f32) -> Vec<(u32, f32)> {
    let ef = ef.max(k);
    if k == 0 {
        return Vec::new();
    }
    if ef >= graph.num_nodes() {
        return top_k((0..graph.num_nodes() as u32).map(|node| (node, score(node))), k);
    }
    let mut best = Scored(score(graph.entry()), graph.entry());
    for layer in graph.layers()[1..].iter().rev() {
        loop {
            let mut improved = false;
            for &node in layer.neighbours(best.1) {
                let candidate = Scored(score(node), node);
                if candidate > best {
                    best = candidate;
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
    }
    let bottom = &graph.layers()[0];
    let mut visited = vec![0u64; graph.num_nodes().div_ceil(64)];
    let mut visit = |node: u32| {
        let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
        let fresh = visited[word] & bit == 0;
        visited[word] |= bit;
        fresh
    };
    visit(best.1);
    // Candidates to expand, closest first; results kept so far, worst on top.
    let mut candidates = BinaryHeap::from([best]);
    let mut results = BinaryHeap::from([Reverse(best)]);
    while let Some(current) = candidates.pop() {
        let worst = results.peek().expect("results are never empty").0;
        if results.len() >= ef && current < worst {
            break;
        }
        for &node in bottom.neighbours(current.1) {
            if !visit(node) {
                continue;
            }
            let candidate = Scored(score(node), node);
            let worst = results.peek().expect("results are never empty").0;
            if results.len() < ef || candidate > worst {
                candidates.push(candidate);
                results.push(Reverse(candidate));
                if results.len() > ef {
                    results.pop();
                }
            }
        }
    }
    top_k(results.into_iter().map(|Reverse(Scored(s, node))| (node, s)), k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line, each linked to its two neighbours on layer 0 and every fourth one above.
    fn line(n: u32) -> HnswGraph {
        let layer0 = (0..n).map(|i| (i, [i.wrapping_sub(1), i + 1].into_iter().filter(|&j| j < n).collect())).collect();
        let upper: Vec<u32> = (0..n).step_by(4).collect();
        let layer1 = upper.iter().map(|&i| (i, upper.iter().copied().filter(|&j| j.abs_diff(i) == 4).collect())).collect();
        HnswGraph::new(n, 0, vec![layer0, layer1]).unwrap()
    }

    #[test]
    fn finds_the_exact_neighbours_on_a_line() {
        let graph = line(100);
        let target = 61.3f32;
        let hits = search(&graph, 3, 8, |node| -(node as f32 - target).abs());
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [61, 62, 60]);
    }

    #[test]
    fn a_beam_as_wide_as_the_graph_scans_every_node() {
        // Layer 0 without links: only a scan can find node 7 from the entry point 0.
        let graph = HnswGraph::new(10, 0, vec![(0..10).map(|i| (i, Vec::new())).collect()]).unwrap();
        assert_eq!(search(&graph, 2, 10, |node| -(node as f32 - 7.0).abs()), [(7, 0.0), (6, -1.0)]);
        assert_eq!(search(&graph, 2, 9, |node| -(node as f32 - 7.0).abs()), [(0, -7.0)]);
    }

    #[test]
    fn returns_at_most_the_nodes_there_are() {
        let graph = line(5);
        assert_eq!(search(&graph, 10, 2, |node| node as f32).len(), 5);
        assert!(search(&graph, 0, 2, |node| node as f32).is_empty());
    }
}

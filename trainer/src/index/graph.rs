//! Building the HNSW graph with hnsw_rs and exporting it into the bundle's graph section, which
//! dowse-core searches natively and in the browser.

use dowse_core::dense::dot;
use dowse_core::hnsw::HnswGraph;
use hnsw_rs::prelude::{Distance, Hnsw, PointId};
use serde::{Deserialize, Serialize};

/// hnsw_rs keeps at most 16 layers.
const MAX_LAYERS: usize = 16;

/// `1 - cosine` between unit vectors, floored at 0 (rounding can push a dot product past 1,
/// which hnsw_rs's own `DistDot` asserts against).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// How the graph is built and searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    /// Neighbours per node on the upper layers (twice as many on layer 0).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Default beam width while searching.
    pub ef_search: usize,
    /// Insert the points one at a time in row order, so the same vectors always give the same
    /// graph. Parallel insertion is faster on many cores, but its graph (and so the bundle's
    /// bytes) depends on thread timing.
    pub reproducible: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self { m: 16, ef_construction: 200, ef_search: 64, reproducible: false }
    }
}

/// Builds hnsw_rs's graph over the unit rows of a `[rows, dim]` matrix, row `i` with id `i`.
pub fn build<'a>(matrix: &'a [f32], dim: usize, config: &GraphConfig) -> Hnsw<'a, f32, UnitDot> {
    let rows: Vec<(&[f32], usize)> = matrix.chunks_exact(dim).enumerate().map(|(i, row)| (row, i)).collect();
    let hnsw = Hnsw::new(config.m, rows.len(), MAX_LAYERS, config.ef_construction, UnitDot);
    if config.reproducible {
        rows.iter().for_each(|&row| hnsw.insert_slice(row));
    } else {
        hnsw.parallel_insert_slice(&rows);
    }
    hnsw
}

/// The graph's layers and entry point as the bundle stores them.
pub fn export(hnsw: &Hnsw<'_, f32, UnitDot>) -> HnswGraph {
    let indexation = hnsw.get_point_indexation();
    let num_nodes = indexation.get_nb_point();
    let top = usize::from(indexation.get_max_level_observed());
    let mut levels = vec![0u8; num_nodes];
    let mut lists: Vec<(u32, Vec<Vec<u32>>)> = Vec::with_capacity(num_nodes);
    // hnsw_rs enters at the first point that reached the top layer.
    let mut entry = None;
    for point in indexation {
        let PointId(level, rank) = point.get_point_id();
        let id = point.get_origin_id() as u32;
        levels[id as usize] = level;
        let neighbourhood = point.get_neighborhood_id().into_iter().take(usize::from(level) + 1);
        lists.push((id, neighbourhood.map(|ns| ns.iter().map(|n| n.get_origin_id() as u32).collect()).collect()));
        if usize::from(level) == top && entry.is_none_or(|(_, r)| rank < r) {
            entry = Some((id, rank));
        }
    }
    // hnsw_rs sometimes links a node on an upper layer to one that is not on that layer; such an
    // edge is a dead end for search (the node has no list there), so it is left out.
    let mut layers: Vec<Vec<(u32, Vec<u32>)>> = vec![Vec::new(); top + 1];
    for (id, neighbourhood) in lists {
        for (layer, mut neighbours) in neighbourhood.into_iter().enumerate() {
            neighbours.retain(|&n| usize::from(levels[n as usize]) >= layer);
            layers[layer].push((id, neighbours));
        }
    }
    let (entry, _) = entry.expect("a built graph has an entry point");
    HnswGraph::new(num_nodes as u32, entry, layers).expect("hnsw_rs builds a valid graph")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 500 deterministic unit rows of `dim` dimensions.
    fn unit_rows(dim: usize) -> Vec<f32> {
        let mut matrix: Vec<f32> = (0..500 * dim).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        for row in matrix.chunks_exact_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        matrix
    }

    #[test]
    fn exports_every_node_and_a_top_layer_entry() {
        let matrix = unit_rows(8);
        let graph = export(&build(&matrix, 8, &GraphConfig::default()));
        assert_eq!(graph.num_nodes(), 500);
        assert!(!graph.layers()[0].neighbours(7).is_empty());
        assert_eq!(HnswGraph::from_bytes(&graph.to_bytes()).unwrap(), graph);
    }

    #[test]
    fn reproducible_builds_give_the_same_graph() {
        let matrix = unit_rows(8);
        let config = GraphConfig { reproducible: true, ..GraphConfig::default() };
        assert_eq!(export(&build(&matrix, 8, &config)), export(&build(&matrix, 8, &config)));
    }
}

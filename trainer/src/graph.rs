//! Building an HNSW graph with hnsw_rs, choosing the beam width its searches need, and exporting
//! it into dowse-core's graph section, which dowse-core's HNSW searcher reads. Bundles no longer
//! carry a graph (format 2 searches the passages' sign codes, fetched in fragments); the graph is
//! the searcher that the benchmarks and the HNSW tests measure the fragments' dense search against.
//!
//! The beam width is calibrated, not guessed: a sample of passages is held out of the graph
//! while it is built, searched for as queries against exact search, and the beam is doubled
//! until their recall@10 reaches the target. Where no beam cheaper than scoring every passage
//! reaches it (isotropic data, where a proximity graph degenerates into a scan), the bundle
//! searches by an exact scan instead. The held-out passages are inserted last.

use dowse_core::dense::{dot, top_k_exact};
use dowse_core::hnsw::{self, HnswGraph};
use dowse_core::metrics::mean_and_standard_error;
use hnsw_rs::prelude::{Distance, Hnsw, PointId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// hnsw_rs keeps at most 16 layers.
const MAX_LAYERS: usize = 16;
/// Passages held out to calibrate the beam width on (at most a tenth of the corpus).
const CALIBRATION_QUERIES: usize = 200;
/// Recall is measured at this depth.
const CALIBRATION_DEPTH: usize = 10;

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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    /// Neighbours per node on the upper layers (twice as many on layer 0).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Default beam width while searching: the smallest, when calibration is on.
    pub ef_search: usize,
    /// Recall@10 against exact search that held-out passages must reach at the default beam
    /// width (with two standard errors to spare); 0 keeps `ef_search` as it is.
    pub target_recall: f64,
    /// Insert the points one at a time in row order, so the same vectors always give the same
    /// graph. Parallel insertion is faster on many cores, but its graph (and so the bundle's
    /// bytes) depends on thread timing.
    pub reproducible: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self { m: 16, ef_construction: 200, ef_search: 64, target_recall: 0.98, reproducible: false }
    }
}

/// A graph hnsw_rs built and the beam width its searches should use.
pub struct Built<'a> {
    pub hnsw: Hnsw<'a, f32, UnitDot>,
    pub calibration: Calibration,
}

/// The default beam width and how it was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// The bundle's default beam width; the number of passages means an exact scan.
    pub ef_search: usize,
    pub outcome: Calibrated,
}

/// What calibration found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibrated {
    /// Off (a target of 0), or too few passages to hold any out: the configured beam.
    Skipped,
    /// A graph beam reached the target: the held-out passages' mean recall@10 at it.
    Beam { queries: usize, recall: f64 },
    /// No beam that scores fewer than half the passages reached it: searches score every one.
    Scan { queries: usize },
}

/// Builds hnsw_rs's graph over the unit rows of a `[rows, dim]` matrix, row `i` with id `i`,
/// and calibrates the default beam width on held-out rows (see the module documentation).
pub fn build<'a>(matrix: &'a [f32], dim: usize, config: &GraphConfig) -> Built<'a> {
    let rows: Vec<(&[f32], usize)> = matrix.chunks_exact(dim).enumerate().map(|(i, row)| (row, i)).collect();
    let hnsw = Hnsw::new(config.m, rows.len(), MAX_LAYERS, config.ef_construction, UnitDot);
    let held_out = held_out_rows(rows.len(), config.target_recall);
    let (last, first): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, i)| held_out.binary_search(i).is_ok());
    insert(&hnsw, &first, config.reproducible);
    let calibration = if held_out.is_empty() {
        Calibration { ef_search: config.ef_search, outcome: Calibrated::Skipped }
    } else {
        calibrate(&export(&hnsw), matrix, dim, &held_out, config)
    };
    insert(&hnsw, &last, config.reproducible);
    Built { hnsw, calibration }
}

fn insert(hnsw: &Hnsw<'_, f32, UnitDot>, rows: &[(&[f32], usize)], reproducible: bool) {
    if reproducible {
        rows.iter().for_each(|&row| hnsw.insert_slice(row));
    } else {
        hnsw.parallel_insert_slice(&rows.to_vec());
    }
}

/// Evenly spaced rows to calibrate on, sorted: a tenth of the corpus up to
/// [`CALIBRATION_QUERIES`]; none when calibration is off or the corpus is under 100 rows.
fn held_out_rows(rows: usize, target_recall: f64) -> Vec<usize> {
    let count = (rows / 10).min(CALIBRATION_QUERIES);
    if target_recall <= 0.0 || count < 10 {
        return Vec::new();
    }
    (0..count).map(|i| (2 * i + 1) * rows / (2 * count)).collect()
}

/// Doubles the beam from `config.ef_search` until the held-out rows' recall@10, less two
/// standard errors, reaches the target, over a graph that does not hold them. A search that
/// scores half the corpus costs about what an exact scan does, so from there on the answer is
/// the scan (`ef_search` = rows).
fn calibrate(graph: &HnswGraph, matrix: &[f32], dim: usize, held_out: &[usize], config: &GraphConfig) -> Calibration {
    let rows = matrix.len() / dim;
    let row = |i: usize| &matrix[i * dim..(i + 1) * dim];
    let truth: Vec<Vec<u32>> = held_out
        .par_iter()
        .map(|&q| {
            let hits = top_k_exact(matrix, dim, row(q), CALIBRATION_DEPTH + held_out.len());
            hits.into_iter().map(|h| h.0).filter(|&id| held_out.binary_search(&(id as usize)).is_err()).take(CALIBRATION_DEPTH).collect()
        })
        .collect();
    let queries = held_out.len();
    let mut ef = config.ef_search.max(CALIBRATION_DEPTH);
    while ef < rows {
        let outcomes: Vec<(f64, usize)> = held_out
            .par_iter()
            .zip(&truth)
            .map(|(&q, truth)| {
                let mut scored = 0;
                let found = hnsw::search(graph, CALIBRATION_DEPTH, ef, |node| {
                    scored += 1;
                    dot(row(q), row(node as usize))
                });
                let hits = truth.iter().filter(|id| found.iter().any(|f| f.0 == **id)).count();
                (hits as f64 / truth.len().max(1) as f64, scored)
            })
            .collect();
        let scored = outcomes.iter().map(|o| o.1).sum::<usize>() / queries;
        if 2 * scored >= rows {
            break;
        }
        let recalls: Vec<f64> = outcomes.iter().map(|o| o.0).collect();
        let (mean, standard_error) = mean_and_standard_error(&recalls);
        if mean - 2.0 * standard_error >= config.target_recall {
            return Calibration { ef_search: ef, outcome: Calibrated::Beam { queries, recall: mean } };
        }
        ef *= 2;
    }
    Calibration { ef_search: rows, outcome: Calibrated::Scan { queries } }
}

/// The graph's layers and entry point as the bundle stores them. Rows not inserted (yet) are
/// nodes without links.
pub fn export(hnsw: &Hnsw<'_, f32, UnitDot>) -> HnswGraph {
    let indexation = hnsw.get_point_indexation();
    let num_nodes = indexation.into_iter().map(|p| p.get_origin_id() + 1).max().unwrap_or(0);
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
    let mut linked = vec![false; num_nodes];
    for (id, neighbourhood) in lists {
        linked[id as usize] = true;
        for (layer, mut neighbours) in neighbourhood.into_iter().enumerate() {
            neighbours.retain(|&n| usize::from(levels[n as usize]) >= layer);
            layers[layer].push((id, neighbours));
        }
    }
    layers[0].extend((0..num_nodes as u32).filter(|&id| !linked[id as usize]).map(|id| (id, Vec::new())));
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
        let graph = export(&build(&matrix, 8, &GraphConfig::default()).hnsw);
        assert_eq!(graph.num_nodes(), 500);
        assert!(!graph.layers()[0].neighbours(7).is_empty());
        assert_eq!(HnswGraph::from_bytes(&graph.to_bytes()).unwrap(), graph);
    }

    #[test]
    fn reproducible_builds_give_the_same_graph() {
        let matrix = unit_rows(8);
        let config = GraphConfig { reproducible: true, ..GraphConfig::default() };
        let (first, second) = (build(&matrix, 8, &config), build(&matrix, 8, &config));
        assert_eq!(first.calibration, second.calibration);
        assert_eq!(export(&first.hnsw), export(&second.hnsw));
    }

    #[test]
    fn held_out_rows_are_a_spread_tenth_up_to_the_limit() {
        assert_eq!(held_out_rows(100, 0.98), (0..10).map(|i| 5 + 10 * i).collect::<Vec<_>>());
        assert_eq!(held_out_rows(1_000_000, 0.98).len(), CALIBRATION_QUERIES);
        assert!(held_out_rows(99, 0.98).is_empty());
        assert!(held_out_rows(1_000, 0.0).is_empty());
    }

    #[test]
    fn calibration_meets_the_target_or_scans() {
        let matrix = unit_rows(8);
        let built = build(&matrix, 8, &GraphConfig::default());
        let calibration = built.calibration;
        assert!(calibration.ef_search >= 64);
        match calibration.outcome {
            Calibrated::Beam { queries, recall } => assert!(queries == 50 && recall >= 0.98, "{calibration:?}"),
            Calibrated::Scan { queries } => assert_eq!((queries, calibration.ef_search), (50, 500)),
            Calibrated::Skipped => panic!("500 rows are calibrated"),
        }
        // Every row is in the final graph, held-out ones included.
        let graph = export(&built.hnsw);
        assert!((0..500).all(|node| !graph.layers()[0].neighbours(node).is_empty()));
    }

    #[test]
    fn an_unreachable_target_makes_the_default_an_exact_scan() {
        let matrix = unit_rows(8);
        let calibration = build(&matrix, 8, &GraphConfig { target_recall: 1.01, ..GraphConfig::default() }).calibration;
        assert_eq!(calibration, Calibration { ef_search: 500, outcome: Calibrated::Scan { queries: 50 } });
    }

    #[test]
    fn a_zero_target_keeps_the_given_beam() {
        let matrix = unit_rows(8);
        let calibration = build(&matrix, 8, &GraphConfig { target_recall: 0.0, ef_search: 20, ..GraphConfig::default() }).calibration;
        assert_eq!(calibration, Calibration { ef_search: 20, outcome: Calibrated::Skipped });
    }
}

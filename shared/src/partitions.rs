//! Dense search in partitions (an inverted file): the passages' unit vectors clustered by
//! spherical k-means ([`crate::kmeans`]), so that a query scores the centroids, opens the `nprobe` partitions whose
//! centroids are nearest and scores only their passages. It is the unit a bundle fetched in
//! fragments splits its vectors by: the centroids travel with the root, each partition's vectors
//! are one fragment, and a query needs only its `nprobe` of them.
//!
//! Building is deterministic for a seed: the same vectors always give the same partitions, so a
//! rebuild of an unchanged site gives byte-identical fragments.

use serde::{Deserialize, Serialize};

use crate::dense::dot;
use crate::kmeans::{self, nearest_centroid};
use crate::rng::SplitMix;
use crate::topk::top_k;

/// How passages are partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartitionConfig {
    /// Passages per partition, on average: the number of partitions is the passages divided by
    /// it, rounded up.
    pub passages_per_partition: usize,
    /// Rounds of k-means (assign every sampled passage, move every centroid).
    pub iterations: usize,
    /// Passages k-means trains on, per partition; the rest are only assigned.
    pub sample_per_partition: usize,
    pub seed: u64,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self { passages_per_partition: 256, iterations: 12, sample_per_partition: 64, seed: 1 }
    }
}

/// Passages grouped by their nearest centroid.
#[derive(Debug, Clone, PartialEq)]
pub struct Partitions {
    dim: usize,
    /// Row-major `[partitions, dim]` unit vectors.
    centroids: Vec<f32>,
    /// Each partition's passage ids, ascending.
    members: Vec<Vec<u32>>,
}

impl Partitions {
    /// Clusters the row-major unit vectors of `matrix` (`dim` wide).
    pub fn build(matrix: &[f32], dim: usize, config: &PartitionConfig) -> Self {
        let rows = matrix.len() / dim.max(1);
        let row = |i: usize| &matrix[i * dim..(i + 1) * dim];
        if rows == 0 {
            return Self { dim, centroids: Vec::new(), members: Vec::new() };
        }
        let k = rows.div_ceil(config.passages_per_partition.max(1));
        let mut rng = SplitMix(config.seed);
        let sample = rng.choose(rows, (k * config.sample_per_partition.max(1)).min(rows));
        let centroids = kmeans::train(matrix, dim, &sample, k, config.iterations, &mut rng);
        let mut members = vec![Vec::new(); k];
        for i in 0..rows {
            members[nearest_centroid(&centroids, dim, row(i))].push(i as u32);
        }
        Self { dim, centroids, members }
    }

    /// Partitions from their parts, as a bundle reader finds them.
    pub fn from_parts(dim: usize, centroids: Vec<f32>, members: Vec<Vec<u32>>) -> Self {
        Self { dim, centroids, members }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    /// The passage ids of `partition`, ascending.
    pub fn members(&self, partition: u32) -> &[u32] {
        &self.members[partition as usize]
    }

    /// The `nprobe` partitions whose centroids are nearest to `query`, nearest first.
    pub fn nearest(&self, query: &[f32], nprobe: usize) -> Vec<u32> {
        let scores = self.centroids.chunks_exact(self.dim).enumerate().map(|(c, centroid)| (c as u32, dot(query, centroid)));
        top_k(scores, nprobe).into_iter().map(|(c, _)| c).collect()
    }

    /// The `k` best passages of the `nprobe` partitions nearest to `query`, by `score`.
    pub fn search(&self, query: &[f32], k: usize, nprobe: usize, mut score: impl FnMut(u32) -> f32) -> Vec<(u32, f32)> {
        let opened = self.nearest(query, nprobe);
        top_k(opened.iter().flat_map(|&p| self.members(p)).map(|&id| (id, score(id))), k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::top_k_exact;
    use crate::kmeans;

    #[test]
    fn every_passage_is_in_exactly_one_partition() {
        let matrix = kmeans::clustered(8, 8, 50, 7);
        let partitions = Partitions::build(&matrix, 8, &PartitionConfig { passages_per_partition: 40, ..PartitionConfig::default() });
        assert_eq!(partitions.len(), 10);
        let mut all: Vec<u32> = (0..partitions.len() as u32).flat_map(|p| partitions.members(p).to_vec()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<u32>>());
    }

    #[test]
    fn clusters_are_found_and_opening_every_partition_is_exact() {
        let (dim, per) = (8, 50);
        let matrix = kmeans::clustered(dim, dim, per, 7);
        let config = PartitionConfig { passages_per_partition: per, ..PartitionConfig::default() };
        let partitions = Partitions::build(&matrix, dim, &config);
        assert_eq!(partitions, Partitions::build(&matrix, dim, &config), "the same seed builds the same partitions");
        for p in 0..partitions.len() as u32 {
            let axes: Vec<u32> = partitions.members(p).iter().map(|&id| id / per as u32).collect();
            assert!(axes.iter().all(|&a| a == axes[0]), "partition {p} mixes clusters: {axes:?}");
        }
        let query = &matrix[3 * dim..4 * dim];
        let score = |id: u32| dot(query, &matrix[id as usize * dim..][..dim]);
        assert_eq!(partitions.search(query, 10, partitions.len(), score), top_k_exact(&matrix, dim, query, 10));
        assert!(
            partitions.search(query, 10, 1, score).iter().all(|&(id, _)| (id as usize) < per),
            "the nearest partition is the query's own cluster"
        );
    }

    #[test]
    fn one_passage_makes_one_partition_and_none_makes_none() {
        let one = Partitions::build(&[1.0, 0.0], 2, &PartitionConfig::default());
        assert_eq!((one.len(), one.members(0)), (1, &[0u32][..]));
        assert_eq!(one.search(&[1.0, 0.0], 5, 3, |_| 1.0), vec![(0, 1.0)]);
        let none = Partitions::build(&[], 2, &PartitionConfig::default());
        assert!(none.is_empty() && none.search(&[1.0, 0.0], 5, 3, |_| 1.0).is_empty());
    }
}

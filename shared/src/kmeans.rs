//! Spherical k-means over unit vectors, deterministic for a seed: what [`crate::partitions`]
//! splits a bundle's vectors by and [`crate::semantic_ids`] builds document IDs from. The random
//! picks come from [`SplitMix`], the same on every platform, so the same vectors always give the
//! same clusters.

use crate::dense::dot;
use crate::rng::SplitMix;
use crate::topk::top_k;

/// Trains `k` unit centroids on the rows `sample` of the row-major `matrix` (`dim` wide): they
/// start at `k` sampled rows, then every round assigns each sampled row to its nearest centroid
/// and moves each centroid to its rows' normalized mean. A centroid left without rows restarts
/// at a sampled row, so none stays unused.
pub fn train(matrix: &[f32], dim: usize, sample: &[u32], k: usize, iterations: usize, rng: &mut SplitMix) -> Vec<f32> {
    let row = |i: u32| &matrix[i as usize * dim..(i as usize + 1) * dim];
    let mut centroids: Vec<f32> = rng.choose(sample.len(), k).iter().flat_map(|&s| row(sample[s as usize]).iter().copied()).collect();
    let k = centroids.len() / dim.max(1);
    for _ in 0..iterations {
        let mut sums = vec![0f32; centroids.len()];
        let mut counts = vec![0usize; k];
        for &s in sample {
            let nearest = nearest_centroid(&centroids, dim, row(s));
            counts[nearest] += 1;
            sums[nearest * dim..(nearest + 1) * dim].iter_mut().zip(row(s)).for_each(|(sum, v)| *sum += v);
        }
        for (c, &count) in counts.iter().enumerate() {
            let centroid = &mut centroids[c * dim..(c + 1) * dim];
            if count == 0 {
                centroid.copy_from_slice(row(sample[rng.below(sample.len())]));
                continue;
            }
            centroid.copy_from_slice(&sums[c * dim..(c + 1) * dim]);
            normalize(centroid);
        }
    }
    centroids
}

/// The index of the centroid (rows of `centroids`, `dim` wide) nearest to `vector`.
pub fn nearest_centroid(centroids: &[f32], dim: usize, vector: &[f32]) -> usize {
    let scores = centroids.chunks_exact(dim).enumerate().map(|(c, centroid)| (c as u32, dot(vector, centroid)));
    top_k(scores, 1).first().map_or(0, |&(c, _)| c as usize)
}

pub fn normalize(vector: &mut [f32]) {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|v| *v /= norm);
    }
}

/// Test data: `per` noisy unit vectors around each of the first `groups` axes of `dim`.
#[cfg(test)]
pub(crate) fn clustered(dim: usize, groups: usize, per: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix(seed);
    let mut matrix = Vec::new();
    for axis in 0..groups {
        for _ in 0..per {
            let mut v: Vec<f32> = (0..dim).map(|_| (rng.below(1000) as f32 / 1000.0 - 0.5) * 0.2).collect();
            v[axis] += 1.0;
            normalize(&mut v);
            matrix.extend(v);
        }
    }
    matrix
}

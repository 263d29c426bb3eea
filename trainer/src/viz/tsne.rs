//! Exact t-SNE (van der Maaten and Hinton, 2008) for a few thousand points: Gaussian affinities
//! calibrated to a perplexity by bisection, Student-t similarities in the plane, gradient descent
//! with early exaggeration, momentum and per-coordinate gains. It starts from given points (the
//! PCA projection, as scikit-learn's `init="pca"`), so the result is deterministic. O(n²) time
//! and memory per iteration: meant for plots, not for millions of points.

/// t-SNE's settings; the defaults are scikit-learn's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TsneConfig {
    pub perplexity: f64,
    pub iterations: usize,
    pub exaggeration: f64,
    pub exaggeration_iterations: usize,
}

impl Default for TsneConfig {
    fn default() -> Self {
        Self { perplexity: 30.0, iterations: 1000, exaggeration: 12.0, exaggeration_iterations: 250 }
    }
}

/// The 2-D embedding of the row-major `vectors` (`dim` columns), starting from `init`.
pub fn tsne(vectors: &[f32], dim: usize, init: &[[f32; 2]], config: &TsneConfig) -> Vec<[f32; 2]> {
    let n = init.len();
    assert_eq!(vectors.len(), n * dim, "one starting point per vector");
    if n < 2 {
        return init.to_vec();
    }
    let p = joint_probabilities(vectors, dim, config.perplexity.min((n - 1) as f64 / 3.0).max(1.0));
    // Start tiny (first axis' standard deviation 1e-4), as scikit-learn does, so early
    // exaggeration can pull clusters together before they settle.
    let spread = (init.iter().map(|q| f64::from(q[0]).powi(2)).sum::<f64>() / n as f64).sqrt().max(1e-12);
    let mut y: Vec<[f64; 2]> = init.iter().map(|q| [f64::from(q[0]) / spread * 1e-4, f64::from(q[1]) / spread * 1e-4]).collect();
    let learning_rate = (n as f64 / config.exaggeration / 4.0).max(50.0);
    let mut update = vec![[0f64; 2]; n];
    let mut gains = vec![[1f64; 2]; n];
    let mut numerators = vec![0f64; n * n];
    for iteration in 0..config.iterations {
        let early = iteration < config.exaggeration_iterations;
        let exaggeration = if early { config.exaggeration } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                let value = if i == j { 0.0 } else { 1.0 / (1.0 + (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2)) };
                numerators[i * n + j] = value;
                z += value;
            }
        }
        for i in 0..n {
            let mut gradient = [0f64; 2];
            for j in 0..n {
                let weight = (exaggeration * p[i * n + j] - numerators[i * n + j] / z) * numerators[i * n + j];
                gradient[0] += 4.0 * weight * (y[i][0] - y[j][0]);
                gradient[1] += 4.0 * weight * (y[i][1] - y[j][1]);
            }
            for d in 0..2 {
                let same_direction = (gradient[d] > 0.0) == (update[i][d] > 0.0);
                gains[i][d] = if same_direction { (gains[i][d] * 0.8).max(0.01) } else { gains[i][d] + 0.2 };
                update[i][d] = momentum * update[i][d] - learning_rate * gains[i][d] * gradient[d];
            }
        }
        for (point, step) in y.iter_mut().zip(&update) {
            point[0] += step[0];
            point[1] += step[1];
        }
    }
    y.iter().map(|q| [q[0] as f32, q[1] as f32]).collect()
}

/// Symmetric joint probabilities `[n, n]`: each row's Gaussian conditional, its width set so
/// that its perplexity is `perplexity`, then `(p_j|i + p_i|j) / 2n`.
fn joint_probabilities(vectors: &[f32], dim: usize, perplexity: f64) -> Vec<f64> {
    let n = vectors.len() / dim;
    let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
    let mut p = vec![0f64; n * n];
    let mut distances = vec![0f64; n];
    for i in 0..n {
        for (j, distance) in distances.iter_mut().enumerate() {
            *distance = rows[i].iter().zip(rows[j]).map(|(a, b)| f64::from(a - b).powi(2)).sum();
        }
        let row = conditional(&distances, i, perplexity);
        p[i * n..(i + 1) * n].copy_from_slice(&row);
    }
    let mut joint = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            joint[i * n + j] = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
        }
    }
    joint
}

/// `p_j|i` over `distances` (squared, from point `i`), the precision found by bisection so that
/// the row's entropy is `ln(perplexity)`.
fn conditional(distances: &[f64], i: usize, perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    let (mut beta, mut low, mut high) = (1.0, 0.0, f64::INFINITY);
    let mut row = vec![0f64; distances.len()];
    // Shifting by the nearest distance keeps exp() from underflowing for far-apart points.
    let nearest = distances.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &d)| d).fold(f64::INFINITY, f64::min);
    for _ in 0..100 {
        let mut sum = 0.0;
        for (j, (&distance, p)) in distances.iter().zip(row.iter_mut()).enumerate() {
            *p = if j == i { 0.0 } else { (-(distance - nearest) * beta).exp() };
            sum += *p;
        }
        let mut entropy = 0.0;
        for (j, p) in row.iter_mut().enumerate() {
            *p /= sum;
            if j != i && *p > 0.0 {
                entropy -= *p * p.ln();
            }
        }
        if (entropy - target).abs() < 1e-5 {
            break;
        }
        if entropy > target {
            low = beta;
            beta = if high.is_finite() { (beta + high) / 2.0 } else { beta * 2.0 };
        } else {
            high = beta;
            beta = (beta + low) / 2.0;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` points around each of two centres far apart in 8 dimensions.
    fn two_clusters(count: usize) -> Vec<f32> {
        let mut state = 12345u64;
        let mut noise = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        (0..2 * count).flat_map(|i| (0..8).map(|d| if (d == 0) == (i < count) { 5.0 } else { 0.0 } + noise()).collect::<Vec<_>>()).collect()
    }

    #[test]
    fn each_row_has_the_asked_perplexity() {
        let vectors = two_clusters(20);
        let rows: Vec<&[f32]> = vectors.chunks_exact(8).collect();
        let distances: Vec<f64> = rows.iter().map(|r| r.iter().zip(rows[3]).map(|(a, b)| f64::from(a - b).powi(2)).sum()).collect();
        let row = conditional(&distances, 3, 7.0);
        let entropy: f64 = row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
        assert!((entropy.exp() - 7.0).abs() < 1e-3, "perplexity {}", entropy.exp());
        assert_eq!(row[3], 0.0);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn separated_clusters_stay_apart_in_the_plane() {
        let count = 25;
        let vectors = two_clusters(count);
        // A start that mixes the clusters: t-SNE itself has to pull them apart.
        let init: Vec<[f32; 2]> = (0..2 * count).map(|i| [(i as f32 * 0.7).sin(), (i as f32 * 1.3).cos()]).collect();
        let config = TsneConfig { perplexity: 10.0, ..TsneConfig::default() };
        let points = tsne(&vectors, 8, &init, &config);
        let distance = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        for (i, &point) in points.iter().enumerate() {
            let nearest = (0..points.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| distance(point, points[a]).total_cmp(&distance(point, points[b])))
                .unwrap();
            assert_eq!(nearest < count, i < count, "point {i}'s nearest neighbour {nearest} is in the other cluster");
        }
        assert_eq!(points, tsne(&vectors, 8, &init, &config), "deterministic");
    }
}

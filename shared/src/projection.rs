//! The embedding map: a 2-D PCA projection of the passage vectors, fitted when the bundle is built
//! and stored in it (`map.bin`), so that a client can plot every passage and place a query among
//! them without redoing the fit.
//!
//! ```text
//! "DMAP" u32 version, u32 dim, u32 rows
//! f32 × dim        mean
//! f32 × 2·dim      first and second principal axes (unit length)
//! f32 × 2·rows     each passage's (x, y)
//! ```

use crate::error::FormatError;

const MAGIC: &[u8; 4] = b"DMAP";
const VERSION: u32 = 1;
const SECTION: &str = "map";
/// Power-iteration steps per axis; the top two axes of text embeddings separate well before this.
const ITERATIONS: usize = 100;

/// A fitted 2-D projection and the points of the vectors it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    dim: usize,
    mean: Vec<f32>,
    axes: [Vec<f32>; 2],
    points: Vec<[f32; 2]>,
}

impl Projection {
    /// Fits the two principal axes of `vectors` (row-major, `dim` columns) by power iteration on
    /// the covariance, the second deflated against the first; deterministic for the same input.
    pub fn fit(vectors: &[f32], dim: usize) -> Self {
        assert!(dim > 0 && vectors.len().is_multiple_of(dim), "vectors must be whole rows of {dim}");
        let mean = column_means(vectors, dim);
        let centered = centre(vectors, &mean);
        let first = principal_axis(&centered, dim, None);
        let second = principal_axis(&centered, dim, Some(&first));
        let axes = [first, second];
        let points = centered.chunks_exact(dim).map(|row| [dot(row, &axes[0]), dot(row, &axes[1])]).collect();
        Self { dim, mean, axes, points }
    }

    /// Where `vector` (from the same model) falls on the map.
    pub fn project(&self, vector: &[f32]) -> [f32; 2] {
        let centered: Vec<f32> = vector.iter().zip(&self.mean).map(|(v, m)| v - m).collect();
        [dot(&centered, &self.axes[0]), dot(&centered, &self.axes[1])]
    }

    /// Each passage's point, in passage order.
    pub fn points(&self) -> &[[f32; 2]] {
        &self.points
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 4 * (3 * self.dim + 2 * self.points.len()));
        out.extend_from_slice(MAGIC);
        for value in [VERSION, self.dim as u32, self.points.len() as u32] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        let floats = self.mean.iter().chain(&self.axes[0]).chain(&self.axes[1]).chain(self.points.iter().flatten());
        floats.for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let header = bytes.get(..16).ok_or(FormatError::Truncated { section: SECTION, what: "header" })?;
        if &header[..4] != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let field = |i: usize| u32::from_le_bytes(header[4 * i..4 * i + 4].try_into().expect("4 bytes"));
        if field(1) != VERSION {
            return Err(FormatError::UnsupportedVersion { section: SECTION, found: field(1), supported: VERSION });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        let (dim, rows) = (field(2) as usize, field(3) as usize);
        if dim == 0 {
            return Err(corrupt("dimension 0".into()));
        }
        let expected = 4 * (3 * dim as u64 + 2 * rows as u64);
        let body = &bytes[16..];
        if (body.len() as u64) < expected {
            return Err(FormatError::Truncated { section: SECTION, what: "points" });
        }
        if body.len() as u64 > expected {
            return Err(corrupt(format!("{} bytes after the last point", body.len() as u64 - expected)));
        }
        let floats: Vec<f32> = body.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if floats.iter().any(|v| !v.is_finite()) {
            return Err(corrupt("a non-finite value".into()));
        }
        let (mean, rest) = floats.split_at(dim);
        let (first, rest) = rest.split_at(dim);
        let (second, points) = rest.split_at(dim);
        let points = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        Ok(Self { dim, mean: mean.to_vec(), axes: [first.to_vec(), second.to_vec()], points })
    }
}

/// The mean of `matrix`'s rows (row-major, `dim` columns); zeros for no rows.
pub(crate) fn column_means(matrix: &[f32], dim: usize) -> Vec<f32> {
    let mut mean = vec![0f32; dim];
    for row in matrix.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    let rows = (matrix.len() / dim).max(1) as f32;
    mean.iter_mut().for_each(|m| *m /= rows);
    mean
}

/// Each of `matrix`'s rows (row-major, `mean`'s width) less `mean`.
pub(crate) fn centre(matrix: &[f32], mean: &[f32]) -> Vec<f32> {
    matrix.chunks_exact(mean.len()).flat_map(|row| row.iter().zip(mean).map(|(v, m)| v - m)).collect()
}

/// The unit direction of greatest variance of the centered rows, orthogonal to `against` if given.
fn principal_axis(centered: &[f32], dim: usize, against: Option<&[f32]>) -> Vec<f32> {
    // A fixed, non-symmetric start so that no axis is orthogonal to it by accident of symmetry.
    let mut axis: Vec<f32> = (0..dim).map(|d| 1.0 + (d as f32 * 0.618).fract()).collect();
    for _ in 0..ITERATIONS {
        if let Some(against) = against {
            let along = dot(&axis, against);
            axis.iter_mut().zip(against).for_each(|(a, b)| *a -= along * b);
        }
        if !normalize(&mut axis) {
            break;
        }
        let mut next = vec![0f32; dim];
        for row in centered.chunks_exact(dim) {
            let weight = dot(row, &axis);
            next.iter_mut().zip(row).for_each(|(n, v)| *n += weight * v);
        }
        axis = next;
    }
    if let Some(against) = against {
        let along = dot(&axis, against);
        axis.iter_mut().zip(against).for_each(|(a, b)| *a -= along * b);
    }
    if !normalize(&mut axis) {
        return vec![0.0; dim];
    }
    // The sign of an eigenvector is arbitrary: make the largest component positive so a refit agrees.
    let largest = axis.iter().copied().fold(0f32, |best, v| if v.abs() > best.abs() { v } else { best });
    if largest < 0.0 {
        axis.iter_mut().for_each(|a| *a = -*a);
    }
    axis
}

/// Scales `v` to unit length; false when it is (numerically) zero.
fn normalize(v: &mut [f32]) -> bool {
    let norm = dot(v, v).sqrt();
    if norm <= f32::EPSILON {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points spread mostly along (1, 1, 0), less along (1, -1, 0), not at all along z.
    fn plane() -> Vec<f32> {
        let mut vectors = Vec::new();
        for i in 0..50 {
            let (a, b) = ((i as f32 - 25.0) * 0.2, ((i * 7 % 11) as f32 - 5.0) * 0.1);
            vectors.extend_from_slice(&[a + b + 3.0, a - b + 3.0, 1.0]);
        }
        vectors
    }

    #[test]
    fn finds_the_axes_of_greatest_spread() {
        let projection = Projection::fit(&plane(), 3);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3);
        assert!(close(&projection.axes[0], &[h, h, 0.0]), "{:?}", projection.axes[0]);
        assert!(close(&projection.axes[1], &[h, -h, 0.0]) || close(&projection.axes[1], &[-h, h, 0.0]), "{:?}", projection.axes[1]);
        assert!(dot(&projection.axes[0], &projection.axes[1]).abs() < 1e-4);
    }

    #[test]
    fn projecting_a_fitted_vector_gives_its_point() {
        let vectors = plane();
        let projection = Projection::fit(&vectors, 3);
        for (row, point) in vectors.chunks_exact(3).zip(projection.points()) {
            let again = projection.project(row);
            assert!((again[0] - point[0]).abs() < 1e-5 && (again[1] - point[1]).abs() < 1e-5);
        }
    }

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let projection = Projection::fit(&plane(), 3);
        let bytes = projection.to_bytes();
        assert_eq!(Projection::from_bytes(&bytes).unwrap(), projection);
        for cut in [0, 3, 15, 16, bytes.len() - 1] {
            assert!(Projection::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Projection::from_bytes(&longer), Err(FormatError::Corrupt { .. })));
        let mut nan = bytes.clone();
        nan[16..20].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(Projection::from_bytes(&nan), Err(FormatError::Corrupt { .. })));
    }

    #[test]
    fn one_vector_or_identical_vectors_give_a_defined_map() {
        let projection = Projection::fit(&[0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 3);
        assert_eq!(projection.points(), &[[0.0, 0.0], [0.0, 0.0]]);
    }
}

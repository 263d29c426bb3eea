//! The sign codes' learned projection: the passage vectors' top principal subspace, rotated by
//! iterative quantization (ITQ; Gong and Lazebnik, 2011) so that the signs of the projected
//! vectors lose as little of them as a rotation can. Two thirds as many bits as the vectors have
//! dimensions then pick a query's candidates as well as one sign per dimension does (on
//! SciFact's MiniLM vectors; half as many need a deeper rescore for the same recall).
//!
//! Fitted when a bundle is built, on at most [`FIT_ROWS`] passages; stored in the sign codes as
//! one int8 row (and its f32 scale) per bit; applied to each query before it scans the codes. A
//! passage's bit is the sign of its row against the passage centred on the fitted passages' mean;
//! a query is projected uncentred, which shifts every passage's score by the same amount.
//!
//! Layout: LEB128 bits (0: no projection, the codes are the vectors' own signs), then per bit an
//! f32 scale and `dim` int8 weights.

use crate::error::FormatError;
use crate::projection::{centre, column_means};
use crate::rng::SplitMix;
use crate::varint;
use crate::vectors::sign_bits;

/// Passages the projection is fitted on, at most (evenly spaced over the corpus).
pub const FIT_ROWS: usize = 10_000;
/// Subspace-iteration steps for the principal subspace.
const SUBSPACE_STEPS: usize = 30;
/// ITQ's alternations of codes and rotation (the paper's 50).
const ITQ_STEPS: usize = 50;
/// Newton-Schulz steps for one rotation, at most; it stops once the rotation is orthogonal.
const POLAR_STEPS: usize = 60;
const SEED: u64 = 0x17a;

/// A projection of `dim`-dimensional vectors onto `bits` directions.
#[derive(Debug, Clone, PartialEq)]
pub struct SignRotation {
    dim: usize,
    /// `bits` rows of `dim` weights.
    weights: Vec<i8>,
    scales: Vec<f32>,
}

impl SignRotation {
    /// Fits `bits` directions to `matrix` (row-major, `dim` columns) and returns them with every
    /// row's code (`bits` signs, packed as [`sign_bits`] packs them).
    pub fn fit(matrix: &[f32], dim: usize, bits: usize) -> (Self, Vec<u8>) {
        assert!(dim > 0 && matrix.len().is_multiple_of(dim), "vectors must be whole rows of {dim}");
        assert!((1..=dim).contains(&bits), "{bits} bits for {dim} dimensions");
        let rows = matrix.len() / dim;
        let fit_rows = rows.min(FIT_ROWS);
        let sample: Vec<f32> = (0..fit_rows).flat_map(|i| &matrix[(i * rows / fit_rows) * dim..][..dim]).copied().collect();
        let mean = column_means(&sample, dim);
        let centred = centre(&sample, &mean);
        let mut rng = SplitMix(SEED);
        let basis = principal_subspace(&centred, dim, bits, &mut rng);
        let reduced = matmul(&centred, fit_rows, dim, &basis, bits);
        let rotation = itq(&reduced, bits, random_rotation(bits, &mut rng), ITQ_STEPS);
        let directions = transpose(&matmul(&basis, dim, bits, &rotation, bits), dim, bits);
        let rotation = Self::quantize(dim, &directions);
        let codes = matrix.chunks_exact(dim).flat_map(|row| sign_bits(&rotation.project(&centre(row, &mean)))).collect();
        (rotation, codes)
    }

    fn quantize(dim: usize, directions: &[f32]) -> Self {
        let mut weights = Vec::with_capacity(directions.len());
        let mut scales = Vec::with_capacity(directions.len() / dim);
        for row in directions.chunks_exact(dim) {
            let largest = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            weights.extend(row.iter().map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8));
            scales.push(scale);
        }
        Self { dim, weights, scales }
    }

    pub fn bits(&self) -> usize {
        self.scales.len()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `vector`'s coordinate along each direction.
    pub fn project(&self, vector: &[f32]) -> Vec<f32> {
        assert_eq!(vector.len(), self.dim, "a vector of {} dimensions for a projection of {}", vector.len(), self.dim);
        self.weights
            .chunks_exact(self.dim)
            .zip(&self.scales)
            .map(|(row, scale)| scale * row.iter().zip(vector).map(|(&w, v)| f32::from(w) * v).sum::<f32>())
            .collect()
    }

    /// Appends the layout above; `None` writes 0 bits.
    pub fn write(rotation: Option<&Self>, out: &mut Vec<u8>) {
        varint::write(out, rotation.map_or(0, Self::bits) as u64);
        if let Some(rotation) = rotation {
            for (row, scale) in rotation.weights.chunks_exact(rotation.dim).zip(&rotation.scales) {
                out.extend_from_slice(&scale.to_le_bytes());
                out.extend(row.iter().map(|&w| w as u8));
            }
        }
    }

    /// Reads what [`SignRotation::write`] wrote for vectors of `dim` dimensions.
    pub fn read(reader: &mut varint::Reader, dim: usize, section: &'static str) -> Result<Option<Self>, FormatError> {
        let bits = reader.varint("rotation bits")? as usize;
        if bits == 0 {
            return Ok(None);
        }
        if bits > dim {
            return Err(FormatError::Corrupt { section, message: format!("a rotation to {bits} bits of {dim} dimensions") });
        }
        // No capacity from the counts: they are not checked against the bytes until read.
        let (mut weights, mut scales) = (Vec::new(), Vec::new());
        for bit in 0..bits {
            let scale = reader.f32_le("rotation scale")?;
            if !scale.is_finite() {
                return Err(FormatError::Corrupt { section, message: format!("rotation bit {bit} has scale {scale}") });
            }
            scales.push(scale);
            weights.extend(reader.bytes(dim, "rotation weights")?.iter().map(|&w| w as i8));
        }
        Ok(Some(Self { dim, weights, scales }))
    }
}

/// An orthonormal basis (`dim` × `k`, row-major) of the span of `centred`'s `k` largest principal
/// axes, by subspace iteration on the covariance from a random start.
fn principal_subspace(centred: &[f32], dim: usize, k: usize, rng: &mut SplitMix) -> Vec<f32> {
    let rows = centred.len() / dim;
    let covariance = matmul(&transpose(centred, rows, dim), dim, rows, centred, dim);
    let mut basis: Vec<f32> = (0..dim * k).map(|_| rng.unit() as f32 - 0.5).collect();
    orthonormalize_columns(&mut basis, dim, k);
    for _ in 0..SUBSPACE_STEPS {
        basis = matmul(&covariance, dim, dim, &basis, k);
        orthonormalize_columns(&mut basis, dim, k);
    }
    basis
}

fn random_rotation(k: usize, rng: &mut SplitMix) -> Vec<f32> {
    let mut rotation: Vec<f32> = (0..k * k).map(|_| rng.unit() as f32 - 0.5).collect();
    orthonormalize_columns(&mut rotation, k, k);
    rotation
}

/// ITQ from `rotation` (`k` × `k`): `steps` times, the codes are the signs of `reduced` (`n` × `k`)
/// rotated, then the rotation is the orthogonal one nearest to mapping `reduced` onto those codes
/// (the polar factor of reducedᵀ·codes). Each step lowers [`quantization_loss`] or keeps it.
fn itq(reduced: &[f32], k: usize, mut rotation: Vec<f32>, steps: usize) -> Vec<f32> {
    let n = reduced.len() / k;
    let reduced_t = transpose(reduced, n, k);
    for _ in 0..steps {
        let codes: Vec<f32> = matmul(reduced, n, k, &rotation, k).iter().map(|&z| if z > 0.0 { 1.0 } else { -1.0 }).collect();
        match polar(&matmul(&reduced_t, k, n, &codes, k), k) {
            Some(next) => rotation = next,
            None => break,
        }
    }
    rotation
}

/// The orthogonal factor of `m` (`k` × `k`) by Newton-Schulz, after scaling its largest singular
/// value under 1; `None` when it does not converge (a singular `m`).
fn polar(m: &[f32], k: usize) -> Option<Vec<f32>> {
    let gram = matmul(&transpose(m, k, k), k, k, m, k);
    let bound = gram.chunks_exact(k).map(|row| row.iter().map(|g| g.abs()).sum::<f32>()).fold(0f32, f32::max).sqrt();
    if !(bound.is_finite() && bound > 0.0) {
        return None;
    }
    let mut a: Vec<f32> = m.iter().map(|x| x / bound).collect();
    for _ in 0..POLAR_STEPS {
        let mut gram = matmul(&transpose(&a, k, k), k, k, &a, k);
        let error = gram.iter().enumerate().map(|(i, g)| (g - if i % (k + 1) == 0 { 1.0 } else { 0.0 }).abs()).fold(0f32, f32::max);
        if error < 1e-4 {
            return Some(a);
        }
        gram.iter_mut().enumerate().for_each(|(i, g)| *g = if i % (k + 1) == 0 { 1.5 - 0.5 * *g } else { -0.5 * *g });
        a = matmul(&a, k, k, &gram, k);
    }
    None
}

/// Mean squared distance between the signs of `reduced` rotated and the rotated vectors
/// themselves: what ITQ minimises.
#[cfg(test)]
fn quantization_loss(reduced: &[f32], k: usize, rotation: &[f32]) -> f32 {
    let rotated = matmul(reduced, reduced.len() / k, k, rotation, k);
    rotated.iter().map(|&z| (z.signum() - z).powi(2)).sum::<f32>() / rotated.len() as f32
}

/// Gram-Schmidt on the `cols` columns of `matrix` (`rows` × `cols`, row-major), twice over for
/// accuracy; a column in the span of those before it becomes zero.
fn orthonormalize_columns(matrix: &mut [f32], rows: usize, cols: usize) {
    let mut columns = transpose(matrix, rows, cols);
    for j in 0..cols {
        let (done, rest) = columns.split_at_mut(j * rows);
        let column = &mut rest[..rows];
        for _ in 0..2 {
            for before in done.chunks_exact(rows) {
                let along: f32 = before.iter().zip(column.iter()).map(|(b, c)| b * c).sum();
                column.iter_mut().zip(before).for_each(|(c, b)| *c -= along * b);
            }
        }
        let norm = column.iter().map(|c| c * c).sum::<f32>().sqrt();
        let inverse = if norm > 1e-6 { 1.0 / norm } else { 0.0 };
        column.iter_mut().for_each(|c| *c *= inverse);
    }
    matrix.copy_from_slice(&transpose(&columns, cols, rows));
}

/// `a` (`rows` × `inner`) times `b` (`inner` × `cols`), row-major, in the loop order that lets
/// the compiler vectorise the innermost one.
fn matmul(a: &[f32], rows: usize, inner: usize, b: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for (a_row, out_row) in a.chunks_exact(inner).zip(out.chunks_exact_mut(cols)) {
        for (&x, b_row) in a_row.iter().zip(b.chunks_exact(cols)) {
            out_row.iter_mut().zip(b_row).for_each(|(o, y)| *o += x * y);
        }
    }
    out
}

fn transpose(matrix: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for (r, row) in matrix.chunks_exact(cols).enumerate() {
        row.iter().enumerate().for_each(|(c, &v)| out[c * rows + r] = v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows` vectors of `dim` dimensions that lie in a random `rank`-dimensional subspace, off
    /// centre.
    fn in_subspace(rows: usize, dim: usize, rank: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix(seed);
        let axes: Vec<f32> = (0..rank * dim).map(|_| rng.unit() as f32 - 0.5).collect();
        let offset: Vec<f32> = (0..dim).map(|_| rng.unit() as f32).collect();
        let mut matrix = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            let weights: Vec<f32> = (0..rank).map(|_| rng.unit() as f32 - 0.5).collect();
            matrix.extend((0..dim).map(|d| offset[d] + (0..rank).map(|r| weights[r] * axes[r * dim + d]).sum::<f32>()));
        }
        matrix
    }

    #[test]
    fn the_projection_keeps_vectors_that_lie_in_as_many_dimensions_as_it_has_bits() {
        let (dim, rank) = (48, 16);
        let matrix = in_subspace(400, dim, rank, 1);
        let (rotation, codes) = SignRotation::fit(&matrix, dim, rank);
        assert_eq!((rotation.bits(), rotation.dim(), codes.len()), (rank, dim, 400 * rank / 8));
        let mean = column_means(&matrix, dim);
        for (row, code) in centre(&matrix, &mean).chunks_exact(dim).zip(codes.chunks_exact(rank / 8)) {
            let projected = rotation.project(row);
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let kept = norm(&projected) / norm(row);
            assert!((kept - 1.0).abs() < 0.02, "the projection keeps {kept} of a vector's length");
            assert_eq!(sign_bits(&projected), code, "a code is not the signs of its projection");
        }
    }

    #[test]
    fn itq_lowers_the_quantization_loss_of_its_starting_rotation() {
        let k = 16;
        let reduced = in_subspace(500, k, k, 2);
        let start = random_rotation(k, &mut SplitMix(3));
        let fitted = itq(&reduced, k, start.clone(), ITQ_STEPS);
        let before = quantization_loss(&reduced, k, &start);
        let after = quantization_loss(&reduced, k, &fitted);
        assert!(after < before, "ITQ took the loss from {before} to {after}");
        let gram = matmul(&transpose(&fitted, k, k), k, k, &fitted, k);
        for (i, g) in gram.iter().enumerate() {
            let identity = if i % (k + 1) == 0 { 1.0 } else { 0.0 };
            assert!((g - identity).abs() < 1e-3, "the rotation is not orthogonal: {g} at {i}");
        }
    }

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let matrix = in_subspace(100, 24, 8, 4);
        let (rotation, _) = SignRotation::fit(&matrix, 24, 8);
        let mut bytes = Vec::new();
        SignRotation::write(Some(&rotation), &mut bytes);
        let read = SignRotation::read(&mut varint::Reader::new(&bytes, "test"), 24, "test").unwrap();
        assert_eq!(read.as_ref(), Some(&rotation));
        assert!(SignRotation::read(&mut varint::Reader::new(&bytes, "test"), 4, "test").is_err(), "8 bits of 4 dimensions");
        for cut in 0..bytes.len() {
            assert!(SignRotation::read(&mut varint::Reader::new(&bytes[..cut], "test"), 24, "test").is_err(), "cut at {cut}");
        }
        let mut none = Vec::new();
        SignRotation::write(None, &mut none);
        assert_eq!(SignRotation::read(&mut varint::Reader::new(&none, "test"), 24, "test").unwrap(), None);
    }

    #[test]
    fn identical_vectors_give_a_defined_projection() {
        let (rotation, codes) = SignRotation::fit(&[0.5f32; 5 * 16], 16, 8);
        assert_eq!(codes.len(), 5);
        assert!(rotation.project(&[1.0; 16]).iter().all(|x| x.is_finite()));
    }
}

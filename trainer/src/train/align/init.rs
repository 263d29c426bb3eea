//! Where a static query encoder starts (tokenlearn's recipe): each word piece's vector is the
//! teacher's vector of that piece read alone (`[CLS] piece [SEP]`), and the table is compressed
//! to `embed_dim` columns along its principal directions (uncentred: the direction every
//! teacher vector shares is kept), with the map back into the teacher's space their transpose.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use dowse_core::model::{Encoded, EncoderConfig, TextEncoder};

use crate::device::BackendJob;
use crate::model_folder;
use crate::progress::Progress;

/// The teacher's vector of each of `pieces` (teacher ids) read alone.
pub struct PieceVectors<'a> {
    pub teacher_dir: &'a Path,
    pub config: EncoderConfig,
    pub pieces: &'a [u32],
}

impl BackendJob for PieceVectors<'_> {
    type Output = Result<Vec<f32>>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<f32>> {
        let model = model_folder::read(self.teacher_dir)?;
        let encoder = TextEncoder::<B>::load(model.files(), self.config, &device)
            .with_context(|| format!("loading the teacher in {}", self.teacher_dir.display()))?;
        let specials = encoder.tokenizer().encode(&[""])?.pop().expect("one text");
        let rows: Vec<Encoded> = self
            .pieces
            .iter()
            .map(|&id| {
                let mut ids = specials.ids.clone();
                ids.insert(1, id);
                Encoded { type_ids: vec![0; ids.len()], ids }
            })
            .collect();
        let mut progress = Progress::new("word pieces", rows.len(), 0);
        let mut out = Vec::with_capacity(rows.len() * encoder.dim());
        for batch in rows.chunks(self.config.batch_size.max(1)) {
            let refs: Vec<&Encoded> = batch.iter().collect();
            out.extend(encoder.embed(&refs).into_data().to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?);
            progress.count(out.len() / encoder.dim(), "word pieces");
        }
        progress.finish();
        Ok(out)
    }
}

/// `vectors` (`[rows, dim]`) compressed to `width` columns: the table `[rows, width]` and the map
/// `[width, dim]` with `table × map` the best rank-`width` approximation of `vectors`. A width of
/// 0 or at least `dim` keeps the vectors, with the identity as the map.
pub fn compress(vectors: &[f32], dim: usize, width: usize) -> (Vec<f32>, Vec<f32>) {
    if width == 0 || width >= dim {
        return (vectors.to_vec(), identity(dim));
    }
    let basis = top_directions(vectors, dim, width);
    let table = vectors.chunks_exact(dim).flat_map(|row| basis.chunks_exact(dim).map(|b| dot(row, b)).collect::<Vec<_>>()).collect();
    (table, basis)
}

/// The row-major `dim × dim` identity: the map of a table already in the teacher's space.
pub fn identity(dim: usize) -> Vec<f32> {
    (0..dim * dim).map(|i| if i / dim == i % dim { 1.0 } else { 0.0 }).collect()
}

/// The `width` leading right singular vectors of `vectors`, as `width` rows of length `dim`, by
/// subspace iteration on the `dim × dim` Gram matrix.
fn top_directions(vectors: &[f32], dim: usize, width: usize) -> Vec<f32> {
    let mut gram = vec![0f64; dim * dim];
    for row in vectors.chunks_exact(dim) {
        for i in 0..dim {
            let ri = f64::from(row[i]);
            for j in 0..dim {
                gram[i * dim + j] += ri * f64::from(row[j]);
            }
        }
    }
    let mut basis: Vec<Vec<f64>> =
        (0..width).map(|k| (0..dim).map(|i| if i == k { 1.0 } else { ((i * 31 + k * 17) % 7) as f64 * 1e-3 }).collect()).collect();
    for _ in 0..100 {
        for b in &mut basis {
            *b = (0..dim).map(|i| (0..dim).map(|j| gram[i * dim + j] * b[j]).sum()).collect();
        }
        orthonormalize(&mut basis);
    }
    basis.into_iter().flatten().map(|v| v as f32).collect()
}

/// Modified Gram-Schmidt, in place.
fn orthonormalize(basis: &mut [Vec<f64>]) {
    for k in 0..basis.len() {
        for j in 0..k {
            let projection: f64 = basis[k].iter().zip(&basis[j]).map(|(a, b)| a * b).sum();
            let (done, rest) = basis.split_at_mut(k);
            rest[0].iter_mut().zip(&done[j]).for_each(|(a, b)| *a -= projection * b);
        }
        let norm = basis[k].iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-30);
        basis[k].iter_mut().for_each(|v| *v /= norm);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_keeps_the_leading_directions() {
        // Rank-2 data in 4 dimensions is rebuilt exactly from 2 columns.
        let rows: Vec<[f32; 4]> = (0..20).map(|i| i as f32 / 10.0).map(|t| [t, 2.0 * t, 1.0 - t, 0.5 - 1.5 * t]).collect();
        let vectors: Vec<f32> = rows.iter().flatten().copied().collect();
        let (table, map) = compress(&vectors, 4, 2);
        assert_eq!((table.len(), map.len()), (40, 8));
        for (row, original) in table.chunks(2).zip(vectors.chunks(4)) {
            let rebuilt: Vec<f32> = (0..4).map(|j| row[0] * map[j] + row[1] * map[4 + j]).collect();
            assert!(rebuilt.iter().zip(original).all(|(a, b)| (a - b).abs() < 1e-3), "{rebuilt:?} {original:?}");
        }
        let (same, identity) = compress(&vectors, 4, 0);
        assert_eq!((same, identity[5], identity[1]), (vectors, 1.0, 0.0));
    }
}

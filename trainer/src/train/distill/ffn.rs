//! Which feed-forward neurons a narrower student keeps: in each layer, those that add most to the
//! token states of a sample of the corpus' passages under the cut-down network, before training
//! ([`Bert::ffn_importance`]). Narrower feed-forward blocks are what make a student's layers
//! cheaper than its teacher's, not only fewer.

use anyhow::Result;
use burn::tensor::backend::Backend;
use dowse_core::model::{Bert, Side};

use super::super::contrastive::TokenizedSides;

/// Per layer, the `width` neurons of `model` with the largest importance summed over `sample`
/// passages evenly spaced through the corpus, in index order.
pub fn strongest<B: Backend>(
    model: &Bert<B>,
    texts: &TokenizedSides,
    passages: usize,
    sample: usize,
    batch_size: usize,
    width: usize,
    device: &B::Device,
) -> Result<Vec<Vec<u32>>> {
    let count = sample.clamp(1, passages.max(1));
    let rows: Vec<usize> = (0..count).map(|i| i * passages / count).collect();
    let mut totals: Vec<Vec<f32>> = Vec::new();
    for chunk in rows.chunks(batch_size.max(1)) {
        let (ids, types, mask) = texts.batch::<B>(Side::Passage, chunk, device);
        for (layer, importance) in model.ffn_importance(ids, types, mask).into_iter().enumerate() {
            let values = importance.into_data().to_vec::<f32>().map_err(|e| anyhow::anyhow!("reading feed-forward importances: {e:?}"))?;
            match totals.get_mut(layer) {
                Some(total) => total.iter_mut().zip(values).for_each(|(t, v)| *t += v),
                None => totals.push(values),
            }
        }
    }
    Ok(totals.iter().map(|total| top(total, width)).collect())
}

/// The indices of the `width` largest scores (the lower index first among equal ones), ascending.
fn top(scores: &[f32], width: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]).then(a.cmp(&b)));
    order.truncate(width);
    order.sort_unstable();
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_largest_in_index_order() {
        assert_eq!(top(&[0.5, 3.0, 1.0, 3.0, 0.0], 3), [1, 2, 3]);
        assert_eq!(top(&[2.0, 1.0, 2.0], 1), [0]);
        assert_eq!(top(&[1.0, 2.0], 5), [0, 1]);
    }
}

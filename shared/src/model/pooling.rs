//! Turning per-token states into one unit vector: the mean over the real tokens, scaled to unit
//! length. BERT, the LSTM towers and the DSSM share these.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Mean of `states` `[batch, seq, hidden]` over the tokens where `mask` `[batch, seq]` is 1.
pub fn masked_mean<B: Backend>(states: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, seq, hidden] = states.dims();
    let mask3 = mask.reshape([batch, seq, 1]);
    let summed = (states * mask3.clone()).sum_dim(1).reshape([batch, hidden]);
    let counts = mask3.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    summed / counts
}

/// Each row of `x` scaled to unit length (an all-zero row stays zero).
pub fn unit_rows<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norms = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norms
}

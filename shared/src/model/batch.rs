//! Tokenized texts to the three tensors BERT reads: ids, token types and the attention mask,
//! each `[rows, length]`, padding with id 0, type 0 and mask 0.
//!
//! The length is the longest row rounded up to a multiple of [`LENGTH_STEP`]. The GPU backends
//! (CubeCL's CUDA and wgpu, the browser's WebGPU included) compile and autotune kernels for each
//! tensor shape they meet; batches padded to their own longest row give a new shape nearly every
//! batch, and a run spends its time compiling (measured on an H200: 0% GPU use while encoding
//! SciFact). Rounding bounds the shapes to `max_len / LENGTH_STEP` per batch size. Padded
//! positions are masked, so the vectors do not change; on the CPU the cost is at most
//! `LENGTH_STEP - 1` masked positions a row.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::Encoded;

/// Padded lengths are multiples of this, up to the tokenizer's maximum.
pub const LENGTH_STEP: usize = 32;

/// The length a batch whose longest row has `longest` tokens is padded to: the next multiple of
/// [`LENGTH_STEP`], but not past `max_len` (the truncation length, which the model's position
/// embeddings cover) unless a row is already longer.
pub fn padded_length(longest: usize, max_len: usize) -> usize {
    longest.max(1).next_multiple_of(LENGTH_STEP).min(max_len).max(longest.max(1))
}

/// Ids, token type ids and the 1/0 attention mask of `rows`, padded to [`padded_length`].
pub fn pad_batch<B: Backend>(
    rows: &[&Encoded],
    max_len: usize,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
    let seq = padded_length(rows.iter().map(|r| r.ids.len()).max().unwrap_or(0), max_len);
    let batch = rows.len();
    let mut ids = vec![0i64; batch * seq];
    let mut types = vec![0i64; batch * seq];
    let mut mask = vec![0f32; batch * seq];
    for (r, row) in rows.iter().enumerate() {
        for (t, (&id, &ty)) in row.ids.iter().zip(&row.type_ids).enumerate() {
            ids[r * seq + t] = i64::from(id);
            types[r * seq + t] = i64::from(ty);
            mask[r * seq + t] = 1.0;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [batch, seq]), device),
        Tensor::from_data(TensorData::new(types, [batch, seq]), device),
        Tensor::from_data(TensorData::new(mask, [batch, seq]), device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_up_to_the_step_within_the_maximum() {
        assert_eq!(padded_length(0, 256), LENGTH_STEP);
        assert_eq!(padded_length(1, 256), 32);
        assert_eq!(padded_length(32, 256), 32);
        assert_eq!(padded_length(33, 256), 64);
        assert_eq!(padded_length(250, 256), 256);
        assert_eq!(padded_length(250, 250), 250);
        assert_eq!(padded_length(10, 16), 16);
        assert_eq!(padded_length(20, 16), 20);
    }
}

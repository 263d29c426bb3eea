//! Tokenized texts to the three tensors BERT reads: ids, token types and the attention mask,
//! each `[rows, longest]`, padding with id 0, type 0 and mask 0.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::Encoded;

/// Ids, token type ids and the 1/0 attention mask of `rows`, padded to the longest.
pub fn pad_batch<B: Backend>(rows: &[&Encoded], device: &B::Device) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
    let seq = rows.iter().map(|r| r.ids.len()).max().unwrap_or(0).max(1);
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

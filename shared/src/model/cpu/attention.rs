//! Self-attention over packed token rows: each text attends to its own tokens and nothing else,
//! so no padding is computed and no mask is needed. Texts run in parallel, heads in turn, each
//! head's query, key and value read in place from the fused projection's rows.

use super::math::softmax;
use super::matmul::{matmul, View};
use super::parallel;

/// Context rows `[tokens, hidden]`, into `context`, from `qkv` rows `[tokens, 3 * hidden]`
/// (query, key, value side by side) of texts `lengths` long, one after another.
pub fn attention(qkv: &[f32], lengths: &[usize], hidden: usize, heads: usize, context: &mut Vec<f32>) {
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let width = 3 * hidden;
    context.clear();
    context.resize(qkv.len() / 3, 0.0);
    // Each text's first row and its own rows of the context.
    let mut texts = Vec::with_capacity(lengths.len());
    let mut rest = context.as_mut_slice();
    let mut first = 0;
    for &len in lengths {
        let (own, tail) = rest.split_at_mut(len * hidden);
        texts.push((first, len, own));
        rest = tail;
        first += len;
    }
    parallel::for_each(texts, |(first, len, out)| {
        let mut scores = vec![0f32; len * len];
        for head in 0..heads {
            let column = first * width + head * head_dim;
            let query = View { rows: len, cols: head_dim, offset: column, row_stride: width, col_stride: 1 };
            let key_t = View { rows: head_dim, cols: len, offset: column + hidden, row_stride: 1, col_stride: width };
            let value = View { rows: len, cols: head_dim, offset: column + 2 * hidden, row_stride: width, col_stride: 1 };
            matmul(&mut scores, View::dense(len, len), qkv, query, qkv, key_t, scale, false, false);
            scores.chunks_exact_mut(len).for_each(softmax);
            let own = View { rows: len, cols: head_dim, offset: head * head_dim, row_stride: hidden, col_stride: 1 };
            matmul(out, own, &scores, View::dense(len, len), qkv, value, 1.0, false, false);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_attends_only_to_its_own_tokens() {
        // Two texts of 1 and 2 tokens, hidden 2, one head. A lone token's context is its own value.
        let qkv = [
            1.0, 0.0, 1.0, 0.0, 7.0, 8.0, // text 0
            1.0, 0.0, 1.0, 0.0, 1.0, 2.0, // text 1, token 0
            0.0, 1.0, 0.0, 1.0, 3.0, 4.0, // text 1, token 1
        ];
        let mut context = Vec::new();
        attention(&qkv, &[1, 2], 2, 1, &mut context);
        assert_eq!(&context[..2], &[7.0, 8.0]);
        // Token 0 of text 1 scores its keys 1/sqrt2 and 0: weights e^(1/sqrt2) : 1.
        let w = (std::f32::consts::FRAC_1_SQRT_2).exp();
        let expected = [(w * 1.0 + 3.0) / (w + 1.0), (w * 2.0 + 4.0) / (w + 1.0)];
        assert!((context[2] - expected[0]).abs() < 1e-6 && (context[3] - expected[1]).abs() < 1e-6, "{context:?}");
    }
}

//! Matrix products over strided views into f32 slices: natively by the gemm crate (AVX2 /
//! AVX-512 / NEON kernels picked at run time, split across rayon's threads), in wasm32 by
//! matrixmultiply (its SIMD128 kernel, one thread), which encodes a query in the browser in half
//! the time gemm's wasm kernel takes (results/interop.md). The one place the CPU kernels need
//! `unsafe`: every view is checked against its slice first.

/// A `rows x cols` matrix inside a slice: element (i, j) is at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub rows: usize,
    pub cols: usize,
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl View {
    /// A whole row-major matrix.
    pub fn dense(rows: usize, cols: usize) -> Self {
        Self { rows, cols, offset: 0, row_stride: cols, col_stride: 1 }
    }

    /// Panics unless every element lies inside a slice of `len` values.
    fn check(&self, len: usize) {
        let last = self.offset + (self.rows.max(1) - 1) * self.row_stride + (self.cols.max(1) - 1) * self.col_stride;
        assert!(self.rows == 0 || self.cols == 0 || last < len, "{self:?} reaches past a slice of {len}");
    }
}

/// `dst = scale * lhs · rhs`, plus `dst`'s own values when `accumulate`; across threads where
/// there are any when `threads` (large products: not worth it for one head's attention).
#[allow(clippy::too_many_arguments)]
pub fn matmul(dst: &mut [f32], d: View, lhs: &[f32], l: View, rhs: &[f32], r: View, scale: f32, accumulate: bool, threads: bool) {
    assert!(l.rows == d.rows && r.cols == d.cols && l.cols == r.rows, "shapes {l:?} · {r:?} -> {d:?}");
    d.check(dst.len());
    l.check(lhs.len());
    r.check(rhs.len());
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("strides fit isize");
    #[cfg(not(target_arch = "wasm32"))]
    // SAFETY: each view was checked to lie inside its slice, `dst` is borrowed mutably (so it
    // aliases neither operand), and gemm reads and writes only the elements the views describe.
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr().add(d.offset),
            stride(d.col_stride),
            stride(d.row_stride),
            accumulate,
            lhs.as_ptr().add(l.offset),
            stride(l.col_stride),
            stride(l.row_stride),
            rhs.as_ptr().add(r.offset),
            stride(r.col_stride),
            stride(r.row_stride),
            1.0,
            scale,
            false,
            false,
            false,
            if threads { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None },
        );
    }
    #[cfg(target_arch = "wasm32")]
    // SAFETY: as above; matrixmultiply reads and writes only the elements the views describe,
    // and with `beta` 0 it never reads `dst`.
    unsafe {
        let _ = threads;
        matrixmultiply::sgemm(
            d.rows,
            l.cols,
            d.cols,
            scale,
            lhs.as_ptr().add(l.offset),
            stride(l.row_stride),
            stride(l.col_stride),
            rhs.as_ptr().add(r.offset),
            stride(r.row_stride),
            stride(r.col_stride),
            if accumulate { 1.0 } else { 0.0 },
            dst.as_mut_ptr().add(d.offset),
            stride(d.row_stride),
            stride(d.col_stride),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_views_multiply_as_written_out() {
        // lhs: rows 0 and 2 of a 3x2 matrix; rhs: the transpose of a 2x2 stored row-major.
        let lhs = [1.0, 2.0, 9.0, 9.0, 3.0, 4.0];
        let l = View { rows: 2, cols: 2, offset: 0, row_stride: 4, col_stride: 1 };
        let rhs = [5.0, 6.0, 7.0, 8.0];
        let r = View { rows: 2, cols: 2, offset: 0, row_stride: 1, col_stride: 2 };
        let mut dst = [1.0; 4];
        matmul(&mut dst, View::dense(2, 2), &lhs, l, &rhs, r, 2.0, true, false);
        // [1 2; 3 4] · [5 7; 6 8] = [17 23; 39 53], doubled, plus 1.
        assert_eq!(dst, [35.0, 47.0, 79.0, 107.0]);
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn a_view_past_its_slice_is_refused() {
        let mut dst = [0.0; 4];
        let l = View { rows: 2, cols: 2, offset: 1, row_stride: 2, col_stride: 1 };
        matmul(&mut dst, View::dense(2, 2), &[0.0; 4], l, &[0.0; 4], View::dense(2, 2), 1.0, false, false);
    }
}

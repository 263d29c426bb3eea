//! Where the CPU kernels split work across cores: rayon's pool in native builds, one thread in
//! the browser (wasm32 has no threads here). Nothing else in [`super`] knows which, but
//! [`super::matmul`], whose libraries split their own work.

#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

/// Calls `f` on each item, in parallel where there are threads.
pub fn for_each<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    items.into_par_iter().for_each(f);
    #[cfg(target_arch = "wasm32")]
    items.into_iter().for_each(f);
}

/// Calls `f` on each `width`-long row of `data`, in parallel where there are threads.
pub fn for_each_row(data: &mut [f32], width: usize, f: impl Fn(&mut [f32]) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    data.par_chunks_mut(width).for_each(f);
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(width).for_each(f);
}

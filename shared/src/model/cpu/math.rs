//! Element-wise math for the CPU kernels: GELU, softmax and layer norm over slices, built from
//! `exp` and `erf` written without branches or library calls so that the compiler vectorizes the
//! loops (with AVX2 where the CPU has it), and sums and maxima kept in several independent chains
//! (a single running sum is a dependency chain the compiler may not reorder).
//!
//! Accuracy (tested): `exp` within 2 ulp on [-87, 88]; `erf` within 5e-7 absolute: its Maclaurin
//! series below 0.5, Abramowitz and Stegun 7.1.26 above (the formula's bound is 1.5e-7; the rest
//! is the rounding of `1 - p e^(-x^2)`, which cancels). Both far inside what the golden test's
//! cosine of 0.9999 allows.

/// Accumulators per sum or maximum: enough independent chains to keep the adders busy.
const LANES: usize = 16;

/// `pub fn name(args)` running the `#[inline(always)]` function `kernel(args)` compiled for
/// AVX-512 or AVX2 where the CPU has them (its loops then work on 16 or 8 floats at a time
/// instead of SSE2's 4), and as compiled for the target elsewhere. The kernel is called directly
/// inside each such function so that it is inlined there: through a closure or a generic it
/// stays a function of its own, compiled without the wider instructions.
macro_rules! vectorized {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) => $kernel:ident) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
}

/// e^x, for x in [-87, 88] (clamped there: softmax only feeds it x <= 0).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // x = n ln2 + r with |r| <= ln2 / 2; then e^x = 2^n e^r.
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Taylor series of e^r to r^7 / 7!: the remainder is below 2^-27 for |r| <= ln2 / 2.
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^n: n + 127 into the exponent field (the shift drops ROUND's own bits).
    p * f32::from_bits(shifted.to_bits().wrapping_add(127) << 23)
}

/// The error function, odd by symmetry: both approximations are computed and one is picked, so
/// that the loop stays branch-free.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152_1, 1.061_405_4];
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let far = 1.0 - poly * exp(-a * a);
    // 2/sqrt(pi) (a - a^3/3 + a^5/10 - ...): the first term left out is below 1e-9 for a < 0.5.
    let s = a * a;
    let series = a
        * (1.0 + s * (-1.0 / 3.0 + s * (1.0 / 10.0 + s * (-1.0 / 42.0 + s * (1.0 / 216.0 + s * (-1.0 / 1320.0 + s / 9360.0))))))
        * std::f32::consts::FRAC_2_SQRT_PI;
    (if a < 0.5 { series } else { far }).copysign(x)
}

vectorized! {
    /// Exact (erf) GELU, as BERT's `hidden_act = "gelu"`, of every element.
    pub fn gelu(xs: &mut [f32]) => gelu_kernel
}

#[inline(always)]
fn gelu_kernel(xs: &mut [f32]) {
    for x in xs {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

vectorized! {
    /// `row` replaced by its softmax.
    pub fn softmax(row: &mut [f32]) => softmax_kernel
}

#[inline(always)]
fn softmax_kernel(row: &mut [f32]) {
    let top = max(row);
    let mut lanes = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *x = exp(*x - top);
            *lane += *x;
        }
    }
    let mut total = 0.0;
    for x in chunks.into_remainder() {
        *x = exp(*x - top);
        total += *x;
    }
    let scale = 1.0 / (total + lanes.iter().sum::<f32>());
    row.iter_mut().for_each(|x| *x *= scale);
}

vectorized! {
    /// Layer normalisation of `row` in place: zero mean and unit variance, then `gamma` and `beta`.
    pub fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) => layer_norm_kernel
}

#[inline(always)]
fn layer_norm_kernel(row: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    let n = row.len() as f32;
    let mean = sum_of(row, |v| v) / n;
    let variance = sum_of(row, |v| (v - mean) * (v - mean)) / n;
    let scale = 1.0 / (variance + epsilon).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * scale * g + b;
    }
}

/// Sum of `f(x)` over `xs`, in [`LANES`] chains.
#[inline(always)]
pub fn sum_of(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// The largest of `xs` (-inf for none), in [`LANES`] chains.
#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x);
        }
    }
    lanes.iter().fold(rest, |m, &x| m.max(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-40_000..=40_000).map(|i| i as f32 * 1e-3)
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_library() {
        for x in (-86_999..=0).map(|i| i as f32 * 1e-3).chain(grid()) {
            let (got, want) = (exp(x), x.exp());
            assert!((got - want).abs() <= 2.0 * f32::EPSILON * want, "exp({x}) = {got}, library {want}");
        }
    }

    #[test]
    fn erf_is_within_its_stated_accuracy() {
        let bound = 5e-7;
        for x in grid().map(|x| x / 8.0) {
            let want = libm_erf(f64::from(x));
            assert!((f64::from(erf(x)) - want).abs() < bound, "erf({x}) = {}, want {want}", erf(x));
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
    }

    /// erf in f64 by its Maclaurin series (|x| <= 3) or its asymptotic continued fraction,
    /// accurate to 1e-12 here: a reference independent of the approximation under test.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let value = if a <= 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let mut fraction = 0.0;
            for k in (1..60).rev() {
                fraction = f64::from(k) / 2.0 / (a + fraction);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + fraction)
        };
        value.copysign(x)
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row: Vec<f32> = (0..19).map(|i| (i % 5) as f32).collect();
        row[7] = -50.0;
        let want: Vec<f32> = row.iter().map(|&x| (x - 4.0).exp()).collect();
        let total: f32 = want.iter().sum();
        softmax(&mut row);
        for (got, want) in row.iter().zip(&want) {
            assert!((got - want / total).abs() < 1e-7, "{got} against {}", want / total);
        }
    }

    #[test]
    fn gelu_and_layer_norm_match_their_definitions() {
        let mut xs = [-3.0, -0.5, 0.0, 0.25, 1.0, 2.5];
        let want: Vec<f32> = xs.iter().map(|&x| (0.5 * f64::from(x) * (1.0 + libm_erf(f64::from(x) / 2f64.sqrt()))) as f32).collect();
        gelu(&mut xs);
        for (got, want) in xs.iter().zip(&want) {
            assert!((got - want).abs() < 1e-6, "{got} against {want}");
        }
        let mut row = [1.0, 2.0, 3.0, 6.0];
        layer_norm(&mut row, &[1.0, 1.0, 2.0, 1.0], &[0.0, 0.0, 0.0, 10.0], 0.0);
        // mean 3, variance 3.5
        let s = 3.5f32.sqrt();
        for (got, want) in row.iter().zip([-2.0 / s, -1.0 / s, 0.0, 3.0 / s + 10.0]) {
            assert!((got - want).abs() < 1e-6, "{got} against {want}");
        }
    }

    #[test]
    fn sums_and_maxima_cover_every_element() {
        let xs: Vec<f32> = (1..=37).map(|i| i as f32).collect();
        assert_eq!(sum_of(&xs, |x| x), 703.0);
        assert_eq!(sum_of(&xs, |x| x * x), 17575.0);
        assert_eq!(max(&xs), 37.0);
        assert_eq!(max(&xs[..3]), 3.0);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }
}

//! SplitMix64 (Steele, Lea and Flood, 2014): every random number dowse draws, the same on every
//! platform for the same seed. k-means' picks (so the same vectors always give the same
//! clusters), the trainer's shuffles and negatives (seeded by position, so any batch can be
//! rebuilt on its own and `--resume` is exact), and the tests' data.

/// A small, fast, well-mixed generator.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// A generator for `seed` at position `at` (e.g. `[epoch, step]`); equal inputs give equal
    /// streams, different positions different ones.
    pub fn at(seed: u64, at: &[u64]) -> Self {
        let mut rng = Self(seed);
        for &part in at {
            rng.0 ^= part.wrapping_mul(0xD1B5_4A32_D192_ED03);
            rng.next_u64();
        }
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0), without modulo bias worth measuring for `n` far
    /// below 2^64.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `[0, 1)`, from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// `n` distinct indexes below `of`, ascending (a partial Fisher-Yates shuffle).
    pub fn choose(&mut self, of: usize, n: usize) -> Vec<u32> {
        let mut all: Vec<u32> = (0..of as u32).collect();
        for i in 0..n.min(of) {
            let j = i + self.below(of - i);
            all.swap(i, j);
        }
        all.truncate(n.min(of));
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_position_same_stream_and_positions_differ() {
        let draw = |at: &[u64]| {
            let mut rng = SplitMix::at(7, at);
            (0..4).map(|_| rng.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(&[1, 2]), draw(&[1, 2]));
        assert_ne!(draw(&[1, 2]), draw(&[2, 1]));
        assert_ne!(draw(&[1, 2]), draw(&[1, 3]));
    }

    #[test]
    fn shuffle_is_a_permutation_and_choose_picks_distinct_indexes() {
        let mut items: Vec<u32> = (0..100).collect();
        SplitMix::at(1, &[]).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
        let picked = SplitMix(3).choose(50, 20);
        assert_eq!(picked.len(), 20);
        assert!(picked.windows(2).all(|w| w[0] < w[1]) && picked[19] < 50);
        assert_eq!(SplitMix(3).choose(5, 20), [0, 1, 2, 3, 4]);
        assert_eq!(SplitMix(3).below(0), 0);
    }
}

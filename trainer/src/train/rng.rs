//! The order in which every model's loop visits its examples: shuffled by dowse-core's
//! [`SplitMix`], seeded from the run's seed and the epoch, so that any batch can be rebuilt on its
//! own. That is what makes `--resume` exact.

use std::sync::{Arc, Mutex};

use dowse_core::rng::SplitMix;

/// Micro-batches of `len` examples: each epoch a shuffled order seeded by (seed, epoch), cut into
/// micro-batches of `batch_size`, `grad_accumulation` of them per optimizer step. The last epoch's
/// order is kept, so that asking for batches costs one shuffle per epoch.
pub struct BatchOrder {
    seed: u64,
    len: usize,
    batch_size: usize,
    grad_accumulation: usize,
    last: Mutex<Option<(usize, Arc<Vec<usize>>)>>,
}

impl BatchOrder {
    pub fn new(seed: u64, len: usize, batch_size: usize, grad_accumulation: usize) -> Self {
        Self { seed, len, batch_size, grad_accumulation, last: Mutex::new(None) }
    }

    /// Whole optimizer steps in one pass over the examples (at least one when there are any).
    pub fn steps_per_epoch(&self) -> usize {
        if self.len == 0 {
            return 0;
        }
        (self.len / (self.batch_size * self.grad_accumulation)).max(1)
    }

    /// The same steps with each micro-batch cut into equal smaller ones, as many as fit in
    /// `batch_size` up to `workers` micro-batches a step, so that a step's micro-batches can run on
    /// that many cores at once ([`crate::train::fit`]). Only for a loss that is a mean over
    /// examples: the step's loss is then the same but for rounding.
    pub fn cut_for(self, workers: usize) -> Self {
        let wanted = workers.div_ceil(self.grad_accumulation).clamp(1, self.batch_size.max(1));
        let parts = (1..=wanted).rev().find(|parts| self.batch_size.is_multiple_of(*parts)).unwrap_or(1);
        Self { batch_size: self.batch_size / parts, grad_accumulation: self.grad_accumulation * parts, ..self }
    }

    /// Micro-batches in one optimizer step.
    pub fn micro_batches(&self) -> usize {
        self.grad_accumulation
    }

    /// The examples of micro-batch `micro` of step `step` in `epoch`, wrapping around the epoch's order.
    pub fn batch(&self, epoch: usize, step: usize, micro: usize) -> Vec<usize> {
        let order = self.order(epoch);
        let first = (step * self.grad_accumulation + micro) * self.batch_size;
        (first..first + self.batch_size).map(|i| order[i % order.len()]).collect()
    }

    /// Micro-batch `turn` counted across epochs, one pass of whole micro-batches after another:
    /// for a second stream of examples that runs beside a loop's own epochs.
    pub fn nth(&self, turn: usize) -> Vec<usize> {
        let per_pass = self.steps_per_epoch() * self.grad_accumulation;
        self.batch(turn / per_pass, 0, turn % per_pass)
    }

    fn order(&self, epoch: usize) -> Arc<Vec<usize>> {
        let mut last = self.last.lock().expect("no thread panics holding the order");
        if let Some((cached, order)) = last.as_ref() {
            if *cached == epoch {
                return order.clone();
            }
        }
        let mut order: Vec<usize> = (0..self.len).collect();
        SplitMix::at(self.seed, &[epoch as u64]).shuffle(&mut order);
        let order = Arc::new(order);
        *last = Some((epoch, order.clone()));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_runs_through_whole_passes_one_after_another() {
        let order = BatchOrder::new(3, 10, 4, 1);
        let first_pass: Vec<usize> = (0..2).flat_map(|turn| order.nth(turn)).collect();
        assert_eq!(first_pass, [order.batch(0, 0, 0), order.batch(0, 1, 0)].concat());
        let mut distinct = first_pass.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 8);
        assert_eq!(order.nth(2), order.batch(1, 0, 0));
        assert_eq!(order.nth(5), order.batch(2, 1, 0));
    }

    #[test]
    fn a_cut_order_has_the_same_steps_in_smaller_micro_batches() {
        let whole = BatchOrder::new(5, 40, 8, 1);
        let step = |order: &BatchOrder, step: usize| -> Vec<usize> {
            (0..order.micro_batches()).flat_map(|micro| order.batch(2, step, micro)).collect()
        };
        for (workers, micro_batches) in [(1, 1), (2, 2), (3, 2), (16, 8)] {
            let cut = BatchOrder::new(5, 40, 8, 1).cut_for(workers);
            assert_eq!(cut.micro_batches(), micro_batches, "{workers} workers");
            assert_eq!(cut.steps_per_epoch(), whole.steps_per_epoch());
            assert_eq!(step(&cut, 3), step(&whole, 3));
        }
        assert_eq!(BatchOrder::new(5, 40, 4, 2).cut_for(8).micro_batches(), 8);
    }
}

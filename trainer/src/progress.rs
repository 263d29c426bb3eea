//! Progress of a long loop (training steps, texts encoded, pairs scored): a bar on a terminal, and
//! where stderr is no terminal (a log file, a batch job, CI) a line at the first unit and at every
//! tenth of the way, so a log says how far a run got and how fast it went. On a GPU backend the
//! first line's seconds are mostly what the process spent compiling its kernels.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` units, or the lines that stand in for it.
pub struct Progress {
    bar: ProgressBar,
    total: u64,
    /// The next position at which a hidden bar prints a line.
    next_line: u64,
}

impl Progress {
    /// A bar labelled `label` ("epoch 2/9 step", "passages") over `total` units, `done` of them
    /// done already (a resumed epoch).
    pub fn new(label: impl Into<String>, total: usize, done: usize) -> Self {
        let bar = ProgressBar::new(total as u64).with_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}").expect("valid template").progress_chars("=> "),
        );
        bar.set_prefix(label.into());
        bar.set_position(done as u64);
        Progress { bar, total: total as u64, next_line: done as u64 + 1 }
    }

    /// Moves the bar to `done` units with `message` ("loss 0.4123 · 5.31 samples/s").
    pub fn set(&mut self, done: usize, message: String) {
        let done = done as u64;
        self.bar.set_position(done);
        if self.bar.is_hidden() && done >= self.next_line {
            let seconds = self.elapsed().as_secs_f64();
            eprintln!("{} {done}/{}: {message}, {seconds:.1} s in", self.bar.prefix(), self.total);
            let tenth = self.total.div_ceil(10).max(1);
            self.next_line = (done / tenth + 1) * tenth;
        }
        self.bar.set_message(message);
    }

    /// Moves the bar to `done` units, with their rate since the bar began as its message.
    pub fn count(&mut self, done: usize, unit: &str) {
        let per_second = rate(done as f64, self.elapsed().as_secs_f64());
        self.set(done, format!("{per_second} {unit}/s"));
    }

    /// Time since the bar began.
    pub fn elapsed(&self) -> Duration {
        self.bar.elapsed()
    }

    /// Clears the bar; the caller prints what the loop came to.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// `count / seconds` to three significant figures or to the unit, whichever is finer:
/// "0.372", "5.31", "968".
pub fn rate(count: f64, seconds: f64) -> String {
    let per_second = count / seconds.max(1e-9);
    let decimals = match per_second {
        r if r >= 100.0 => 0,
        r if r >= 10.0 => 1,
        r if r >= 1.0 => 2,
        _ => 3,
    };
    format!("{per_second:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_three_significant_figures() {
        assert_eq!(rate(8.0, 21.5), "0.372");
        assert_eq!(rate(53.1, 10.0), "5.31");
        assert_eq!(rate(531.0, 10.0), "53.1");
        assert_eq!(rate(9681.0, 10.0), "968");
        assert_eq!(rate(0.0, 0.0), "0.000");
    }
}

//! The training loop every model shares: AdamW steps over micro-batches with gradient
//! accumulation (on the CPU a step's micro-batches run at once, one per core), a progress bar
//! with loss and samples/s, validation nDCG@10 after each epoch with early stopping, the best
//! model exported to the output folder, the metrics log (`metrics.csv`, `metrics.png`), and
//! checkpoints that `--resume` continues from bit for bit.
//!
//! Exactness rests on one rule: a batch is a pure function of (seed, epoch, step, micro-batch),
//! see [`Task::loss`]. A checkpoint then only needs the weights, the optimizer's state and
//! where the loop was. Both are saved with Burn's recorder, which keeps each parameter's id:
//! the optimizer's moments are keyed by those ids, and fresh ids would silently restart them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::checkpoint;
use super::config::LoopConfig;
use super::rng::BatchOrder;
use crate::progress::{rate, Progress};
use crate::{atomic, plot};

/// What a model brings to the loop.
pub trait Task<B: AutodiffBackend> {
    type Model: AutodiffModule<B>;

    /// How the examples fall into optimizer steps and micro-batches.
    fn order(&self) -> &BatchOrder;

    /// The mean loss of micro-batch `micro` of optimizer step `step` in `epoch` (the examples
    /// [`BatchOrder::batch`] gives). The batch must depend on nothing but these numbers and the seed.
    fn loss(&self, model: &Self::Model, epoch: usize, step: usize, micro: usize) -> Tensor<B, 1>;

    /// The validation metric's key in `metrics.csv` and its name in the log.
    fn validation_metric(&self) -> (&'static str, &'static str) {
        (VALIDATION_NDCG, "nDCG@10")
    }

    /// The validation metric (nDCG@10 unless [`Task::validation_metric`] says otherwise; higher
    /// is better); `None` when nothing is held out.
    fn validate(&self, model: &<Self::Model as AutodiffModule<B>>::InnerModule) -> Result<Option<f64>>;

    /// The files of the model folder (config, weights, tokenizer), by name.
    fn export(&self, model: &<Self::Model as AutodiffModule<B>>::InnerModule) -> Result<Vec<(String, Vec<u8>)>>;
}

/// Where and how one run goes.
pub struct Run<'a> {
    pub config: &'a LoopConfig,
    /// The whole config as text: a checkpoint only resumes under the same one.
    pub config_text: String,
    pub out: &'a Path,
    pub resume: bool,
    /// Stop (with a checkpoint) after this many optimizer steps in all; for time-boxed runs.
    pub max_steps: Option<usize>,
    /// Stop (with a checkpoint) at the first step that starts after this instant.
    pub deadline: Option<Instant>,
    /// Micro-batches of a step computed at once (see [`micro_batches`]): the CPU's cores on the
    /// CPU, whose kernels leave most of them idle at a BERT's shapes; 1 on a GPU.
    pub workers: usize,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub best: Option<f64>,
    pub best_epoch: Option<usize>,
    pub epochs_done: usize,
    pub steps: usize,
    /// Stopped by `max_steps` before the last epoch: `--resume` continues.
    pub interrupted: bool,
}

/// One line of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub step: usize,
    pub epoch: usize,
    pub metric: String,
    pub value: f64,
}

pub const TRAIN_LOSS: &str = "train_loss";
/// Every validation metric's key in `metrics.csv` starts with this.
pub const VALIDATION_PREFIX: &str = "val_";
pub const VALIDATION_NDCG: &str = "val_ndcg_cut_10";
const SAMPLES_PER_S: &str = "samples_per_s";

/// Where the loop is; saved in every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    config: String,
    epoch: usize,
    /// Next step within `epoch`.
    step: usize,
    steps: usize,
    best: Option<f64>,
    best_epoch: Option<usize>,
    bad_epochs: usize,
    stopped: bool,
    log: Vec<LogRow>,
}

const CHECKPOINT: &str = "checkpoint";
type CheckpointRecorder = BinBytesRecorder<FullPrecisionSettings>;

/// Trains `model` on `task`; returns how it went. The best model (by validation nDCG@10, or the
/// last when nothing is held out) is in `run.out` as a model folder.
pub fn fit<B: AutodiffBackend, T: Task<B> + Sync>(task: &T, model: T::Model, run: &Run, device: &B::Device) -> Result<Outcome> {
    let config = run.config;
    // Lazily initialised parameters (a new head, a model trained from scratch) take their values
    // now, in a fixed order: a copy made before that would draw values of its own.
    let mut model = model.fork(device);
    let mut optimizer = AdamWConfig::new().with_weight_decay(config.weight_decay as f32).init::<B, T::Model>();
    let mut state = State { config: run.config_text.clone(), ..State::default() };
    if run.resume {
        let dir = run.out.join(CHECKPOINT);
        let mut files = checkpoint::read(&dir)?;
        let mut read = |name: &str| files.remove(name).with_context(|| format!("{}: {name} is missing", dir.display()));
        state = serde_json::from_slice(&read("state.json")?).with_context(|| format!("{}: state.json", dir.display()))?;
        if state.config != run.config_text {
            bail!("{}: the checkpoint was made with another config; resume with the same one", dir.display());
        }
        let record = CheckpointRecorder::default().load(read("model.bin")?, device).context("reading the checkpoint's weights")?;
        model = model.load_record(record);
        let record = CheckpointRecorder::default().load(read("optimizer.bin")?, device).context("reading the optimizer's state")?;
        optimizer = optimizer.load_record(record);
        eprintln!("resuming at epoch {}, step {} ({} steps done)", state.epoch + 1, state.step, state.steps);
    }
    let steps_per_epoch = task.order().steps_per_epoch();
    let micros: Vec<usize> = (0..task.order().micro_batches()).collect();
    if steps_per_epoch == 0 {
        bail!("no training examples");
    }
    let examples_per_step = config.batch_size * config.grad_accumulation;
    while state.epoch < config.epochs && !state.stopped {
        let mut progress = Progress::new(format!("epoch {}/{} step", state.epoch + 1, config.epochs), steps_per_epoch, state.step);
        while state.step < steps_per_epoch {
            if run.max_steps.is_some_and(|max| state.steps >= max) || run.deadline.is_some_and(|at| Instant::now() >= at) {
                progress.finish();
                save_checkpoint(run.out, &model, &optimizer, &state)?;
                return Ok(outcome(&state, true));
            }
            let started = Instant::now();
            let mut gradients = GradientsAccumulator::new();
            let mut loss_sum = 0.0;
            for at_once in micros.chunks(run.workers.max(1)) {
                for (loss, grads) in micro_batches(task, &model, &state, at_once, micros.len(), device) {
                    loss_sum += loss;
                    gradients.accumulate(&model, grads);
                }
            }
            model = optimizer.step(config.learning_rate, model, gradients.grads());
            state.step += 1;
            state.steps += 1;
            let seconds = started.elapsed().as_secs_f64();
            let per_second = examples_per_step as f64 / seconds.max(1e-9);
            if !loss_sum.is_finite() {
                bail!("the loss became {loss_sum} at step {}: lower the learning rate", state.steps);
            }
            log(&mut state, TRAIN_LOSS, loss_sum);
            log(&mut state, SAMPLES_PER_S, per_second);
            progress.set(state.step, format!("loss {loss_sum:.4} · {} samples/s", rate(examples_per_step as f64, seconds)));
            if state.steps.is_multiple_of(config.checkpoint_every) {
                save_checkpoint(run.out, &model, &optimizer, &state)?;
            }
        }
        progress.finish();
        end_epoch(task, &model, config, run.out, &mut state)?;
        save_checkpoint(run.out, &model, &optimizer, &state)?;
    }
    Ok(outcome(&state, false))
}

/// The loss (a share `1 / of` of the step's) and the gradients of micro-batches `micros` of the
/// current step, in order. One runs on `model` itself; several run at once on rayon's threads,
/// each on its own fork of the model. Forks have fresh autodiff leaves, so each one's graph is its
/// own (Burn merges graphs that share a leaf, under one lock), and the same parameter ids, so
/// their gradients add up on `model`: the sums are those of running the micro-batches in turn.
fn micro_batches<B: AutodiffBackend, T: Task<B> + Sync>(
    task: &T,
    model: &T::Model,
    state: &State,
    micros: &[usize],
    of: usize,
    device: &B::Device,
) -> Vec<(f64, GradientsParams)> {
    let (epoch, step) = (state.epoch, state.step);
    let run = |model: &T::Model, micro: usize| {
        let loss = task.loss(model, epoch, step, micro).div_scalar(of as f64);
        let value = loss.clone().into_scalar().elem::<f64>();
        (value, GradientsParams::from_grads(loss.backward(), model))
    };
    if let [micro] = micros {
        return vec![run(model, *micro)];
    }
    let forks: Vec<T::Model> = micros.iter().map(|_| model.clone().fork(device)).collect();
    forks.into_par_iter().zip(micros.par_iter()).map(|(fork, &micro)| run(&fork, micro)).collect()
}

/// Validates, exports the model if it is the best so far, and counts epochs without progress.
fn end_epoch<B: AutodiffBackend, T: Task<B>>(task: &T, model: &T::Model, config: &LoopConfig, out: &Path, state: &mut State) -> Result<()> {
    let inner = model.valid();
    let validation = task.validate(&inner)?;
    let epoch_loss = mean_loss_of_epoch(state);
    let improved = match (validation, state.best) {
        (Some(value), Some(best)) => value > best,
        _ => true,
    };
    let (key, name) = task.validation_metric();
    if let Some(value) = validation {
        log(state, key, value);
    }
    let summary = validation.map_or_else(String::new, |v| format!(", validation {name} {v:.4}"));
    eprintln!("epoch {}/{}: train loss {epoch_loss:.4}{summary}{}", state.epoch + 1, config.epochs, if improved { " (best)" } else { "" });
    if improved {
        state.best = validation;
        state.best_epoch = Some(state.epoch + 1);
        state.bad_epochs = 0;
        for (name, bytes) in task.export(&inner)? {
            atomic::write(&out.join(name), &bytes)?;
        }
    } else {
        state.bad_epochs += 1;
        state.stopped = state.bad_epochs >= config.patience;
        if state.stopped {
            eprintln!("stopping early: no better validation {name} for {} epochs", config.patience);
        }
    }
    state.epoch += 1;
    state.step = 0;
    Ok(())
}

fn mean_loss_of_epoch(state: &State) -> f64 {
    let losses: Vec<f64> = state.log.iter().filter(|r| r.epoch == state.epoch + 1 && r.metric == TRAIN_LOSS).map(|r| r.value).collect();
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
}

fn log(state: &mut State, metric: &str, value: f64) {
    state.log.push(LogRow { step: state.steps, epoch: state.epoch + 1, metric: metric.to_string(), value });
}

fn outcome(state: &State, interrupted: bool) -> Outcome {
    Outcome { best: state.best, best_epoch: state.best_epoch, epochs_done: state.epoch, steps: state.steps, interrupted }
}

/// Weights, optimizer state and loop state into `out/checkpoint` in one rename; the metrics log
/// and its plot beside it, from the same state.
fn save_checkpoint<B: AutodiffBackend, M: AutodiffModule<B>, O: Optimizer<M, B>>(
    out: &Path,
    model: &M,
    optimizer: &O,
    state: &State,
) -> Result<()> {
    let weights = CheckpointRecorder::default().record(model.clone().into_record(), ()).context("saving the checkpoint's weights")?;
    let optimizer = CheckpointRecorder::default().record(optimizer.to_record(), ()).context("saving the optimizer's state")?;
    let state_json = serde_json::to_vec_pretty(state)?;
    let files = [("model.bin", weights.as_slice()), ("optimizer.bin", optimizer.as_slice()), ("state.json", state_json.as_slice())];
    checkpoint::write(&out.join(CHECKPOINT), &files)?;
    atomic::write(&metrics_path(out), metrics_csv(&state.log).as_bytes())?;
    plot::training_curves(&out.join("metrics.png"), &state.log)
}

pub fn metrics_path(out: &Path) -> PathBuf {
    out.join("metrics.csv")
}

fn metrics_csv(log: &[LogRow]) -> String {
    let mut csv = String::from("step,epoch,metric,value\n");
    for row in log {
        csv.push_str(&format!("{},{},{},{}\n", row.step, row.epoch, row.metric, row.value));
    }
    csv
}

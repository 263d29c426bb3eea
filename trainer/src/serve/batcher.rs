//! Micro-batching: requests from concurrent clients queue for one model thread, which takes
//! whatever has arrived (up to a batch of items, waiting at most a few milliseconds for more)
//! and runs it as one forward pass. The model never leaves its thread.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// One request: its items and where to send their results.
struct Job<I, O> {
    items: Vec<I>,
    reply: oneshot::Sender<Result<Vec<O>, String>>,
}

/// A handle to a model thread that turns items into outputs, one output per item.
pub struct Batcher<I, O> {
    queue: mpsc::Sender<Job<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the model thread. `load` runs on it and returns the function that handles a batch;
    /// its error is returned here. Batches hold at least one request and up to `max_batch` items.
    pub fn spawn<F>(
        name: &str,
        max_batch: usize,
        max_wait: Duration,
        load: impl FnOnce() -> Result<F, String> + Send + 'static,
    ) -> Result<Self, String>
    where
        F: FnMut(&[I]) -> Result<Vec<O>, String>,
    {
        let (queue, jobs) = mpsc::channel::<Job<I, O>>();
        let (loaded, load_result) = mpsc::channel();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut run = match load() {
                    Ok(run) => {
                        let _ = loaded.send(Ok(()));
                        run
                    }
                    Err(e) => {
                        let _ = loaded.send(Err(e));
                        return;
                    }
                };
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    let mut size = batch[0].items.len();
                    let deadline = Instant::now() + max_wait;
                    while size < max_batch {
                        match jobs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                            Ok(job) => {
                                size += job.items.len();
                                batch.push(job);
                            }
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                        }
                    }
                    let counts: Vec<usize> = batch.iter().map(|job| job.items.len()).collect();
                    let (items, replies): (Vec<Vec<I>>, Vec<_>) = batch.into_iter().map(|job| (job.items, job.reply)).unzip();
                    let items: Vec<I> = items.into_iter().flatten().collect();
                    match run(&items) {
                        Ok(outputs) => {
                            let mut outputs = outputs.into_iter();
                            for (reply, count) in replies.into_iter().zip(counts) {
                                let _ = reply.send(Ok(outputs.by_ref().take(count).collect()));
                            }
                        }
                        Err(e) => replies.into_iter().for_each(|reply| {
                            let _ = reply.send(Err(e.clone()));
                        }),
                    }
                }
            })
            .map_err(|e| format!("starting the {name} thread: {e}"))?;
        load_result.recv().map_err(|_| format!("the {name} thread stopped while loading"))??;
        Ok(Self { queue })
    }

    /// Queues `items` and waits for their outputs.
    pub async fn run(&self, items: Vec<I>) -> Result<Vec<O>, String> {
        let (reply, result) = oneshot::channel();
        self.queue.send(Job { items, reply }).map_err(|_| "the model thread has stopped".to_string())?;
        result.await.map_err(|_| "the model thread has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_batches_and_get_their_own_results() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = std::sync::Arc::new(
            Batcher::spawn("double", 64, Duration::from_millis(50), move || {
                Ok(move |items: &[u32]| {
                    seen.lock().unwrap().push(items.len());
                    Ok(items.iter().map(|x| x * 2).collect())
                })
            })
            .unwrap(),
        );
        let tasks: Vec<_> = (0..8u32)
            .map(|i| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.run(vec![i, i + 100]).await.unwrap() })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let i = i as u32;
            assert_eq!(task.await.unwrap(), vec![2 * i, 2 * (i + 100)]);
        }
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 16);
        assert!(sizes.len() < 8, "requests were batched together: {sizes:?}");
    }

    #[test]
    fn a_load_error_is_returned() {
        let result = Batcher::<u32, u32>::spawn("broken", 4, Duration::ZERO, || {
            Err::<fn(&[u32]) -> Result<Vec<u32>, String>, _>("no weights".into())
        });
        assert_eq!(result.err().as_deref(), Some("no weights"));
    }
}

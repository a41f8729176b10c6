//! A bounded pool of dedicated inference threads, each owning its per-worker engine state.
//!
//! Why dedicated threads fed by a channel rather than `tokio::task::spawn_blocking` behind a semaphore:
//! - engine state is expensive and reusable: a `WhisperState` holds the KV cache and compute buffers (allocating
//!   it costs time on every call), and an ONNX Runtime `Session` must not be run from two threads at once
//!   (`ort` 2.0's `Session::run` takes `&mut self` for that reason). A worker that owns its state reuses it without
//!   locks;
//! - the thread count is fixed at start-up and sized to the machine, so a burst of calls queues instead of
//!   oversubscribing the CPU, and tokio's blocking pool stays free for SQLite work;
//! - the queue is bounded: `run` waits (asynchronously) for a slot, which is back-pressure on the caller;
//! - a job whose caller has gone away (call hung up, turn interrupted) is skipped when it reaches a worker.
//!
//! A job that panics is caught; the worker rebuilds its state and keeps serving.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::VoiceError;

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A fixed set of worker threads running blocking inference jobs against per-worker state `S`.
pub struct InferencePool<S> {
    name: &'static str,
    tx: mpsc::Sender<Job<S>>,
    workers: usize,
}

impl<S: 'static> InferencePool<S> {
    /// Starts `workers` threads (at least one) named `voxedge-{name}-{i}`, each creating its state with
    /// `init(i)`. Returns the first init error, after which no thread is left running. `queue` bounds the number
    /// of jobs waiting for a worker.
    pub fn start<F>(
        name: &'static str,
        workers: usize,
        queue: usize,
        init: F,
    ) -> Result<Self, VoiceError>
    where
        F: Fn(usize) -> Result<S, VoiceError> + Send + Sync + 'static,
    {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::channel::<Job<S>>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let init = Arc::new(init);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), VoiceError>>();
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let init = Arc::clone(&init);
            let ready = ready_tx.clone();
            std::thread::Builder::new()
                .name(format!("voxedge-{name}-{i}"))
                .spawn(move || worker(name, i, &*init, &rx, ready))
                .map_err(|e| {
                    VoiceError::inference(name, format!("cannot start worker thread: {e}"))
                })?;
        }
        drop(ready_tx);
        for _ in 0..workers {
            // A worker that failed to init exits; dropping our `tx` on the error path stops the others.
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(VoiceError::PoolUnavailable {
                        pool: name,
                        reason: "a worker exited during start-up",
                    });
                }
            }
        }
        Ok(Self { name, tx, workers })
    }

    /// Pool name, as used in errors and thread names.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `job` on a worker with that worker's state and returns its result. Waits for a queue slot when the
    /// pool is saturated. Dropping the returned future before a worker picks the job up cancels it.
    pub async fn run<R, F>(&self, job: F) -> Result<R, VoiceError>
    where
        R: Send + 'static,
        F: FnOnce(&mut S) -> R + Send + 'static,
    {
        let (result_tx, result_rx) = oneshot::channel();
        let boxed: Job<S> = Box::new(move |state: &mut S| {
            if result_tx.is_closed() {
                return; // the caller stopped waiting: don't burn CPU on it
            }
            let _ = result_tx.send(job(state));
        });
        self.tx
            .send(boxed)
            .await
            .map_err(|_| VoiceError::PoolUnavailable {
                pool: self.name,
                reason: "pool is shut down",
            })?;
        result_rx.await.map_err(|_| VoiceError::PoolUnavailable {
            pool: self.name,
            reason: "worker failed while running the job",
        })
    }
}

fn worker<S>(
    name: &'static str,
    index: usize,
    init: &(dyn Fn(usize) -> Result<S, VoiceError> + Send + Sync),
    rx: &Mutex<mpsc::Receiver<Job<S>>>,
    ready: std::sync::mpsc::Sender<Result<(), VoiceError>>,
) {
    let mut state = match init(index) {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    drop(ready);
    loop {
        // Only one idle worker waits on the channel at a time; the others wait for the lock. The lock is released
        // before the job runs, so a panicking job cannot poison it.
        let job = {
            let Ok(mut guard) = rx.lock() else { return };
            guard.blocking_recv()
        };
        let Some(job) = job else { return }; // every sender dropped: pool is gone
        if catch_unwind(AssertUnwindSafe(|| job(&mut state))).is_err() {
            tracing::error!(
                pool = name,
                worker = index,
                "inference job panicked; rebuilding worker state"
            );
            match init(index) {
                Ok(s) => state = s,
                Err(e) => {
                    tracing::error!(pool = name, worker = index, error = %e, "worker state rebuild failed; worker exits");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn jobs_run_with_per_worker_state() {
        let pool = InferencePool::start("test", 2, 4, |i| Ok(vec![i])).expect("init succeeds");
        assert_eq!(pool.workers(), 2);
        let mut seen = Vec::new();
        for _ in 0..10 {
            let r = pool
                .run(|s: &mut Vec<usize>| {
                    s.push(0);
                    s[0]
                })
                .await
                .expect("job runs");
            seen.push(r);
        }
        assert!(seen.iter().all(|&w| w < 2));
    }

    #[tokio::test]
    async fn init_error_is_returned() {
        let r = InferencePool::<()>::start("test", 2, 1, |i| {
            if i == 1 {
                Err(VoiceError::InvalidInput("boom".into()))
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(VoiceError::InvalidInput(_))));
    }

    #[tokio::test]
    async fn panic_in_job_is_an_error_and_the_worker_recovers() {
        let inits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&inits);
        let pool = InferencePool::start("test", 1, 1, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .expect("init succeeds");
        let r = pool
            .run(|_: &mut ()| -> u8 { panic!("model blew up") })
            .await;
        assert!(matches!(r, Err(VoiceError::PoolUnavailable { .. })));
        assert_eq!(pool.run(|_: &mut ()| 7).await.expect("worker recovered"), 7);
        assert_eq!(inits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn abandoned_jobs_are_skipped() {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = Arc::new(InferencePool::start("test", 1, 8, |_| Ok(())).expect("init succeeds"));
        // Occupy the only worker until told to go on.
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let busy_pool = Arc::clone(&pool);
        let busy = tokio::spawn(async move {
            busy_pool
                .run(move |_: &mut ()| {
                    let _ = started_tx.send(());
                    let _ = hold_rx.recv_timeout(Duration::from_secs(5));
                })
                .await
        });
        started_rx.await.expect("worker started the blocking job");
        // Queue a job and abandon it while the worker is busy.
        let counter = Arc::clone(&ran);
        let abandoned = pool.run(move |_: &mut ()| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(20), abandoned)
                .await
                .is_err()
        );
        hold_tx.send(()).expect("worker is waiting");
        busy.await.expect("task").expect("job ran");
        pool.run(|_: &mut ()| ()).await.expect("pool still works");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}

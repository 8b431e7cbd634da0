//! The bounded blocking pool: pairing work (the server's key exchange inside
//! `into_connection`, the client's key share inside `ClientConnection::new`)
//! runs on tokio's blocking threads, at most `permits` at a time, never on
//! the async workers (docs/protocol.md §9.5).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a job could not run on the blocking pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// The deadline passed while waiting for a slot.
    Timeout,
    /// The job panicked or the runtime is shutting down.
    Failed,
}

/// A semaphore-bounded gate in front of `spawn_blocking`.
#[derive(Debug, Clone)]
pub(crate) struct BlockingPool {
    slots: Arc<Semaphore>,
}

impl BlockingPool {
    pub(crate) fn new(permits: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    /// Free slots now.
    pub(crate) fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Runs `job` on a blocking thread once a slot is free, waiting no later
    /// than `deadline` for the slot (the job itself is not interrupted).
    pub(crate) async fn run<T, F>(&self, deadline: Instant, job: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| PoolError::Timeout)?
            .map_err(|_| PoolError::Failed)?;
        tokio::task::spawn_blocking(move || {
            let out = job();
            drop(permit);
            out
        })
        .await
        .map_err(|_| PoolError::Failed)
    }
}

/// A continuation for a [`Staged`] job: what to do with the first stage's
/// output (`None` if the job could not give it).
type Then<A, R> = Box<dyn FnOnce(Option<A>) -> R + Send>;

/// A blocking job started ahead of knowing all of its work: its first stage
/// runs at once, then the job waits on its thread (holding its pool slot)
/// for the rest, which [`finish`](Self::finish) sends once the caller knows
/// it. Dropped unfinished, the job ends after its first stage and gives its
/// slot back. A first stage shorter than the caller's wait leaves the slot
/// held idle for the difference (at most the guard store's timeout): a job
/// is staged only on a slot that is free at once, so this can delay only a
/// connection that arrives within that wait and finds the pool full.
pub(crate) struct Staged<A, R> {
    then: tokio::sync::oneshot::Sender<Then<A, R>>,
    job: tokio::task::JoinHandle<Option<R>>,
    pool: BlockingPool,
}

impl BlockingPool {
    /// Starts `first` on a blocking thread if a slot is free now, and
    /// `None` (nothing started) if not: staged work is an optimisation that
    /// must never wait for, or take, a slot a whole job is queued for.
    pub(crate) fn try_stage<A, R, F>(&self, first: F) -> Option<Staged<A, R>>
    where
        F: FnOnce() -> A + Send + 'static,
        A: Send + 'static,
        R: Send + 'static,
    {
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        let (then, rest) = tokio::sync::oneshot::channel::<Then<A, R>>();
        let job = tokio::task::spawn_blocking(move || {
            let made = first();
            let out = rest.blocking_recv().ok().map(|then| then(Some(made)));
            drop(permit);
            out
        });
        Some(Staged {
            then,
            job,
            pool: self.clone(),
        })
    }
}

impl<A: Send + 'static, R: Send + 'static> Staged<A, R> {
    /// Runs `then` on the staged job's thread with the first stage's output
    /// and returns its result. If that job is gone (its first stage
    /// panicked), `then` runs as an ordinary job instead, with `None`,
    /// waiting no later than `deadline` for a slot.
    pub(crate) async fn finish(
        self,
        deadline: Instant,
        then: impl FnOnce(Option<A>) -> R + Send + 'static,
    ) -> Result<R, PoolError> {
        match self.then.send(Box::new(then)) {
            Ok(()) => match self.job.await {
                Ok(Some(out)) => Ok(out),
                Ok(None) | Err(_) => Err(PoolError::Failed),
            },
            Err(then) => self.pool.run(deadline, move || then(None)).await,
        }
    }
}

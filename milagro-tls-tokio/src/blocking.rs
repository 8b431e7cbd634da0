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

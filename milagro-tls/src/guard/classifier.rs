//! The CS classifier (docs/protocol.md §6.4 step 3): a bounded queue of failed
//! M-Pin proofs and worker threads that run the fixed-work δ search
//! ([`crate::mpin::classify()`]) off the handshake path, then resolve the
//! guard's pending classification (`wrong_pin()` or `invalid_credential()`).
//! δ itself is dropped here: the guard and its observer get the
//! classification only.
//!
//! **Back-pressure, never drops: one cap, the guard's.** The queue itself has
//! no capacity and never refuses a job. What bounds it is the guard's
//! [`max_pending_classifications`](crate::guard::LockoutPolicy::max_pending_classifications):
//! every CS attempt — reserved or silently refused — holds one of those slots
//! from [`crate::guard::Guard::attempt`]
//! until it is known not to need classification or until its classification
//! is reported, so a guard never has more jobs in this queue than its cap, and
//! at the cap `admit` refuses new attempts with
//! [`crate::guard::Refusal::ClassifierBusy`] (a plaintext `internal_error`: "try again later").
//! A pending classification is therefore never dropped or expired — a thief
//! cannot flood the classifier to make its own wrong guesses expire
//! uncounted. The cap lives in the guard, not here, because it is part of the
//! lockout policy (configured, and shared by a shared [`crate::guard::GuardStore`],
//! with the rest of it), it is checked in `admit`'s documented order (after the
//! replay cache and the source's throttle, before anything about the
//! identity), and its slots belong to the reservation handles whose drop
//! rules (§6.4 step 3) keep the "never expires" promise. A classifier shared
//! by several guards queues at most the sum of their caps.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::{DiscardedClassification, PendingClassification};
use crate::mpin::{Classification, FailedProof, PinDigits, PreparedServerSecret, classify};

/// Whose failed proof a job classifies.
enum Resolves {
    /// A reserved attempt: the classification is reported to the guard.
    Counted(PendingClassification),
    /// A silently refused attempt: the same search runs, holding the same
    /// slot, and its result is discarded (docs/protocol.md §6.4, "Why
    /// silent").
    Discarded(DiscardedClassification),
}

/// One failed proof waiting for its δ search.
struct Job {
    pending: Resolves,
    evidence: Box<FailedProof>,
    server: Arc<PreparedServerSecret>,
    digits: PinDigits,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Jobs queued or running.
    unfinished: usize,
    shutdown: bool,
    /// Tests only: workers take no job while set.
    held: bool,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    idle: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The classifier: `workers` threads over one queue, bounded by the guard's
/// pending-classification cap (module documentation). Cheap to clone; the
/// threads stop when the last clone is dropped (after finishing the queue).
#[derive(Clone)]
pub struct Classifier {
    inner: Arc<Inner>,
    _threads: Arc<Workers>,
}

struct Workers {
    inner: Arc<Inner>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.inner.lock().shutdown = true;
        self.inner.work.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl core::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.inner.lock();
        f.debug_struct("Classifier")
            .field("unfinished", &s.unfinished)
            .finish()
    }
}

/// Why a classifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    /// `workers` must be at least 1.
    #[error("a classifier needs at least one worker")]
    Empty,
    /// The operating system refused to start a worker thread (its error is
    /// the `source()`).
    #[error("could not start a classifier thread")]
    Spawn(#[source] std::io::Error),
}

impl Classifier {
    /// A classifier with `workers` threads. Size `workers` so that the
    /// guard's `max_pending_classifications` × one search (≈1–11 ms, ×3
    /// under load) ÷ `workers` stays short: that is the longest a failed
    /// attempt waits for its classification. Fails with
    /// [`ClassifierError::Empty`] for 0 workers, or
    /// [`ClassifierError::Spawn`] if a thread cannot start.
    pub fn new(workers: usize) -> Result<Self, ClassifierError> {
        if workers == 0 {
            return Err(ClassifierError::Empty);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
        });
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let inner = inner.clone();
            let h = std::thread::Builder::new()
                .name(format!("milagro-classifier-{i}"))
                .spawn(move || worker(&inner))
                .map_err(ClassifierError::Spawn)?;
            handles.push(h);
        }
        Ok(Self {
            _threads: Arc::new(Workers {
                inner: inner.clone(),
                handles,
            }),
            inner,
        })
    }

    /// Queues a failed proof for its δ search. Never refuses: the guard's
    /// pending cap bounds the queue (module documentation).
    pub(crate) fn submit(
        &self,
        pending: PendingClassification,
        evidence: Box<FailedProof>,
        server: Arc<PreparedServerSecret>,
        digits: PinDigits,
    ) {
        self.push(Resolves::Counted(pending), evidence, server, digits);
    }

    /// Queues a silently refused attempt's failed proof: the same δ search
    /// as [`submit`](Self::submit)'s, in the same queue, holding its
    /// pending-classification slot until it has run; the result is
    /// discarded.
    pub(crate) fn submit_discarded(
        &self,
        pending: DiscardedClassification,
        evidence: Box<FailedProof>,
        server: Arc<PreparedServerSecret>,
        digits: PinDigits,
    ) {
        self.push(Resolves::Discarded(pending), evidence, server, digits);
    }

    fn push(
        &self,
        pending: Resolves,
        evidence: Box<FailedProof>,
        server: Arc<PreparedServerSecret>,
        digits: PinDigits,
    ) {
        let mut s = self.inner.lock();
        s.unfinished += 1;
        s.queue.push_back(Job {
            pending,
            evidence,
            server,
            digits,
        });
        drop(s);
        self.inner.work.notify_one();
    }

    /// Tests: while `held`, the workers start no job (queued jobs wait, and
    /// keep their pending-classification slots).
    #[cfg(test)]
    pub(crate) fn hold(&self, held: bool) {
        self.inner.lock().held = held;
        self.inner.work.notify_all();
    }

    /// Failed proofs queued or under classification now.
    pub fn unfinished(&self) -> usize {
        self.inner.lock().unfinished
    }

    /// Blocks until every queued classification has finished and been
    /// reported to the guard (for tests and orderly shutdown).
    pub fn drain(&self) {
        let mut s = self.inner.lock();
        while s.unfinished > 0 {
            s = self.inner.idle.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn worker(inner: &Inner) {
    loop {
        let job = {
            let mut s = inner.lock();
            loop {
                if !s.held {
                    if let Some(job) = s.queue.pop_front() {
                        break job;
                    }
                }
                if s.shutdown {
                    return;
                }
                s = inner.work.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let classification = classify(&job.evidence, &job.server, job.digits);
        match job.pending {
            // δ is discarded: only the classification leaves the worker.
            Resolves::Counted(pending) => match classification {
                Classification::WrongPin { .. } => {
                    let _ = pending.wrong_pin();
                }
                Classification::InvalidCredential => pending.invalid_credential(),
            },
            // A silent refusal: the same search ran; its slot is given back
            // and nothing is counted or reported.
            Resolves::Discarded(silent) => drop(silent),
        }
        drop(job.evidence);
        let mut s = inner.lock();
        s.unfinished = s.unfinished.saturating_sub(1);
        if s.unfinished == 0 {
            inner.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_worker_and_drains_when_empty() {
        assert!(matches!(Classifier::new(0), Err(ClassifierError::Empty)));
        let c = Classifier::new(1).unwrap();
        assert_eq!(c.unfinished(), 0);
        c.drain(); // nothing queued: returns at once
    }
}

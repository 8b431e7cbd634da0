//! The CS classifier (docs/protocol.md §6.4 step 3): a bounded queue of failed
//! M-Pin proofs and worker threads that run the fixed-work δ search
//! ([`crate::mpin::classify()`]) off the handshake path, then resolve the
//! guard's pending classification (`wrong_pin()` or `invalid_credential()`).
//! δ itself is dropped here: the guard and its observer get the
//! classification only.
//!
//! **Back-pressure, never drops.** Every CS attempt that passes the guard
//! takes a classifier slot at accept (step 1) *before* any work: a failed
//! proof turns its slot into a queued job, any other outcome returns it. When
//! all slots are taken, step 1 refuses new attempts
//! ([`crate::rustls_glue::accept::AdmissionRefusal::ClassifierBusy`], a plaintext
//! `internal_error`: "try again later"), so a pending classification is never dropped — a
//! thief cannot flood the classifier to make its own wrong guesses expire
//! uncounted.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::guard::PendingClassification;
use crate::mpin::{Classification, FailedProof, PinDigits, PreparedServerSecret, classify};

/// One failed proof waiting for its δ search.
struct Job {
    pending: PendingClassification,
    evidence: Box<FailedProof>,
    server: Arc<PreparedServerSecret>,
    digits: PinDigits,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Slots handed out (queued, running, or held by a connection in flight).
    taken: usize,
    /// Jobs queued or running.
    unfinished: usize,
    shutdown: bool,
}

struct Inner {
    capacity: usize,
    state: Mutex<State>,
    work: Condvar,
    idle: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The bounded classifier: `capacity` slots, `workers` threads. Cheap to
/// clone; the threads stop when the last clone is dropped (after finishing
/// the queue).
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
            .field("capacity", &self.inner.capacity)
            .field("taken", &s.taken)
            .field("unfinished", &s.unfinished)
            .finish()
    }
}

/// Why a classifier could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifierError {
    /// `workers` and `capacity` must both be at least 1.
    #[error("a classifier needs at least one worker and one slot")]
    Empty,
    /// The operating system refused to start a worker thread.
    #[error("could not start a classifier thread: {0}")]
    Spawn(String),
}

impl Classifier {
    /// A classifier with `workers` threads and `capacity` slots (attempts in
    /// flight or awaiting classification). Size it so that `capacity` ×
    /// one search (≈1–11 ms, ×3 under load) ÷ `workers` stays well below the
    /// guard's classification TTL.
    pub fn new(workers: usize, capacity: usize) -> Result<Self, ClassifierError> {
        if workers == 0 || capacity == 0 {
            return Err(ClassifierError::Empty);
        }
        let inner = Arc::new(Inner {
            capacity,
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
                .map_err(|e| ClassifierError::Spawn(e.to_string()))?;
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

    /// Takes a slot for one attempt, or `None` when all are taken
    /// (back-pressure: refuse the attempt at accept).
    pub(crate) fn try_slot(&self) -> Option<ClassifierSlot> {
        let mut s = self.inner.lock();
        if s.taken >= self.inner.capacity {
            return None;
        }
        s.taken += 1;
        Some(ClassifierSlot {
            inner: Some(self.inner.clone()),
        })
    }

    /// Slots currently taken (attempts in flight plus failures awaiting or
    /// under classification).
    pub fn slots_taken(&self) -> usize {
        self.inner.lock().taken
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

/// One classifier slot, held by a CS attempt from accept until its proof's
/// outcome is known. Dropping it returns the slot.
pub(crate) struct ClassifierSlot {
    inner: Option<Arc<Inner>>,
}

impl ClassifierSlot {
    /// Queues a failed proof; its slot is returned when the job finishes.
    pub(crate) fn submit(
        mut self,
        pending: PendingClassification,
        evidence: Box<FailedProof>,
        server: Arc<PreparedServerSecret>,
        digits: PinDigits,
    ) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut s = inner.lock();
        s.unfinished += 1;
        s.queue.push_back(Job {
            pending,
            evidence,
            server,
            digits,
        });
        drop(s);
        inner.work.notify_one();
    }
}

impl Drop for ClassifierSlot {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let mut s = inner.lock();
            s.taken = s.taken.saturating_sub(1);
        }
    }
}

fn worker(inner: &Inner) {
    loop {
        let job = {
            let mut s = inner.lock();
            loop {
                if let Some(job) = s.queue.pop_front() {
                    break job;
                }
                if s.shutdown {
                    return;
                }
                s = inner.work.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        match classify(&job.evidence, &job.server, job.digits) {
            // δ is discarded: only the classification leaves the worker.
            Classification::WrongPin { .. } => {
                let _ = job.pending.wrong_pin();
            }
            Classification::InvalidCredential => job.pending.invalid_credential(),
        }
        drop(job.evidence);
        let mut s = inner.lock();
        s.taken = s.taken.saturating_sub(1);
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
    fn slots_are_bounded_and_returned_on_drop() {
        assert_eq!(Classifier::new(0, 1).err(), Some(ClassifierError::Empty));
        assert_eq!(Classifier::new(1, 0).err(), Some(ClassifierError::Empty));
        let c = Classifier::new(1, 2).unwrap();
        let a = c.try_slot().unwrap();
        let b = c.try_slot().unwrap();
        assert_eq!(c.slots_taken(), 2);
        assert!(c.try_slot().is_none(), "back-pressure when full");
        drop(a);
        assert_eq!(c.slots_taken(), 1);
        let _c2 = c.try_slot().unwrap();
        drop(b);
        assert_eq!(c.slots_taken(), 1);
        c.drain(); // nothing queued: returns at once
    }
}

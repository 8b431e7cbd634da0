//! The tiny blocking adapter between the guard's asynchronous store
//! operations and the synchronous accept path.
//!
//! An in-memory store returns ready futures, so [`block_on`] returns after
//! one poll and never blocks. A network store's future completes when its
//! runtime has the answer (or its timeout passed): [`block_on`] parks the
//! calling thread until then. Call it only where blocking is allowed — a
//! plain thread, a classifier thread, a blocking-pool job — and never on an
//! async task whose runtime must make progress for the future to complete
//! (use the guard's `*_async` methods there).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Wakes the thread that is blocked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `fut` to completion on this thread: polls it, and parks the thread
/// between polls until its waker is called. Returns after a single poll
/// for a ready future (the in-memory store's), without blocking.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A spurious unpark only costs another poll.
        std::thread::park();
    }
}

/// Polls `fut` once: its output if it is already complete (an in-memory
/// store's result), `None` otherwise. For drop paths, which may run on an
/// async task and so must never block; store operations take effect even
/// when their future is dropped ([`super::GuardStore`]).
pub(crate) fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_future_completes_in_one_poll() {
        assert_eq!(block_on(std::future::ready(7)), 7);
        assert_eq!(poll_once(std::future::ready(8)), Some(8));
        assert_eq!(poll_once(std::future::pending::<u8>()), None);
    }

    #[test]
    fn a_future_completed_by_another_thread_wakes_the_blocked_one() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let fut = std::future::poll_fn(move |cx| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                Poll::Ready(42)
            } else {
                let _ = tx.send(cx.waker().clone());
                Poll::Pending
            }
        });
        let completer = std::thread::spawn(move || {
            let waker = rx.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            waker.wake();
        });
        assert_eq!(block_on(fut), 42);
        completer.join().unwrap();
    }
}

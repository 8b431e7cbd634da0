//! Keeping a long-running service's time permit (CS) or epoch key (P2P)
//! current: [`Renewer`] fetches the next day's or epoch's key from every
//! D-TA ahead of the boundary and hands it over at the boundary; [`Swap`]
//! holds the connector or acceptor built from it, so new connections use
//! the new key while established ones keep theirs.
//!
//! ```no_run
//! # async fn f(creds: milagro_dta::Credentials, clients: Vec<milagro_dta::Client>,
//! #            token: milagro_tls::keys::CsToken, pin: milagro_tls::mpin::Pin,
//! #            first: milagro_tls_tokio::MilagroConnector) {
//! use milagro_dta::renewer::{Renewer, Swap};
//! use milagro_dta::Renewed;
//! let current = Swap::new(first);
//! let slot = current.clone();
//! tokio::spawn(Renewer::new(creds, clients).run(move |renewed| {
//!     if let Renewed::Permit(permit) = renewed {
//!         let client = milagro_tls::cs_tls::client(token.clone(), pin.clone(), Some(permit));
//!         if let Ok(client) = client {
//!             slot.set(milagro_tls_tokio::MilagroConnector::new(client));
//!         }
//!     }
//! }));
//! // Each new connection: current.get().connect("service.example", tcp).await
//! # }
//! ```

use std::sync::{Arc, RwLock};
use std::time::Duration;

use milagro_tls::keys::{SECONDS_PER_DAY, day_of, epoch_of};

use crate::Client;
use crate::clock::{Clock, SystemClock};
use crate::enrol::{Credentials, Period, Renewed, deployment_of, renew_all};

/// A value replaced while running (a `MilagroConnector`, a
/// `MilagroAcceptor`): readers take a clone for each new connection, so a
/// replacement never touches connections already made. Cheap to clone
/// (shared).
#[derive(Debug)]
pub struct Swap<T>(Arc<RwLock<T>>);

impl<T> Clone for Swap<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Clone> Swap<T> {
    /// A slot holding `value`.
    pub fn new(value: T) -> Self {
        Self(Arc::new(RwLock::new(value)))
    }

    /// A clone of the current value.
    pub fn get(&self) -> T {
        match self.0.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the value; later [`get`](Self::get)s see the new one.
    pub fn set(&self, value: T) {
        match self.0.write() {
            Ok(mut v) => *v = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

/// Renews through every D-TA ahead of each day or epoch boundary.
pub struct Renewer {
    credentials: Credentials,
    clients: Vec<Client>,
    clock: Arc<dyn Clock>,
    lead: Option<u64>,
    retry: Duration,
}

impl core::fmt::Debug for Renewer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Renewer")
            .field("identity", &self.credentials.identity)
            .finish_non_exhaustive()
    }
}

impl Renewer {
    /// A renewer for `credentials` (`clients` one per D-TA, in the same
    /// order), on the system clock. By default it fetches the next key an
    /// hour before a day boundary, or a tenth of an epoch before an epoch
    /// boundary, and retries every 30 s.
    pub fn new(credentials: Credentials, clients: Vec<Client>) -> Self {
        Self {
            credentials,
            clients,
            clock: Arc::new(SystemClock),
            lead: None,
            retry: Duration::from_secs(30),
        }
    }

    /// The same renewer on another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Fetch this many seconds before each boundary.
    pub fn with_lead(mut self, secs: u64) -> Self {
        self.lead = Some(secs);
        self
    }

    /// Wait this long between failed attempts.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// (period length, current period) by the renewer's clock.
    fn period(&self) -> (u64, u32) {
        let now = self.clock.now();
        match deployment_of(&self.credentials.deployment) {
            Some(milagro_tls::keys::Deployment::P2p(p)) => {
                (u64::from(p.epoch_seconds), epoch_of(now, p.epoch_seconds))
            }
            _ => (SECONDS_PER_DAY, day_of(now)),
        }
    }

    async fn sleep_until(&self, t: u64) {
        loop {
            let now = self.clock.now();
            if now >= t {
                return;
            }
            // Short naps, so a clock that jumps (tests) is noticed promptly.
            tokio::time::sleep(Duration::from_secs((t - now).min(1))).await;
        }
    }

    async fn fetch(&self, period: Period) -> Renewed {
        loop {
            match renew_all(&self.credentials, &self.clients, period).await {
                Ok(r) => return r,
                Err(e) => {
                    tracing::warn!(identity = %self.credentials.identity, error = %e, "renewal failed; retrying");
                    tokio::time::sleep(self.retry).await;
                }
            }
        }
    }

    /// Runs for ever: installs the current period's key at once, then each
    /// next one at its boundary, fetched `lead` seconds ahead. A failing
    /// D-TA is retried (and logged, naming it) until it answers; meanwhile
    /// the installed key stays in use until it expires. Spawn it and abort
    /// the task to stop.
    pub async fn run(self, mut install: impl FnMut(Renewed) + Send) {
        let (length, mut current) = self.period();
        let lead = self.lead.unwrap_or(if length == SECONDS_PER_DAY {
            3_600
        } else {
            length / 10
        });
        install(self.fetch(Period::Exactly(current)).await);
        loop {
            let (_, now_period) = self.period();
            if now_period > current {
                // Late (a suspended host, a clock jump): catch up at once.
                install(self.fetch(Period::Exactly(now_period)).await);
                current = now_period;
                continue;
            }
            let next = current.saturating_add(1);
            let boundary = u64::from(next) * length;
            self.sleep_until(boundary.saturating_sub(lead)).await;
            let renewed = self.fetch(Period::Exactly(next)).await;
            self.sleep_until(boundary).await;
            install(renewed);
            current = next;
        }
    }
}

//! The `--guard` option of the servers and of `milagro guard`: which store
//! holds the CS guard's state.
//!
//! * `memory` (the default): this process's own memory — counts, the replay
//!   cache and the throttles are per server process and gone when it stops.
//! * `redis://host:port/db`: a shared Redis ([`RedisStore`]): every server
//!   pointed at the same Redis shares lockout counts, reservations, the
//!   replay cache, the per-source throttles and the slow-down, and
//!   `milagro guard status|unlock` can read and change them from outside.
//!   When Redis does not answer, Milagro handshakes are refused (fail
//!   closed) and standard TLS clients are still served.

use std::sync::Arc;

use milagro_guard_redis::{RedisStore, RedisStoreError};
use milagro_tls::guard::{Guard, GuardObserver, GuardPolicy, MemoryGuard, MonotonicClock};

/// Why `--guard` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GuardSpecError {
    /// Neither `memory` nor a `redis://` URL.
    #[error("--guard {0}: expected `memory` or `redis://host:port/db`")]
    Unsupported(String),
    /// Redis could not be reached or the URL is malformed.
    #[error("--guard {url}: {source}")]
    Redis {
        /// The URL given.
        url: String,
        /// Why.
        source: RedisStoreError,
    },
}

/// Where the guard's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardSpec {
    /// In this process (per server).
    Memory,
    /// In the Redis at this URL (shared).
    Redis(String),
}

impl GuardSpec {
    /// Parses a `--guard` value (`None`: the default, memory).
    pub fn parse(value: Option<&str>) -> Result<Self, GuardSpecError> {
        match value {
            None | Some("memory") => Ok(Self::Memory),
            Some(url) if url.starts_with("redis://") => Ok(Self::Redis(url.to_owned())),
            Some(other) => Err(GuardSpecError::Unsupported(other.to_owned())),
        }
    }

    /// A guard with `policy` over this store, reporting to `observer`. A
    /// Redis store is connected (and checked) now; call it inside the
    /// program's multi-threaded tokio runtime.
    pub async fn open(
        &self,
        policy: GuardPolicy,
        observer: Arc<dyn GuardObserver>,
    ) -> Result<Guard, GuardSpecError> {
        let store: Arc<dyn milagro_tls::guard::GuardStore> = match self {
            Self::Memory => Arc::new(MemoryGuard::new(policy)),
            Self::Redis(url) => {
                Arc::new(RedisStore::connect(url, policy).await.map_err(|source| {
                    GuardSpecError::Redis {
                        url: url.clone(),
                        source,
                    }
                })?)
            }
        };
        Ok(Guard::new(store, Arc::new(MonotonicClock::new()), observer))
    }

    /// How the servers describe it on start-up.
    pub fn describe(&self) -> String {
        match self {
            Self::Memory => "in this process's memory (per server)".to_owned(),
            Self::Redis(url) => format!("shared in Redis at {url}"),
        }
    }
}

//! The async acceptor: tokio-rustls's `LazyConfigAcceptor` over a recording
//! reader, the synchronous path's step 1 and configuration choice
//! ([`MilagroAcceptor::decide`]), the server's key exchange on the bounded
//! blocking pool, and the handshake's completion reported to the guard.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use milagro_tls::adapter::{Decision, KxResolution, OverlapStats, PrecomputedShare, refusal_alert};
use milagro_tls::guard::SourceKey;
use milagro_tls::identity::Identity;
use milagro_tls::suite::Suite;
use milagro_tls::tls::HANDSHAKE_FAILURE_ALERT;
use milagro_tls::tls::{ClientHelloError, Offer, ParsedClientHello, classify};
use milagro_tls::{AcceptError, AcceptRefusal, FinishError, MilagroAcceptor};
use rustls::ServerConfig;
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, StartHandshake};
use tracing::{Instrument, field};

use crate::blocking::{BlockingPool, PoolError, Staged};
use crate::recording::Recording;

/// The acceptor's limits (docs/protocol.md §9.5: part of the product, not
/// options). The per-source token buckets are the guard's throttle
/// (`GuardPolicy::throttle`), charged in step 1.
///
/// With the cargo feature `serde` it implements `serde::Deserialize` (fields
/// left out keep their defaults; durations written `"10s"`, `"500ms"`, as
/// in `milagro_tls::serde_duration`):
///
/// ```
/// # #[cfg(feature = "serde")] {
/// let limits: milagro_tls_tokio::AcceptorLimits =
///     serde_json::from_str(r#"{ "handshake_timeout": "8s", "max_connections_per_source": 16 }"#)?;
/// assert_eq!(limits.handshake_timeout, std::time::Duration::from_secs(8));
/// assert_eq!(limits.client_hello_timeout, std::time::Duration::from_secs(5)); // the default
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct AcceptorLimits {
    /// Handshakes in progress at once (from the first byte read to the
    /// finished handshake); more wait for a slot until their deadline.
    /// Default 256.
    pub max_concurrent_handshakes: usize,
    /// The whole handshake's budget, ClientHello included; a client slower
    /// than this is dropped and its slot freed. A CS attempt whose key
    /// exchange ran keeps the outcome it reached (a wrong PIN stays counted;
    /// only a good proof's reservation is released); one whose key exchange
    /// never ran is released uncounted. Default 10 s. For a CS server it
    /// must be shorter than the guard's `LockoutPolicy::reservation_ttl`
    /// (default 30 s): an attempt may wait for a blocking-pool thread until
    /// its deadline, and its reservation must still be alive when its key
    /// exchange runs, or the cap on failures in flight stops holding. An
    /// acceptor whose limits break this refuses every connection
    /// ([`TlsAcceptError::Misconfigured`]; check at startup with
    /// [`TlsAcceptor::check`]).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "milagro_tls::serde_duration::deserialize")
    )]
    pub handshake_timeout: Duration,
    /// Key exchanges running on the blocking pool at once. Default: the
    /// number of CPUs.
    pub blocking_threads: usize,
    /// Connections from one source inside [`TlsAcceptor::accept`] at
    /// once, counted from the call, before the ClientHello is read and
    /// before a handshake slot is taken. A source is an IPv4 address or an
    /// IPv6 /64 (the guard's throttle unit). One more is refused at once,
    /// with nothing read or written ([`TlsAcceptError::SourceBusy`]), so one
    /// source cannot hold the global handshake slots with slow connections
    /// (docs/protocol.md §9.5). Default 64 (a quarter of the default
    /// global cap: room for many clients behind one NAT address; lower it
    /// where addresses are not shared). 0 refuses every connection.
    pub max_connections_per_source: usize,
    /// The time a client has to deliver its whole ClientHello, from when its
    /// handshake slot is taken (never later than the handshake timeout). A
    /// slower client is dropped ([`TlsAcceptError::ClientHelloTimeout`]) and
    /// its slot freed long before the handshake timeout. Default 5 s (a
    /// ClientHello is one flight: this leaves room for TCP retransmissions
    /// on a lossy link).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "milagro_tls::serde_duration::deserialize")
    )]
    pub client_hello_timeout: Duration,
}

impl Default for AcceptorLimits {
    fn default() -> Self {
        Self {
            max_concurrent_handshakes: 256,
            handshake_timeout: Duration::from_secs(10),
            blocking_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_connections_per_source: 64,
            client_hello_timeout: Duration::from_secs(5),
        }
    }
}

/// Connections inside the acceptor per source, each counted from before its
/// ClientHello is read until `accept` returns. An entry exists only while
/// its count is above zero, so the map holds at most one entry per
/// connection in progress.
#[derive(Debug, Default)]
struct SourceCounts(Mutex<HashMap<SourceKey, usize>>);

/// One connection's place in [`SourceCounts`], given back on drop.
struct SourceSlot {
    counts: Arc<SourceCounts>,
    key: SourceKey,
}

impl SourceCounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SourceKey, usize>> {
        // The map holds plain counters: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for `source` unless it already has `max` connections.
    fn try_take(self: &Arc<Self>, source: IpAddr, max: usize) -> Option<SourceSlot> {
        let key = SourceKey::of(source);
        let mut map = self.lock();
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            if *n == 0 {
                map.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            counts: self.clone(),
            key,
        })
    }

    fn current(&self, source: IpAddr) -> usize {
        self.lock()
            .get(&SourceKey::of(source))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock();
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// A CS attempt's key exchange may start as late as its handshake deadline
/// (it waits for a blocking-pool thread until then), so its reservation,
/// taken after the ClientHello, must outlive the whole handshake timeout.
fn check_limits(server: &MilagroAcceptor, limits: &AcceptorLimits) -> Result<(), BuildError> {
    match server.reservation_ttl() {
        Some(reservation_ttl) if limits.handshake_timeout >= reservation_ttl => {
            Err(BuildError::HandshakeOutlivesReservation {
                handshake_timeout: limits.handshake_timeout,
                reservation_ttl,
            })
        }
        _ => Ok(()),
    }
}

/// An identity authenticated by a finished Milagro handshake. Only the
/// acceptor creates it: an application cannot forge one from a standard
/// connection or from raw `peer_certificates()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedIdentity {
    identity: Identity,
    suite: Suite,
}

impl AuthenticatedIdentity {
    /// The client's canonical identity, bound to its key share.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The suite it authenticated with.
    pub fn suite(&self) -> Suite {
        self.suite
    }
}

/// A connection accepted by [`TlsAcceptor::accept`], handshake finished.
#[derive(Debug)]
pub enum AcceptedStream<IO> {
    /// A standard TLS client served with the standard configuration; no
    /// Milagro identity exists on this path.
    Standard(TlsStream<IO>),
    /// A Milagro client: a full handshake on its Milagro group, identity
    /// bound to its key share, completion reported to the guard.
    Milagro(AuthenticatedIdentity, TlsStream<IO>),
}

/// Why [`TlsAcceptor::accept`] did not accept a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsAcceptError {
    /// The synchronous path's refusals (malformed ClientHello, offer rules,
    /// step 1, key exchange …), with the same variants and alerts.
    #[error(transparent)]
    Accept(#[from] AcceptError),
    /// A Milagro ClientHello whose server name (SNI) is none of this
    /// listener's P2P identities (plaintext handshake_failure sent).
    #[error("the ClientHello's server name is not one of this listener's identities")]
    UnknownServerName,
    /// The handshake did not finish within the handshake timeout.
    #[error("the handshake timed out")]
    Timeout,
    /// The source already had `max_connections_per_source` connections in
    /// the acceptor: refused before anything was read (nothing written).
    #[error("too many connections from this source at once; refused before reading")]
    SourceBusy,
    /// The client did not deliver its ClientHello within
    /// `client_hello_timeout` (nothing written).
    #[error("no complete ClientHello within the ClientHello timeout")]
    ClientHelloTimeout,
    /// The handshake failed after the key exchange (e.g. the client
    /// certificate did not match the key share, or I/O failed).
    #[error("handshake failed: {0}")]
    Handshake(io::Error),
    /// The finished handshake broke a Milagro rule (not full, wrong group,
    /// identity not bound).
    #[error("finished handshake refused")]
    Finish(#[from] FinishError),
    /// The blocking pool failed (a panic or runtime shutdown).
    #[error("the blocking pool failed")]
    Pool,
    /// The acceptor's limits contradict its guard
    /// ([`TlsAcceptor::check`]): refused before anything was read
    /// (nothing written), as every connection is until it is rebuilt.
    #[error("acceptor misconfigured: {0}")]
    Misconfigured(BuildError),
}

/// Why an async acceptor could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No acceptor given.
    #[error("no Milagro acceptor given")]
    Empty,
    /// Several acceptors must all be P2P, with distinct identities.
    #[error("several acceptors must all be P2P servers with distinct identities")]
    NotDistinctP2p,
    /// The standard configuration offers a Milagro group.
    #[error("the standard configuration offers a Milagro group")]
    StandardOffersMilagro,
    /// A CS server's handshake timeout is not shorter than its guard's
    /// reservation lifetime: a reservation could expire while its key
    /// exchange waits for a blocking-pool thread.
    #[error(
        "handshake timeout {handshake_timeout:?} must be shorter than the guard's \
         reservation_ttl {reservation_ttl:?} (a reservation would expire before its key exchange)"
    )]
    HandshakeOutlivesReservation {
        /// `AcceptorLimits::handshake_timeout`.
        handshake_timeout: Duration,
        /// The guard's `LockoutPolicy::reservation_ttl`.
        reservation_ttl: Duration,
    },
}

/// An async Milagro acceptor over tokio-rustls: one CS server, or several
/// P2P servers chosen by the ClientHello's server name, optionally with a
/// standard configuration on the same listener. Cheap to clone (shared
/// limits).
#[derive(Clone)]
pub struct TlsAcceptor {
    primary: MilagroAcceptor,
    p2p: Arc<HashMap<Identity, MilagroAcceptor>>,
    limits: AcceptorLimits,
    /// Why the limits contradict the guard, if they do (then every
    /// connection is refused).
    misconfigured: Option<BuildError>,
    handshakes: Arc<Semaphore>,
    sources: Arc<SourceCounts>,
    pool: BlockingPool,
}

impl core::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("suite", &self.primary.suite())
            .field("p2p_identities", &self.p2p.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An async acceptor for one synchronous acceptor (from
    /// `cs_tls::server` or `p2p_tls::server`, with
    /// `with_standard` if standard clients share the listener), with
    /// default limits.
    pub fn new(acceptor: MilagroAcceptor) -> Self {
        let mut p2p = HashMap::new();
        if let Some(id) = acceptor.p2p_identity() {
            p2p.insert(id.clone(), acceptor.clone());
        }
        Self::assemble(acceptor, p2p, AcceptorLimits::default())
    }

    /// Several P2P servers on one listener, chosen by the ClientHello's
    /// server name (which must canonicalise to one of their identities).
    /// Standard clients, if any, are served by the first one's standard
    /// configuration. Fails if `servers` is empty, holds a CS acceptor or
    /// two acceptors for one identity.
    pub fn p2p(servers: impl IntoIterator<Item = MilagroAcceptor>) -> Result<Self, BuildError> {
        let mut p2p = HashMap::new();
        let mut primary = None;
        for s in servers {
            let id = s.p2p_identity().ok_or(BuildError::NotDistinctP2p)?.clone();
            if p2p.insert(id, s.clone()).is_some() {
                return Err(BuildError::NotDistinctP2p);
            }
            primary.get_or_insert(s);
        }
        let primary = primary.ok_or(BuildError::Empty)?;
        Ok(Self::assemble(primary, p2p, AcceptorLimits::default()))
    }

    fn assemble(
        primary: MilagroAcceptor,
        p2p: HashMap<Identity, MilagroAcceptor>,
        limits: AcceptorLimits,
    ) -> Self {
        let misconfigured = check_limits(&primary, &limits).err();
        if let Some(e) = &misconfigured {
            tracing::error!(error = %e, "Milagro acceptor refuses every connection");
        }
        Self {
            misconfigured,
            primary,
            p2p: Arc::new(p2p),
            handshakes: Arc::new(Semaphore::new(limits.max_concurrent_handshakes.max(1))),
            sources: Arc::new(SourceCounts::default()),
            pool: BlockingPool::new(limits.blocking_threads),
            limits,
        }
    }

    /// The same servers, also serving standard (non-Milagro) clients with
    /// `standard`. Fails if `standard` offers a Milagro group.
    pub fn with_standard(self, standard: Arc<ServerConfig>) -> Result<Self, BuildError> {
        let primary = self
            .primary
            .with_standard(standard.clone())
            .ok_or(BuildError::StandardOffersMilagro)?;
        let mut p2p = HashMap::new();
        for (id, s) in self.p2p.iter() {
            let s = s
                .with_standard(standard.clone())
                .ok_or(BuildError::StandardOffersMilagro)?;
            p2p.insert(id.clone(), s);
        }
        Ok(Self::assemble(primary, p2p, self.limits))
    }

    /// The same servers with `limits` (fresh counters).
    pub fn with_limits(self, limits: AcceptorLimits) -> Self {
        Self::assemble(self.primary, (*self.p2p).clone(), limits)
    }

    /// Whether the limits agree with the guard (call it at startup): fails
    /// with [`BuildError::HandshakeOutlivesReservation`] for a CS server whose
    /// handshake timeout is not shorter than its guard's reservation
    /// lifetime. While it fails, [`accept`](Self::accept) refuses every
    /// connection with [`TlsAcceptError::Misconfigured`] before reading it.
    pub fn check(&self) -> Result<(), BuildError> {
        self.misconfigured.clone().map_or(Ok(()), Err)
    }

    /// The limits in force.
    pub fn limits(&self) -> AcceptorLimits {
        self.limits
    }

    /// Handshake slots free now (of `max_concurrent_handshakes`).
    pub fn available_handshake_slots(&self) -> usize {
        self.handshakes.available_permits()
    }

    /// Connections from `source` (its IPv4 address or IPv6 /64) inside
    /// [`accept`](Self::accept) now (of `max_connections_per_source`).
    pub fn connections_from(&self, source: IpAddr) -> usize {
        self.sources.current(source)
    }

    /// Blocking-pool slots free now (of `blocking_threads`).
    pub fn available_blocking_slots(&self) -> usize {
        self.pool.available()
    }

    /// How many CS connections had step 1's store round trip overlapped with
    /// their share's own work, and why others did not (only with a remote
    /// guard store such as Redis; see [`accept`](Self::accept)).
    pub fn overlap_stats(&self) -> OverlapStats {
        self.primary.overlap_stats()
    }

    /// [`accept`](Self::accept) for a TCP connection, with its peer address
    /// as the source.
    pub async fn accept_tcp(
        &self,
        tcp: TcpStream,
    ) -> Result<AcceptedStream<TcpStream>, TlsAcceptError> {
        let source = tcp
            .peer_addr()
            .map_err(|e| TlsAcceptError::Accept(AcceptError::Io(e)))?;
        self.accept(source.ip(), tcp).await
    }

    /// Runs one server handshake on `io`, a connection from `source` (the
    /// address step 1 throttles), within the handshake timeout and a global
    /// handshake slot. Before anything is read, a source that already has
    /// `max_connections_per_source` connections here is refused
    /// ([`TlsAcceptError::SourceBusy`], `io` dropped); the ClientHello must then
    /// arrive within `client_hello_timeout`. Writes any alert itself. The
    /// server's key exchange runs on the bounded blocking pool.
    ///
    /// With a remote guard store (Redis), a CS share's decoding and DLEQ
    /// check start on the pool while step 1 awaits the store, and the key
    /// exchange continues on the same thread once the attempt is admitted
    /// (docs/protocol.md §6.4, "Overlapping step 1"): the round trip stops
    /// adding to the handshake. A source that step 1 refused gets no such
    /// work for 10 s, and none is started without a free pool slot
    /// ([`overlap_stats`](Self::overlap_stats) counts each case).
    pub async fn accept<IO>(
        &self,
        source: IpAddr,
        io: IO,
    ) -> Result<AcceptedStream<IO>, TlsAcceptError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let span = tracing::info_span!(
            "milagro_accept",
            %source,
            suite = field::Empty,
            outcome = field::Empty,
            duration_ms = field::Empty,
            identity = field::Empty,
        );
        let started = Instant::now();
        let result = self
            .accept_inner(source, io, started + self.limits.handshake_timeout)
            .instrument(span.clone())
            .await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
        match &result {
            Ok(AcceptedStream::Standard(_)) => {
                span.record("suite", "standard");
                span.record("outcome", "ok");
            }
            Ok(AcceptedStream::Milagro(id, _)) => {
                span.record("suite", suite_name(id.suite()));
                span.record("outcome", "ok");
                span.record("identity", id.identity().as_str());
            }
            // Errors carry typed reasons only (never δ or secrets).
            Err(e) => {
                span.record("outcome", field::display(e));
            }
        }
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("handshake finished"),
            Err(e) => tracing::debug!(error = %e, "handshake refused"),
        });
        result
    }

    async fn accept_inner<IO>(
        &self,
        source: IpAddr,
        io: IO,
        deadline: Instant,
    ) -> Result<AcceptedStream<IO>, TlsAcceptError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // 0. Admission of the connection itself, before reading anything.
        if let Some(e) = &self.misconfigured {
            return Err(TlsAcceptError::Misconfigured(e.clone()));
        }
        let Some(_per_source) = self
            .sources
            .try_take(source, self.limits.max_connections_per_source)
        else {
            return Err(TlsAcceptError::SourceBusy);
        };
        let _slot = tokio::time::timeout_at(deadline, self.handshakes.clone().acquire_owned())
            .await
            .map_err(|_| TlsAcceptError::Timeout)?
            .map_err(|_| TlsAcceptError::Pool)?;
        // 1. The ClientHello, recorded and parsed as rustls reads it, within
        //    its own (shorter) timeout.
        let hello_deadline = deadline.min(Instant::now() + self.limits.client_hello_timeout);
        let mut lazy = LazyConfigAcceptor::new(Acceptor::default(), Recording::new(io));
        let read = tokio::time::timeout_at(hello_deadline, &mut lazy).await;
        let start = match read {
            Err(_) if hello_deadline < deadline => return Err(TlsAcceptError::ClientHelloTimeout),
            Err(_) => return Err(TlsAcceptError::Timeout),
            Ok(Ok(start)) => start,
            Ok(Err(e)) => return Err(refuse_unread(&mut lazy, e).await),
        };
        let StartHandshake {
            accepted, mut io, ..
        } = start;
        let hello = io.take_hello();
        let mut io = io.into_inner();
        let Some(hello) = hello else {
            // rustls saw a ClientHello our parser did not finish.
            let refusal = AcceptRefusal::ClientHello(ClientHelloError::AlreadyComplete);
            return Err(plain_refusal(&mut io, AcceptError::Refused(refusal)).await);
        };
        // 2. Which server, then step 1 and the configuration (shared with
        //    the synchronous path).
        let server = match self.server_for(&hello) {
            Some(s) => s,
            None => return Err(plain_refusal(&mut io, TlsAcceptError::UnknownServerName).await),
        };
        // With a remote guard store, the share's own work (no pairing) runs
        // on the blocking pool while step 1 awaits the store, and the key
        // exchange later continues on the same thread.
        let overlap = self.start_overlap(server, &hello, source);
        let start = match server.decide_async(source, &hello).await {
            Ok(Decision::Standard(config)) => {
                let stream = StartHandshake::from_parts(accepted, io).into_stream(config);
                return match tokio::time::timeout_at(deadline, stream).await {
                    Err(_) => Err(TlsAcceptError::Timeout),
                    Ok(Err(e)) => Err(TlsAcceptError::Handshake(e)),
                    Ok(Ok(tls)) => Ok(AcceptedStream::Standard(tls)),
                };
            }
            Ok(Decision::Milagro(start)) => start,
            Err(e) => return Err(plain_refusal(&mut io, e).await),
        };
        // 3. The key exchange (pairings) on the bounded blocking pool. The
        //    attempt is resolved (counted, charged, reported) inside the job,
        //    by `MilagroStart::run`, before any byte is written: neither a
        //    failed alert write, nor the deadline, nor this future being
        //    dropped while the job runs can change its count. If the job
        //    never starts (no pool slot before the deadline), the key
        //    exchange never ran and the reservation is released uncharged.
        let key_exchange = move |precomputed: Option<PrecomputedShare>| {
            let start = match precomputed {
                Some(p) => start.with_precomputed(p),
                None => start,
            };
            start.run(|config| {
                let mut ok = false;
                let accept = StartHandshake::from_parts(accepted, io)
                    .into_stream_with(config, |_| ok = true);
                (accept, ok)
            })
        };
        let kx = match overlap {
            Some(staged) => staged.finish(deadline, key_exchange).await,
            None => self.pool.run(deadline, move || key_exchange(None)).await,
        };

        let (resolution, (mut accept, rustls_ok)) = match kx {
            Ok(v) => v,
            Err(PoolError::Timeout) => return Err(TlsAcceptError::Timeout),
            Err(PoolError::Failed) => return Err(TlsAcceptError::Pool),
        };
        let mut session = match (resolution, rustls_ok) {
            (KxResolution::Started(session), true) => session,
            (resolution, true) => {
                // A good proof lost the replay-cache race (or a silent
                // refusal): nothing written yet, refuse in plaintext.
                let e = match resolution {
                    KxResolution::Refused(Some(e)) => e,
                    _ => AcceptError::Tls(rustls::Error::HandshakeNotComplete),
                };
                if let Some(io) = accept.get_mut() {
                    let _ = io.write_all(refusal_alert(&e)).await;
                }
                return Err(TlsAcceptError::Accept(e));
            }
            (resolution, false) => {
                // rustls's alert (illegal_parameter for any kx failure) is
                // written by the future; the attempt is already resolved.
                let err = match tokio::time::timeout_at(deadline, accept.into_fallible()).await {
                    Ok(Err((e, _io))) => e,
                    Ok(Ok(_)) => return Err(TlsAcceptError::Pool),
                    Err(_) => io::Error::new(io::ErrorKind::TimedOut, "alert not written"),
                };
                return Err(match resolution {
                    KxResolution::Refused(Some(e)) => TlsAcceptError::Accept(e),
                    _ => match rustls_error(err) {
                        Ok(tls) => TlsAcceptError::Accept(AcceptError::Tls(tls)),
                        Err(e) => TlsAcceptError::Handshake(e),
                    },
                });
            }
        };
        // 4. The rest of the handshake, then the binding checks and the
        //    guard's completion. A timeout drops the session: a good proof's
        //    reservation is released (there is nothing to count).
        let tls = match tokio::time::timeout_at(deadline, accept).await {
            Err(_) => return Err(TlsAcceptError::Timeout),
            Ok(Err(e)) => return Err(TlsAcceptError::Handshake(e)),
            Ok(Ok(tls)) => tls,
        };
        let identity = session.finish(tls.get_ref().1)?;
        Ok(AcceptedStream::Milagro(
            AuthenticatedIdentity {
                identity,
                suite: server.suite(),
            },
            tls,
        ))
    }

    /// Starts this ClientHello's share work on the blocking pool, if it has
    /// any worth overlapping with step 1's store round trip
    /// ([`MilagroAcceptor::precompute_share`], which also withholds it from
    /// a source step 1 refused recently) and a pool slot is free now.
    fn start_overlap<R: Send + 'static>(
        &self,
        server: &MilagroAcceptor,
        hello: &ParsedClientHello,
        source: IpAddr,
    ) -> Option<Staged<PrecomputedShare, R>> {
        let work = server.precompute_share(hello, source)?;
        self.pool.try_stage(move || work.run())
    }

    /// The server for this ClientHello: P2P Milagro offers must name one of
    /// the identities in SNI; everything else goes to the primary server
    /// (whose `decide` classifies and refuses as the synchronous path does).
    fn server_for(&self, hello: &ParsedClientHello) -> Option<&MilagroAcceptor> {
        let milagro_offer = matches!(classify(hello), Ok(Offer::Milagro { .. }));
        if self.primary.suite() != Suite::P2p || !milagro_offer {
            return Some(&self.primary);
        }
        let name = hello.server_name()?;
        let name = core::str::from_utf8(name).ok()?;
        let id = Identity::new(name).ok()?;
        self.p2p.get(&id)
    }
}

fn suite_name(suite: Suite) -> &'static str {
    match suite {
        Suite::Cs => "milagro-cs",
        Suite::P2p => "milagro-p2p",
    }
}

/// The `rustls::Error` inside a tokio-rustls error, or the error itself.
pub(crate) fn rustls_error(err: io::Error) -> Result<rustls::Error, io::Error> {
    if err
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        let kind = err.kind();
        match err.into_inner().map(|b| b.downcast::<rustls::Error>()) {
            Some(Ok(tls)) => Ok(*tls),
            _ => Err(io::Error::from(kind)),
        }
    } else {
        Err(err)
    }
}

/// A refusal before any key exchange: the 7-byte plaintext alert the
/// synchronous path writes for it (`refusal_alert`: illegal_parameter for a
/// refused key share, internal_error for load, handshake_failure for a
/// refused ClientHello).
async fn plain_refusal<IO, E>(io: &mut IO, err: E) -> TlsAcceptError
where
    IO: AsyncWrite + Unpin,
    E: Into<TlsAcceptError>,
{
    let err = err.into();
    let alert = match &err {
        TlsAcceptError::Accept(e) => refusal_alert(e),
        _ => &HANDSHAKE_FAILURE_ALERT,
    };
    match io.write_all(alert).await {
        Ok(()) => err,
        Err(e) => TlsAcceptError::Accept(AcceptError::Io(e)),
    }
}

/// The ClientHello could not be read: our parser refused it (plaintext
/// handshake_failure), rustls refused it (its alert already written by
/// tokio-rustls), or the transport failed.
async fn refuse_unread<IO>(
    lazy: &mut LazyConfigAcceptor<Recording<IO>>,
    err: io::Error,
) -> TlsAcceptError
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let Some(mut rec) = lazy.take_io() else {
        return match rustls_error(err) {
            Ok(tls) => TlsAcceptError::Accept(AcceptError::Tls(tls)),
            Err(e) => TlsAcceptError::Accept(AcceptError::Io(e)),
        };
    };
    if let Some(parse) = rec.error().cloned() {
        let refusal = AcceptError::Refused(AcceptRefusal::ClientHello(parse));
        return plain_refusal(&mut rec, refusal).await;
    }
    if err.kind() == io::ErrorKind::UnexpectedEof {
        return TlsAcceptError::Accept(AcceptError::Eof);
    }
    match rustls_error(err) {
        Ok(tls) => TlsAcceptError::Accept(AcceptError::Tls(tls)),
        Err(e) => TlsAcceptError::Accept(AcceptError::Io(e)),
    }
}

//! The synchronous accept path (docs/protocol.md §6.4,
//! §7.4, §8.4.3, §8.4.4): one listener for standard and Milagro clients, with the
//! client's identity bound to its key share and the cheap checks of step 1
//! run with the connection's source address.
//!
//! 1. Bytes from the reader go to a [`ClientHelloRecorder`] until the first
//!    ClientHello is complete (a broken one is refused with the 7-byte
//!    plaintext `handshake_failure`), then *all* recorded bytes go to
//!    rustls's `Acceptor`.
//! 2. [`classify`] decides: standard → the standard config (if any); a
//!    well-formed Milagro offer for this server's suite → step 1; anything
//!    else → refused (`handshake_failure`).
//! 3. Step 1. CS: `mpin::precheck` (length, day and policy, time window),
//!    then [`crate::guard::Guard::admit`] (replay cache, source throttle,
//!    the pending-classification cap, atomic reservation for the HID). P2P:
//!    `check_client_share_at` (length, epoch current or previous by the
//!    server's clock, epoch held) and the source throttle. Refusals
//!    → a plaintext alert ([`refusal_alert`](super::error::refusal_alert):
//!    `illegal_parameter` for the share's own bytes, `internal_error` for
//!    load) and [`AcceptError::Admission`] — **except the
//!    per-identity refusals** (locked out, in flight), which are *silent*: the
//!    connection goes on with a forced-failure key exchange (full work, same
//!    `illegal_parameter` as a wrong PIN, nothing counted), holding a
//!    pending-classification slot exactly like a reservation, and the typed
//!    reason comes back as [`AcceptError::SilentlyRefused`].
//! 4. A `ServerConfig` for this connection whose client verifier holds the
//!    share's [`Binding`]; [`MilagroStart::run`] runs the key exchange
//!    (`into_connection`) bound to the SHA-256 of the share step 1 checked,
//!    and **resolves the attempt before returning**, from what the exchange
//!    reached and nothing else ([`MilagroAcceptor`]'s one resolution table):
//!    good proof → `proof_ok()` (replay cache), kept with the connection;
//!    bad DLEQ / decoding → `bad_dleq()`; failed proof → `proof_failed()`
//!    and a classifier job; any other failure, or no exchange at all →
//!    released and charged like a failure; a silent refusal → the same
//!    charge and slot use by the same row, a failed proof's classification
//!    run and discarded. Only then is any alert written: the peer can make that write
//!    fail (reset the connection), stall it, or the caller's future can be
//!    cancelled, and none of it changes the count (docs/protocol.md §6.4,
//!    "outcome before I/O").
//! 5. After the handshake, [`MilagroConnection::finish`] requires a full
//!    handshake on the Milagro group and a client blob bound to the share,
//!    then reports completion to the guard and returns the identity. Raw
//!    `peer_certificates()` are unbound: use only what `finish` returns.
//!
//! The crate documentation has runnable examples: a whole CS and P2P
//! handshake through `accept`, and one listener serving standard (X.509) and
//! Milagro clients side by side.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use rustls::server::Acceptor;
use rustls::{Error, ServerConfig, ServerConnection};

use super::admission::{Admission, AdmissionRefusal, Admitted};
use super::config::MilagroServer;
use super::engine::{Binding, KxError, KxFailure, Precomputed};
use super::error::{AcceptError, AcceptRefusal, FinishError};
use super::finish::peer_blob;
use super::kx::{KxOutcome, ShareDigest, bound_exchange};
use super::overlap_gate::OverlapGate;
use super::precompute::PrecomputedShare;
use crate::guard::{Attempt, ProvedReservation, StartedProof};
use crate::identity::Identity;
use crate::suite::Suite;
use crate::tls::{
    ClientHelloError, ClientHelloRecorder, HANDSHAKE_FAILURE_ALERT, Offer, ParsedClientHello,
    Progress, classify,
};

/// How many bytes one read may add to the recording.
const READ_CHUNK: usize = 4096;

/// A connection accepted by [`MilagroAcceptor::accept`]. An application that
/// needs an authenticated identity must match `Milagro` and call
/// [`MilagroConnection::finish`] after the handshake.
#[derive(Debug)]
pub enum Accepted {
    /// A standard TLS client, served with the standard configuration. No
    /// Milagro identity exists on this path.
    Standard(ServerConnection),
    /// A Milagro client whose key share passed the key exchange; the
    /// handshake is still running.
    Milagro(MilagroConnection),
}

/// A Milagro server connection: the rustls connection and its
/// [`MilagroSession`] (binding and, CS, the proved reservation), reported to
/// the guard by [`finish`](Self::finish). Dropping it unfinished releases the
/// reservation without counting anything.
#[derive(Debug)]
pub struct MilagroConnection {
    session: MilagroSession,
    conn: ServerConnection,
}

impl MilagroConnection {
    /// The HID and period of this connection's key share.
    pub fn binding(&self) -> &Binding {
        self.session.binding()
    }

    /// The rustls connection (drive the handshake and I/O with it).
    pub fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// The rustls connection, mutably.
    pub fn connection_mut(&mut self) -> &mut ServerConnection {
        &mut self.conn
    }

    /// After the handshake: requires a complete, full handshake on the
    /// binding's Milagro group and a client identity blob bound to the key
    /// share; then tells the guard the login completed (CS: the identity's
    /// confirmed wrong-PIN count is reset) and returns the identity. Calling
    /// it again returns the identity without reporting twice.
    pub fn finish(&mut self) -> Result<Identity, FinishError> {
        self.session.finish(&self.conn)
    }

    /// The rustls connection, giving up the reservation (released without
    /// any count).
    pub fn into_connection(self) -> ServerConnection {
        self.conn
    }
}

/// The accept path's state for one Milagro connection whose key exchange
/// succeeded: the binding of its key share and (CS) the proved reservation.
/// Shared by the synchronous path ([`MilagroConnection`]) and async adapters,
/// which hold it next to their own stream type. Dropping it unfinished
/// releases the reservation without counting anything.
#[derive(Debug)]
pub struct MilagroSession {
    binding: Binding,
    proved: Option<ProvedReservation>,
}

impl MilagroSession {
    /// The HID and period of this connection's key share.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// After the handshake of `conn` (the connection this session was started
    /// for): requires a complete, full handshake on the binding's Milagro
    /// group and a client identity blob bound to the key share; then reports
    /// completion to the guard (once) and returns the identity.
    ///
    /// Does not block, on any guard store: the completion (which resets the
    /// identity's confirmed count) is started here and takes effect whatever
    /// the connection does next, without the connection waiting for the
    /// store's answer ([`ProvedReservation::handshake_completed`]).
    pub fn finish(&mut self, conn: &ServerConnection) -> Result<Identity, FinishError> {
        let id = check_finished(&self.binding, conn)?;
        if let Some(proved) = self.proved.take() {
            proved.handshake_completed();
        }
        Ok(id)
    }
}

/// What [`MilagroAcceptor::decide`] chose for one ClientHello.
#[derive(Debug)]
// Returned once per connection; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    /// A standard client: continue with this (standard) configuration.
    Standard(Arc<ServerConfig>),
    /// A Milagro client that passed step 1: run the key exchange with
    /// [`MilagroStart::run`].
    Milagro(MilagroStart),
}

/// A Milagro ClientHello after step 1: the per-connection configuration,
/// the digest of the share step 1 checked, and whatever step 1 reserved.
/// Consume it with [`run`](Self::run). Dropping it instead (the key exchange
/// never ran) releases a reservation uncounted and charges nothing, for a
/// reserved and a silently refused attempt alike.
pub struct MilagroStart {
    acceptor: MilagroAcceptor,
    source: IpAddr,
    binding: Binding,
    share: ShareDigest,
    admitted: Admitted,
    config: Arc<ServerConfig>,
    precomputed: Option<Precomputed>,
}

impl core::fmt::Debug for MilagroStart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MilagroStart")
            .field("source", &self.source)
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

/// How [`MilagroStart::run`] resolved an attempt. Resolved means counted,
/// charged and reported to the guard: nothing that happens to the
/// connection afterwards changes it.
#[derive(Debug)]
pub enum KxResolution {
    /// The key exchange succeeded: continue the handshake and call
    /// [`MilagroSession::finish`] after it.
    Started(MilagroSession),
    /// The attempt was refused. `Some` holds the typed reason; `None` means
    /// no key exchange ran (rustls refused the ClientHello first, and its
    /// own error says why). If the handshake closure produced a connection
    /// anyway (a good proof whose replay-cache insert lost a race), drop it
    /// unwritten and send [`refusal_alert`](super::error::refusal_alert) of
    /// the error; otherwise send the
    /// alert rustls produced.
    Refused(Option<AcceptError>),
}

impl MilagroStart {
    /// The binding (HID, period) of the key share.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Hands the key exchange the share-only work done while step 1 was
    /// deciding ([`MilagroAcceptor::precompute_share`]). The exchange uses it
    /// only if it was made from exactly the share it is bound to, and does
    /// the work itself otherwise; the attempt's outcome and resolution are
    /// the same either way.
    pub fn with_precomputed(mut self, precomputed: PrecomputedShare) -> Self {
        self.precomputed = Some(precomputed.0);
        self
    }

    /// Runs the server's key exchange and resolves the attempt.
    ///
    /// `handshake` gets this connection's `ServerConfig` and must, on this
    /// thread, build the server connection from the connection's
    /// `rustls::server::Accepted` with it (e.g. `accepted.into_connection(config)`,
    /// or tokio-rustls's `StartHandshake::into_stream_with(config, …)`),
    /// **without writing anything to the peer**. That runs the key exchange
    /// (pairing work: call this on a blocking pool in async code), bound to
    /// the share step 1 checked: a share rustls parsed differently is
    /// refused ([`KxError::ShareMismatch`]) before any work.
    ///
    /// Before `run` returns (also if `handshake` panics: the panic is
    /// resumed afterwards), the attempt is resolved from what the key
    /// exchange reached — through one table that treats a reserved and a
    /// silently refused attempt alike (module documentation, step 4). Write
    /// the alert, or continue the handshake, only after this: the peer can
    /// make that I/O fail, and no I/O error, timeout or cancellation may
    /// change an attempt's count or charge (docs/protocol.md §6.4).
    pub fn run<T>(self, handshake: impl FnOnce(Arc<ServerConfig>) -> T) -> (KxResolution, T) {
        let Self {
            acceptor,
            source: _,
            binding,
            share,
            admitted,
            config,
            precomputed,
        } = self;
        // A good proof's record (the replay insert) starts as soon as the
        // proof verifies, so a network store's round trip overlaps the key
        // agreement's pairing; resolve waits for it before anything is
        // written.
        let started: Rc<RefCell<Option<StartedProof>>> = Rc::default();
        let on_proof_good = match &admitted {
            Admitted::Reserved(reservation) => {
                let starter = reservation.proof_starter();
                let started = Rc::clone(&started);
                Some(Box::new(move || {
                    *started.borrow_mut() = Some(starter.start());
                }) as Box<dyn FnOnce()>)
            }
            Admitted::Free | Admitted::Silent(_) => None,
        };
        let (out, outcome) =
            bound_exchange(share, precomputed, on_proof_good, move || handshake(config));
        let started = started.borrow_mut().take();
        let resolution = acceptor.resolve(binding, admitted, outcome, started);
        match out {
            Ok(out) => (resolution, out),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Chooses, per connection, between a Milagro config and a standard one.
#[derive(Debug, Clone)]
pub struct MilagroAcceptor {
    milagro: Arc<MilagroServer>,
    standard: Option<Arc<ServerConfig>>,
    /// The ALPN protocols Milagro connections may negotiate.
    alpn: Arc<[Vec<u8>]>,
}

impl MilagroAcceptor {
    /// An acceptor for `milagro` clients and, if given, standard clients.
    /// Returns `None` if `standard` offers a Milagro group (a standard
    /// configuration must never speak a Milagro group).
    pub(crate) fn new(
        milagro: Arc<MilagroServer>,
        standard: Option<Arc<ServerConfig>>,
    ) -> Option<Self> {
        if let Some(std) = &standard {
            if std
                .crypto_provider()
                .kx_groups
                .iter()
                .any(|g| Suite::from_group(u16::from(g.name())).is_some())
            {
                return None;
            }
        }
        Some(Self {
            milagro,
            standard,
            alpn: Arc::from([]),
        })
    }

    /// The same acceptor, also serving standard clients with `standard`.
    /// Returns `None` if `standard` offers a Milagro group. The Milagro
    /// connections' ALPN protocols are kept; `standard` brings its own.
    pub fn with_standard(&self, standard: Arc<ServerConfig>) -> Option<Self> {
        let mut with = Self::new(self.milagro.clone(), Some(standard))?;
        with.alpn = self.alpn.clone();
        Some(with)
    }

    /// The same acceptor, negotiating ALPN (RFC 7301) on Milagro connections:
    /// `protocols` in the server's order of preference (e.g. `b"h2"` then
    /// `b"http/1.1"`). A client offering none of them is refused with
    /// `no_application_protocol`, as rustls does; a client offering no ALPN
    /// at all is served without. Empty (the default): ALPN is not
    /// negotiated. Standard clients follow their own configuration's
    /// `alpn_protocols`.
    pub fn with_alpn_protocols(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols.into();
        self
    }

    /// Reads one ClientHello from `rd` (a connection from `source`) and
    /// returns the connection, writing any alert to `wr`. The server's key
    /// exchange runs inside this call (in async code, call it on a blocking
    /// pool). On success the server's first flight is queued in the
    /// connection, not yet written.
    ///
    /// Reading the ClientHello has no time limit of its own: the caller must
    /// bound it (e.g. a socket read timeout of a few seconds) and must cap
    /// the connections per source it hands to this function at once, before
    /// any byte is read, or one source with slow connections holds every
    /// thread or slot the caller has (docs/protocol.md §9.5). The tokio
    /// acceptor (`milagro-tls-tokio`) does both.
    pub fn accept(
        &self,
        source: IpAddr,
        rd: &mut dyn Read,
        wr: &mut dyn Write,
    ) -> Result<Accepted, AcceptError> {
        // 1. Record until the ClientHello is complete.
        let mut recorder = ClientHelloRecorder::new();
        let mut buf = [0u8; READ_CHUNK];
        let hello = loop {
            let n = rd.read(&mut buf)?;
            if n == 0 {
                return Err(AcceptError::Eof);
            }
            match recorder.feed(buf.get(..n).unwrap_or_default()) {
                Ok(Progress::NeedMore) => continue,
                Ok(Progress::Complete(hello)) => break hello,
                Err(e) => return Err(refuse(wr, AcceptRefusal::ClientHello(e))),
            }
        };
        // 2. Hand every recorded byte to rustls.
        let recorded = recorder.into_recorded();
        let mut acceptor = Acceptor::default();
        let mut rest = &recorded[..];
        let accepted = loop {
            if !rest.is_empty() {
                acceptor.read_tls(&mut rest)?;
            }
            match acceptor.accept() {
                Ok(Some(accepted)) => break accepted,
                Ok(None) if rest.is_empty() => {
                    // Our parser saw a whole ClientHello and rustls did not.
                    return Err(refuse(
                        wr,
                        AcceptRefusal::ClientHello(ClientHelloError::AlreadyComplete),
                    ));
                }
                Ok(None) => continue,
                Err((err, mut alert)) => {
                    alert.write_all(wr)?;
                    return Err(AcceptError::Tls(err));
                }
            }
        };
        // 3. Choose the configuration; step 1 for Milagro offers.
        let start = match self.decide(source, &hello) {
            Ok(Decision::Standard(std)) => {
                return match accepted.into_connection(std) {
                    Ok(conn) => Ok(Accepted::Standard(conn)),
                    Err((err, mut alert)) => {
                        alert.write_all(wr)?;
                        Err(AcceptError::Tls(err))
                    }
                };
            }
            Ok(Decision::Milagro(start)) => start,
            Err(e) => {
                wr.write_all(super::error::refusal_alert(&e))?;
                return Err(e);
            }
        };
        // 4. The key exchange, resolved before any byte goes to the peer.
        let (resolution, result) = start.run(|config| accepted.into_connection(config));
        match (resolution, result) {
            (KxResolution::Started(session), Ok(conn)) => {
                Ok(Accepted::Milagro(MilagroConnection { session, conn }))
            }
            (KxResolution::Started(_session), Err((err, mut alert))) => {
                // rustls refused after a good proof (the session releases
                // its reservation uncounted when dropped).
                alert.write_all(wr)?;
                Err(AcceptError::Tls(err))
            }
            (KxResolution::Refused(e), Ok(conn)) => {
                // The server's flight is not written yet: refuse in plaintext.
                drop(conn);
                let e = e.unwrap_or(AcceptError::Tls(Error::HandshakeNotComplete));
                wr.write_all(super::error::refusal_alert(&e))?;
                Err(e)
            }
            (KxResolution::Refused(e), Err((err, mut alert))) => {
                alert.write_all(wr)?;
                Err(e.unwrap_or(AcceptError::Tls(err)))
            }
        }
    }

    /// Steps 2–3 of the module documentation for a ClientHello parsed by a
    /// [`ClientHelloRecorder`] from a connection from `source`: classifies
    /// the offer, chooses the standard configuration or runs step 1 and
    /// builds the Milagro configuration for this connection. Shared by the
    /// synchronous [`accept`](Self::accept) and async adapters.
    ///
    /// On `Err` the caller must write
    /// [`refusal_alert`](super::error::refusal_alert) of the error (a
    /// refusal before any key exchange; nothing was reserved or charged, except the
    /// ClientHello's throttle token), except for I/O it does itself. Per-identity
    /// guard refusals are not errors here: they come back as a `Milagro`
    /// decision whose key exchange is forced to fail.
    ///
    /// With a network guard store this blocks until the store answers: on an
    /// async task use [`decide_async`](Self::decide_async).
    pub fn decide(
        &self,
        source: IpAddr,
        hello: &ParsedClientHello,
    ) -> Result<Decision, AcceptError> {
        crate::guard::block_on(self.decide_async(source, hello))
    }

    /// [`decide`](Self::decide), awaiting the guard's store instead of
    /// blocking (for async adapters: a network store must not block their
    /// workers).
    pub async fn decide_async(
        &self,
        source: IpAddr,
        hello: &ParsedClientHello,
    ) -> Result<Decision, AcceptError> {
        let (group, share) = match classify(hello).map_err(AcceptRefusal::Offer)? {
            Offer::Standard => {
                return match &self.standard {
                    Some(std) => Ok(Decision::Standard(std.clone())),
                    None => Err(AcceptRefusal::NoStandardConfig.into()),
                };
            }
            Offer::Milagro { group, share } => (group, share),
        };
        if group != self.milagro.suite() {
            return Err(AcceptRefusal::WrongSuite.into());
        }
        let admitted = match self.admit(share, source).await {
            Ok(admitted) => admitted,
            Err(refusal) => {
                if matches!(refusal, AdmissionRefusal::Guard(_)) {
                    self.milagro
                        .overlap
                        .refused(source, std::time::Instant::now());
                }
                return Err(AcceptError::Admission(refusal));
            }
        };
        let binding = self
            .milagro
            .binding(share)
            .map_err(AcceptError::KeyExchange)?;
        let digest = ShareDigest::of(share);
        let forced = matches!(admitted, Admitted::Silent(_));
        let config = self
            .milagro
            .config_for_outcome(binding, forced, &self.alpn)
            .map_err(|e| AcceptError::Tls(Error::General(e.to_string())))?;
        Ok(Decision::Milagro(MilagroStart {
            acceptor: self.clone(),
            source,
            binding,
            share: digest,
            admitted,
            config,
            precomputed: None,
        }))
    }

    /// The suite of this acceptor's Milagro configuration.
    pub fn suite(&self) -> Suite {
        self.milagro.suite()
    }

    /// P2P: the server identity ID_A this acceptor holds keys for (what a
    /// client's server name must canonicalise to). `None` for CS.
    pub fn p2p_identity(&self) -> Option<&Identity> {
        match &self.milagro.admission {
            Admission::P2p { server, .. } => Some(server.identity()),
            _ => None,
        }
    }

    /// CS: the guard's reservation lifetime
    /// ([`Guard::reservation_ttl`](crate::guard::Guard::reservation_ttl)).
    /// Whoever bounds a handshake's time must keep that bound shorter, so
    /// every key exchange runs before its reservation can expire. `None`
    /// for P2P and the toy engine (no reservations).
    pub fn reservation_ttl(&self) -> Option<std::time::Duration> {
        match &self.milagro.admission {
            Admission::Cs { guard, .. } => Some(guard.reservation_ttl()),
            _ => None,
        }
    }

    /// Whether a standard (non-Milagro) configuration is set.
    pub fn has_standard(&self) -> bool {
        self.standard.is_some()
    }

    /// How step 1 admits shares for this acceptor.
    pub(crate) fn admission(&self) -> &Admission {
        &self.milagro.admission
    }

    /// The sources step 1 refused recently, for the overlap's cooldown.
    pub(crate) fn overlap_gate(&self) -> &Arc<OverlapGate> {
        &self.milagro.overlap
    }

    /// Step 1 with the source address (see the module documentation).
    async fn admit(&self, share: &[u8], source: IpAddr) -> Result<Admitted, AdmissionRefusal> {
        self.milagro.admission.admit(share, source).await
    }

    /// The one resolution table (docs/protocol.md §6.4 step 2–3): what a
    /// key exchange's outcome does to what step 1 admitted. The outcome
    /// alone decides; a silent per-identity refusal is treated exactly like
    /// every failure of a reserved attempt — the same charge, the same
    /// pending-classification slot held for as long, the same classifier
    /// work — so neither the source's balance, nor the
    /// `ClassifierBusy` refusal of a later attempt, nor the server's load
    /// depends on which one it was.
    ///
    /// | outcome \ admitted | reserved | silent | free |
    /// |---|---|---|---|
    /// | answered (good proof) | `proof_ok` → session (or refused: replay race); slot given back | — (a forced exchange never answers) | session |
    /// | bad DLEQ / encoding | `bad_dleq`: released, charged c, slot given back | charged c, slot given back | — |
    /// | failed proof (with evidence) | `proof_failed`: charged c, slot held, classified and counted | charged c, slot held, classified, result discarded | — |
    /// | any other failure | released, charged c, slot given back | charged c, slot given back | — |
    /// | no key exchange ran | released, charged c, slot given back | charged c, slot given back | — |
    ///
    /// A forced exchange whose proof would have passed (the right PIN of a
    /// locked identity) carries no evidence, like a reserved good proof, so
    /// it gives its slot back at once, as `proof_ok` does.
    fn resolve(
        &self,
        binding: Binding,
        admitted: Admitted,
        outcome: Option<KxOutcome>,
        started: Option<StartedProof>,
    ) -> KxResolution {
        let failure = match outcome {
            Some(KxOutcome::Answered) => None,
            Some(KxOutcome::Failed(f)) => Some(Some(f)),
            None => Some(None),
        };
        let attempt = match admitted {
            Admitted::Free => {
                return match failure {
                    None => KxResolution::Started(MilagroSession {
                        binding,
                        proved: None,
                    }),
                    Some(Some(f)) => {
                        KxResolution::Refused(Some(AcceptError::KeyExchange(f.reason)))
                    }
                    Some(None) => KxResolution::Refused(None),
                };
            }
            Admitted::Reserved(reservation) => Attempt::Reserved(reservation),
            Admitted::Silent(silent) => Attempt::Silent(silent),
        };
        let (reason, reached) = match failure {
            None => (None, Reached::Answered),
            Some(None) => (None, Reached::Other),
            Some(Some(KxFailure { reason, evidence })) => {
                let reached = match (&reason, evidence) {
                    (KxError::BadProofOfKnowledge, _) => Reached::BadProof,
                    (KxError::ProofFailed | KxError::SilentlyRefused, Some(evidence)) => {
                        Reached::ProofFailed(evidence)
                    }
                    _ => Reached::Other,
                };
                (Some(reason), reached)
            }
        };
        let reservation = match attempt {
            Attempt::Silent(silent) => {
                let refusal = silent.refusal();
                match (reached, &self.milagro.admission) {
                    (
                        Reached::ProofFailed(evidence),
                        Admission::Cs {
                            server,
                            classifier,
                            digits,
                            ..
                        },
                    ) => {
                        classifier.submit_discarded(
                            silent.proof_failed(),
                            evidence,
                            server.clone(),
                            *digits,
                        );
                    }
                    _ => silent.failed(),
                }
                return KxResolution::Refused(Some(AcceptError::SilentlyRefused(refusal)));
            }
            Attempt::Reserved(reservation) => reservation,
        };
        match (reached, &self.milagro.admission) {
            (Reached::Answered, _) => {
                let proved = match started {
                    Some(started) => reservation.proof_ok_after(started),
                    None => reservation.proof_ok(),
                };
                return match proved {
                    Ok(proved) => KxResolution::Started(MilagroSession {
                        binding,
                        proved: Some(proved),
                    }),
                    Err(refusal) => KxResolution::Refused(Some(AcceptError::Admission(
                        AdmissionRefusal::Guard(refusal),
                    ))),
                };
            }
            (Reached::BadProof, _) => reservation.bad_dleq(),
            (
                Reached::ProofFailed(evidence),
                Admission::Cs {
                    server,
                    classifier,
                    digits,
                    ..
                },
            ) => {
                let pending = reservation.proof_failed();
                classifier.submit(pending, evidence, server.clone(), *digits);
            }
            // Anything else (no evidence, a share that is not the bound
            // one, randomness, a wiped key, no exchange at all …): charged
            // like any failure.
            _ => reservation.refused_before_proof(),
        }
        KxResolution::Refused(reason.map(AcceptError::KeyExchange))
    }
}

/// What a key exchange reached, for the resolution table.
enum Reached {
    /// The proof verified and the server answered.
    Answered,
    /// Bad DLEQ or a point that did not decode.
    BadProof,
    /// The proof failed: the classifier's evidence.
    ProofFailed(Box<crate::mpin::FailedProof>),
    /// Any other failure, or no exchange at all.
    Other,
}

/// Checks a finished Milagro server connection against its binding: the
/// common checks of [`peer_blob`], then a client blob bound to the share.
pub(crate) fn check_finished(
    binding: &Binding,
    conn: &ServerConnection,
) -> Result<Identity, FinishError> {
    let cert = peer_blob(conn, binding.suite())?;
    super::verify::check_client_blob(binding, cert, &[]).map_err(|_| FinishError::IdentityMismatch)
}

fn refuse(wr: &mut dyn Write, refusal: AcceptRefusal) -> AcceptError {
    match wr.write_all(&HANDSHAKE_FAILURE_ALERT) {
        Ok(()) => AcceptError::Refused(refusal),
        Err(e) => AcceptError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::guard::Classifier;
    use crate::guard::{Guard, GuardPolicy, GuardTime, ManualClock, MemoryGuard, NoopObserver};
    use crate::identity::Identity;
    use crate::mpin::PinDigits;
    use crate::rustls_glue::engine::toy::ToyDeployment;
    use crate::rustls_glue::kx::kx_reason;
    use crate::rustls_glue::tests::{client_out, mutate_hello};
    use crate::suite::Suite;
    use crate::tls::{ClientHelloRecorder, Progress};
    use rustls::server::Acceptor;

    const SERVER_ID: &str = "server.example";

    fn id(s: &str) -> Identity {
        Identity::new(s).unwrap()
    }

    fn src(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))
    }

    fn toy_acceptor(d: &ToyDeployment) -> MilagroAcceptor {
        let server = MilagroServer::new(d.server(), id(SERVER_ID), 0).unwrap();
        MilagroAcceptor::new(Arc::new(server), None).unwrap()
    }

    fn hello_of(d: &ToyDeployment, who: &str) -> Vec<u8> {
        let c = crate::rustls_glue::config::MilagroClient::new(
            d.client(who, 0),
            id(who),
            0,
            Some(id(SERVER_ID)),
        )
        .unwrap();
        client_out(&mut c.connect(SERVER_ID).unwrap())
    }

    fn parsed(bytes: &[u8]) -> ParsedClientHello {
        match ClientHelloRecorder::new().feed(bytes) {
            Ok(Progress::Complete(h)) => h,
            other => panic!("{other:?}"),
        }
    }

    fn rustls_accepted(bytes: &[u8]) -> rustls::server::Accepted {
        let mut a = Acceptor::default();
        a.read_tls(&mut &bytes[..]).unwrap();
        match a.accept() {
            Ok(Some(accepted)) => accepted,
            Ok(None) => panic!("incomplete"),
            Err((e, _)) => panic!("rustls refused at accept: {e}"),
        }
    }

    fn start_of(acceptor: &MilagroAcceptor, hello: &[u8]) -> MilagroStart {
        match acceptor.decide(src(1), &parsed(hello)) {
            Ok(Decision::Milagro(start)) => start,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_exchange_refuses_a_share_other_than_the_bound_one() {
        let d = ToyDeployment::random(Suite::Cs);
        let acceptor = toy_acceptor(&d);
        let (x, y) = (
            hello_of(&d, "alice@example.com"),
            hello_of(&d, "bob@example.com"),
        );
        // Bound to X, handed Y (as a parser difference would): refused.
        let (resolution, result) =
            start_of(&acceptor, &x).run(|config| rustls_accepted(&y).into_connection(config));
        assert!(
            matches!(
                resolution,
                KxResolution::Refused(Some(AcceptError::KeyExchange(KxError::ShareMismatch)))
            ),
            "{resolution:?}"
        );
        let (err, _) = result.err().unwrap();
        assert!(
            matches!(kx_reason(&err), Some(KxError::ShareMismatch)),
            "{err:?}"
        );
        // Bound to Y, handed Y: the exchange runs and succeeds.
        let (resolution, result) =
            start_of(&acceptor, &y).run(|config| rustls_accepted(&y).into_connection(config));
        assert!(matches!(resolution, KxResolution::Started(_)));
        assert!(result.is_ok());
        // Outside the accept path's scope, the exchange refuses any share.
        let config = start_of(&acceptor, &x).config.clone();
        let (err, _) = rustls_accepted(&x).into_connection(config).err().unwrap();
        assert!(
            matches!(kx_reason(&err), Some(KxError::UnboundShare)),
            "{err:?}"
        );
    }

    #[test]
    fn everything_rustls_refuses_before_the_kx_is_refused_before_step_1() {
        // Each malformation: rustls (with this server's config) refuses it
        // after `Acceptor::accept` and before the key exchange, so the
        // accept path must refuse it before step 1.
        let d = ToyDeployment::random(Suite::Cs);
        let acceptor = toy_acceptor(&d);
        let good = hello_of(&d, "alice@example.com");
        // pre_shared_key: two identities "abc" (age 0) and one 32-byte
        // binder (the hello already has psk_key_exchange_modes).
        let id_abc = [0, 3, b'a', b'b', b'c', 0, 0, 0, 0];
        let mut psk_body = vec![0, 18];
        psk_body.extend(id_abc);
        psk_body.extend(id_abc);
        psk_body.extend([0, 33, 32]);
        psk_body.extend([0u8; 32]);
        let mut psk = vec![0, 41];
        psk.extend(u16::try_from(psk_body.len()).unwrap().to_be_bytes());
        psk.extend(psk_body);
        let cc = [&[0, 27][..], &[0, 5, 4, 0, 1, 0, 1]].concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "compression [0, 1]",
                mutate_hello(&good, None, Some(&[0, 1]), &[]),
            ),
            (
                "compression [0, 0]",
                mutate_hello(&good, None, Some(&[0, 0]), &[]),
            ),
            (
                "no TLS 1.3 suite",
                mutate_hello(&good, Some(&[0xC02F]), None, &[]),
            ),
            ("pre_shared_key", mutate_hello(&good, None, None, &psk)),
        ];
        for (what, bytes) in &cases {
            // rustls: accepted by `Acceptor::accept`, refused before the kx
            // (no kx reason: the exchange never ran).
            let config = start_of(&acceptor, &good).config.clone();
            let (err, _) = rustls_accepted(bytes)
                .into_connection(config)
                .err()
                .unwrap();
            assert!(kx_reason(&err).is_none(), "{what}: {err}");
            // The accept path: refused by the offer rules, before step 1.
            match acceptor.decide(src(1), &parsed(bytes)) {
                Err(AcceptError::Refused(AcceptRefusal::Offer(_))) => {}
                other => panic!("{what}: {other:?}"),
            }
        }
        // Duplicate certificate-compression algorithms: rustls refuses them
        // before the kx too; our parser refuses them at the first byte.
        let dup = mutate_hello(&good, None, None, &cc);
        let config = start_of(&acceptor, &good).config.clone();
        let (err, _) = rustls_accepted(&dup).into_connection(config).err().unwrap();
        assert!(kx_reason(&err).is_none(), "{err}");
        assert!(ClientHelloRecorder::new().feed(&dup).is_err());
        // The unmodified hello reaches the kx (which, unbound, refuses).
        let config = start_of(&acceptor, &good).config.clone();
        let (err, _) = rustls_accepted(&good)
            .into_connection(config)
            .err()
            .unwrap();
        assert!(
            matches!(kx_reason(&err), Some(KxError::UnboundShare)),
            "{err:?}"
        );
    }

    /// A CS acceptor around a guard on a frozen clock (no refill).
    fn cs_acceptor(guard: &Guard) -> MilagroAcceptor {
        let d = crate::keys::CsDeployment::new(
            1,
            crate::keys::PermitPolicy::Off,
            &crate::pairing::OsEntropy,
        )
        .unwrap();
        let dta = crate::keys::MasterShare::generate(
            crate::keys::Deployment::Cs(d),
            &crate::pairing::OsEntropy,
        )
        .unwrap();
        let ss = <crate::keys::CsServerSecret as crate::dta::Combine>::combine(&[dta
            .issue_cs_server_secret()
            .unwrap()])
        .unwrap();
        let options = crate::cs_tls::ServerOptions::new(guard.clone(), Classifier::new(1).unwrap())
            .pin_digits(PinDigits::new(4).unwrap());
        crate::cs_tls::server(ss, options).unwrap()
    }

    #[test]
    fn one_table_charges_silent_and_reserved_attempts_alike() {
        let mut policy = GuardPolicy::default();
        policy.throttle.burst = 1000;
        let guard = Guard::new(
            Arc::new(MemoryGuard::new(policy)),
            Arc::new(ManualClock::new(GuardTime::from_millis(1))),
            Arc::new(NoopObserver),
        );
        let acceptor = cs_acceptor(&guard);
        let locked = id("locked@example.com").cs_hid();
        for i in 0..policy.lockout.max_failures {
            let _ = guard
                .admit(&locked, &[i as u8; 48], src(250))
                .unwrap()
                .proof_failed()
                .wrong_pin();
        }
        assert!(guard.status(&locked).locked_out);
        let binding = Binding::new(Suite::Cs, locked, 0);
        type Case = (&'static str, fn() -> Option<KxOutcome>);
        let outcomes: Vec<Case> = vec![
            ("answered", || Some(KxOutcome::Answered)),
            ("bad DLEQ", || {
                Some(KxOutcome::Failed(KxError::BadProofOfKnowledge.into()))
            }),
            ("proof failed, no evidence", || {
                Some(KxOutcome::Failed(KxError::ProofFailed.into()))
            }),
            ("share mismatch", || {
                Some(KxOutcome::Failed(KxError::ShareMismatch.into()))
            }),
            ("key wiped", || {
                Some(KxOutcome::Failed(KxError::KeyWiped.into()))
            }),
            ("no key exchange", || None),
        ];
        for (n, (what, outcome)) in outcomes.iter().enumerate() {
            let (a, b) = (src(2 * n as u8 + 1), src(2 * n as u8 + 2));
            let unlocked = id(&format!("user{n}@example.com")).cs_hid();
            let reserved = guard.admit(&unlocked, &[0xAA; 48], a).unwrap();
            let Ok(Attempt::Silent(silent)) = guard.attempt(&locked, &[0xBB; 48], b) else {
                panic!("{what}: the locked identity is not refused silently");
            };
            assert!(silent.refusal().is_per_identity());
            assert_eq!(guard.pending_classifications(), 2, "{what}");
            let r1 = acceptor.resolve(binding, Admitted::Reserved(reserved), outcome(), None);
            let r2 = acceptor.resolve(binding, Admitted::Silent(silent), outcome(), None);
            // No evidence of a failed proof: both slots are given back.
            assert_eq!(guard.pending_classifications(), 0, "{what}");
            assert!(matches!(
                r2,
                KxResolution::Refused(Some(AcceptError::SilentlyRefused(_)))
            ));
            if *what == "answered" {
                // A good proof is not a failure: nothing charged (the silent
                // one cannot answer; it is charged like a failure).
                assert!(matches!(r1, KxResolution::Started(_)), "{what}");
                continue;
            }
            assert!(matches!(r1, KxResolution::Refused(_)), "{what}");
            assert_eq!(
                guard.source_tokens(a),
                guard.source_tokens(b),
                "{what}: the source's balance tells a locked identity apart"
            );
            assert_eq!(
                guard.source_tokens(a),
                1000 - i64::from(policy.throttle.hello_cost + policy.throttle.invalid_cost),
                "{what}"
            );
            assert_eq!(guard.status(&unlocked).in_flight, 0, "{what}");
        }
    }
}

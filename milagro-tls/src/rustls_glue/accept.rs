//! The synchronous accept path (design §2a.3, §2a.4; docs/protocol.md §6.4,
//! §7.4, §8.4): one listener for standard and Milagro clients, with the
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
//!    a classifier slot (back-pressure), then [`crate::guard::Guard::admit`] (replay cache,
//!    source throttle, atomic reservation for the HID). P2P:
//!    `check_client_share` (length, epoch) and the source throttle. Refusals
//!    → a plaintext alert ([`refusal_alert`](super::error::refusal_alert):
//!    `illegal_parameter` for the share's own bytes, `internal_error` for
//!    load) and [`AcceptError::Admission`] — **except the
//!    per-identity refusals** (locked out, in flight), which are *silent*: the
//!    connection goes on with a forced-failure key exchange (full work, same
//!    `illegal_parameter` as a wrong PIN, nothing classified or counted) and
//!    the typed reason comes back as [`AcceptError::SilentlyRefused`].
//! 4. A `ServerConfig` for this connection whose client verifier holds the
//!    share's [`Binding`]; `into_connection` runs the key exchange. Its
//!    outcome resolves the reservation: bad DLEQ / decoding →
//!    `bad_dleq()`; failed proof → `proof_failed()` and a classifier job;
//!    good proof → `proof_ok()` (replay cache), kept with the connection.
//! 5. After the handshake, [`MilagroConnection::finish`] requires a full
//!    handshake on the Milagro group and a client blob bound to the share,
//!    then reports completion to the guard and returns the identity. Raw
//!    `peer_certificates()` are unbound: use only what `finish` returns.
//!
//! The crate documentation has runnable examples: a whole CS and P2P
//! handshake through `accept`, and one listener serving standard (X.509) and
//! Milagro clients side by side.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use rustls::server::Acceptor;
use rustls::{Error, HandshakeKind, ServerConfig, ServerConnection};

use super::classifier::ClassifierSlot;
use super::config::{Gate, MilagroServer};
use super::engine::{Binding, KxError};
use super::kx::{kx_reason, named_group, suite_of_group, take_evidence};
use crate::guard::{ProvedReservation, Refusal, Reservation};
use crate::identity::Identity;
use crate::mpin::{CsError, precheck};
use crate::p2p::P2pError;
use crate::tls::{
    ClientHelloError, ClientHelloRecorder, Offer, OfferRefusal, ParsedClientHello, Progress,
    classify,
};

pub use crate::tls::HANDSHAKE_FAILURE_ALERT;

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
    /// [`MilagroStart::config`], then resolve with [`MilagroStart::started`]
    /// or [`MilagroStart::failed`].
    Milagro(MilagroStart),
}

/// A Milagro ClientHello after step 1: the per-connection configuration and
/// whatever step 1 reserved. Dropping it releases any reservation uncounted.
pub struct MilagroStart {
    acceptor: MilagroAcceptor,
    source: IpAddr,
    binding: Binding,
    admitted: Admitted,
    config: Arc<ServerConfig>,
}

impl core::fmt::Debug for MilagroStart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MilagroStart")
            .field("source", &self.source)
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

impl MilagroStart {
    /// The `ServerConfig` for this connection (bound to the key share; for a
    /// silent per-identity refusal, one whose key exchange always fails).
    /// `Accepted::into_connection` with it runs the server's key exchange
    /// (pairing work: call it on a blocking pool in async code).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// The binding (HID, period) of the key share.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// The key exchange succeeded (`into_connection` returned a connection
    /// whose first flight is not written yet). Fails, and the caller must
    /// then drop the connection and write
    /// [`refusal_alert`](super::error::refusal_alert) of the error instead,
    /// when a concurrent replay won the race for the replay cache.
    pub fn started(self) -> Result<MilagroSession, AcceptError> {
        let Self {
            acceptor,
            source,
            binding,
            admitted,
            ..
        } = self;
        match admitted {
            Admitted::Free => Ok(MilagroSession {
                binding,
                proved: None,
            }),
            Admitted::Reserved(reservation, _slot) => match reservation.proof_ok() {
                Ok(proved) => Ok(MilagroSession {
                    binding,
                    proved: Some(proved),
                }),
                Err(refusal) => Err(AcceptError::Admission(AdmissionRefusal::Guard(refusal))),
            },
            Admitted::Silent(refusal) => {
                // Unreachable: the forced group never succeeds. Refuse anyway.
                acceptor.charge_silent_refusal(source);
                Err(AcceptError::SilentlyRefused(refusal))
            }
        }
    }

    /// The key exchange (or rustls) refused the ClientHello with `err`; the
    /// caller writes rustls's alert. Resolves the reservation by the
    /// kx's typed reason and returns the error to report.
    pub fn failed(self, err: Error) -> AcceptError {
        let reason = kx_reason(&err);
        match self.admitted {
            Admitted::Silent(refusal) => {
                // Charged exactly like a failed proof (§6.4), so the
                // source's balance tells nothing about the refusal.
                self.acceptor.charge_silent_refusal(self.source);
                return AcceptError::SilentlyRefused(refusal);
            }
            Admitted::Reserved(reservation, slot) => {
                self.acceptor
                    .resolve_failure(reservation, slot, reason.as_ref(), &err)
            }
            Admitted::Free => {}
        }
        match reason {
            Some(kx) => AcceptError::KeyExchange(kx),
            None => AcceptError::Tls(err),
        }
    }
}

/// Why the accept path refused a ClientHello before any key exchange (it
/// sent the plaintext `handshake_failure` alert).
#[derive(Debug, thiserror::Error)]
pub enum AcceptRefusal {
    /// The client's first bytes are not a well-formed ClientHello.
    #[error("malformed ClientHello: {0}")]
    ClientHello(#[from] ClientHelloError),
    /// A ClientHello naming a Milagro group breaks the offer rules.
    #[error("Milagro offer refused: {0}")]
    Offer(#[from] OfferRefusal),
    /// The client offers the other suite's Milagro group.
    #[error("ClientHello offers a Milagro group this server does not serve")]
    WrongSuite,
    /// A standard (non-Milagro) client, and this listener has no standard config.
    #[error("standard TLS client on a Milagro-only listener")]
    NoStandardConfig,
}

/// Why step 1 (the cheap checks with the source address) refused a key
/// share; the client got the plaintext alert of
/// [`refusal_alert`](super::error::refusal_alert).
#[derive(Debug, thiserror::Error)]
pub enum AdmissionRefusal {
    /// CS `mpin::precheck`: length, day / permit policy or time window.
    #[error("CS key share refused: {0}")]
    Cs(CsError),
    /// P2P `check_client_share`: length or epoch.
    #[error("P2P key share refused: {0}")]
    P2p(P2pError),
    /// The guard refused for the source or the server (replay, throttle,
    /// full tables); never a per-identity refusal, which is silent.
    #[error("refused by the guard: {0}")]
    Guard(Refusal),
    /// Every classifier slot is taken: back-pressure.
    #[error("the classifier is saturated; new attempts are refused until it catches up")]
    ClassifierBusy,
}

/// Why a connection was not accepted. Every variant except `Io`/`Eof` has
/// already sent an alert to the client.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Reading or writing failed.
    #[error("I/O error during accept: {0}")]
    Io(#[from] io::Error),
    /// The client closed before sending a whole ClientHello.
    #[error("connection closed before a complete ClientHello")]
    Eof,
    /// The accept path refused the ClientHello (plaintext handshake_failure sent).
    #[error("ClientHello refused: {0}")]
    Refused(#[from] AcceptRefusal),
    /// Step 1 refused the key share (plaintext `illegal_parameter` or, for
    /// load, `internal_error` sent: [`super::error::refusal_alert`]).
    #[error("key share refused at accept: {0}")]
    Admission(AdmissionRefusal),
    /// A per-identity guard refusal, sent as a failed key exchange
    /// (`illegal_parameter`, indistinguishable from a wrong PIN).
    #[error("refused silently by the guard: {0}")]
    SilentlyRefused(Refusal),
    /// The Milagro key share was refused (the typed reason; the client got
    /// rustls's `illegal_parameter`, or handshake_failure for a share the
    /// accept path could not even bind).
    #[error("Milagro key share refused: {0}")]
    KeyExchange(KxError),
    /// rustls refused the ClientHello or the configuration (its alert sent).
    #[error("TLS error during accept: {0}")]
    Tls(Error),
}

/// Why [`MilagroConnection::finish`] refused a completed connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishError {
    /// The handshake is not complete.
    #[error("the handshake is not complete")]
    StillHandshaking,
    /// The handshake was not a full handshake (resumption is never allowed).
    #[error("the handshake was not a full handshake")]
    NotFull,
    /// The negotiated group is not the binding's Milagro group.
    #[error("the negotiated key exchange group is not the Milagro group")]
    WrongGroup,
    /// The client certificate is missing or does not match the binding.
    #[error("the client identity does not match the key share")]
    IdentityMismatch,
}

/// Chooses, per connection, between a Milagro config and a standard one.
#[derive(Debug, Clone)]
pub struct MilagroAcceptor {
    milagro: Arc<MilagroServer>,
    standard: Option<Arc<ServerConfig>>,
}

/// What step 1 decided for a Milagro connection.
enum Admitted {
    /// No reservation (toy engine, P2P).
    Free,
    /// CS: a reservation and a classifier slot.
    Reserved(Reservation, ClassifierSlot),
    /// A per-identity refusal: forced failure.
    Silent(Refusal),
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
                .any(|g| suite_of_group(u16::from(g.name())).is_some())
            {
                return None;
            }
        }
        Some(Self { milagro, standard })
    }

    /// The same acceptor, also serving standard clients with `standard`.
    /// Returns `None` if `standard` offers a Milagro group.
    pub fn with_standard(&self, standard: Arc<ServerConfig>) -> Option<Self> {
        Self::new(self.milagro.clone(), Some(standard))
    }

    /// Reads one ClientHello from `rd` (a connection from `source`) and
    /// returns the connection, writing any alert to `wr`. The server's key
    /// exchange runs inside this call (in async code, call it on a blocking
    /// pool). On success the server's first flight is queued in the
    /// connection, not yet written.
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
        // 4. The key exchange, and its outcome for the reservation.
        match accepted.into_connection(start.config()) {
            Ok(conn) => match start.started() {
                Ok(session) => Ok(Accepted::Milagro(MilagroConnection { session, conn })),
                Err(e) => {
                    // The server's flight is not written yet: refuse in plaintext.
                    drop(conn);
                    wr.write_all(super::error::refusal_alert(&e))?;
                    Err(e)
                }
            },
            Err((err, mut alert)) => {
                alert.write_all(wr)?;
                Err(start.failed(err))
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
    /// refusal before any key exchange), except for I/O it does itself. Per-identity
    /// guard refusals are not errors here: they come back as a `Milagro`
    /// decision whose key exchange is forced to fail.
    pub fn decide(
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
        if suite_of_group(group.code_point()) != Some(self.milagro.suite()) {
            return Err(AcceptRefusal::WrongSuite.into());
        }
        let admitted = self.admit(share, source).map_err(AcceptError::Admission)?;
        let binding = self
            .milagro
            .binding(share)
            .map_err(AcceptError::KeyExchange)?;
        let forced = matches!(admitted, Admitted::Silent(_));
        let config = self
            .milagro
            .config_for_outcome(binding, forced)
            .map_err(|e| AcceptError::Tls(Error::General(e.to_string())))?;
        Ok(Decision::Milagro(MilagroStart {
            acceptor: self.clone(),
            source,
            binding,
            admitted,
            config,
        }))
    }

    /// The suite of this acceptor's Milagro configuration.
    pub fn suite(&self) -> crate::keys::Suite {
        self.milagro.suite()
    }

    /// P2P: the server identity ID_A this acceptor holds keys for (what a
    /// client's server name must canonicalise to). `None` for CS.
    pub fn p2p_identity(&self) -> Option<&Identity> {
        match &self.milagro.gate {
            Gate::P2p { server, .. } => Some(server.identity()),
            _ => None,
        }
    }

    /// Whether a standard (non-Milagro) configuration is set.
    pub fn has_standard(&self) -> bool {
        self.standard.is_some()
    }

    /// Step 1 with the source address (see the module documentation).
    fn admit(&self, share: &[u8], source: IpAddr) -> Result<Admitted, AdmissionRefusal> {
        match &self.milagro.gate {
            Gate::Open => Ok(Admitted::Free),
            Gate::P2p { server, guard } => {
                server
                    .check_client_share(share)
                    .map_err(AdmissionRefusal::P2p)?;
                if let Some(guard) = guard {
                    guard
                        .admit_source(source)
                        .map_err(AdmissionRefusal::Guard)?;
                }
                Ok(Admitted::Free)
            }
            Gate::Cs {
                checks,
                guard,
                classifier,
                now,
                ..
            } => {
                let pre = precheck(share, checks, now()).map_err(AdmissionRefusal::Cs)?;
                let key = pre.replay_key();
                let slot = classifier
                    .try_slot()
                    .ok_or(AdmissionRefusal::ClassifierBusy)?;
                match guard.admit(&key.hid, &key.u, source) {
                    Ok(reservation) => Ok(Admitted::Reserved(reservation, slot)),
                    Err(r) if r.is_per_identity() => Ok(Admitted::Silent(r)),
                    Err(r) => Err(AdmissionRefusal::Guard(r)),
                }
            }
        }
    }

    /// Charges the source of a silently refused CS attempt like a failed proof.
    fn charge_silent_refusal(&self, source: IpAddr) {
        if let Gate::Cs { guard, .. } = &self.milagro.gate {
            guard.charge_silent_refusal(source);
        }
    }

    /// A failed CS key exchange: resolves the reservation by the kx's reason.
    fn resolve_failure(
        &self,
        reservation: Reservation,
        slot: ClassifierSlot,
        reason: Option<&KxError>,
        err: &Error,
    ) {
        let Gate::Cs { server, digits, .. } = &self.milagro.gate else {
            return;
        };
        match reason {
            Some(KxError::BadProofOfKnowledge) => reservation.bad_dleq(),
            Some(KxError::ProofFailed) => match take_evidence(err) {
                Some(evidence) => {
                    let pending = reservation.proof_failed();
                    slot.submit(pending, evidence, server.clone(), *digits);
                }
                // Cannot happen (the kx always attaches it); release uncounted.
                None => drop(reservation),
            },
            // Anything else (randomness, wiped key …): release, count nothing.
            _ => drop(reservation),
        }
    }
}

/// Checks a finished Milagro server connection against its binding: a full
/// handshake on the binding's group and a client blob bound to it.
pub(crate) fn check_finished(
    binding: &Binding,
    conn: &ServerConnection,
) -> Result<Identity, FinishError> {
    if conn.is_handshaking() {
        return Err(FinishError::StillHandshaking);
    }
    if conn.handshake_kind() != Some(HandshakeKind::Full) {
        return Err(FinishError::NotFull);
    }
    match conn.negotiated_key_exchange_group() {
        Some(g) if g.name() == named_group(binding.suite()) => {}
        _ => return Err(FinishError::WrongGroup),
    }
    match conn.peer_certificates() {
        Some([cert]) => super::verify::check_client_blob(binding, cert, &[])
            .map_err(|_| FinishError::IdentityMismatch),
        _ => Err(FinishError::IdentityMismatch),
    }
}

fn refuse(wr: &mut dyn Write, refusal: AcceptRefusal) -> AcceptError {
    match wr.write_all(&HANDSHAKE_FAILURE_ALERT) {
        Ok(()) => AcceptError::Refused(refusal),
        Err(e) => AcceptError::Io(e),
    }
}

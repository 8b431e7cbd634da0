//! The two sides of each key agreement, and the [`Transport`] that carries
//! the key shares between them.
//!
//! The sides ([`CsClient`]/[`CsServer`], the library's `P2pClient`/`P2pServer`)
//! do everything a TLS endpoint would do with a key share; the [`Transport`]
//! only moves bytes. [`InMemory`] hands them over directly; a transport over
//! real TLS sockets replaces it without touching the sides or the demo's
//! checks.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use milagro_tls::guard::{
    Guard, GuardPolicy, MemoryGuard, MonotonicClock, Outcome, ProvedReservation, RecordingObserver,
    Refusal,
};
use milagro_tls::identity::Hid;
use milagro_tls::keys::{CsServerSecret, CsTimePermit, CsToken};
use milagro_tls::mpin::{
    Classification, ClientState, CsError, Pin, PinDigits, PreparedServerSecret, SERVER_SHARE_BYTES,
    ServerNonceKey, classify, precheck, respond, verify,
};
use milagro_tls::p2p::{P2pClient, P2pError, P2pServer};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use zeroize::Zeroizing;

use super::DemoError;

/// A 32-byte shared secret, wiped on drop.
pub type Secret = Zeroizing<[u8; 32]>;

/// The source address the in-memory client "connects" from.
pub const IN_MEMORY_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A CS client: its token, PIN and (permits required) today's time permit.
pub struct CsClient {
    /// The token `CS − PIN·A`.
    pub token: CsToken,
    /// The PIN the user enters (possibly wrong).
    pub pin: Pin,
    /// Today's time permit, when the deployment requires permits.
    pub permit: Option<CsTimePermit>,
}

impl CsClient {
    /// Builds the client's key share at unix time `now` (nothing is sent when
    /// the permit does not fit: [`CsError::NoPermitForToday`] and friends).
    pub fn start(&self, now: u64) -> Result<ClientState, CsError> {
        ClientState::new(
            &self.token,
            &self.pin,
            self.permit.as_ref(),
            now,
            &OsEntropy,
        )
    }
}

/// Why the CS server refused a key share. The client is never told which
/// (TLS sends one alert for all); this is the server's own view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsRefusal {
    /// The cheap checks on the raw bytes (length, day, time) failed.
    Precheck(String),
    /// The guard refused (replay, throttle, lockout, in flight).
    Guard(Refusal),
    /// The proof of knowledge of x (DLEQ) failed: charged to the source.
    BadDleq,
    /// The M-Pin proof failed and the failure is a wrong PIN (counted). How
    /// far the PIN was off is not kept, even server-side.
    WrongPin,
    /// The M-Pin proof failed and no PIN error explains it.
    InvalidCredential,
    /// A point did not decode, or the share was checked under another policy.
    Malformed(String),
}

impl std::fmt::Display for CsRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Precheck(e) => write!(f, "precheck failed: {e}"),
            Self::Guard(r) => write!(f, "guard refused: {r}"),
            Self::BadDleq => f.write_str("the proof of knowledge of x (DLEQ) does not verify"),
            Self::WrongPin => f.write_str("wrong PIN"),
            Self::InvalidCredential => f.write_str("invalid credential"),
            Self::Malformed(e) => write!(f, "malformed key share: {e}"),
        }
    }
}

/// A CS server: the prepared server secret, its nonce key and the guard
/// (in memory, with an observer that records every outcome).
pub struct CsServer {
    prepared: PreparedServerSecret,
    nonce_key: ServerNonceKey,
    guard: Guard,
    observer: Arc<RecordingObserver>,
    digits: PinDigits,
}

/// A key share the CS server accepted: its reply `W`, the server's secret, and
/// the guard's reservation, released by [`CsAccepted::completed`].
pub struct CsAccepted {
    /// The server's key share `W` (48 B) to send.
    pub share: [u8; SERVER_SHARE_BYTES],
    /// The client's HID as the server saw it.
    pub hid: Hid,
    secret: Secret,
    proved: ProvedReservation,
}

impl CsAccepted {
    /// The handshake completed (in TLS: the client's Finished verified):
    /// releases the guard's slot, resets the identity's failure count and
    /// returns the server's secret.
    pub fn completed(self) -> Secret {
        self.proved.handshake_completed();
        self.secret
    }
}

impl CsServer {
    /// A server for `secret` with PIN length `digits` (for classification).
    pub fn new(secret: &CsServerSecret, digits: PinDigits) -> Result<Self, DemoError> {
        let observer = Arc::new(RecordingObserver::new());
        let guard = Guard::new(
            Arc::new(MemoryGuard::new(GuardPolicy::default())),
            Arc::new(MonotonicClock::new()),
            observer.clone(),
        );
        Ok(Self {
            prepared: PreparedServerSecret::new(secret),
            nonce_key: ServerNonceKey::generate(&OsEntropy).map_err(|_| DemoError::Random)?,
            guard,
            observer,
            digits,
        })
    }

    /// Everything the guard reported since the last call (server-side log).
    pub fn take_log(&self) -> Vec<Outcome> {
        self.observer.take()
    }

    /// The server's side of one CS key exchange, in the design's order:
    /// precheck → guard → verify → respond; a failed proof is classified at
    /// once (a real server does it off the handshake path, rate-limited).
    pub fn accept(&self, share: &[u8], source: IpAddr, now: u64) -> Result<CsAccepted, CsRefusal> {
        let pre = precheck(share, &self.prepared.checks(), now)
            .map_err(|e| CsRefusal::Precheck(e.to_string()))?;
        let hid = pre.header().hid;
        let reservation = self
            .guard
            .admit(&hid, &pre.replay_key().u, source)
            .map_err(CsRefusal::Guard)?;
        match verify(&pre, &self.prepared) {
            Ok(verified) => {
                let proved = reservation.proof_ok().map_err(CsRefusal::Guard)?;
                let response = respond(&verified, &self.prepared, &self.nonce_key, &OsEntropy)
                    .map_err(|e| CsRefusal::Malformed(e.to_string()))?;
                Ok(CsAccepted {
                    share: response.share,
                    hid,
                    secret: Zeroizing::new(*response.secret.as_bytes()),
                    proved,
                })
            }
            Err(CsError::ProofFailed(failed)) => {
                let pending = reservation.proof_failed();
                match classify(&failed, &self.prepared, self.digits) {
                    // δ is dropped here: only the classification is kept.
                    Classification::WrongPin { .. } => {
                        pending.wrong_pin();
                        Err(CsRefusal::WrongPin)
                    }
                    Classification::InvalidCredential => {
                        pending.invalid_credential();
                        Err(CsRefusal::InvalidCredential)
                    }
                }
            }
            Err(CsError::DleqFailed) => {
                reservation.bad_dleq();
                Err(CsRefusal::BadDleq)
            }
            // Dropping the reservation releases it uncounted.
            Err(e) => Err(CsRefusal::Malformed(e.to_string())),
        }
    }
}

/// What one CS exchange gave each side.
pub struct CsRun {
    /// The client's secret, if the server answered.
    pub client: Option<Secret>,
    /// The server's secret, or why it refused.
    pub server: Result<Secret, CsRefusal>,
    /// Wall time of the whole exchange.
    pub elapsed: Duration,
}

/// What one P2P exchange gave each side.
pub struct P2pRun {
    /// The client's secret.
    pub client: Secret,
    /// The server's secret.
    pub server: Secret,
    /// Wall time of the whole exchange.
    pub elapsed: Duration,
}

/// Carries key shares between the two sides of a key agreement.
pub trait Transport {
    /// One CS exchange at unix time `now`. Errors are failures of the
    /// exchange itself (the client refusing to start, a transport failure);
    /// a server refusal is a normal outcome in [`CsRun::server`].
    fn cs(&self, client: &CsClient, server: &CsServer, now: u64) -> Result<CsRun, DemoError>;
    /// One P2P exchange at unix time `now`.
    fn p2p(&self, client: &P2pClient, server: &P2pServer, now: u64) -> Result<P2pRun, DemoError>;
}

/// Hands the key shares over in memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemory;

impl Transport for InMemory {
    fn cs(&self, client: &CsClient, server: &CsServer, now: u64) -> Result<CsRun, DemoError> {
        let start = Instant::now();
        let state = client.start(now).map_err(|source| DemoError::Cs {
            step: "CS client key share",
            source,
        })?;
        let (client_secret, server_secret) =
            match server.accept(state.share(), IN_MEMORY_SOURCE, now) {
                Ok(accepted) => {
                    let secret = state
                        .finish(&accepted.share)
                        .map_err(|source| DemoError::Cs {
                            step: "CS client finish",
                            source,
                        })?;
                    let client = Zeroizing::new(*secret.as_bytes());
                    (Some(client), Ok(accepted.completed()))
                }
                Err(refusal) => (None, Err(refusal)),
            };
        Ok(CsRun {
            client: client_secret,
            server: server_secret,
            elapsed: start.elapsed(),
        })
    }

    fn p2p(&self, client: &P2pClient, server: &P2pServer, now: u64) -> Result<P2pRun, DemoError> {
        let start = Instant::now();
        let p2p = |step: &'static str| move |source: P2pError| DemoError::P2p { step, source };
        client
            .check_epoch(p2p_tls::client_epoch(
                now,
                client.deployment().epoch_seconds,
            ))
            .map_err(p2p("P2P client key epoch"))?;
        let handshake = client.start(&OsEntropy).map_err(p2p("P2P client share"))?;
        let response = server
            .accept(handshake.share(), &OsEntropy)
            .map_err(p2p("P2P server"))?;
        let (share, server_secret) = response.into_parts();
        let client_secret = handshake
            .finish(client, &share)
            .map_err(p2p("P2P client finish"))?;
        Ok(P2pRun {
            client: client_secret.into_bytes(),
            server: server_secret.into_bytes(),
            elapsed: start.elapsed(),
        })
    }
}

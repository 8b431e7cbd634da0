//! The CS client key share (docs/protocol.md §6.1–§6.4): the one-pass M-Pin proof with a
//! session-bound Chaum–Pedersen proof of knowledge of its nonce `x`, and the
//! client's M-Pin Full value `R`.
//!
//! # Layout (exactly [`SHARE_BYTES`] = 300 bytes)
//!
//! | offset | len | field |
//! |-------:|----:|-------|
//! | 0   | 32 | `HID = SHA-256(ID)` |
//! | 32  | 4  | `d`, the permit day, big-endian (0 with permits off) |
//! | 36  | 8  | `t`, the client's unix time in seconds, big-endian |
//! | 44  | 48 | `U = x·A_d` (G1 compressed) |
//! | 92  | 48 | `X = x·A` |
//! | 140 | 32 | `c`, big-endian, `< r` |
//! | 172 | 32 | `z`, big-endian, `< r` |
//! | 204 | 48 | `V = −(x+y)·SEC` |
//! | 252 | 48 | `R = r·A_d` |
//!
//! # Client
//!
//! `SEC = token + PIN·A (+ TP)`; with the secret nonces `x`, `r`, `k`:
//!
//! * `c = Hq_cs-dleq(HID ‖ be32 d ‖ be64 t ‖ A ‖ A_d ‖ X ‖ U ‖ R ‖ k·A ‖ k·A_d)`,
//!   `z = k + c·x` (a Chaum–Pedersen proof that `X` and `U` share `x`, bound
//!   to this session by `HID`, `d`, `t` and `R`);
//! * `y = Hq_cs-y(HID ‖ be32 d ‖ be64 t ‖ U ‖ X ‖ c ‖ z ‖ R)`;
//! * `V = −(x+y)·SEC`.
//!
//! Nonces are hedged (a stuck RNG must not repeat `x` under a different `y`,
//! which would reveal `SEC`): `x`, `r` = `Hq_cs-nonce(SEC ‖ HID ‖ be32 d ‖
//! be64 t ‖ fresh32 ‖ "x" | "r")` and `k = Hq_cs-nonce(SEC ‖ HID ‖ be32 d ‖
//! be64 t ‖ fresh32 ‖ U ‖ X ‖ R ‖ "k")`. All fields are fixed-length, so no
//! length prefixes are needed. Nonces never reach the wire, so this
//! derivation is local, not normative.
//!
//! # Server
//!
//! 1. [`precheck`], in the accept path, on the raw bytes, before any point is
//!    decoded: exact length, `d` per the permit policy and within ±1 day,
//!    `|t − now| ≤ window`; yields the `(HID, U)` [`ReplayKey`].
//! 2. [`verify`], in the key exchange: decode every point (subgroup checked,
//!    identity refused) and scalar (`< r`); the DLEQ (`z·A − c·X`,
//!    `z·A_d − c·U`) before any pairing, refused as [`CsError::DleqFailed`];
//!    then `e(V, Q)·e(U + y·A_d, SS) == 1` in one multi-Miller loop with `Q`
//!    and `SS` prepared once ([`PreparedServerSecret`]). Every proof failure
//!    is the single [`CsError::ProofFailed`], after the same work.
//!
//! Why the proof holds: `V = −(x+y)·s·A_d` and `U + y·A_d = (x+y)·A_d`, so
//! `e(V,Q)·e(U + y·A_d, s·Q) = e(A_d,Q)^{−(x+y)s + (x+y)s} = 1`.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::identity::Hid;
use crate::keys::{CsServerSecret, CsTimePermit, CsToken, PermitPolicy, day_of};
use crate::pairing::{
    EntropySource, G1, G1_BYTES, G2, G2Prepared, Gt, SCALAR_BYTES, Scalar, ScalarDomain,
    multi_pairing,
};

use super::CsError;
use super::permit::{check_day, client_day, effective_point};
use super::pin::Pin;
use crate::points::cs_identity_point;

/// Length of the CS client key share.
pub const SHARE_BYTES: usize = 300;
/// The default timestamp window `|t − now|` in seconds.
pub const DEFAULT_TIME_WINDOW_SECS: u64 = 30;

const OFF_D: usize = 32;
const OFF_T: usize = 36;
const OFF_U: usize = 44;
const OFF_X: usize = OFF_U + G1_BYTES;
const OFF_C: usize = OFF_X + G1_BYTES;
const OFF_Z: usize = OFF_C + SCALAR_BYTES;
const OFF_V: usize = OFF_Z + SCALAR_BYTES;
const OFF_R: usize = OFF_V + G1_BYTES;
const HEAD_BYTES: usize = OFF_U;
const _: () = assert!(OFF_R + G1_BYTES == SHARE_BYTES);

/// A fixed-length field of a share (offsets are constants within 300 bytes).
fn field<const N: usize>(share: &[u8; SHARE_BYTES], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&share[offset..offset + N]);
    out
}

/// The clear-text header of a share: who, which permit day, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareHeader {
    /// The client's hashed identity.
    pub hid: Hid,
    /// The permit day (0 with permits off).
    pub day: u32,
    /// The client's unix time in seconds.
    pub time: u64,
}

/// The replay-cache key of a share: `(HID, U bytes)`. Fresh `x` makes `U`
/// unique per genuine attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    /// The client's hashed identity.
    pub hid: Hid,
    /// The 48 bytes of `U` as sent.
    pub u: [u8; G1_BYTES],
}

/// The server's cheap checks on a share, applied by [`precheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShareChecks {
    /// The deployment's permit policy.
    pub permits: PermitPolicy,
    /// The allowed `|t − now|` in seconds.
    pub window_secs: u64,
}

impl ShareChecks {
    /// Checks for `permits` with the default window
    /// ([`DEFAULT_TIME_WINDOW_SECS`]).
    pub fn new(permits: PermitPolicy) -> Self {
        Self {
            permits,
            window_secs: DEFAULT_TIME_WINDOW_SECS,
        }
    }

    /// The same checks with another timestamp window.
    pub fn with_window(self, window_secs: u64) -> Self {
        Self {
            window_secs,
            ..self
        }
    }
}

/// A share that passed [`precheck`]: its bytes, header and the policy it was
/// checked under. Only this type can be [`verify`]-ed.
#[derive(Clone)]
pub struct PrecheckedShare {
    bytes: [u8; SHARE_BYTES],
    header: ShareHeader,
    permits: PermitPolicy,
}

impl PrecheckedShare {
    /// The share's header.
    pub fn header(&self) -> &ShareHeader {
        &self.header
    }

    /// The `(HID, U)` key for the replay cache.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey {
            hid: self.header.hid,
            u: field(&self.bytes, OFF_U),
        }
    }

    /// The share's bytes.
    pub fn bytes(&self) -> &[u8; SHARE_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for PrecheckedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrecheckedShare")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// Server step 1: the cheap checks on the raw bytes, before any point is
/// decoded. `now` is the server's unix time in seconds.
///
/// Fails with [`CsError::ShareLength`] unless exactly [`SHARE_BYTES`] bytes;
/// with [`CsError::PermitMissing`], [`CsError::PermitNotAllowed`] or
/// [`CsError::DayOutOfRange`] for a day the policy refuses ([`check_day`]);
/// with [`CsError::StaleTime`] if `|t − now| > window`; with permits off, with
/// [`CsError::PermitsOffXNotU`] unless the X and U bytes are equal
/// (`A_d = A`, so an honest client sends `X = U`).
pub fn precheck(bytes: &[u8], checks: &ShareChecks, now: u64) -> Result<PrecheckedShare, CsError> {
    let bytes: [u8; SHARE_BYTES] = bytes
        .try_into()
        .map_err(|_| CsError::ShareLength(bytes.len()))?;
    let header = ShareHeader {
        hid: Hid(field(&bytes, 0)),
        day: u32::from_be_bytes(field(&bytes, OFF_D)),
        time: u64::from_be_bytes(field(&bytes, OFF_T)),
    };
    check_day(checks.permits, header.day, day_of(now))?;
    if checks.permits == PermitPolicy::Off && bytes[OFF_U..OFF_X] != bytes[OFF_X..OFF_C] {
        return Err(CsError::PermitsOffXNotU);
    }
    if header.time.abs_diff(now) > checks.window_secs {
        return Err(CsError::StaleTime {
            time: header.time,
            now,
            window: checks.window_secs,
        });
    }
    Ok(PrecheckedShare {
        bytes,
        header,
        permits: checks.permits,
    })
}

/// The server secret in the form the server uses: `SS` and `Q` with their
/// Miller-loop lines prepared once per configuration.
///
/// The point `SS` is zeroized on drop; the engine's prepared form cannot be
/// zeroized, so keep this value for the configuration's lifetime only.
pub struct PreparedServerSecret {
    pub(crate) deployment: crate::keys::CsDeployment,
    /// Held only so that the secret point is zeroized on drop (the prepared
    /// form, which the pairings use, cannot be).
    _ss: G2,
    pub(crate) ss: G2Prepared,
    pub(crate) q: G2Prepared,
}

impl PreparedServerSecret {
    /// Prepares `secret` (and `Q`) for pairings.
    pub fn new(secret: &CsServerSecret) -> Self {
        Self {
            deployment: secret.deployment,
            _ss: secret.point.clone(),
            ss: secret.point.prepare(),
            q: G2Prepared::generator().clone(),
        }
    }

    /// The deployment the secret belongs to.
    pub fn deployment(&self) -> &crate::keys::CsDeployment {
        &self.deployment
    }

    /// The [`ShareChecks`] for this deployment, with the default window.
    pub fn checks(&self) -> ShareChecks {
        ShareChecks::new(self.deployment.permits)
    }
}

impl fmt::Debug for PreparedServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedServerSecret")
            .field("deployment", &self.deployment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A share whose DLEQ and M-Pin proof verified: ready for the key agreement
/// ([`respond`](super::full::respond)). Insert its [`ReplayKey`] into the
/// replay cache.
pub struct VerifiedShare {
    pub(crate) bytes: [u8; SHARE_BYTES],
    pub(crate) header: ShareHeader,
    pub(crate) a_d: G1,
    pub(crate) r: G1,
}

impl VerifiedShare {
    /// The share's header (its HID is the authenticated client's).
    pub fn header(&self) -> &ShareHeader {
        &self.header
    }

    /// The `(HID, U)` key for the replay cache.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey {
            hid: self.header.hid,
            u: field(&self.bytes, OFF_U),
        }
    }

    /// The share's bytes.
    pub fn bytes(&self) -> &[u8; SHARE_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for VerifiedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedShare")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// What a failed M-Pin proof leaves for [`classify`](super::classify::classify):
/// the header, `A`, `X`, `y` and `g = e(V,Q)·e(U + y·A_d, SS)`.
///
/// `g` determines the PIN error δ, so it is never printed (`Debug` shows the
/// header only) and zeroized on drop.
pub struct FailedProof {
    pub(crate) header: ShareHeader,
    pub(crate) a: G1,
    pub(crate) x: G1,
    pub(crate) y: Scalar,
    pub(crate) g: Gt,
}

impl FailedProof {
    /// The header of the failed share (whose HID's attempt to account).
    pub fn header(&self) -> &ShareHeader {
        &self.header
    }
}

impl fmt::Debug for FailedProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedProof")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn decode_g1(share: &[u8; SHARE_BYTES], offset: usize, name: &'static str) -> Result<G1, CsError> {
    G1::from_bytes(&share[offset..offset + G1_BYTES]).map_err(|source| CsError::BadEncoding {
        field: name,
        source,
    })
}

fn decode_scalar(
    share: &[u8; SHARE_BYTES],
    offset: usize,
    name: &'static str,
) -> Result<Scalar, CsError> {
    Scalar::from_be_bytes(&share[offset..offset + SCALAR_BYTES]).map_err(|source| {
        CsError::BadEncoding {
            field: name,
            source,
        }
    })
}

/// `c = Hq_cs-dleq(HID ‖ be32 d ‖ be64 t ‖ A ‖ A_d ‖ X ‖ U ‖ R ‖ kA ‖ kA_d)`;
/// `head` is the share's first 44 bytes (`HID ‖ be32 d ‖ be64 t`).
#[allow(clippy::too_many_arguments)]
fn dleq_challenge(
    head: &[u8],
    a: &G1,
    a_d: &G1,
    x: &[u8],
    u: &[u8],
    r: &[u8],
    ka: &G1,
    ka_d: &G1,
) -> Scalar {
    Scalar::hash(
        ScalarDomain::CsDleq,
        &[
            head,
            &a.to_bytes(),
            &a_d.to_bytes(),
            x,
            u,
            r,
            &ka.to_bytes(),
            &ka_d.to_bytes(),
        ],
    )
}

/// `y = Hq_cs-y(HID ‖ be32 d ‖ be64 t ‖ U ‖ X ‖ c ‖ z ‖ R)`: the share's
/// bytes 0..204 followed by `R`.
fn proof_challenge(share: &[u8; SHARE_BYTES]) -> Scalar {
    Scalar::hash(ScalarDomain::CsY, &[&share[..OFF_V], &share[OFF_R..]])
}

/// Builds a share from `SEC` (however obtained) and returns it with `r`.
/// Deterministic in its inputs; `fresh` is the 32 random hedging bytes.
pub(crate) fn build_share(
    sec: &G1,
    hid: &Hid,
    a: &G1,
    a_d: &G1,
    day: u32,
    time: u64,
    fresh: &[u8; 32],
) -> ([u8; SHARE_BYTES], Scalar) {
    let mut share = [0u8; SHARE_BYTES];
    share[..OFF_D].copy_from_slice(hid.as_bytes());
    share[OFF_D..OFF_T].copy_from_slice(&day.to_be_bytes());
    share[OFF_T..OFF_U].copy_from_slice(&time.to_be_bytes());

    let sec_bytes = Zeroizing::new(sec.to_bytes());
    let head: [u8; HEAD_BYTES] = field(&share, 0);
    let nonce = |extra: &[&[u8]], label: &[u8]| {
        let mut parts: Vec<&[u8]> = vec![&sec_bytes[..], &head, fresh];
        parts.extend_from_slice(extra);
        parts.push(label);
        Scalar::hash(ScalarDomain::CsNonce, &parts)
    };
    let x = nonce(&[], b"x");
    let r = nonce(&[], b"r");
    let u = (a_d * &x).to_bytes();
    let xp = (a * &x).to_bytes();
    let rp = (a_d * &r).to_bytes();
    let k = nonce(&[&u, &xp, &rp], b"k");
    let c = dleq_challenge(&head, a, a_d, &xp, &u, &rp, &(a * &k), &(a_d * &k));
    let z = &k + &(&c * &x);

    share[OFF_U..OFF_X].copy_from_slice(&u);
    share[OFF_X..OFF_C].copy_from_slice(&xp);
    share[OFF_C..OFF_Z].copy_from_slice(&c.to_be_bytes());
    share[OFF_Z..OFF_V].copy_from_slice(&z.to_be_bytes());
    share[OFF_R..].copy_from_slice(&rp);
    let y = proof_challenge(&share);
    let v = sec * &(-&(&x + &y));
    share[OFF_V..OFF_R].copy_from_slice(&v.to_bytes());
    (share, r)
}

/// A share whose points decoded and whose Chaum–Pedersen proof verified:
/// server step 2 up to, not including, its pairing ([`check_share`]).
/// Everything in it is public (the share's own values and `A`, `A_d`);
/// [`verify_checked`] finishes the step.
pub struct CheckedShare {
    bytes: [u8; SHARE_BYTES],
    header: ShareHeader,
    permits: PermitPolicy,
    a: G1,
    a_d: G1,
    x: G1,
    v: G1,
    r: G1,
    y: Scalar,
    /// `U + y·A_d`, the second pairing's G1 argument.
    uy: G1,
}

impl fmt::Debug for CheckedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedShare")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// Server step 2: decode, check the DLEQ, then the M-Pin proof in one
/// multi-pairing ([`check_share`] then [`verify_checked`]).
///
/// Fails with [`CsError::PolicyMismatch`] if `share` was prechecked under
/// another policy than `server`'s; [`CsError::BadEncoding`] for a point that is
/// malformed, outside the subgroup or the identity, or a scalar `≥ r`;
/// [`CsError::DleqFailed`] (before any pairing) for a bad Chaum–Pedersen
/// proof; [`CsError::ProofFailed`] when the pairing check fails — every such
/// failure does the same work, whatever the PIN error.
pub fn verify(
    share: &PrecheckedShare,
    server: &PreparedServerSecret,
) -> Result<VerifiedShare, CsError> {
    verify_checked(check_share(share, server)?, server)
}

/// The part of server step 2 that needs no pairing and no secret: decode
/// the fields in wire order, compute `A`, `A_d`, check the DLEQ, and
/// prepare `U + y·A_d`. An async server may run it while step 1's store
/// calls are in flight (docs/protocol.md §6.4, "Overlapping step 1"): it
/// decides nothing until the attempt is admitted.
///
/// Fails as [`verify`] does before its pairing: [`CsError::PolicyMismatch`],
/// [`CsError::BadEncoding`], [`CsError::DleqFailed`].
pub fn check_share(
    share: &PrecheckedShare,
    server: &PreparedServerSecret,
) -> Result<CheckedShare, CsError> {
    if share.permits != server.deployment.permits {
        return Err(CsError::PolicyMismatch);
    }
    let b = &share.bytes;
    let u = decode_g1(b, OFF_U, "U")?;
    let x = decode_g1(b, OFF_X, "X")?;
    let c = decode_scalar(b, OFF_C, "c")?;
    let z = decode_scalar(b, OFF_Z, "z")?;
    let v = decode_g1(b, OFF_V, "V")?;
    let r = decode_g1(b, OFF_R, "R")?;

    let hid = share.header.hid;
    let a = cs_identity_point(&hid);
    let a_d = effective_point(server.deployment.permits, &hid, share.header.day, &a)?;

    // Chaum–Pedersen: k·A = z·A − c·X and k·A_d = z·A_d − c·U.
    let minus_c = -&c;
    let ka = a.mul_add(&z, &x, &minus_c);
    let ka_d = a_d.mul_add(&z, &u, &minus_c);
    let c_check = dleq_challenge(
        &b[..HEAD_BYTES],
        &a,
        &a_d,
        &b[OFF_X..OFF_C],
        &b[OFF_U..OFF_X],
        &b[OFF_R..],
        &ka,
        &ka_d,
    );
    if !bool::from(c_check.ct_eq(&c)) {
        return Err(CsError::DleqFailed);
    }

    let y = proof_challenge(b);
    let uy = &u + &(&a_d * &y);
    Ok(CheckedShare {
        bytes: *b,
        header: share.header,
        permits: share.permits,
        a,
        a_d,
        x,
        v,
        r,
        y,
        uy,
    })
}

/// The rest of server step 2 for a [`check_share`] result: the M-Pin proof
/// `e(V, Q)·e(U + y·A_d, SS) == 1` in one multi-pairing.
///
/// Fails with [`CsError::PolicyMismatch`] if `checked` was made for another
/// policy than `server`'s, [`CsError::ProofFailed`] when the pairing check
/// fails (the same work whatever the PIN error).
pub fn verify_checked(
    checked: CheckedShare,
    server: &PreparedServerSecret,
) -> Result<VerifiedShare, CsError> {
    if checked.permits != server.deployment.permits {
        return Err(CsError::PolicyMismatch);
    }
    let g = multi_pairing(&[(&checked.v, &server.q), (&checked.uy, &server.ss)]);
    if bool::from(g.is_one()) {
        Ok(VerifiedShare {
            bytes: checked.bytes,
            header: checked.header,
            a_d: checked.a_d,
            r: checked.r,
        })
    } else {
        Err(CsError::ProofFailed(Box::new(FailedProof {
            header: checked.header,
            a: checked.a,
            x: checked.x,
            y: checked.y,
            g,
        })))
    }
}

/// The client's side of one CS handshake: its key share and what it keeps
/// for the key agreement (`r`, `SEC`, `A_d`). `r` and `SEC` are zeroized on
/// drop; `Debug` shows nothing secret.
pub struct ClientState {
    pub(crate) r: Scalar,
    pub(crate) sec: G1,
    pub(crate) a_d: G1,
    pub(crate) share: [u8; SHARE_BYTES],
}

impl ClientState {
    /// Builds the key share at unix time `now` with 32 fresh bytes from `rng`.
    ///
    /// Fails before anything is sent when the permit does not fit the
    /// deployment ([`client_day`]: [`CsError::NoPermitForToday`],
    /// [`CsError::UnexpectedPermit`], [`CsError::KeyMismatch`]) and with
    /// [`CsError::Random`] if `rng` fails. A wrong PIN is not detected here.
    pub fn new(
        token: &CsToken,
        pin: &Pin,
        permit: Option<&CsTimePermit>,
        now: u64,
        rng: &dyn EntropySource,
    ) -> Result<Self, CsError> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        rng.fill(&mut fresh[..])?;
        Self::with_fresh(token, pin, permit, now, &fresh)
    }

    /// Like [`ClientState::new`] with the 32 hedging bytes given explicitly
    /// (deterministic, for known-answer vectors).
    pub fn with_fresh(
        token: &CsToken,
        pin: &Pin,
        permit: Option<&CsTimePermit>,
        now: u64,
        fresh: &[u8; 32],
    ) -> Result<Self, CsError> {
        let day = client_day(&token.deployment, &token.identity, permit, now)?;
        let hid = token.identity.cs_hid();
        let a = cs_identity_point(&hid);
        let a_d = effective_point(token.deployment.permits, &hid, day, &a)?;
        let mut sec = &token.point + &(&a * &pin.to_scalar());
        if let Some(p) = permit {
            // client_day admits a permit only when permits are required.
            sec = &sec + &p.point;
        }
        let (share, r) = build_share(&sec, &hid, &a, &a_d, day, now, fresh);
        Ok(Self { r, sec, a_d, share })
    }

    /// The 300-byte key share to send.
    pub fn share(&self) -> &[u8; SHARE_BYTES] {
        &self.share
    }

    /// The effective point `A_d` the share was built on (public: it follows
    /// from HID and the permit day).
    pub fn effective_point(&self) -> &G1 {
        &self.a_d
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("share", &hex::encode(self.share))
            .finish_non_exhaustive()
    }
}

//! The D-TA's logic, independent of HTTP: every operation takes the request's
//! source (for the audit log) and returns a response or an [`ApiError`].
//!
//! Every issuance and every refusal of an enrolment, renewal or operator
//! request is appended to the audit log in the same SQLite transaction as
//! the state change it records, so the log and the state cannot disagree.
//! Nothing secret reaches the log: tickets, credentials and operator tokens
//! appear only as "presented", shares never.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{Deployment, MasterShare, PermitPolicy, day_of, epoch_of};
use milagro_tls::p2p_tls;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::api::*;
use crate::clock::Clock;
use crate::store::{self, Event, Store, StoreError, token_hash};

/// The default lifetime of an enrolment ticket: 7 days.
pub const DEFAULT_TICKET_TTL: u64 = 7 * 86_400;

/// A refusal: its code (which fixes the HTTP status) and a message that
/// never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The detail goes to the operator's log, not to the peer.
        tracing::error!(error = %e, "storage failure");
        Self::new(
            ErrorCode::Internal,
            "the D-TA's storage failed; nothing was issued",
        )
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// Where the operator tokens' SHA-256 hashes come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OperatorTokens {
    /// A file of hex SHA-256 hashes, one per line (`#` comments), re-read on
    /// every operator request so that tokens rotate without a restart.
    File(PathBuf),
    /// Fixed hashes (tests, embedding).
    Hashes(Vec<[u8; 32]>),
}

impl OperatorTokens {
    fn hashes(&self) -> Result<Vec<[u8; 32]>> {
        match self {
            Self::Hashes(h) => Ok(h.clone()),
            Self::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    tracing::error!(path = %path.display(), error = %e, "cannot read the operator token hashes");
                    ApiError::new(ErrorCode::Internal, "the D-TA cannot read its operator token hashes")
                })?;
                Ok(parse_token_hashes(&text))
            }
        }
    }

    /// Whether `token` hashes to one of the stored hashes. Every stored hash
    /// is compared in constant time, and all of them are always compared.
    fn accepts(&self, token: &str) -> Result<bool> {
        let presented = token_hash(token);
        let mut ok = subtle::Choice::from(0u8);
        for h in self.hashes()? {
            ok |= h.ct_eq(&presented);
        }
        Ok(bool::from(ok))
    }
}

/// Parses an operator token hash file: 64 hex digits per line; blank lines
/// and lines starting with `#` are skipped, malformed lines ignored.
pub fn parse_token_hashes(text: &str) -> Vec<[u8; 32]> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| hex::decode(l).ok()?.try_into().ok())
        .collect()
}

/// A fresh 256-bit random token, as 64 hex digits.
pub fn random_token() -> Result<Zeroizing<String>> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut b[..])
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the random number generator failed"))?;
    Ok(Zeroizing::new(hex::encode(&b[..])))
}

/// docs/protocol.md §5.5: a D-TA issues the time permit for day `d` only
/// from day `d − 1` on by its clock (at most one day ahead, so a client can
/// fetch tomorrow's permit before midnight), and never for a day already
/// over. The one place the rule lives in the service.
pub fn check_permit_day(day: u32, now: u64) -> Result<()> {
    let today = day_of(now);
    if day < today || day > today.saturating_add(1) {
        return Err(ApiError::new(
            ErrorCode::DayOutOfRange,
            format!(
                "a D-TA issues time permits for today or tomorrow only (at most one day ahead, docs/protocol.md §5.5); today is day {today}, day {day} was asked"
            ),
        ));
    }
    Ok(())
}

/// The P2P analogue of [`check_permit_day`]: keys for the current epoch or
/// the next one only; `allow_previous` also admits the previous epoch (a
/// server key, so a server started mid-epoch accepts the previous epoch's
/// clients, docs/protocol.md §5.6). In an epoch's first seconds "current"
/// also covers the epoch a client still uses ([`p2p_tls::client_epoch`]),
/// which is the one this D-TA issues by default then.
pub fn check_epoch(epoch: u32, now: u64, epoch_seconds: u32, allow_previous: bool) -> Result<()> {
    let current = epoch_of(now, epoch_seconds);
    let clients = p2p_tls::client_epoch(now, epoch_seconds);
    let lowest = if allow_previous {
        clients.saturating_sub(1)
    } else {
        clients
    };
    if epoch < lowest || epoch > current.saturating_add(1) {
        return Err(ApiError::new(
            ErrorCode::EpochOutOfRange,
            format!(
                "a D-TA issues P2P keys for the current epoch {current} or the next one only; epoch {epoch} was asked"
            ),
        ));
    }
    Ok(())
}

fn pem<K: KeyFile>(key: &K) -> Result<String> {
    key.to_pem()
        .map(|p| p.to_string())
        .map_err(|_| ApiError::new(ErrorCode::Internal, "cannot encode the share"))
}

fn issue_err(e: milagro_tls::dta::DtaError) -> ApiError {
    ApiError::new(ErrorCode::WrongKind, e.to_string())
}

fn identity(input: &str) -> Result<Identity> {
    Identity::new(input).map_err(|e| {
        ApiError::new(
            ErrorCode::IdentityInvalid,
            format!("identity {input:?}: {e}"),
        )
    })
}

/// One D-TA: its master share, its database and its clock.
pub struct Dta {
    master: MasterShare,
    store: Mutex<Store>,
    clock: Arc<dyn Clock>,
    operators: OperatorTokens,
    ticket_ttl: u64,
}

impl core::fmt::Debug for Dta {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dta")
            .field("master", &self.master)
            .finish_non_exhaustive()
    }
}

/// The string identifying a D-TA in its database (`deployment/dta`).
pub fn owner(master: &MasterShare) -> String {
    format!("{}/{}", master.deployment().id(), master.dta())
}

impl Dta {
    /// A D-TA over an opened store (which must belong to `master`, see
    /// [`Store::open`]).
    pub fn new(
        master: MasterShare,
        store: Store,
        clock: Arc<dyn Clock>,
        operators: OperatorTokens,
        ticket_ttl: u64,
    ) -> Self {
        Self {
            master,
            store: Mutex::new(store),
            clock,
            operators,
            ticket_ttl: ticket_ttl.max(1),
        }
    }

    /// The deployment served.
    pub fn deployment(&self) -> Deployment {
        *self.master.deployment()
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn store(&self) -> Result<std::sync::MutexGuard<'_, Store>> {
        self.store
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the D-TA's storage is unavailable"))
    }

    /// Runs `f` in a transaction and appends its audit event whatever the
    /// outcome: the refusal is recorded and committed, and returned.
    fn audited<T>(
        &self,
        source: &str,
        event: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>, u64) -> Result<(T, Option<String>, String)>,
        refused_identity: Option<&str>,
    ) -> Result<T> {
        let now = self.now();
        let mut store = self.store()?;
        store.transaction::<_, ApiError>(|tx| {
            let outcome = f(tx, now);
            let (code, ident, detail) = match &outcome {
                Ok((_, ident, detail)) => ("ok", ident.clone(), detail.clone()),
                Err(e) => (
                    e.code.as_str(),
                    refused_identity.map(str::to_owned),
                    String::new(),
                ),
            };
            if let Err(e) = &outcome {
                if e.code == ErrorCode::Internal {
                    return Err(e.clone());
                }
            }
            store::append(
                tx,
                &Event {
                    at: now,
                    source,
                    event,
                    outcome: code,
                    identity: ident.as_deref(),
                    detail: &detail,
                },
            )?;
            Ok(outcome.map(|(v, ..)| v))
        })?
    }

    /// `GET /v1/info`.
    pub fn info(&self) -> Info {
        let d = self.deployment();
        let (suite, permits, epoch_seconds) = match d {
            Deployment::Cs(c) => (
                "cs",
                Some(match c.permits {
                    PermitPolicy::Required => "required",
                    PermitPolicy::Off => "off",
                }),
                None,
            ),
            Deployment::P2p(p) => ("p2p", None, Some(p.epoch_seconds)),
        };
        Info {
            suite: suite.into(),
            deployment: d.id().to_string(),
            dta_count: d.dta_count(),
            permits: permits.map(str::to_owned),
            epoch_seconds,
            dta: self.master.dta().to_string(),
            now: self.now(),
        }
    }

    /// Checks an operator token; a refusal is audited.
    pub fn check_operator(&self, source: &str, event: &str, token: Option<&str>) -> Result<()> {
        let ok = match token {
            Some(t) => self.operators.accepts(t)?,
            None => false,
        };
        if ok {
            return Ok(());
        }
        let now = self.now();
        self.store()?.audit(&Event {
            at: now,
            source,
            event,
            outcome: ErrorCode::Unauthorized.as_str(),
            identity: None,
            detail: if token.is_some() {
                "wrong operator token"
            } else {
                "no operator token"
            },
        })?;
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "operator endpoints need `Authorization: Bearer <operator token>` with a valid token",
        ))
    }

    fn default_role(&self) -> Role {
        match self.deployment() {
            Deployment::Cs(_) => Role::CsClient,
            Deployment::P2p(_) => Role::P2pClient,
        }
    }

    fn check_role(&self, role: Role) -> Result<()> {
        let fits = matches!(
            (self.deployment(), role),
            (Deployment::Cs(_), Role::CsClient)
                | (Deployment::P2p(_), Role::P2pClient | Role::P2pServer)
        );
        if fits {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::WrongKind,
                format!(
                    "role {} does not exist in a {} deployment",
                    role.as_str(),
                    self.deployment().suite()
                ),
            ))
        }
    }

    /// `POST /v1/admin/enrolments` (operator): a one-time ticket for an identity.
    pub fn create_enrolment(&self, source: &str, req: &CreateEnrolment) -> Result<EnrolmentTicket> {
        let id = identity(&req.identity)?;
        let role = req.role.unwrap_or_else(|| self.default_role());
        self.check_role(role)?;
        let ttl = req
            .ttl_seconds
            .unwrap_or(self.ticket_ttl)
            .clamp(1, self.ticket_ttl);
        let ticket = random_token()?;
        let hash = token_hash(&ticket);
        let expires_at = self.audited(
            source,
            "enrolment.create",
            |tx, now| {
                if store::is_revoked(tx, id.as_str())? {
                    return Err(ApiError::new(
                        ErrorCode::Revoked,
                        format!("{id} is revoked at this D-TA; it cannot be enrolled again"),
                    ));
                }
                let expires_at = now.saturating_add(ttl);
                store::insert_enrolment(tx, id.as_str(), role, &hash, now, expires_at)?;
                Ok((
                    expires_at,
                    Some(id.to_string()),
                    format!("{} ttl={ttl}", role.as_str()),
                ))
            },
            Some(id.as_str()),
        )?;
        Ok(EnrolmentTicket {
            identity: id.to_string(),
            role,
            ticket: ticket.to_string(),
            expires_at,
        })
    }

    /// `POST /v1/enrol`: redeems a ticket for this D-TA's share and a
    /// renewal credential.
    pub fn enrol(&self, source: &str, req: &EnrolRequest) -> Result<EnrolResponse> {
        let hash = token_hash(req.ticket.trim());
        let credential = random_token()?;
        let cred_hash = token_hash(&credential);
        let mut refused_identity = None::<String>;
        let now = self.now();
        let mut store = self.store()?;
        let result = store.transaction::<_, ApiError>(|tx| {
            let outcome = (|| {
                let e = store::enrolment_by_ticket(tx, &hash)?.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::TicketUnknown,
                        "this enrolment ticket is not known to this D-TA",
                    )
                })?;
                refused_identity = Some(e.identity.clone());
                if e.used_at.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::TicketUsed,
                        "this enrolment ticket was already used; ask the operator for a new one",
                    ));
                }
                if now >= e.expires_at {
                    return Err(ApiError::new(
                        ErrorCode::TicketExpired,
                        "this enrolment ticket has expired; ask the operator for a new one",
                    ));
                }
                if store::is_revoked(tx, &e.identity)? {
                    return Err(ApiError::new(
                        ErrorCode::Revoked,
                        format!("{} is revoked at this D-TA", e.identity),
                    ));
                }
                let id = identity(&e.identity)?;
                let (share, permit, detail) = self.enrol_shares(&id, e.role, now)?;
                if !store::consume_ticket(tx, e.id, &cred_hash, now)? {
                    return Err(ApiError::new(
                        ErrorCode::TicketUsed,
                        "this enrolment ticket was already used",
                    ));
                }
                Ok(EnrolResponse {
                    identity: id.to_string(),
                    role: e.role,
                    share,
                    permit,
                    renewal_credential: credential.to_string(),
                }
                .with_detail(detail))
            })();
            if let Err(e) = &outcome {
                if e.code == ErrorCode::Internal {
                    return Err(e.clone());
                }
            }
            let (code, detail) = match &outcome {
                Ok((_, d)) => ("ok", d.clone()),
                Err(e) => (e.code.as_str(), String::new()),
            };
            store::append(
                tx,
                &Event {
                    at: now,
                    source,
                    event: "enrol",
                    outcome: code,
                    identity: refused_identity.as_deref(),
                    detail: &detail,
                },
            )?;
            Ok(outcome)
        })?;
        result.map(|(r, _)| r)
    }

    fn enrol_shares(
        &self,
        id: &Identity,
        role: Role,
        now: u64,
    ) -> Result<(String, Option<String>, String)> {
        let m = &self.master;
        match (self.deployment(), role) {
            (Deployment::Cs(c), Role::CsClient) => {
                let share = pem(&m.issue_cs_client_secret(id).map_err(issue_err)?)?;
                let (permit, detail) = match c.permits {
                    PermitPolicy::Required => {
                        let day = day_of(now);
                        (
                            Some(pem(&m.issue_cs_time_permit(id, day).map_err(issue_err)?)?),
                            format!("cs-client client-secret permit day={day}"),
                        )
                    }
                    PermitPolicy::Off => (None, "cs-client client-secret".into()),
                };
                Ok((share, permit, detail))
            }
            (Deployment::P2p(p), Role::P2pClient) => {
                let epoch = p2p_tls::client_epoch(now, p.epoch_seconds);
                let share = pem(&m.issue_p2p_client_key(id, epoch).map_err(issue_err)?)?;
                Ok((share, None, format!("p2p-client epoch={epoch}")))
            }
            (Deployment::P2p(p), Role::P2pServer) => {
                let epoch = p2p_tls::client_epoch(now, p.epoch_seconds);
                let share = pem(&m.issue_p2p_server_key(id, epoch).map_err(issue_err)?)?;
                Ok((share, None, format!("p2p-server epoch={epoch}")))
            }
            _ => Err(ApiError::new(
                ErrorCode::WrongKind,
                "this enrolment's role does not fit the deployment",
            )),
        }
    }

    /// `POST /v1/renew`: today's (or tomorrow's) permit share, or the share
    /// of the current (or next) epoch's key, for a holder of a renewal
    /// credential whose identity is not revoked.
    pub fn renew(
        &self,
        source: &str,
        credential: Option<&str>,
        req: &RenewRequest,
    ) -> Result<ShareResponse> {
        let hash = credential.map(|c| token_hash(c.trim()));
        let now = self.now();
        let mut who = None::<String>;
        let mut store = self.store()?;
        let result = store.transaction::<_, ApiError>(|tx| {
            let outcome = (|| {
                let unknown = || {
                    ApiError::new(
                        ErrorCode::CredentialUnknown,
                        "renewal needs `Authorization: Bearer <renewal credential>` with the credential this D-TA issued at enrolment",
                    )
                };
                let hash = hash.ok_or_else(unknown)?;
                let e = store::enrolment_by_credential(tx, &hash)?.ok_or_else(unknown)?;
                who = Some(e.identity.clone());
                if store::is_revoked(tx, &e.identity)? {
                    return Err(ApiError::new(
                        ErrorCode::Revoked,
                        format!("{} is revoked at this D-TA: no more permits or keys", e.identity),
                    ));
                }
                let id = identity(&e.identity)?;
                self.renewal_share(&id, e.role, req, now)
            })();
            if let Err(e) = &outcome {
                if e.code == ErrorCode::Internal {
                    return Err(e.clone());
                }
            }
            let (code, detail) = match &outcome {
                Ok((_, d)) => ("ok", d.clone()),
                Err(e) => (e.code.as_str(), String::new()),
            };
            store::append(
                tx,
                &Event {
                    at: now,
                    source,
                    event: "renew",
                    outcome: code,
                    identity: who.as_deref(),
                    detail: &detail,
                },
            )?;
            Ok(outcome)
        })?;
        result.map(|(share, _)| ShareResponse { share })
    }

    fn renewal_share(
        &self,
        id: &Identity,
        role: Role,
        req: &RenewRequest,
        now: u64,
    ) -> Result<(String, String)> {
        let m = &self.master;
        match (self.deployment(), role) {
            (Deployment::Cs(c), Role::CsClient) => {
                if c.permits == PermitPolicy::Off {
                    return Err(ApiError::new(
                        ErrorCode::WrongKind,
                        "this CS deployment does not use time permits: there is nothing to renew",
                    ));
                }
                let day = req.day.unwrap_or_else(|| day_of(now));
                check_permit_day(day, now)?;
                let share = pem(&m.issue_cs_time_permit(id, day).map_err(issue_err)?)?;
                Ok((share, format!("permit day={day}")))
            }
            (Deployment::P2p(p), role) => {
                let epoch = req
                    .epoch
                    .unwrap_or_else(|| p2p_tls::client_epoch(now, p.epoch_seconds));
                check_epoch(epoch, now, p.epoch_seconds, false)?;
                let share = match role {
                    Role::P2pServer => {
                        pem(&m.issue_p2p_server_key(id, epoch).map_err(issue_err)?)?
                    }
                    _ => pem(&m.issue_p2p_client_key(id, epoch).map_err(issue_err)?)?,
                };
                Ok((share, format!("{} epoch={epoch}", role.as_str())))
            }
            _ => Err(ApiError::new(
                ErrorCode::WrongKind,
                "this enrolment's role does not fit the deployment",
            )),
        }
    }

    /// `POST /v1/admin/revoke` (operator).
    pub fn revoke(&self, source: &str, req: &RevokeRequest) -> Result<RevokeResponse> {
        let id = identity(&req.identity)?;
        let reason = req.reason.clone().unwrap_or_default();
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let at = self.audited(
            source,
            "revoke",
            |tx, now| {
                let at = store::revoke(tx, id.as_str(), &reason, now)?;
                Ok((at, Some(id.to_string()), format!("reason={reason}")))
            },
            Some(id.as_str()),
        )?;
        Ok(RevokeResponse {
            identity: id.to_string(),
            revoked_at: at,
        })
    }

    /// `GET /v1/admin/enrolments` (operator).
    pub fn list(&self) -> Result<Vec<EnrolmentRecord>> {
        let now = self.now();
        Ok(self.store()?.list(now)?)
    }

    /// `POST /v1/admin/server-secret` (operator, CS): this D-TA's share of
    /// the server secret.
    pub fn server_secret(&self, source: &str) -> Result<ShareResponse> {
        let share = self.audited(
            source,
            "server-secret",
            |_, _| {
                let s = self.master.issue_cs_server_secret().map_err(issue_err)?;
                Ok((pem(&s)?, None, "cs-server-secret".into()))
            },
            None,
        )?;
        Ok(ShareResponse { share })
    }

    /// `POST /v1/admin/p2p-server-key` (operator, P2P): this D-TA's share of
    /// a server key for the previous, current or next epoch.
    pub fn p2p_server_key(&self, source: &str, req: &P2pServerKeyRequest) -> Result<ShareResponse> {
        let id = identity(&req.identity)?;
        let share = self.audited(
            source,
            "p2p-server-key",
            |tx, now| {
                let Deployment::P2p(p) = self.deployment() else {
                    return Err(ApiError::new(
                        ErrorCode::WrongKind,
                        "this D-TA serves a CS deployment",
                    ));
                };
                if store::is_revoked(tx, id.as_str())? {
                    return Err(ApiError::new(
                        ErrorCode::Revoked,
                        format!("{id} is revoked at this D-TA"),
                    ));
                }
                let epoch = req
                    .epoch
                    .unwrap_or_else(|| p2p_tls::client_epoch(now, p.epoch_seconds));
                check_epoch(epoch, now, p.epoch_seconds, true)?;
                let s = self
                    .master
                    .issue_p2p_server_key(&id, epoch)
                    .map_err(issue_err)?;
                Ok((
                    pem(&s)?,
                    Some(id.to_string()),
                    format!("p2p-server epoch={epoch}"),
                ))
            },
            Some(id.as_str()),
        )?;
        Ok(ShareResponse { share })
    }

    /// `GET /v1/admin/audit` (operator).
    pub fn audit_page(&self, after: u64, limit: u64) -> Result<AuditPage> {
        let (entries, head) = self.store()?.audit_page(after, limit.clamp(1, 1000))?;
        Ok(AuditPage { entries, head })
    }
}

trait WithDetail: Sized {
    fn with_detail(self, d: String) -> (Self, String) {
        (self, d)
    }
}
impl WithDetail for EnrolResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_days_today_and_tomorrow_only() {
        let now = 20_000 * 86_400 + 100;
        assert!(check_permit_day(20_000, now).is_ok());
        assert!(check_permit_day(20_001, now).is_ok());
        assert_eq!(
            check_permit_day(20_002, now).unwrap_err().code,
            ErrorCode::DayOutOfRange
        );
        assert_eq!(
            check_permit_day(19_999, now).unwrap_err().code,
            ErrorCode::DayOutOfRange
        );
        assert!(
            check_permit_day(20_002, now)
                .unwrap_err()
                .message
                .contains("§5.5")
        );
    }

    #[test]
    fn epochs_current_and_next_only() {
        let now = 50 * 3_600 + 35;
        assert!(check_epoch(50, now, 3_600, false).is_ok());
        assert!(check_epoch(51, now, 3_600, false).is_ok());
        assert!(check_epoch(49, now, 3_600, false).is_err());
        assert!(check_epoch(49, now, 3_600, true).is_ok());
        assert!(check_epoch(48, now, 3_600, true).is_err());
        assert!(check_epoch(52, now, 3_600, true).is_err());
        // Five seconds into epoch 50 a client still uses epoch 49
        // (docs/protocol.md §7.2), so a key for it is still issued.
        let early = 50 * 3_600 + 5;
        assert!(check_epoch(49, early, 3_600, false).is_ok());
        assert!(check_epoch(48, early, 3_600, false).is_err());
        assert!(check_epoch(48, early, 3_600, true).is_ok());
        assert!(check_epoch(51, early, 3_600, false).is_ok());
        assert!(check_epoch(52, early, 3_600, false).is_err());
    }

    #[test]
    fn operator_tokens_compare_hashes() {
        let t = OperatorTokens::Hashes(vec![token_hash("right")]);
        assert!(t.accepts("right").unwrap());
        assert!(!t.accepts("wrong").unwrap());
        let parsed = parse_token_hashes(&format!("# c\n\n{}\nzz\n", hex::encode(token_hash("a"))));
        assert_eq!(parsed, vec![token_hash("a")]);
    }
}

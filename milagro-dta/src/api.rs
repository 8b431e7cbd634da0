//! The wire types of the D-TA's HTTP API (JSON), shared by the service and
//! the client. `docs/dta.md` documents each endpoint.

use serde::{Deserialize, Serialize};

/// Every refusal's machine-readable code (the `error.code` field of the
/// JSON error body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, missing or invalid field).
    BadRequest,
    /// The request body exceeds the service's limit.
    BodyTooLarge,
    /// No such endpoint.
    NotFound,
    /// The endpoint exists but not with this method.
    MethodNotAllowed,
    /// The operator token is missing or wrong.
    Unauthorized,
    /// The enrolment ticket is not known to this D-TA.
    TicketUnknown,
    /// The enrolment ticket was already used (single use).
    TicketUsed,
    /// The enrolment ticket has expired.
    TicketExpired,
    /// The renewal credential is missing or not known to this D-TA.
    CredentialUnknown,
    /// The identity is revoked at this D-TA.
    Revoked,
    /// The request does not fit this D-TA's suite or the enrolment's role.
    WrongKind,
    /// The requested day is outside what this D-TA issues now.
    DayOutOfRange,
    /// The requested epoch is outside what this D-TA issues now.
    EpochOutOfRange,
    /// The identity is not a valid identity.
    IdentityInvalid,
    /// Too many requests from this source; retry later.
    RateLimited,
    /// The service failed internally (storage); nothing was issued.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::BodyTooLarge => "body_too_large",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unauthorized => "unauthorized",
            Self::TicketUnknown => "ticket_unknown",
            Self::TicketUsed => "ticket_used",
            Self::TicketExpired => "ticket_expired",
            Self::CredentialUnknown => "credential_unknown",
            Self::Revoked => "revoked",
            Self::WrongKind => "wrong_kind",
            Self::DayOutOfRange => "day_out_of_range",
            Self::EpochOutOfRange => "epoch_out_of_range",
            Self::IdentityInvalid => "identity_invalid",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status the service answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::IdentityInvalid | Self::WrongKind => 400,
            Self::DayOutOfRange | Self::EpochOutOfRange => 400,
            Self::Unauthorized | Self::CredentialUnknown | Self::TicketUnknown => 401,
            Self::Revoked => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::TicketUsed | Self::TicketExpired => 410,
            Self::BodyTooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every refusal: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The refusal.
    pub error: ErrorDetail,
}

/// A refusal's code and human-readable message (never secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

/// `GET /v1/info`: the D-TA's public parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// `"cs"` or `"p2p"`.
    pub suite: String,
    /// The deployment id (32 hex digits).
    pub deployment: String,
    /// The deployment's number of D-TAs.
    pub dta_count: u8,
    /// CS: `"required"` or `"off"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permits: Option<String>,
    /// P2P: the epoch length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_seconds: Option<u32>,
    /// This D-TA's id (16 hex digits).
    pub dta: String,
    /// The D-TA's clock (unix seconds).
    pub now: u64,
}

/// What an enrolment issues: a CS client, a P2P client or a P2P server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// CS: a client secret share at enrolment, time-permit shares at renewal.
    CsClient,
    /// P2P: client key (G2) shares per epoch.
    P2pClient,
    /// P2P: server key (G1) shares per epoch.
    P2pServer,
}

impl Role {
    /// The role as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CsClient => "cs-client",
            Self::P2pClient => "p2p-client",
            Self::P2pServer => "p2p-server",
        }
    }

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cs-client" => Some(Self::CsClient),
            "p2p-client" => Some(Self::P2pClient),
            "p2p-server" => Some(Self::P2pServer),
            _ => None,
        }
    }
}

/// `POST /v1/admin/enrolments` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateEnrolment {
    /// The identity to enrol (canonicalised by the D-TA).
    pub identity: String,
    /// The role; defaults to the suite's client role.
    #[serde(default)]
    pub role: Option<Role>,
    /// How long the ticket stays valid, in seconds (default and cap: the
    /// service's `--ticket-ttl`).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// `POST /v1/admin/enrolments` response: the one-time ticket, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolmentTicket {
    /// The canonical identity.
    pub identity: String,
    /// The role.
    pub role: Role,
    /// The ticket (64 hex digits): hand it to the user out of band.
    pub ticket: String,
    /// When it expires (unix seconds, D-TA clock).
    pub expires_at: u64,
}

/// One row of `GET /v1/admin/enrolments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolmentRecord {
    /// The canonical identity.
    pub identity: String,
    /// The role.
    pub role: Role,
    /// `pending`, `enrolled` or `expired`.
    pub state: String,
    /// When the ticket was created.
    pub created_at: u64,
    /// When the ticket expires.
    pub expires_at: u64,
    /// When the ticket was used.
    pub used_at: Option<u64>,
    /// Whether the identity is revoked at this D-TA.
    pub revoked: bool,
}

/// `POST /v1/enrol` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The enrolment ticket.
    pub ticket: String,
}

/// `POST /v1/enrol` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The canonical identity.
    pub identity: String,
    /// The role.
    pub role: Role,
    /// This D-TA's share, a PEM key file: a CS client secret share, or a P2P
    /// key share for the epoch a client uses now by the D-TA's clock
    /// ([`milagro_tls::p2p_tls::client_epoch`]).
    pub share: String,
    /// CS with permits required: the share of today's time permit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<String>,
    /// The renewal credential (64 hex digits), shown once; the D-TA keeps only its hash.
    pub renewal_credential: String,
}

/// `POST /v1/renew` request (credential in `Authorization: Bearer`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RenewRequest {
    /// CS: the permit day (default: the D-TA's today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    /// P2P: the epoch (default: the epoch a client uses now by the D-TA's
    /// clock, [`milagro_tls::p2p_tls::client_epoch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
}

/// A response carrying one share (renewal and the operator's key issuance).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareResponse {
    /// The share, a PEM key file.
    pub share: String,
}

/// `POST /v1/admin/revoke` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeRequest {
    /// The identity to revoke.
    pub identity: String,
    /// Why (kept in the audit log; not secret).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /v1/admin/revoke` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeResponse {
    /// The canonical identity.
    pub identity: String,
    /// When (unix seconds, D-TA clock).
    pub revoked_at: u64,
}

/// `POST /v1/admin/p2p-server-key` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct P2pServerKeyRequest {
    /// The server identity (ID_A).
    pub identity: String,
    /// The epoch (default: the epoch a client uses now by the D-TA's clock,
    /// [`milagro_tls::p2p_tls::client_epoch`]).
    #[serde(default)]
    pub epoch: Option<u32>,
}

/// One audit log entry (nothing secret: identities, kinds, days, epochs,
/// sources, outcome codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The entry's sequence number, from 1, without gaps.
    pub seq: u64,
    /// When (unix seconds, D-TA clock).
    pub at: u64,
    /// The request's source address, or `local`.
    pub source: String,
    /// What was asked (`enrol`, `renew`, `revoke`, …).
    pub event: String,
    /// `ok` or the refusal code.
    pub outcome: String,
    /// The identity concerned, if any.
    pub identity: Option<String>,
    /// Details (kind, day, epoch).
    pub detail: String,
    /// The previous entry's hash (hex; zeros for the first).
    pub prev: String,
    /// This entry's hash (hex).
    pub hash: String,
}

/// `GET /v1/admin/audit` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, in order.
    pub entries: Vec<AuditEntry>,
    /// The hash of the newest entry (record it to detect a truncated log).
    pub head: String,
}

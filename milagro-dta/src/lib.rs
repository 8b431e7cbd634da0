//! `milagro-dta`: a Milagro Distributed Trust Authority (D-TA) as an HTTPS
//! service, and the client side that enrols and renews through the n D-TAs
//! of a deployment.
//!
//! A D-TA holds one master share `s_i` (a key file, mode 0600, never in the
//! database) and serves one deployment: it issues its share `s_i·X` of a
//! client's key at enrolment (against a one-time ticket the operator
//! created), its share of daily time permits (CS) or per-epoch keys (P2P) at
//! renewal (against the long-lived renewal credential issued at enrolment),
//! and nothing to a revoked identity. Because every key needs all n shares,
//! one D-TA can deny service but never forge a key (docs/dta.md).
//!
//! * [`service::Dta`]: the logic (SQLite state, audit log, issuance rules).
//! * [`server::serve`]: the HTTPS front end with its limits.
//! * [`Client`]: the client of one D-TA; [`enrol`]: enrolment and renewal
//!   through all of them, combined in memory.
//! * [`renewer`]: keeps a long-running service's permit or epoch key current
//!   and swaps it in without dropping connections.
//! * [`store`]: the database and the hash-chained audit log.
#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod clock;
pub mod enrol;
pub mod renewer;
pub mod server;
pub mod service;
pub mod store;

pub use client::{
    CaFileProblem, Client, ClientError, ProtocolProblem, Trust, Unreachable, UrlProblem,
};
pub use clock::{Clock, OffsetClock, SystemClock};
pub use enrol::{Credentials, EnrolError, Enrolled, EnrolledKey, Period, Renewed};
pub use service::Dta;

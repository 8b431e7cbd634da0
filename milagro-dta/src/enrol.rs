//! Talking to all n D-TAs of a deployment: enrolment (every D-TA's share,
//! checked to belong to one deployment, combined in memory) and renewal
//! (today's permit or an epoch's key from every D-TA, combined).
//!
//! Before any ticket is presented, every D-TA's `/v1/info` is fetched and
//! checked (one deployment, distinct D-TAs, as many as the deployment has):
//! a D-TA that is down or foreign fails the enrolment before any ticket is
//! consumed. A D-TA that fails between its `info` and its `enrol` leaves
//! the tickets already redeemed at the others used; the operator issues new
//! ones (docs/dta.md, "Operations").

use milagro_tls::dta::{Combine, DtaError};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::{AnyKey, from_pem_any};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsTimePermit, Deployment, DeploymentId, DtaId, P2pClientKey,
    P2pDeployment, P2pServerKey, PermitPolicy, Share, day_of,
};
use milagro_tls::p2p_tls;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::api::{Info, RenewRequest, Role};
use crate::client::{Client, ClientError};

/// Why an enrolment or a renewal through n D-TAs failed. Every variant that
/// concerns one D-TA names its URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// A D-TA failed or refused (its URL is in the message).
    #[error(transparent)]
    Dta(#[from] ClientError),
    /// No D-TA was given.
    #[error("no D-TA given")]
    NoDta,
    /// A renewal needs one client per D-TA credential, in the same order.
    #[error(
        "{credentials} D-TA credentials but {clients} D-TA clients: one client per credential is needed"
    )]
    ClientsDoNotMatchCredentials {
        /// The D-TA credentials held.
        credentials: usize,
        /// The D-TA clients given.
        clients: usize,
    },
    /// A D-TA serves another deployment than the first one.
    #[error(
        "D-TA {url} serves deployment {found}, but D-TA {first_url} serves {first}: they are not one deployment"
    )]
    OtherDeployment {
        /// The D-TA that differs.
        url: String,
        /// Its deployment (suite, id, parameters).
        found: String,
        /// The first D-TA.
        first_url: String,
        /// The first D-TA's deployment.
        first: String,
    },
    /// Two URLs are the same D-TA.
    #[error("D-TAs {first} and {second} are the same D-TA ({dta})")]
    DuplicateDta {
        /// One URL.
        first: String,
        /// The other.
        second: String,
        /// The D-TA id.
        dta: String,
    },
    /// The number of D-TAs given is not the deployment's.
    #[error("the deployment has {expected} D-TAs; {got} were given")]
    WrongCount {
        /// The deployment's dta_count.
        expected: u8,
        /// How many were given.
        got: usize,
    },
    /// A D-TA's answer does not fit (wrong kind, deployment, D-TA id or identity).
    #[error("D-TA {url}: {problem}")]
    BadShare {
        /// The D-TA.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The shares do not combine.
    #[error("the D-TAs' shares do not combine: {0}")]
    Combine(#[from] DtaError),
}

/// One D-TA's renewal credential, as kept by the client.
#[derive(Clone, Serialize, Deserialize)]
pub struct DtaCredential {
    /// The D-TA's URL.
    pub url: String,
    /// The D-TA's id (16 hex digits).
    pub dta: String,
    /// The renewal credential (a secret).
    pub credential: String,
}

impl core::fmt::Debug for DtaCredential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DtaCredential")
            .field("url", &self.url)
            .field("dta", &self.dta)
            .field("credential", &"<redacted>")
            .finish()
    }
}

impl Drop for DtaCredential {
    fn drop(&mut self) {
        self.credential.zeroize();
    }
}

/// The renewal credentials of one enrolment at every D-TA (the
/// `--credentials` file of `milagro enroll`/`renew`, JSON, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// Format version (1).
    pub version: u32,
    /// The deployment's public parameters as the D-TAs describe them.
    pub deployment: Info,
    /// The canonical identity.
    pub identity: String,
    /// The role enrolled.
    pub role: Role,
    /// One entry per D-TA.
    pub dtas: Vec<DtaCredential>,
}

/// The long-lived key an enrolment yields.
pub enum EnrolledKey {
    /// CS: the full client secret (turn it into a token with a PIN; never store it).
    CsClientSecret(CsClientSecret),
    /// P2P client key for the D-TAs' current epoch.
    P2pClient(P2pClientKey),
    /// P2P server key for the D-TAs' current epoch.
    P2pServer(P2pServerKey),
}

/// A key renewed through every D-TA.
pub enum Renewed {
    /// A CS time permit.
    Permit(CsTimePermit),
    /// A P2P client key.
    P2pClient(P2pClientKey),
    /// A P2P server key.
    P2pServer(P2pServerKey),
}

impl Renewed {
    /// The permit's day or the key's epoch.
    pub fn period(&self) -> u32 {
        match self {
            Self::Permit(p) => p.day(),
            Self::P2pClient(k) => k.epoch(),
            Self::P2pServer(k) => k.epoch(),
        }
    }
}

/// The result of an enrolment.
pub struct Enrolled {
    /// The deployment.
    pub deployment: Deployment,
    /// The enrolled identity.
    pub identity: Identity,
    /// The combined key.
    pub key: EnrolledKey,
    /// CS with permits required: today's combined permit.
    pub permit: Option<CsTimePermit>,
    /// The renewal credentials to keep.
    pub credentials: Credentials,
}

/// The public deployment of a D-TA's `info`, as a typed value.
pub fn deployment_of(info: &Info) -> Option<Deployment> {
    let id = DeploymentId(hex::decode(&info.deployment).ok()?.try_into().ok()?);
    match (
        info.suite.as_str(),
        info.permits.as_deref(),
        info.epoch_seconds,
    ) {
        ("cs", Some(p), None) => Some(Deployment::Cs(CsDeployment {
            id,
            dta_count: info.dta_count,
            permits: match p {
                "required" => PermitPolicy::Required,
                "off" => PermitPolicy::Off,
                _ => return None,
            },
        })),
        ("p2p", None, Some(l)) => Some(Deployment::P2p(P2pDeployment {
            id,
            dta_count: info.dta_count,
            epoch_seconds: l,
        })),
        _ => None,
    }
}

fn describe(info: &Info) -> String {
    match (&info.permits, info.epoch_seconds) {
        (Some(p), _) => format!(
            "{} {} (n={}, permits {p})",
            info.suite, info.deployment, info.dta_count
        ),
        (_, Some(l)) => format!(
            "{} {} (n={}, epoch {l} s)",
            info.suite, info.deployment, info.dta_count
        ),
        _ => format!("{} {}", info.suite, info.deployment),
    }
}

/// Fetches every D-TA's `info` and checks that they are the n distinct
/// D-TAs of one deployment. Returns the infos in the clients' order.
pub async fn check_deployment(clients: &[Client]) -> Result<(Deployment, Vec<Info>), EnrolError> {
    let first_client = clients.first().ok_or(EnrolError::NoDta)?;
    let mut infos = Vec::with_capacity(clients.len());
    for c in clients {
        infos.push(c.info().await?);
    }
    let first = &infos[0];
    let deployment = deployment_of(first).ok_or_else(|| EnrolError::BadShare {
        url: first_client.url().to_owned(),
        problem: "its deployment description is malformed".into(),
    })?;
    for (i, (c, info)) in clients.iter().zip(&infos).enumerate() {
        if deployment_of(info) != Some(deployment) {
            return Err(EnrolError::OtherDeployment {
                url: c.url().to_owned(),
                found: describe(info),
                first_url: first_client.url().to_owned(),
                first: describe(first),
            });
        }
        if let Some(j) = infos[..i].iter().position(|o| o.dta == info.dta) {
            return Err(EnrolError::DuplicateDta {
                first: clients[j].url().to_owned(),
                second: c.url().to_owned(),
                dta: info.dta.clone(),
            });
        }
    }
    if usize::from(deployment.dta_count()) != clients.len() {
        return Err(EnrolError::WrongCount {
            expected: deployment.dta_count(),
            got: clients.len(),
        });
    }
    Ok((deployment, infos))
}

fn parse_share(
    url: &str,
    info: &Info,
    deployment: Deployment,
    pem: &str,
) -> Result<AnyKey, EnrolError> {
    let bad = |problem: String| EnrolError::BadShare {
        url: url.to_owned(),
        problem,
    };
    let key = from_pem_any(pem).map_err(|e| bad(format!("its share does not decode: {e}")))?;
    let dta = key.dta().map(|d: DtaId| d.to_string());
    if dta.as_deref() != Some(info.dta.as_str()) {
        return Err(bad(format!(
            "its share is not from its own D-TA id {} (found {})",
            info.dta,
            dta.unwrap_or_else(|| "none".into())
        )));
    }
    if key.deployment() != deployment {
        return Err(bad("its share belongs to another deployment".into()));
    }
    Ok(key)
}

fn take<K: Combine>(
    url: &str,
    key: AnyKey,
    pick: fn(AnyKey) -> Option<Share<K>>,
) -> Result<Share<K>, EnrolError> {
    let label = key.label();
    pick(key).ok_or_else(|| EnrolError::BadShare {
        url: url.to_owned(),
        problem: format!("unexpected share kind {label}"),
    })
}

fn cs_secret(k: AnyKey) -> Option<Share<CsClientSecret>> {
    match k {
        AnyKey::CsClientSecretShare(s) => Some(s),
        _ => None,
    }
}
fn cs_permit(k: AnyKey) -> Option<Share<CsTimePermit>> {
    match k {
        AnyKey::CsTimePermitShare(s) => Some(s),
        _ => None,
    }
}
fn p2p_client(k: AnyKey) -> Option<Share<P2pClientKey>> {
    match k {
        AnyKey::P2pClientKeyShare(s) => Some(s),
        _ => None,
    }
}
fn p2p_server(k: AnyKey) -> Option<Share<P2pServerKey>> {
    match k {
        AnyKey::P2pServerKeyShare(s) => Some(s),
        _ => None,
    }
}

/// Enrols at every D-TA: `pairs` are each D-TA's client and the ticket its
/// operator issued. Checks the deployment first (see the module docs), then
/// redeems every ticket and combines. The combined key exists only in the
/// returned value.
pub async fn enrol_all(pairs: &[(Client, String)]) -> Result<Enrolled, EnrolError> {
    let clients: Vec<Client> = pairs.iter().map(|(c, _)| c.clone()).collect();
    let (deployment, infos) = check_deployment(&clients).await?;
    let mut responses = Vec::with_capacity(pairs.len());
    for (c, ticket) in pairs {
        responses.push(c.enrol(ticket).await?);
    }
    let first = &responses[0];
    let (role, ident) = (first.role, first.identity.clone());
    for ((c, _), r) in pairs.iter().zip(&responses) {
        if r.role != role || r.identity != ident {
            return Err(EnrolError::BadShare {
                url: c.url().to_owned(),
                problem: format!(
                    "its ticket is for {} ({}), but the first D-TA's is for {ident} ({})",
                    r.identity,
                    r.role.as_str(),
                    role.as_str()
                ),
            });
        }
    }
    let identity =
        Identity::from_canonical_bytes(ident.as_bytes()).map_err(|e| EnrolError::BadShare {
            url: pairs[0].0.url().to_owned(),
            problem: format!("identity: {e}"),
        })?;
    let mut keys = Vec::new();
    let mut permits = Vec::new();
    for (((c, _), r), info) in pairs.iter().zip(&responses).zip(&infos) {
        keys.push(parse_share(c.url(), info, deployment, &r.share)?);
        if let Some(p) = &r.permit {
            permits.push(take(
                c.url(),
                parse_share(c.url(), info, deployment, p)?,
                cs_permit,
            )?);
        }
    }
    let urls: Vec<String> = clients.iter().map(|c| c.url().to_owned()).collect();
    let key = match role {
        Role::CsClient => {
            let shares = keys
                .into_iter()
                .zip(&urls)
                .map(|(k, u)| take(u, k, cs_secret))
                .collect::<Result<Vec<_>, _>>()?;
            EnrolledKey::CsClientSecret(CsClientSecret::combine(&shares)?)
        }
        Role::P2pClient => {
            let shares = keys
                .into_iter()
                .zip(&urls)
                .map(|(k, u)| take(u, k, p2p_client))
                .collect::<Result<Vec<_>, _>>()?;
            EnrolledKey::P2pClient(P2pClientKey::combine(&shares)?)
        }
        Role::P2pServer => {
            let shares = keys
                .into_iter()
                .zip(&urls)
                .map(|(k, u)| take(u, k, p2p_server))
                .collect::<Result<Vec<_>, _>>()?;
            EnrolledKey::P2pServer(P2pServerKey::combine(&shares)?)
        }
    };
    let permit = match (deployment, permits.is_empty()) {
        (Deployment::Cs(c), false) if c.permits == PermitPolicy::Required => {
            Some(CsTimePermit::combine(&permits)?)
        }
        (Deployment::Cs(c), true) if c.permits == PermitPolicy::Required => {
            return Err(EnrolError::BadShare {
                url: urls[0].clone(),
                problem: "no time permit share, but the deployment requires permits".into(),
            });
        }
        _ => None,
    };
    let credentials = Credentials {
        version: 1,
        deployment: Info {
            now: 0,
            dta: String::new(),
            ..infos[0].clone()
        },
        identity: identity.to_string(),
        role,
        dtas: pairs
            .iter()
            .zip(&responses)
            .zip(&infos)
            .map(|(((c, _), r), info)| DtaCredential {
                url: c.url().to_owned(),
                dta: info.dta.clone(),
                credential: r.renewal_credential.clone(),
            })
            .collect(),
    };
    Ok(Enrolled {
        deployment,
        identity,
        key,
        permit,
        credentials,
    })
}

/// Which period a renewal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Period {
    /// The first D-TA's current day, or the epoch a client uses now by its
    /// clock ([`p2p_tls::client_epoch`]).
    Current,
    /// The first D-TA's next day or epoch.
    Next,
    /// This day (CS) or epoch (P2P).
    Exactly(u32),
}

/// Renews through every D-TA of `credentials` (`clients` in the same order,
/// one per entry): fetches every share of the permit or key for `period`
/// and combines them. The first D-TA's clock decides "current"/"next". A
/// D-TA that refuses (revoked, credential unknown) or is down fails the
/// renewal, naming it.
pub async fn renew_all(
    credentials: &Credentials,
    clients: &[Client],
    period: Period,
) -> Result<Renewed, EnrolError> {
    if clients.len() != credentials.dtas.len() {
        return Err(EnrolError::ClientsDoNotMatchCredentials {
            credentials: credentials.dtas.len(),
            clients: clients.len(),
        });
    }
    let (deployment, infos) = check_deployment(clients).await?;
    let expected = deployment_of(&credentials.deployment);
    if expected != Some(deployment) {
        return Err(EnrolError::OtherDeployment {
            url: clients[0].url().to_owned(),
            found: describe(&infos[0]),
            first_url: "the credentials file".into(),
            first: describe(&credentials.deployment),
        });
    }
    for ((c, info), cred) in clients.iter().zip(&infos).zip(&credentials.dtas) {
        if info.dta != cred.dta {
            return Err(EnrolError::BadShare {
                url: c.url().to_owned(),
                problem: format!(
                    "it is D-TA {}, but the credential is for D-TA {}",
                    info.dta, cred.dta
                ),
            });
        }
    }
    let now = infos[0].now;
    let current = match deployment {
        Deployment::Cs(_) => day_of(now),
        // The epoch a client uses now (docs/protocol.md §7.2).
        Deployment::P2p(p) => p2p_tls::client_epoch(now, p.epoch_seconds),
    };
    let target = match period {
        Period::Current => current,
        Period::Next => current.saturating_add(1),
        Period::Exactly(p) => p,
    };
    let req = match deployment {
        Deployment::Cs(_) => RenewRequest {
            day: Some(target),
            epoch: None,
        },
        Deployment::P2p(_) => RenewRequest {
            day: None,
            epoch: Some(target),
        },
    };
    let mut keys = Vec::new();
    for ((c, info), cred) in clients.iter().zip(&infos).zip(&credentials.dtas) {
        let r = c.renew(&cred.credential, &req).await?;
        keys.push((
            c.url().to_owned(),
            parse_share(c.url(), info, deployment, &r.share)?,
        ));
    }
    let ident = &credentials.identity;
    for (url, k) in &keys {
        if k.identity().map(|i| i.as_str()) != Some(ident.as_str()) {
            return Err(EnrolError::BadShare {
                url: url.clone(),
                problem: format!("its share is not for {ident}"),
            });
        }
    }
    Ok(match credentials.role {
        Role::CsClient => {
            let s = keys
                .into_iter()
                .map(|(u, k)| take(&u, k, cs_permit))
                .collect::<Result<Vec<_>, _>>()?;
            Renewed::Permit(CsTimePermit::combine(&s)?)
        }
        Role::P2pClient => {
            let s = keys
                .into_iter()
                .map(|(u, k)| take(&u, k, p2p_client))
                .collect::<Result<Vec<_>, _>>()?;
            Renewed::P2pClient(P2pClientKey::combine(&s)?)
        }
        Role::P2pServer => {
            let s = keys
                .into_iter()
                .map(|(u, k)| take(&u, k, p2p_server))
                .collect::<Result<Vec<_>, _>>()?;
            Renewed::P2pServer(P2pServerKey::combine(&s)?)
        }
    })
}

//! `milagro enroll` and `milagro renew`: the key tool's side of the D-TA
//! services (`milagro-dta`). The full CS client secret exists only in
//! memory: it is combined, the PIN is extracted, and only the token is
//! written. Nothing is written unless every D-TA answered and every share
//! combined; the output files are checked to be writable (absent, or
//! `--force`) before any ticket is presented.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use milagro_dta::client::tls_config;
use milagro_dta::enrol::{Credentials, EnrolledKey, Period, Renewed, enrol_all, renew_all};
use milagro_dta::{Client, Trust};
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{Deployment, PermitPolicy};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use zeroize::Zeroizing;

use super::PinPrompt;
use super::error::KeyToolError;
use super::files::{read_text, write_secret};

type Result<T> = std::result::Result<T, KeyToolError>;

/// `milagro enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// A D-TA's URL (https://host:port), once per D-TA, each followed by its --ticket.
    #[arg(long = "dta", value_name = "URL", required = true)]
    pub dtas: Vec<String>,
    /// The enrolment ticket the D-TA's operator gave you, in the same order as --dta.
    #[arg(long = "ticket", value_name = "TICKET", required = true)]
    pub tickets: Vec<String>,
    /// Trust only this CA certificate (PEM) for the D-TAs; default: the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Where to write the renewal credentials (JSON, mode 0600; keep it for `milagro renew`).
    #[arg(long, value_name = "FILE")]
    pub credentials: PathBuf,
    /// CS: where to write the token.
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,
    /// CS with permits required: where to write today's time permit.
    #[arg(long, value_name = "FILE")]
    pub permit: Option<PathBuf>,
    /// P2P: where to write the key for the current epoch.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CS: the PIN (scripts and tests only: visible to other users). Omit it to be asked.
    #[arg(long, value_name = "PIN", conflicts_with = "pin_file")]
    pub pin: Option<String>,
    /// CS: read the PIN from the first line of FILE (for scripts: unlike
    /// --pin, not visible in the process list).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// CS: the deployment's PIN length (1–6).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub pin_digits: u8,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
}

/// `milagro renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The renewal credentials written by `milagro enroll`.
    #[arg(long, value_name = "FILE")]
    pub credentials: PathBuf,
    /// Where to write the permit or key.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Trust only this CA certificate (PEM) for the D-TAs; default: the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The next day or epoch (default for P2P).
    #[arg(long, conflicts_with_all = ["current", "period"])]
    pub next: bool,
    /// The current day or epoch (default for CS).
    #[arg(long, conflicts_with = "period")]
    pub current: bool,
    /// Exactly this day (CS) or epoch (P2P).
    #[arg(long, value_name = "N")]
    pub period: Option<u32>,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KeyToolError::Usage(format!("cannot start the async runtime: {e}")))
}

fn clients(urls: &[String], ca: Option<&Path>) -> Result<Vec<Client>> {
    let trust = match ca {
        Some(p) => Trust::CaFile(p.to_owned()),
        None => Trust::System,
    };
    let tls = tls_config(&trust).map_err(|e| KeyToolError::Usage(e.to_string()))?;
    urls.iter()
        .map(|u| Client::new(u, tls.clone()).map_err(|e| KeyToolError::Usage(e.to_string())))
        .collect()
}

fn check_writable(path: &Path, force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(KeyToolError::Exists {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn write_key<K: KeyFile>(key: &K, path: &Path, force: bool) -> Result<()> {
    let pem = key.to_pem().map_err(|e| KeyToolError::key_file(path, e))?;
    write_secret(path, &pem, force)
}

fn read_pin(a: &EnrollArgs, pins: &dyn PinPrompt, digits: PinDigits) -> Result<Pin> {
    let text = match (&a.pin, &a.pin_file) {
        (Some(_), _) | (_, Some(_)) => {
            super::pin_text(a.pin.as_deref(), a.pin_file.as_deref(), pins, "")?
        }
        (None, None) => {
            if !pins.is_interactive() {
                return Err(KeyToolError::NoTerminal);
            }
            let first = pins.prompt(&format!("PIN ({} digits at most): ", digits.get()))?;
            let again = pins.prompt("PIN again: ")?;
            if *first != *again {
                return Err(KeyToolError::PinMismatch);
            }
            first
        }
    };
    // docs/protocol.md §5.7: PIN 0 would make the token the client secret itself.
    if !text.is_empty() && text.chars().all(|c| c == '0') {
        return Err(KeyToolError::Usage(
            "PIN 0 is refused: the token would be the client secret itself (one factor)".into(),
        ));
    }
    Pin::parse(&text, digits).map_err(KeyToolError::Pin)
}

/// Runs `milagro enroll`.
pub fn enroll(a: &EnrollArgs, out: &mut dyn Write, pins: &dyn PinPrompt) -> Result<()> {
    if a.dtas.len() != a.tickets.len() {
        return Err(KeyToolError::Usage(format!(
            "give one --ticket per --dta, in the same order ({} D-TAs, {} tickets)",
            a.dtas.len(),
            a.tickets.len()
        )));
    }
    for p in [&a.token, &a.permit, &a.key].into_iter().flatten() {
        check_writable(p, a.force)?;
    }
    check_writable(&a.credentials, a.force)?;
    let digits = PinDigits::new(a.pin_digits).map_err(KeyToolError::Pin)?;
    let clients = clients(&a.dtas, a.ca.as_deref())?;
    let rt = runtime()?;
    // The outputs the deployment needs are checked before any ticket is used.
    let (deployment, _) = rt.block_on(milagro_dta::enrol::check_deployment(&clients))?;
    match deployment {
        Deployment::Cs(c) => {
            if a.token.is_none() {
                return Err(KeyToolError::Usage(
                    "a CS enrolment needs --token FILE".into(),
                ));
            }
            if c.permits == PermitPolicy::Required && a.permit.is_none() {
                return Err(KeyToolError::Usage(
                    "this CS deployment requires time permits: give --permit FILE".into(),
                ));
            }
        }
        Deployment::P2p(_) => {
            if a.key.is_none() {
                return Err(KeyToolError::Usage(
                    "a P2P enrolment needs --key FILE".into(),
                ));
            }
        }
    }
    // The PIN is asked before the tickets are used, so a typo costs no ticket.
    let pin = match deployment {
        Deployment::Cs(_) => Some(read_pin(a, pins, digits)?),
        Deployment::P2p(_) => None,
    };
    let pairs: Vec<(Client, String)> = clients.into_iter().zip(a.tickets.iter().cloned()).collect();
    let enrolled = rt.block_on(enrol_all(&pairs))?;
    let credentials = Zeroizing::new(
        serde_json::to_string_pretty(&enrolled.credentials)
            .map_err(|e| KeyToolError::Usage(e.to_string()))?,
    );
    let what = match (&enrolled.key, pin, &a.token, &a.key) {
        (EnrolledKey::CsClientSecret(secret), Some(pin), Some(path), _) => {
            let token = extract_pin(secret, &pin).map_err(KeyToolError::Pin)?;
            write_key(&token, path, a.force)?;
            format!("CS token: {}", path.display())
        }
        (EnrolledKey::P2pClient(k), _, _, Some(path)) => {
            write_key(k, path, a.force)?;
            format!("P2P client key, epoch {}: {}", k.epoch(), path.display())
        }
        (EnrolledKey::P2pServer(k), _, _, Some(path)) => {
            write_key(k, path, a.force)?;
            format!("P2P server key, epoch {}: {}", k.epoch(), path.display())
        }
        _ => {
            return Err(KeyToolError::Usage(
                "the enrolment's kind does not fit the options".into(),
            ));
        }
    };
    let mut written = vec![what];
    if let (Some(permit), Some(path)) = (&enrolled.permit, &a.permit) {
        write_key(permit, path, a.force)?;
        written.push(format!(
            "time permit, day {}: {}",
            permit.day(),
            path.display()
        ));
    }
    write_secret(&a.credentials, &credentials, a.force)?;
    written.push(format!("renewal credentials: {}", a.credentials.display()));
    writeln!(
        out,
        "enrolled {} in {} deployment {} through {} D-TAs",
        enrolled.identity,
        enrolled.deployment.suite(),
        enrolled.deployment.id(),
        pairs.len()
    )
    .map_err(KeyToolError::Output)?;
    for w in written {
        writeln!(out, "  wrote {w} (mode 0600)").map_err(KeyToolError::Output)?;
    }
    Ok(())
}

/// Reads a renewal credentials file.
pub fn read_credentials(path: &Path) -> Result<Credentials> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| KeyToolError::Credentials {
        path: path.to_owned(),
        problem: format!("not a renewal credentials file: {e}"),
    })
}

/// Runs `milagro renew`.
pub fn renew(a: &RenewArgs, out: &mut dyn Write) -> Result<()> {
    check_writable(&a.out, a.force)?;
    let creds = read_credentials(&a.credentials)?;
    let urls: Vec<String> = creds.dtas.iter().map(|d| d.url.clone()).collect();
    let clients = clients(&urls, a.ca.as_deref())?;
    let period = match (a.period, a.next, a.current) {
        (Some(p), _, _) => Period::Exactly(p),
        (None, true, _) => Period::Next,
        (None, _, true) => Period::Current,
        (None, false, false) if creds.deployment.suite == "p2p" => Period::Next,
        _ => Period::Current,
    };
    let renewed = runtime()?.block_on(renew_all(&creds, &clients, period))?;
    let what = match &renewed {
        Renewed::Permit(p) => {
            write_key(p, &a.out, a.force)?;
            format!("time permit for day {}", p.day())
        }
        Renewed::P2pClient(k) => {
            write_key(k, &a.out, a.force)?;
            format!("P2P client key for epoch {}", k.epoch())
        }
        Renewed::P2pServer(k) => {
            write_key(k, &a.out, a.force)?;
            format!("P2P server key for epoch {}", k.epoch())
        }
    };
    writeln!(
        out,
        "renewed the {what} of {} through {} D-TAs: wrote {} (mode 0600)",
        creds.identity,
        urls.len(),
        a.out.display()
    )
    .map_err(KeyToolError::Output)
}

//! The arguments of `https-server` and `https-client`, and building the
//! server and the client from key files.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use hyper::{StatusCode, Uri};
use milagro_tls::MilagroError;
use milagro_tls::cs_tls;
use milagro_tls::guard::{Classifier, ClassifierError};
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::{Identity, IdentityError};
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsServerSecret, CsTimePermit, CsToken, P2pClientKey, P2pServerKey, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, PinError};
use milagro_tls::p2p_tls;
use milagro_tls_tokio::{BuildError, TlsAcceptor};
use tokio::net::TcpListener;

use super::{HttpsError, HttpsServer, MilagroHttpsClient};
use crate::keytool::files::read_text;
use crate::keytool::{KeyToolError, PinPrompt, pin_text};
use crate::standard::{StandardArgs, StandardError};

/// Classifier threads of the CS server (wrong-PIN searches).
const CLASSIFIER_WORKERS: usize = 2;

/// `https-server`: an HTTPS server greeting each authenticated client.
#[derive(Debug, Parser)]
#[command(name = "https-server", version, about)]
pub struct ServerArgs {
    /// The address to listen on, HOST:PORT (port 0: any free port; the one
    /// chosen is printed as `listening on ADDR`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Serve the CS suite with this combined CS server secret file.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "p2p_key",
        conflicts_with = "p2p_key"
    )]
    pub cs_server_secret: Option<PathBuf>,
    /// CS: the deployment's PIN length (1–6 digits; as given to `milagro token`).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub pin_digits: u8,
    /// Serve the P2P suite with this combined P2P server key file (the
    /// current epoch's).
    #[arg(long, value_name = "FILE")]
    pub p2p_key: Option<PathBuf>,
    /// P2P: the previous epoch's server key file, for clients a little behind.
    #[arg(long, value_name = "FILE", requires = "p2p_key")]
    pub p2p_previous_key: Option<PathBuf>,
    /// P2P: start (with a warning) even when neither key is for the current
    /// or the previous epoch; such a server refuses every client until its
    /// keys' epoch begins.
    #[arg(long, requires = "p2p_key")]
    pub allow_stale_keys: bool,
    /// Standard TLS clients on the same listener (answered
    /// `401 Unauthorized`: they have no Milagro identity).
    #[command(flatten)]
    pub standard: StandardArgs,
    /// Where the guard keeps lockout counts, the replay cache and the
    /// throttles: `memory` (this process) or `redis://host:port/db`
    /// (shared by every server using that Redis; Milagro handshakes are
    /// refused while it does not answer).
    #[arg(long, value_name = "STORE", default_value = "memory")]
    pub guard: String,
}

/// `https-client`: GET one URL over milagro-tls and print the body.
#[derive(Debug, Parser)]
#[command(name = "https-client", version, about)]
pub struct ClientArgs {
    /// The URL (`https://NAME[:PORT]/PATH`). NAME is the TLS server name;
    /// for P2P it is the server's identity.
    #[arg(long, value_name = "URL")]
    pub url: Uri,
    /// Connect to this address instead of resolving NAME.
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<SocketAddr>,
    /// CS: the token file (from `milagro token`).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "p2p_key",
        conflicts_with = "p2p_key"
    )]
    pub token: Option<PathBuf>,
    /// CS: the PIN. For scripts and tests only: a PIN on the command line is
    /// visible to other users of the machine. Omit it (and --pin-file) to be
    /// asked on the terminal.
    #[arg(
        long,
        value_name = "PIN",
        requires = "token",
        conflicts_with = "pin_file"
    )]
    pub pin: Option<String>,
    /// CS: read the PIN from the first line of FILE (for scripts: unlike
    /// --pin, not visible in the process list).
    #[arg(long, value_name = "FILE", requires = "token")]
    pub pin_file: Option<PathBuf>,
    /// CS: the deployment's PIN length.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub pin_digits: u8,
    /// CS: today's time permit file (deployments with permits).
    #[arg(long, value_name = "FILE", requires = "token")]
    pub permit: Option<PathBuf>,
    /// P2P: the combined P2P client key file.
    #[arg(long, value_name = "FILE")]
    pub p2p_key: Option<PathBuf>,
    /// P2P: refuse (before sending anything) any URL whose host is not this
    /// server identity.
    #[arg(long, value_name = "ID", requires = "p2p_key")]
    pub server_identity: Option<String>,
}

/// Why a program could not start or its request failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A key file could not be read or decoded.
    #[error(transparent)]
    Key(#[from] KeyToolError),
    /// `--guard` could not be used.
    #[error(transparent)]
    Guard(#[from] crate::guard_store::GuardSpecError),
    /// The PIN or PIN length is invalid.
    #[error("PIN: {0}")]
    Pin(#[from] PinError),
    /// The server identity is invalid.
    #[error("server identity: {0}")]
    Identity(#[from] IdentityError),
    /// The Milagro server configuration was refused.
    #[error("server configuration: {0}")]
    Milagro(#[from] MilagroError),
    /// The classifier could not start.
    #[error("classifier: {0}")]
    Classifier(#[from] ClassifierError),
    /// The token's deployment requires time permits and no `--permit` was given.
    #[error("{}: this deployment requires a daily time permit; pass --permit FILE (today's)", token.display())]
    MissingPermit {
        /// The token file.
        token: PathBuf,
    },
    /// `--cert` / `--key` could not be used.
    #[error(transparent)]
    Standard(#[from] StandardError),
    /// The standard configuration does not fit the Milagro acceptor.
    #[error("--cert/--key: {0}")]
    Build(#[from] BuildError),
    /// Listening failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address as given.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The HTTPS request failed.
    #[error(transparent)]
    Https(#[from] HttpsError),
}

/// Reads a key file of kind `K` (size-capped, every field checked).
pub fn load_key<K: KeyFile>(path: &Path) -> Result<K, CliError> {
    let text = read_text(path)?;
    K::from_pem(&text).map_err(|e| CliError::Key(KeyToolError::key_file(path, e)))
}

/// The server for `args`: CS with an in-memory guard (default policy) and a
/// classifier, or P2P with one or two epochs' keys and an in-memory guard
/// (default policy: its per-source throttle). P2P keys for neither the
/// current nor the previous epoch are refused, or, with
/// `--allow-stale-keys`, reported as a warning on standard error.
pub fn build_server(args: &ServerArgs) -> Result<HttpsServer, CliError> {
    build_server_with(args, Guard::in_memory(GuardPolicy::default()))
}

/// [`build_server`] with `guard` (e.g. one over a shared Redis store:
/// [`crate::guard_store::GuardSpec`]).
pub fn build_server_with(args: &ServerArgs, guard: Guard) -> Result<HttpsServer, CliError> {
    let sync = match (&args.cs_server_secret, &args.p2p_key) {
        (Some(ss), _) => {
            let ss: CsServerSecret = load_key(ss)?;
            let options =
                cs_tls::ServerOptions::new(guard.clone(), Classifier::new(CLASSIFIER_WORKERS)?)
                    .pin_digits(PinDigits::new(args.pin_digits)?);
            cs_tls::server(ss, options)?
        }
        (None, Some(current)) => {
            let current: P2pServerKey = load_key(current)?;
            let previous = match &args.p2p_previous_key {
                Some(p) => Some(load_key::<P2pServerKey>(p)?),
                None => None,
            };
            if args.allow_stale_keys {
                if let Err(stale) = p2p_tls::check_server_keys(&current, previous.as_ref()) {
                    eprintln!("warning: {stale}");
                }
            }
            let options = p2p_tls::ServerOptions::new()
                .guard(guard.clone())
                .allow_stale_keys(args.allow_stale_keys);
            p2p_tls::server(current, options.previous_key(previous))?
        }
        // clap requires one of the two.
        (None, None) => return Err(CliError::Milagro(MilagroError::SuiteMismatch)),
    };
    let mut acceptor = TlsAcceptor::new(sync);
    if let Some(standard) = args.standard.server_config()? {
        acceptor = acceptor.with_standard(standard)?;
    }
    Ok(HttpsServer::new(acceptor))
}

/// Builds the server, binds `args.listen`, writes `listening on ADDR` (the
/// bound address) to `out`, then serves until the listener fails.
pub async fn run_server(args: &ServerArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let spec = crate::guard_store::GuardSpec::parse(Some(&args.guard))?;
    let guard = spec
        .open(
            GuardPolicy::default(),
            std::sync::Arc::new(milagro_tls::guard::NoopObserver),
        )
        .await?;
    let server = build_server_with(args, guard)?;
    let listen_err = |source| CliError::Listen {
        addr: args.listen.clone(),
        source,
    };
    let listener = TcpListener::bind(args.listen.as_str())
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    // Only once serving is certain, so a refusal to start stays one line.
    eprintln!("guard state: {}", spec.describe());
    writeln!(out, "listening on {addr}").map_err(listen_err)?;
    out.flush().map_err(listen_err)?;
    server.serve(listener).await.map_err(listen_err)
}

/// The client for `args`; without `--pin` or `--pin-file` the PIN is
/// asked of `pins` (the terminal), and refused when nobody can be asked.
/// A token whose deployment requires permits, given without `--permit`, is
/// refused naming `--permit`.
pub fn build_client(
    args: &ClientArgs,
    pins: &dyn PinPrompt,
) -> Result<MilagroHttpsClient, CliError> {
    let client = match (&args.token, &args.p2p_key) {
        (Some(token_path), _) => {
            let token: CsToken = load_key(token_path)?;
            let permit = match &args.permit {
                Some(p) => Some(load_key::<CsTimePermit>(p)?),
                None if token.deployment().permits == PermitPolicy::Required => {
                    return Err(CliError::MissingPermit {
                        token: token_path.clone(),
                    });
                }
                None => None,
            };
            let digits = PinDigits::new(args.pin_digits)?;
            let text = pin_text(args.pin.as_deref(), args.pin_file.as_deref(), pins, "PIN: ")?;
            let pin = Pin::parse(text.trim(), digits)?;
            MilagroHttpsClient::cs(token, pin, permit)?
        }
        (None, Some(key)) => {
            let key: P2pClientKey = load_key(key)?;
            match &args.server_identity {
                Some(id) => MilagroHttpsClient::p2p_pinned(key, Identity::new(id)?)?,
                None => MilagroHttpsClient::p2p(key),
            }
        }
        // clap requires one of the two.
        (None, None) => return Err(CliError::Milagro(MilagroError::SuiteMismatch)),
    };
    Ok(match args.connect {
        Some(addr) => client.connect_to(addr),
        None => client,
    })
}

/// Builds the client (asking `pins` for the PIN if needed) and GETs `args.url`.
pub async fn run_client(
    args: &ClientArgs,
    pins: &dyn PinPrompt,
) -> Result<(StatusCode, String), CliError> {
    Ok(build_client(args, pins)?.get(&args.url).await?)
}

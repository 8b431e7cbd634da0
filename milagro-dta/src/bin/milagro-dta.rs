//! `milagro-dta`: run a D-TA service, verify its audit log, manage operator
//! tokens, and act as its operator. See docs/dta.md.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use milagro_dta::api::{CreateEnrolment, P2pServerKeyRequest, RevokeRequest, Role};
use milagro_dta::server::{Limits, serve};
use milagro_dta::service::{DEFAULT_TICKET_TTL, Dta, OperatorTokens, owner, random_token};
use milagro_dta::store::{Store, token_hash, verify_file};
use milagro_dta::{Client, Clock, OffsetClock, SystemClock, Trust, client::tls_config};
use milagro_tls::keyfile::{AnyKey, from_pem_any};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A Milagro Distributed Trust Authority as an HTTPS service.
#[derive(Debug, Parser)]
#[command(name = "milagro-dta", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the D-TA: serve one deployment with one master share.
    Serve(ServeArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Operator tokens (stored as SHA-256 hashes).
    #[command(subcommand, name = "operator-token")]
    OperatorToken(TokenCommand),
    /// Operator requests to a running D-TA (prints JSON).
    Admin(AdminArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// This D-TA's master share (from `milagro dta init`); must be mode 0600.
    #[arg(long, value_name = "FILE")]
    master: PathBuf,
    /// The SQLite database (created if missing, mode 0600).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// The TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The operator token hashes: one hex SHA-256 per line, re-read on every
    /// operator request (`milagro-dta operator-token new` appends one).
    #[arg(long, value_name = "FILE")]
    operator_tokens: PathBuf,
    /// Enrolment ticket lifetime (default and cap), seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TICKET_TTL)]
    ticket_ttl: u64,
    /// The largest request body, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024)]
    max_body: usize,
    /// Requests per second per source address.
    #[arg(long, value_name = "N", default_value_t = 10.0)]
    rate_per_sec: f64,
    /// Burst of requests per source address.
    #[arg(long, value_name = "N", default_value_t = 30.0)]
    rate_burst: f64,
    /// TESTS ONLY: shift the D-TA's clock by this many seconds.
    #[arg(long, value_name = "SECS", hide = true, allow_hyphen_values = true)]
    test_clock_offset: Option<i64>,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain (read-only). Exit 0 and print the
    /// entry count and head if intact; exit 1 naming the first broken entry.
    Verify {
        /// The D-TA's database.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// A head recorded earlier: also check that the log still contains it.
        #[arg(long, value_name = "HEX")]
        head: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a new random operator token: print it once, append its hash to FILE.
    New {
        /// The hash file the service reads (`--operator-tokens`).
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
    },
    /// Print the SHA-256 hash of a token read from standard input.
    Hash,
}

#[derive(Debug, Args)]
struct AdminArgs {
    /// The D-TA's URL (https://host:port).
    #[arg(long, value_name = "URL")]
    dta: String,
    /// Trust only this CA certificate (PEM) for the D-TA; default: system roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A file holding the operator token.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    #[command(subcommand)]
    what: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an enrolment: prints the one-time ticket.
    Enrol {
        /// The identity.
        identity: String,
        /// cs-client (CS), p2p-client or p2p-server (P2P); default: the suite's client.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// Ticket lifetime in seconds (capped by the service's --ticket-ttl).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Revoke an identity at this D-TA.
    Revoke {
        /// The identity.
        identity: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// List enrolments.
    List,
    /// CS: fetch this D-TA's server secret share into FILE.
    ServerSecret {
        /// Where to write the share (mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// P2P: fetch this D-TA's share of a server key into FILE.
    P2pServerKey {
        /// The server identity.
        identity: String,
        /// The epoch (default: the D-TA's current epoch).
        #[arg(long)]
        epoch: Option<u32>,
        /// Where to write the share (mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the audit log.
    Audit,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: cs-client, p2p-client or p2p-server"))
}

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => serve_cmd(a),
        Command::Audit(AuditCommand::Verify { db, head }) => audit_verify(&db, head.as_deref()),
        Command::OperatorToken(t) => token_cmd(t),
        Command::Admin(a) => admin_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("milagro-dta: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_master(path: &Path) -> Res<milagro_tls::keys::MasterShare> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{}: the master share is readable by others (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    match from_pem_any(&text).map_err(|e| format!("{}: {e}", path.display()))? {
        AnyKey::MasterShare(m) => Ok(m),
        other => Err(format!(
            "{}: expected a MILAGRO DTA MASTER SHARE, found {}",
            path.display(),
            other.label()
        )),
    }
}

fn server_tls(cert: &Path, key: &Path) -> Res<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate/key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn serve_cmd(a: ServeArgs) -> Res<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let master = load_master(&a.master)?;
    let store =
        Store::open(&a.db, &owner(&master)).map_err(|e| format!("{}: {e}", a.db.display()))?;
    let clock: Arc<dyn Clock> = match a.test_clock_offset {
        Some(off) => {
            tracing::warn!(
                offset = off,
                "the D-TA clock is shifted (--test-clock-offset): tests only"
            );
            Arc::new(OffsetClock(off))
        }
        None => Arc::new(SystemClock),
    };
    let tls = server_tls(&a.cert, &a.key)?;
    if !a.operator_tokens.exists() {
        return Err(format!("{}: no such file", a.operator_tokens.display()));
    }
    let deployment = *master.deployment();
    let dta_id = master.dta();
    let dta = Arc::new(Dta::new(
        master,
        store,
        clock,
        OperatorTokens::File(a.operator_tokens),
        a.ticket_ttl,
    ));
    let mut limits = Limits::default();
    limits.max_body = a.max_body;
    limits.rate_per_sec = a.rate_per_sec;
    limits.rate_burst = a.rate_burst;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| format!("{}: {e}", a.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!(
            "D-TA {dta_id} of {} deployment {} listening on {addr}",
            deployment.suite(),
            deployment.id()
        );
        let _ = std::io::stdout().flush();
        serve(listener, tls, dta, limits)
            .await
            .map_err(|e| e.to_string())
    })
}

fn audit_verify(db: &Path, head: Option<&str>) -> Res<()> {
    if !db.exists() {
        return Err(format!("{}: no such file", db.display()));
    }
    let (n, head) =
        verify_file(db, head).map_err(|e| format!("{}: audit chain broken: {e}", db.display()))?;
    println!("audit chain intact: {n} entries, head {head}");
    Ok(())
}

fn token_cmd(t: TokenCommand) -> Res<()> {
    match t {
        TokenCommand::New { tokens } => {
            let token = random_token().map_err(|e| e.to_string())?;
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options
                .open(&tokens)
                .map_err(|e| format!("{}: {e}", tokens.display()))?;
            writeln!(f, "{}", hex::encode(token_hash(&token)))
                .map_err(|e| format!("{}: {e}", tokens.display()))?;
            println!("{}", &*token);
            eprintln!(
                "the token above is shown once; its hash was appended to {}",
                tokens.display()
            );
            Ok(())
        }
        TokenCommand::Hash => {
            let mut s = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| e.to_string())?;
            println!("{}", hex::encode(token_hash(s.trim())));
            Ok(())
        }
    }
}

fn write_new(path: &Path, contents: &str) -> Res<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn admin_cmd(a: AdminArgs) -> Res<()> {
    let token = zeroize::Zeroizing::new(
        std::fs::read_to_string(&a.token_file)
            .map_err(|e| format!("{}: {e}", a.token_file.display()))?,
    );
    let token = token.trim().to_owned();
    let trust = match a.ca {
        Some(p) => Trust::CaFile(p),
        None => Trust::System,
    };
    let client = Client::new(&a.dta, tls_config(&trust).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let out = rt.block_on(async {
        let e = |e: milagro_dta::ClientError| e.to_string();
        Ok::<_, String>(match a.what {
            AdminCommand::Enrol {
                identity,
                role,
                ttl,
            } => serde_json::to_string(
                &client
                    .create_enrolment(
                        &token,
                        &CreateEnrolment {
                            identity,
                            role,
                            ttl_seconds: ttl,
                        },
                    )
                    .await
                    .map_err(e)?,
            ),
            AdminCommand::Revoke { identity, reason } => serde_json::to_string(
                &client
                    .revoke(&token, &RevokeRequest { identity, reason })
                    .await
                    .map_err(e)?,
            ),
            AdminCommand::List => {
                serde_json::to_string(&client.list_enrolments(&token).await.map_err(e)?)
            }
            AdminCommand::ServerSecret { out } => {
                let s = client.server_secret(&token).await.map_err(e)?;
                write_new(&out, &s.share)?;
                Ok(format!("{{\"written\":{:?}}}", out.display().to_string()))
            }
            AdminCommand::P2pServerKey {
                identity,
                epoch,
                out,
            } => {
                let s = client
                    .p2p_server_key(&token, &P2pServerKeyRequest { identity, epoch })
                    .await
                    .map_err(e)?;
                write_new(&out, &s.share)?;
                Ok(format!("{{\"written\":{:?}}}", out.display().to_string()))
            }
            AdminCommand::Audit => {
                serde_json::to_string(&client.audit(&token, 0).await.map_err(e)?)
            }
        })
    })?;
    println!("{}", out.map_err(|e| e.to_string())?);
    Ok(())
}

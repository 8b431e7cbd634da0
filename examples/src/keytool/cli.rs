//! The command line of `milagro` (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The `milagro` key tool: set up Distributed Trust Authorities (D-TAs),
/// issue key shares, combine them into keys, extract a PIN, inspect files.
///
/// Every key of a deployment is `s·X` for the master secret
/// `s = s_1 + … + s_n`, which never exists anywhere: D-TA i holds `s_i` and
/// issues `s_i·X`; the key holder combines the n shares. Every file this tool
/// writes holds a secret and is created with mode 0600; an existing file is
/// never overwritten unless `--force` is given.
#[derive(Debug, Parser)]
#[command(name = "milagro", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// D-TA operations: create or join a deployment, issue key shares.
    #[command(subcommand)]
    Dta(DtaCommand),
    /// Combine one share from every D-TA into a key file.
    ///
    /// All shares must be of the same kind, deployment, identity and day or
    /// epoch, and come from distinct D-TAs; there must be exactly as many as
    /// the deployment has D-TAs.
    Combine(CombineArgs),
    /// Turn a CS client secret into a token by extracting a PIN
    /// (`token = client secret − PIN·A`).
    ///
    /// Without `--pin`, the PIN is read twice from the terminal without echo;
    /// when standard input is not a terminal and no `--pin` is given, the
    /// command refuses. Delete the client secret file afterwards: the token
    /// and the PIN are the two factors that replace it.
    Token(TokenArgs),
    /// Show what a key file is: kind, suite, deployment, identity, day or
    /// epoch, D-TA. Never shows the secret.
    Inspect(InspectArgs),
    /// Enrol through the D-TA services: one `--dta URL --ticket T` pair per
    /// D-TA; fetches every share, checks they are one deployment, combines
    /// them in memory, extracts the PIN (CS) and writes the token (and
    /// today's permit) or the P2P key, and the renewal credentials.
    Enroll(super::network::EnrollArgs),
    /// Renew through the D-TA services: today's time permit (CS) or the next
    /// epoch's key (P2P) from every D-TA, combined.
    Renew(super::network::RenewArgs),
    /// The CS guard's state for one identity in the servers' shared store
    /// (`--guard redis://…`): show it, or lift a lockout.
    #[command(subcommand)]
    Guard(super::guard::GuardCommand),
}

/// `milagro dta …`.
#[derive(Debug, Subcommand)]
pub enum DtaCommand {
    /// Set up one D-TA: generate its random master share.
    ///
    /// The first D-TA of a deployment creates it (a random deployment id);
    /// every other D-TA joins it with `--deployment ID` (and the same
    /// parameters) or `--deployment-from FILE` (any key file of the
    /// deployment, e.g. another D-TA's master share: only its public
    /// parameters are read). A deployment's CS and P2P D-TAs are separate
    /// deployments with separate master shares.
    Init(InitArgs),
    /// Issue this D-TA's share of a key.
    Issue(IssueArgs),
}

/// Which suite a deployment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteArg {
    /// Client–server (M-Pin): server secret, client secrets, time permits.
    Cs,
    /// Peer-to-peer (Chow–Choo): server and client keys per epoch.
    P2p,
}

/// A CS deployment's time-permit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermitsArg {
    /// Clients need a daily time permit (revocation by not issuing one).
    Required,
    /// No time permits.
    Off,
}

/// Where a secret file goes.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// The file to write (mode 0600; must not exist unless --force).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite FILE if it exists (its mode is reset to 0600).
    #[arg(long)]
    pub force: bool,
}

/// `milagro dta init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The deployment's suite.
    #[arg(long, value_enum)]
    pub suite: SuiteArg,
    /// The number of D-TAs (every key needs a share from each). Read from the
    /// file with --deployment-from.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..),
          required_unless_present = "deployment_from")]
    pub dtas: Option<u8>,
    /// CS only: the time-permit policy, fixed for the deployment's life.
    #[arg(long, value_enum, conflicts_with = "epoch_seconds")]
    pub permits: Option<PermitsArg>,
    /// P2P only: the epoch length L in seconds (epoch = floor(unix / L)), at least 60.
    #[arg(long, value_name = "L")]
    pub epoch_seconds: Option<u32>,
    /// Join the deployment with this id (32 hex digits, printed by the first D-TA).
    #[arg(long, value_name = "HEX", conflicts_with = "deployment_from")]
    pub deployment: Option<String>,
    /// Join the deployment of this key file (its public parameters are used).
    #[arg(long, value_name = "FILE")]
    pub deployment_from: Option<PathBuf>,
    /// Where to write the master share.
    #[command(flatten)]
    pub out: OutArgs,
}

/// `milagro dta issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// This D-TA's master share file.
    #[arg(long, value_name = "FILE")]
    pub master: PathBuf,
    /// What to issue.
    #[command(subcommand)]
    pub what: IssueKind,
}

/// Which day a time permit is for.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct DayArgs {
    /// The permit day number, floor(unix / 86400).
    #[arg(long, value_name = "D")]
    pub day: Option<u32>,
    /// The permit's date (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Today (UTC, from the system clock).
    #[arg(long)]
    pub today: bool,
}

/// Which epoch a P2P key is for.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct EpochArgs {
    /// The epoch number, floor(unix / L).
    #[arg(long, value_name = "E")]
    pub epoch: Option<u32>,
    /// The epoch a client uses now: floor((unix − 30) / L) by the system
    /// clock, the client's allowance for clock skew, so in an epoch's first
    /// 30 seconds this is still the epoch before (docs/protocol.md §7.2).
    #[arg(long)]
    pub now: bool,
}

/// The kinds of share a D-TA issues.
#[derive(Debug, Subcommand)]
pub enum IssueKind {
    /// CS: this D-TA's share of the server secret.
    ServerSecret {
        /// Where to write the share.
        #[command(flatten)]
        out: OutArgs,
    },
    /// CS: this D-TA's share of an identity's client secret.
    ClientSecret {
        /// The client identity (canonicalised, e.g. alice@example.com).
        #[arg(long, value_name = "ID")]
        identity: String,
        /// Where to write the share.
        #[command(flatten)]
        out: OutArgs,
    },
    /// CS: this D-TA's share of an identity's time permit for one day.
    TimePermit {
        /// The client identity.
        #[arg(long, value_name = "ID")]
        identity: String,
        /// The day.
        #[command(flatten)]
        day: DayArgs,
        /// Where to write the share.
        #[command(flatten)]
        out: OutArgs,
    },
    /// P2P: this D-TA's share of a server key (identity A) for one epoch.
    P2pServer {
        /// The server identity (e.g. server.example).
        #[arg(long, value_name = "ID")]
        identity: String,
        /// The epoch.
        #[command(flatten)]
        epoch: EpochArgs,
        /// Where to write the share.
        #[command(flatten)]
        out: OutArgs,
    },
    /// P2P: this D-TA's share of a client key (identity B) for one epoch.
    P2pClient {
        /// The client identity.
        #[arg(long, value_name = "ID")]
        identity: String,
        /// The epoch.
        #[command(flatten)]
        epoch: EpochArgs,
        /// Where to write the share.
        #[command(flatten)]
        out: OutArgs,
    },
}

/// `milagro combine`.
#[derive(Debug, Args)]
pub struct CombineArgs {
    /// One share file from every D-TA.
    #[arg(required = true, value_name = "SHARE_FILE")]
    pub shares: Vec<PathBuf>,
    /// Where to write the key.
    #[command(flatten)]
    pub out: OutArgs,
}

/// `milagro token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The CS client secret file (combined, not a share).
    #[arg(long, value_name = "FILE")]
    pub secret: PathBuf,
    /// The PIN. For scripts and tests only: a PIN on the command line is
    /// visible to other users of the machine. Omit it to be asked.
    #[arg(long, value_name = "PIN", conflicts_with = "pin_file")]
    pub pin: Option<String>,
    /// Read the PIN from the first line of FILE (for scripts: unlike --pin,
    /// not visible in the process list).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// The deployment's PIN length (1–6 digits; the servers' setting).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub pin_digits: u8,
    /// Where to write the token.
    #[command(flatten)]
    pub out: OutArgs,
}

/// `milagro inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

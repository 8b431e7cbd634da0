//! The key tool's errors: each names the file (or argument) and the problem.

use std::io;
use std::path::{Path, PathBuf};

use milagro_tls::dta::DtaError;
use milagro_tls::identity::IdentityError;
use milagro_tls::keyfile::KeyFileError;
use milagro_tls::mpin::PinError;

use super::files::MAX_FILE_BYTES;

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a key tool command failed. The `Display` text is what the tool prints
/// after `error: `; it never contains secret values.
#[derive(Debug, thiserror::Error)]
pub enum KeyToolError {
    /// A file could not be opened or read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file is larger than any key file.
    #[error("{}: not a key file: larger than {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A file is not UTF-8 text.
    #[error("{}: not a key file: not text (UTF-8)", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// A file is not a valid key file (framing, base64, fields).
    #[error("{}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What the key file loader refused.
        source: KeyFileError,
    },
    /// A valid key file of another kind than the command needs.
    #[error("{}: wrong key kind: expected {expected}, found {found}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What was needed.
        expected: String,
        /// The file's label.
        found: &'static str,
    },
    /// The output file exists and `--force` was not given.
    #[error("{}: already exists; pass --force to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The output file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The master share refused to issue (wrong suite, permits off, day 0).
    #[error("{}: cannot issue a {what}: {source}", path.display())]
    Issue {
        /// The master share file.
        path: PathBuf,
        /// What was asked for.
        what: &'static str,
        /// Why.
        source: DtaError,
    },
    /// The shares do not combine; `files` are the files involved.
    #[error("{}: cannot combine: {source}", list(files))]
    Combine {
        /// The files the problem involves (the first file and the one that
        /// differs, the duplicates, or all of them).
        files: Vec<PathBuf>,
        /// Why.
        source: DtaError,
    },
    /// `dta init --deployment-from FILE` disagrees with the other options.
    #[error("{}: {problem}", path.display())]
    DeploymentMismatch {
        /// The file the deployment was read from.
        path: PathBuf,
        /// What disagrees.
        problem: String,
    },
    /// The deployment parameters are invalid.
    #[error("cannot set up the deployment: {0}")]
    Setup(DtaError),
    /// An identity could not be canonicalised.
    #[error("identity {input:?}: {source}")]
    Identity {
        /// The identity as given.
        input: String,
        /// Why it was refused.
        source: IdentityError,
    },
    /// Options that do not fit together, or a malformed option value.
    #[error("{0}")]
    Usage(String),
    /// The PIN (or the PIN length) was refused.
    #[error("PIN: {0}")]
    Pin(PinError),
    /// The PIN was entered twice, differently.
    #[error("PIN: the two entries differ")]
    PinMismatch,
    /// No `--pin` and standard input is not a terminal.
    #[error(
        "no PIN: standard input is not a terminal to ask on; pass --pin-file FILE (or --pin PIN)"
    )]
    NoTerminal,
    /// The terminal could not be read.
    #[error("cannot read the PIN from the terminal: {0}")]
    PinRead(io::Error),
    /// The system clock is before 1970.
    #[error("the system clock is set before 1970")]
    Clock,
    /// The random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Enrolment or renewal through the D-TA services failed (the message
    /// names the D-TA).
    #[error("{0}")]
    Dta(#[from] milagro_dta::EnrolError),
    /// A renewal credentials file is unreadable or malformed.
    #[error("{}: {problem}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Output(io::Error),
}

impl KeyToolError {
    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }

    pub(crate) fn key_file(path: &Path, source: KeyFileError) -> Self {
        Self::KeyFile {
            path: path.to_owned(),
            source,
        }
    }
}

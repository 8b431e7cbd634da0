//! The `milagro` key tool, as a library: [`run`] executes a parsed [`Cli`]
//! and writes its report to any `Write`, so tests can drive it in-process and
//! the binary (`src/bin/milagro.rs`) only parses arguments and sets the exit
//! code.
//!
//! Rules every command keeps:
//!
//! * Every file read is checked completely by [`milagro_tls::keyfile`]; a file
//!   of another kind than the command needs is refused with
//!   [`KeyToolError::WrongKind`] naming the file, the kind needed and the kind
//!   found.
//! * Every file written holds a secret: mode 0600, never overwritten without
//!   `--force` ([`files::write_secret`]).
//! * Nothing secret is ever printed: reports show kinds, suites, deployment
//!   ids and parameters, identities, days, epochs and D-TA ids only.

pub mod cli;
mod commands;
pub mod error;
pub mod files;
pub mod guard;
pub mod network;

use std::io::{IsTerminal, Write};
use std::path::Path;

use zeroize::Zeroizing;

pub use cli::Cli;
pub use error::KeyToolError;

/// Where `milagro token` gets a PIN when `--pin` is not given.
pub trait PinPrompt {
    /// Whether a person can be asked (standard input is a terminal).
    fn is_interactive(&self) -> bool;
    /// Asks for a PIN with `message`, without echo.
    fn prompt(&self, message: &str) -> Result<Zeroizing<String>, KeyToolError>;
}

/// The terminal: interactive when standard input is a terminal; reads with
/// `rpassword` (no echo).
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal;

impl PinPrompt for Terminal {
    fn is_interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn prompt(&self, message: &str) -> Result<Zeroizing<String>, KeyToolError> {
        rpassword::prompt_password(message)
            .map(Zeroizing::new)
            .map_err(KeyToolError::PinRead)
    }
}

/// Runs one command, writing its report to `out` and asking `pins` for a PIN
/// if `milagro token` has no `--pin`. Fails with the first problem met; a
/// failed command writes no output file (an output file is written last).
pub fn run(cli: &Cli, out: &mut dyn Write, pins: &dyn PinPrompt) -> Result<(), KeyToolError> {
    commands::run(cli, out, pins)
}

/// The PIN as text, from the first place that has one: `pin` (`--pin`),
/// the first line of `pin_file` (`--pin-file`), or `pins` asked once with
/// `message`. Fails with [`KeyToolError::NoTerminal`] when there is none
/// of the three, and names the file when it cannot be read.
pub fn pin_text(
    pin: Option<&str>,
    pin_file: Option<&Path>,
    pins: &dyn PinPrompt,
    message: &str,
) -> Result<Zeroizing<String>, KeyToolError> {
    if let Some(pin) = pin {
        return Ok(Zeroizing::new(pin.to_owned()));
    }
    if let Some(path) = pin_file {
        let text = files::read_text(path)?;
        let line = text.lines().next().unwrap_or_default().trim();
        return Ok(Zeroizing::new(line.to_owned()));
    }
    if !pins.is_interactive() {
        return Err(KeyToolError::NoTerminal);
    }
    pins.prompt(message)
}

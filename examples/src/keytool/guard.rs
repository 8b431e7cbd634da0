//! `milagro guard status|unlock <identity>`: the operator's view of the CS
//! guard's state for one identity, in the store the servers share.
//!
//! Works with `--guard redis://host:port/db` (the servers' `--guard`): the
//! counts are read and changed in that Redis, and every server using it sees
//! the change at once. With the in-memory store the state lives inside each
//! server process, out of this tool's reach: the command refuses and says
//! so (restarting such a server clears its counts).

use std::io::Write;
use std::sync::Arc;

use clap::{Args, Subcommand};
use milagro_tls::guard::{GuardPolicy, IdentityStatus, NoopObserver};
use milagro_tls::identity::Identity;

use super::error::KeyToolError;
use crate::guard_store::GuardSpec;

type Result<T> = std::result::Result<T, KeyToolError>;

/// `milagro guard …`.
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Show an identity's guard state: confirmed and cumulative wrong PINs,
    /// attempts in flight, locked out, locked until re-enrolled, slowed down.
    Status(GuardArgs),
    /// Lift an identity's lockout: reset its confirmed wrong-PIN count (the
    /// cumulative count stays, so the cumulative cap still holds). With
    /// `--reenrolled`, after the user was re-enrolled: reset both counts.
    Unlock(UnlockArgs),
}

/// The identity and the store.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The identity (as enrolled, e.g. alice@example.com).
    pub identity: String,
    /// The servers' guard store: `redis://host:port/db`. (`memory`, the
    /// servers' default, lives inside each server process and cannot be
    /// reached from here.)
    #[arg(long, value_name = "STORE")]
    pub guard: String,
}

/// `milagro guard unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The identity and the store.
    #[command(flatten)]
    pub target: GuardArgs,
    /// The user was re-enrolled: reset the cumulative count too.
    #[arg(long)]
    pub reenrolled: bool,
}

/// Runs a `milagro guard` command.
pub fn run(cmd: &GuardCommand, out: &mut dyn Write) -> Result<()> {
    let target = match cmd {
        GuardCommand::Status(a) => a,
        GuardCommand::Unlock(a) => &a.target,
    };
    let id = Identity::new(&target.identity).map_err(|source| KeyToolError::Identity {
        input: target.identity.clone(),
        source,
    })?;
    let spec =
        GuardSpec::parse(Some(&target.guard)).map_err(|e| KeyToolError::Usage(e.to_string()))?;
    if spec == GuardSpec::Memory {
        return Err(KeyToolError::Usage(
            "--guard memory: the in-memory guard lives inside each server process and \
             cannot be read or changed from here; run the servers with \
             --guard redis://host:port/db to administer lockouts (restarting a server \
             with the in-memory guard clears its counts)"
                .to_owned(),
        ));
    }
    // RedisStore needs a multi-threaded runtime (it runs each call there).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| KeyToolError::Usage(format!("cannot start the async runtime: {e}")))?;
    let store_err =
        |e: milagro_tls::guard::Refusal| KeyToolError::Usage(format!("{}: {e}", target.guard));
    let hid = id.cs_hid();
    let status = rt.block_on(async {
        let guard = spec
            .open(GuardPolicy::default(), Arc::new(NoopObserver))
            .await
            .map_err(|e| KeyToolError::Usage(e.to_string()))?;
        if let GuardCommand::Unlock(a) = cmd {
            if a.reenrolled {
                guard.reenrolled_async(&hid).await.map_err(store_err)?;
            } else {
                guard.unlock_async(&hid).await.map_err(store_err)?;
            }
        }
        guard.status_async(&hid).await.map_err(store_err)
    })?;
    if let GuardCommand::Unlock(a) = cmd {
        let what = if a.reenrolled {
            "confirmed and cumulative counts reset (re-enrolled)"
        } else {
            "confirmed count reset"
        };
        writeln!(out, "unlocked {}: {what}", id.as_str()).map_err(KeyToolError::Output)?;
    }
    describe(out, &id, &status)
}

fn describe(out: &mut dyn Write, id: &Identity, s: &IdentityStatus) -> Result<()> {
    let yes = |b: bool| if b { "yes" } else { "no" };
    writeln!(
        out,
        "{}: confirmed wrong PINs {}, cumulative {}, in flight {}, locked out: {}, \
         locked until re-enrolled: {}, slowed down: {}",
        id.as_str(),
        s.confirmed,
        s.cumulative,
        s.in_flight,
        yes(s.locked_out),
        yes(s.locked_until_reenrolled),
        yes(s.slowed_down),
    )
    .map_err(KeyToolError::Output)
}

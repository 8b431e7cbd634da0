//! A private `redis-server` for tests: started on a free loopback port with
//! no persistence, stopped by its PID when dropped. No mock: the store's
//! tests run against a real Redis.
//!
//! Tests that need Redis call [`RedisServer::start_or_skip`]: it returns
//! `None` (and prints why) only when `redis-server` is not installed **and**
//! the environment variable `CI` is unset; under CI a missing Redis is a
//! test failure.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// `redis-server` could not be run.
    #[error("cannot run redis-server: {0}")]
    Spawn(std::io::Error),
    /// It did not accept connections within 10 s.
    #[error("redis-server did not listen on port {0} within 10 s")]
    NotListening(u16),
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Whether `redis-server` can be run here.
pub fn redis_server_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port (no RDB, no AOF,
    /// `noeviction`; its data dies with it) and waits until it accepts connections.
    pub fn start() -> Result<Self, HarnessError> {
        let port = free_port().map_err(HarnessError::Spawn)?;
        Self::start_on(port)
    }

    /// Starts it on `port` (a restart after [`kill`](Self::kill) reuses the
    /// port, so clients reconnect to the same URL).
    pub fn start_on(port: u16) -> Result<Self, HarnessError> {
        Self::spawn(port, &["--appendonly", "no"])
    }

    /// Starts it on `port` with an append-only file in `dir`, written
    /// through on every write (`appendfsync always`): a server killed with
    /// SIGKILL and started again on the same `dir` has every acknowledged
    /// write, so a test can tell a lost count from a double one.
    pub fn start_durable_on(port: u16, dir: &Path) -> Result<Self, HarnessError> {
        let dir = dir.to_str().ok_or_else(|| {
            HarnessError::Spawn(std::io::Error::other("the AOF directory is not UTF-8"))
        })?;
        Self::spawn(
            port,
            &[
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                dir,
            ],
        )
    }

    /// [`start_durable_on`](Self::start_durable_on) a free port, or `None`
    /// as [`start_or_skip`](Self::start_or_skip).
    ///
    /// # Panics
    ///
    /// As [`start_or_skip`](Self::start_or_skip).
    pub fn start_durable_or_skip(test: &str, dir: &Path) -> Option<Self> {
        if !redis_server_installed() && std::env::var_os("CI").is_none() {
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (CI unset; apt-get install redis-server)"
            );
            return None;
        }
        let started = free_port()
            .map_err(HarnessError::Spawn)
            .and_then(|port| Self::start_durable_on(port, dir));
        match started {
            Ok(s) => Some(s),
            Err(e) => panic!("{test}: {e}"),
        }
    }

    fn spawn(port: u16, persistence: &[&str]) -> Result<Self, HarnessError> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
            .args(["--maxmemory-policy", "noeviction"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(HarnessError::Spawn)?;
        let mut server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                server.kill();
                return Err(HarnessError::NotListening(port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// [`start`](Self::start), or `None` with a printed reason when
    /// `redis-server` is not installed and `CI` is unset.
    ///
    /// # Panics
    ///
    /// When the server cannot be started otherwise (under CI, or when it is
    /// installed but fails): the test must fail then.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        if !redis_server_installed() && std::env::var_os("CI").is_none() {
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (CI unset; apt-get install redis-server)"
            );
            return None;
        }
        match Self::start() {
            Ok(s) => Some(s),
            Err(e) => panic!("{test}: {e}"),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server (SIGKILL, by PID) and reaps it; its data is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

//! Helpers for tests that run this workspace's binaries as separate
//! processes: find (and if needed build) a binary, run a command to
//! completion within a time limit, and keep a long-running server whose
//! output lines can be waited for. Every child is killed and reaped when
//! its handle is dropped, so a failing test leaves no process behind.
//!
//! Standard library only, so any test crate can use it without building
//! anything more.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Bound on one short-lived process (key tool, client).
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on building binaries that are missing.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound on a server printing `listening on ADDR`.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// `target/<profile>/`, where cargo puts the workspace's binaries: the test
/// executable is `target/<profile>/deps/NAME-HASH`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/…")
        .to_owned()
}

fn binary_path(name: &str) -> PathBuf {
    bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `cargo build -p PACKAGE --bins` (same profile as this test) once
/// per test process and package; panics with cargo's output if it fails.
pub fn build_package_bins(package: &str) {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let result = built.entry(package.to_owned()).or_insert_with(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", package, "--bins"]);
        if bin_dir().file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let out = run_bounded(&mut cmd, BUILD_TIMEOUT)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = result {
        panic!(
            "cannot build the binaries of {package} (run `cargo build -p {package} --bins` first): {e}"
        );
    }
}

/// The path of binary `name` of `package`, built first when it is missing
/// (a binary of another package than the test's own is not built by
/// `cargo test -p`).
pub fn binary(package: &str, name: &str) -> PathBuf {
    let path = binary_path(name);
    if !path.exists() {
        build_package_bins(package);
    }
    assert!(path.exists(), "{} missing after the build", path.display());
    path
}

/// The path of binary `name` of `package` after building the package once
/// in this test process, so a stale binary of another package is brought
/// up to date.
pub fn fresh_binary(package: &str, name: &str) -> PathBuf {
    build_package_bins(package);
    binary_path(name)
}

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion within `limit` with standard input closed; its
/// output captured. An `Err` when it cannot start or does not finish in
/// time (it is killed then).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    run_with_input(cmd, &[], limit)
}

/// [`run_bounded`] with `input` written to the child's standard input
/// (then closed).
pub fn run_with_input(cmd: &mut Command, input: &[u8], limit: Duration) -> Result<Output, String> {
    let child = cmd
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut child = KillOnDrop(child);
    if let Some(mut stdin) = child.0.stdin.take() {
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.0.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.0.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return Err(format!("{cmd:?} did not finish within {limit:?}; killed")),
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Runs `cmd` within [`PROCESS_TIMEOUT`]: `Ok(stdout)` when it succeeds,
/// `Err(stderr)` when it fails. Panics when it cannot run or hangs.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let out = run_bounded(cmd, PROCESS_TIMEOUT).unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A command that runs the shell command line `line` inside a
/// pseudo-terminal (util-linux `script -qec LINE /dev/null`), so a program
/// that asks for a PIN on the terminal can be answered: what is written to
/// the command's standard input (e.g. with [`run_with_input`]) is typed at
/// it. Standard output and error both arrive on stdout (one terminal), with
/// line ends as `\r\n`; the exit code is the program's. `None` when
/// `script` is not installed.
pub fn terminal_command(line: &str) -> Option<Command> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())?;
    let mut cmd = Command::new(script);
    cmd.args(["-qec", line, "/dev/null"]);
    Some(cmd)
}

/// `program` and `args` as one shell command line, each word quoted.
pub fn shell_line(program: &Path, args: &[&str]) -> String {
    std::iter::once(program.to_str().expect("UTF-8 path"))
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` quoted for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A long-running child (a server) whose standard output is read line by
/// line in the background; killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: KillOnDrop,
    lines: Mutex<Receiver<String>>,
    printed: Mutex<Vec<String>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts `cmd` with standard input closed; its standard output and
    /// standard error are read here, line by line.
    pub fn spawn(cmd: &mut Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().expect("piped stdout");
        let stderr = child.0.stderr.take().expect("piped stderr");
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Self {
            child,
            lines: Mutex::new(read_lines(stdout)),
            printed: Mutex::new(Vec::new()),
            stderr: errors,
        }
    }

    /// Every line the process wrote to standard error so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts `cmd` and waits for its `listening on ADDR` line; returns the
    /// process and ADDR.
    pub fn listening(cmd: &mut Command) -> (Self, SocketAddr) {
        let running = Self::spawn(cmd);
        let line = running.expect_line_within("listening on ", LISTEN_TIMEOUT);
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        (running, addr)
    }

    /// Waits (at most [`PROCESS_TIMEOUT`]) for a line containing `needle`;
    /// returns it. Panics with everything printed meanwhile otherwise.
    pub fn expect_line(&self, needle: &str) -> String {
        self.expect_line_within(needle, PROCESS_TIMEOUT)
    }

    /// [`expect_line`](Self::expect_line) within `limit`.
    pub fn expect_line_within(&self, needle: &str, limit: Duration) -> String {
        let rx = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) => {
                    self.record(&line);
                    if line.contains(needle) {
                        return line;
                    }
                    seen.push(line);
                }
                Err(_) => break,
            }
        }
        panic!(
            "the process never printed {needle:?}; it printed {seen:?}, and on standard error {:?}",
            self.stderr()
        )
    }

    /// Every line printed so far (received or waiting), in order.
    pub fn printed(&self) -> Vec<String> {
        let rx = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(line) = rx.try_recv() {
            self.record(&line);
        }
        self.printed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(&self, line: &str) {
        self.printed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_owned());
    }

    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child.0
    }
}

fn read_lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `PATH` with `dir` first, for running commands as written in the README
/// (`milagro …`, `echo-server …`).
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_owned()];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).expect("PATH entries without separators")
}

//! Outside programs (the `openssl` and `curl` command-line tools) as bounded
//! child processes for the interop tests.
//!
//! * [`find_tool`] looks a program up on `PATH` (as `which` does) and records
//!   its version line. [`require_tool`] turns absence into a skip outside CI
//!   (a message on stderr, `None`) and into a test failure in CI (`CI=true`),
//!   where `.ci/run` installs the tools.
//! * [`Running`] is a spawned child whose stdout and stderr are collected by
//!   reader threads (so a full pipe never blocks it). [`Running::finish`]
//!   waits at most a given time and kills the child after it; dropping a
//!   `Running` kills and reaps the child, so no process outlives its test.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An outside program found on `PATH`.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The program's absolute path.
    pub path: PathBuf,
    /// The first line the program printed for its version query.
    pub version: String,
}

impl Tool {
    /// A command for this program.
    pub fn command(&self) -> Command {
        Command::new(&self.path)
    }
}

/// Searches `PATH` for an executable `name`; if found, runs it with
/// `version_args` (bounded to 10 s) and records the first line of its output.
/// `None` if the program is not on `PATH` or its version query fails.
pub fn find_tool(name: &str, version_args: &[&str]) -> Option<Tool> {
    let path = which(name)?;
    let mut cmd = Command::new(&path);
    cmd.args(version_args);
    let out = Running::spawn(cmd, None)
        .ok()?
        .finish(Duration::from_secs(10));
    if !out.success() {
        return None;
    }
    let version = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    Some(Tool { path, version })
}

/// [`find_tool`], with the CI rule: when the tool is missing, returns `None`
/// after printing why the calling test is skipped — unless the environment
/// variable `CI` is `true`, where it panics (CI installs the tools, so a
/// missing one is a failure, not a skip). Prints the version when found.
pub fn require_tool(name: &str, version_args: &[&str], test: &str) -> Option<Tool> {
    match find_tool(name, version_args) {
        Some(tool) => {
            eprintln!("{test}: using {} ({})", tool.version, tool.path.display());
            Some(tool)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: `{name}` is not installed, and CI=true requires it (.ci/run installs it)"
            )
        }
        None => {
            eprintln!(
                "SKIPPED {test}: `{name}` is not on PATH (install it, e.g. apt-get install {name}; in CI this is a failure)"
            );
            None
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What a finished (or killed) child printed and how it ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit status; `None` if it had to be killed or could not be reaped.
    pub status: Option<ExitStatus>,
    /// Whether the time limit ran out and the child was killed.
    pub timed_out: bool,
    /// Everything it wrote to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything it wrote to stderr (lossy UTF-8).
    pub stderr: String,
}

impl Finished {
    /// Exited by itself with status 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    /// stdout and stderr together, for assertions and failure messages.
    pub fn all_output(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// A running child process; killed and reaped on drop.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Spawns `cmd` with piped stdio. With `input`, writes it to stdin and
    /// closes stdin; without, stdin stays open (and empty) until the child
    /// is finished or dropped. Fails if the program cannot be started.
    pub fn spawn(mut cmd: Command, input: Option<&[u8]>) -> std::io::Result<Self> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, stdout.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, stderr.clone()));
        }
        let mut stdin = child.stdin.take();
        if let Some(bytes) = input {
            if let Some(mut pipe) = stdin.take() {
                // A child that exits early closes the pipe: not our error.
                let _ = pipe.write_all(bytes);
            }
        }
        Ok(Self {
            child,
            stdin,
            stdout,
            stderr,
            readers,
        })
    }

    /// Waits up to `timeout` for stdout to contain a line starting with
    /// `prefix`, returning that line (without its newline); `None` if the
    /// time runs out or the child exits first.
    pub fn wait_for_stdout_line(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = snapshot(&self.stdout);
            if let Some(line) = text
                .lines()
                .find(|l| l.starts_with(prefix) && text.contains(&format!("{l}\n")))
            {
                return Some(line.to_owned());
            }
            if Instant::now() >= deadline || !matches!(self.child.try_wait(), Ok(None)) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes stdin, waits up to `timeout` for the child to exit (killing it
    /// after that) and returns what it printed.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    timed_out = true;
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                Err(_) => break None,
            }
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Finished {
            status,
            timed_out,
            stdout: snapshot(&self.stdout),
            stderr: snapshot(&self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn collect<R: Read + Send + 'static>(mut from: R, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let (Ok(mut v), Some(chunk)) = (into.lock(), buf.get(..n)) {
                v.extend_from_slice(chunk);
            }
        }
    })
}

fn snapshot(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    buf.lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}

//! The README's walk-through ("A real deployment in five minutes"), run end
//! to end as written: every command of its `sh` blocks, in order, through
//! `bash` in one temporary directory with the workspace's binaries first on
//! `PATH` — the key tool for a CS and a P2P deployment of three D-TAs each,
//! then the echo and HTTPS servers and clients of both suites.
//!
//! The commands are read from README.md itself, so the two cannot drift.
//! The only changes made to them, all here:
//!
//! * `<ID>` and `<P2P_ID>` become the deployment ids the creating
//!   `dta init` printed;
//! * every `127.0.0.1:PORT` becomes a free port (the same one wherever the
//!   README repeats it), so parallel tests and other programs do not clash;
//! * a command whose comment says "asks for the PIN" runs in a
//!   pseudo-terminal (util-linux `script`) and is typed the PIN;
//! * a server (`…-server`) is started in the background and waited for
//!   until it prints `listening on ADDR`;
//! * a comment `prints "TEXT"` is checked: the command's output contains TEXT.
//!
//! Issuing with `--today` / `--now` waits out the last minute before a day
//! or epoch boundary, so the three D-TAs' shares are for one day or epoch.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_test_support::{
    PROCESS_TIMEOUT, Running, bin_dir, path_with, run_bounded, run_with_input, terminal_command,
};

/// The PIN alice chooses (six digits: the default PIN length).
const PIN: &str = "246810";
const SECTION: &str = "## A real deployment in five minutes";

/// One command of the walk-through: the shell line (continuations joined)
/// and its trailing comment.
#[derive(Debug)]
struct Step {
    line: String,
    comment: String,
}

/// The commands of every `sh` block in the README's walk-through section.
fn walk_through(readme: &str) -> Vec<Step> {
    let start = readme.find(SECTION).expect("the walk-through section");
    let section = &readme[start + SECTION.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut steps = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    let mut comment = String::new();
    for raw in section.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with("```") {
            in_block = trimmed == "```sh";
            continue;
        }
        if !in_block || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (code, note) = match raw.find(" #") {
            Some(i) => (&raw[..i], raw[i + 2..].trim()),
            None => (raw, ""),
        };
        if !note.is_empty() {
            comment = note.to_owned();
        }
        let code = code.trim();
        match code.strip_suffix('\\') {
            Some(part) => {
                pending.push_str(part.trim());
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                steps.push(Step {
                    line: std::mem::take(&mut pending),
                    comment: std::mem::take(&mut comment),
                });
            }
        }
    }
    steps
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `line` with the README's placeholders and addresses replaced.
fn substitute(line: &str, ids: &HashMap<&str, String>, ports: &mut HashMap<String, u16>) -> String {
    let mut out = line.to_owned();
    for (placeholder, id) in ids {
        out = out.replace(placeholder, id);
    }
    let words: Vec<String> = out
        .split(' ')
        .map(|w| match w.strip_prefix("127.0.0.1:") {
            Some(port) if port.parse::<u16>().is_ok() => {
                let new = *ports.entry(port.to_owned()).or_insert_with(free_port);
                format!("127.0.0.1:{new}")
            }
            // https://HOST:PORT/PATH: the port of the server's address.
            _ => match w.strip_prefix("https://").and_then(|r| r.split_once(':')) {
                Some((host, rest)) => {
                    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
                    match ports.get(port) {
                        Some(new) => format!("https://{host}:{new}/{path}"),
                        None => w.to_owned(),
                    }
                }
                None => w.to_owned(),
            },
        })
        .collect();
    words.join(" ")
}

/// The text of `prints "TEXT"` in a comment.
fn promised(comment: &str) -> Option<&str> {
    let rest = &comment[comment.find("prints \"")? + 8..];
    Some(&rest[..rest.find('"')?])
}

/// Sleeps past the next multiple of `period` seconds if it is less than a
/// minute away.
fn away_from_boundary(period: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = period - now % period;
    if left < 60 {
        std::thread::sleep(Duration::from_secs(left + 2));
    }
}

fn bash(line: &str, dir: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.current_dir(dir)
        .env("PATH", path_with(&bin_dir()))
        .args(["-c", line]);
    cmd
}

#[test]
fn readme_walk_through_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let steps = walk_through(&readme);
    // Make sure the binaries the README names are the ones just built.
    for name in [
        "milagro",
        "echo-server",
        "echo-client",
        "https-server",
        "https-client",
    ] {
        let path = bin_dir().join(name);
        assert!(path.exists(), "{} missing", path.display());
    }
    assert_eq!(
        Path::new(env!("CARGO_BIN_EXE_milagro")).parent(),
        Some(bin_dir().as_path())
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ids: HashMap<&str, String> = HashMap::new();
    let mut ports = HashMap::new();
    let mut servers: Vec<(String, Running)> = Vec::new();
    let (mut waited_day, mut waited_epoch) = (false, false);
    let mut epoch_seconds = None;
    let mut promises = 0;
    for step in &steps {
        let line = substitute(&step.line, &ids, &mut ports);
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "--epoch-seconds") {
            epoch_seconds = words.get(i + 1).and_then(|l| l.parse::<u64>().ok());
        }
        if words.contains(&"--today") && !waited_day {
            away_from_boundary(86_400);
            waited_day = true;
        }
        if words.contains(&"--now") && !waited_epoch {
            away_from_boundary(epoch_seconds.expect("--epoch-seconds before --now"));
            waited_epoch = true;
        }

        if words[0].ends_with("-server") {
            let (server, addr) = Running::listening(&mut bash(&format!("exec {line}"), dir));
            assert!(
                line.contains(&addr.to_string()),
                "{line}: listening on {addr}"
            );
            servers.push((line.clone(), server));
            continue;
        }
        let out = if step.comment.contains("asks for the PIN") {
            let mut cmd = terminal_command(&line)
                .expect("util-linux `script` runs the README's PIN prompts in a terminal");
            cmd.current_dir(dir).env("PATH", path_with(&bin_dir()));
            run_with_input(
                &mut cmd,
                format!("{PIN}\n{PIN}\n").as_bytes(),
                PROCESS_TIMEOUT,
            )
        } else {
            run_bounded(&mut bash(&line, dir), PROCESS_TIMEOUT)
        }
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "README command failed: {line}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(text) = promised(&step.comment) {
            assert!(stdout.contains(text), "{line}: {stdout:?} lacks {text:?}");
            promises += 1;
        }
        if words.starts_with(&["milagro", "dta", "init"]) && !words.contains(&"--deployment") {
            let id = stdout
                .lines()
                .find_map(|l| l.trim().strip_prefix("deployment: "))
                .expect("the creating D-TA prints the deployment id")
                .to_owned();
            // The join line it prints is the README's, with the id.
            let params = words[3..words.len() - 2].join(" ");
            assert!(
                stdout.contains(&format!(
                    "milagro dta init {params} --deployment {id} --out FILE"
                )),
                "{stdout}"
            );
            let placeholder = if words.contains(&"p2p") {
                "<P2P_ID>"
            } else {
                "<ID>"
            };
            ids.insert(placeholder, id);
        }
    }

    // Both suites, both programs: every client line was served.
    assert!(
        steps.len() >= 35,
        "{} commands read from the README",
        steps.len()
    );
    assert_eq!(promises, 5, "every prints \"…\" comment was checked");
    let accepted: Vec<String> = servers
        .iter()
        .filter(|(line, _)| line.starts_with("echo-server"))
        .map(|(_, s)| s.expect_line("accepted "))
        .collect();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert!(
        accepted[0]
            .starts_with("accepted alice@example.com via TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256"),
        "{accepted:?}"
    );
    assert!(
        accepted[1]
            .starts_with("accepted bob@example.com via TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256"),
        "{accepted:?}"
    );
    assert!(!dir.join("alice.secret").exists(), "the README removes it");
}

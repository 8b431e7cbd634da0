//! Across processes (interop item 4): this project's own binaries as separate
//! operating-system processes talking over loopback TCP. The outside parties
//! checked here are the `milagro` key tool (which writes every key file:
//! three D-TAs per suite, issued shares, combined keys, a token with its PIN
//! extracted), the `echo-server` process (which only reads those files) and
//! the `echo-client` process (likewise). Nothing is shared between them but
//! files on disk and bytes on the socket.
//!
//! The binaries are found next to this test's executable (`target/<profile>/`,
//! where `cargo test --workspace` puts them); if one is missing, they are
//! built once with `cargo build -p milagro-examples --bins` (same profile),
//! bounded by a timeout. Every child process is bounded by a timeout and
//! killed at the end of its test.

use std::path::Path;
use std::process::{Command, Output};

use milagro_test_support::{PROCESS_TIMEOUT, Running, run_bounded};

/// One of this project's example binaries (built if missing).
fn binary(name: &str) -> std::path::PathBuf {
    milagro_test_support::binary("milagro-examples", name)
}

/// Runs the key tool in `dir`; panics with its stderr unless it succeeds.
fn key_tool(dir: &Path, args: &[&str]) -> String {
    let out = run_bounded(
        Command::new(binary("milagro")).current_dir(dir).args(args),
        PROCESS_TIMEOUT,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "milagro {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The 32-hex-digit deployment id the key tool printed.
fn deployment_id(report: &str) -> String {
    report
        .split_whitespace()
        .find(|w| w.len() == 32 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no deployment id in {report:?}"))
        .to_owned()
}

/// Three D-TAs of `suite` (the first creates the deployment, the others
/// join it by id), as `{prefix}{1,2,3}.master`.
fn init_dtas(dir: &Path, suite: &str, prefix: &str) {
    let params: &[&str] = if suite == "cs" {
        &["--permits", "required"]
    } else {
        &["--epoch-seconds", "3600"]
    };
    let mut id = None;
    for i in 1..=3 {
        let out = format!("{prefix}{i}.master");
        let mut args = vec!["dta", "init", "--suite", suite, "--dtas", "3"];
        args.extend_from_slice(params);
        let joined;
        if let Some(id) = &id {
            joined = String::clone(id);
            args.extend(["--deployment", joined.as_str()]);
        }
        args.extend(["--out", out.as_str()]);
        let report = key_tool(dir, &args);
        let got = deployment_id(&report);
        match &id {
            None => id = Some(got),
            Some(first) => assert_eq!(&got, first, "D-TA {i} joined another deployment"),
        }
    }
}

/// One share from each of the 3 D-TAs `{prefix}{i}.master`, combined into `out`.
fn issue_and_combine(dir: &Path, prefix: &str, what: &[&str], out: &str) {
    let mut shares = Vec::new();
    for i in 1..=3 {
        let master = format!("{prefix}{i}.master");
        let share = format!("{out}.{i}.share");
        let mut args = vec!["dta", "issue", "--master", master.as_str()];
        args.extend_from_slice(what);
        args.extend(["--out", share.as_str()]);
        key_tool(dir, &args);
        shares.push(share);
    }
    let mut args = vec!["combine"];
    args.extend(shares.iter().map(String::as_str));
    args.extend(["--out", out]);
    let report = key_tool(dir, &args);
    assert!(report.starts_with("combined 3 shares"), "{report}");
}

const ALICE: &str = "alice@example.com";
const PIN: &str = "1234";
const SERVER_ID: &str = "server.example";
const CLIENT_ID: &str = "client.example";

/// CS files made by the key tool: `server.secret`, `alice.token` (PIN 1234,
/// 4 digits), `alice.permit` (today).
fn cs_files(dir: &Path) {
    init_dtas(dir, "cs", "cs");
    issue_and_combine(dir, "cs", &["server-secret"], "server.secret");
    issue_and_combine(
        dir,
        "cs",
        &["client-secret", "--identity", ALICE],
        "alice.secret",
    );
    issue_and_combine(
        dir,
        "cs",
        &["time-permit", "--identity", ALICE, "--today"],
        "alice.permit",
    );
    let report = key_tool(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            PIN,
            "--pin-digits",
            "4",
            "--out",
            "alice.token",
        ],
    );
    assert!(report.contains(ALICE), "{report}");
    std::fs::remove_file(dir.join("alice.secret")).unwrap();
}

/// P2P files made by the key tool: `server.key`, `client.key` (current epoch).
fn p2p_files(dir: &Path) {
    init_dtas(dir, "p2p", "p2p");
    issue_and_combine(
        dir,
        "p2p",
        &["p2p-server", "--identity", SERVER_ID, "--now"],
        "server.key",
    );
    issue_and_combine(
        dir,
        "p2p",
        &["p2p-client", "--identity", CLIENT_ID, "--now"],
        "client.key",
    );
}

/// A running `echo-server` process and the address it printed.
struct Server {
    process: Running,
    addr: String,
}

impl Server {
    fn start(dir: &Path, keys: &[&str]) -> Self {
        let (process, addr) = Running::listening(
            Command::new(binary("echo-server"))
                .current_dir(dir)
                .args(["--listen", "127.0.0.1:0"])
                .args(keys),
        );
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_ne!(addr.port(), 0, "the real port is printed");
        Self {
            process,
            addr: addr.to_string(),
        }
    }

    /// Everything the server printed so far, in order.
    fn printed(&self) -> Vec<String> {
        self.process.printed()
    }

    /// Waits (bounded) for a line containing `needle`; returns it.
    fn expect_line(&self, needle: &str) -> String {
        self.process.expect_line(needle)
    }
}

fn client(dir: &Path, server: &Server, args: &[&str]) -> Output {
    run_bounded(
        Command::new(binary("echo-client"))
            .current_dir(dir)
            .args(["--connect", &server.addr])
            .args(args),
        PROCESS_TIMEOUT,
    )
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Outside parties: the `milagro` key tool, `echo-server` and `echo-client`
/// as three separate processes. CS suite: the server holds only the combined
/// server secret file, the client only its token file, PIN and permit file.
#[test]
fn separate_processes_key_tool_echo_server_and_client_cs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    let server = Server::start(
        dir,
        &["--cs-server-secret", "server.secret", "--pin-digits", "4"],
    );
    let message = "hello over CS from another process";
    let out = client(
        dir,
        &server,
        &[
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--pin",
            PIN,
            "--permit",
            "alice.permit",
            "--message",
            message,
        ],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "echo-client failed: {}\n{stdout}",
        text(&out.stderr)
    );
    assert!(stdout.contains(&format!("echo: {message}\n")), "{stdout}");
    // A CS server's identity blob carries its (informational) service name.
    assert!(stdout.contains("server identity: milagro-cs\n"), "{stdout}");
    let accepted = server.expect_line("accepted ");
    assert_eq!(
        accepted,
        "accepted alice@example.com via TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256 from 127.0.0.1"
    );
}

/// Outside parties: the `milagro` key tool, `echo-server` and `echo-client`
/// as three separate processes. P2P suite: each side holds only its own
/// combined key file; the client names the server's identity.
#[test]
fn separate_processes_key_tool_echo_server_and_client_p2p() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    p2p_files(dir);
    let server = Server::start(dir, &["--p2p-key", "server.key"]);
    let message = "hello over P2P from another process";
    let out = client(
        dir,
        &server,
        &[
            "--server-name",
            SERVER_ID,
            "--p2p-key",
            "client.key",
            "--message",
            message,
        ],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "echo-client failed: {}\n{stdout}",
        text(&out.stderr)
    );
    assert!(stdout.contains(&format!("echo: {message}\n")), "{stdout}");
    assert!(
        stdout.contains(&format!("server identity: {SERVER_ID}\n")),
        "{stdout}"
    );
    let accepted = server.expect_line("accepted ");
    assert_eq!(
        accepted,
        format!("accepted {CLIENT_ID} via TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256 from 127.0.0.1")
    );
}

/// The PIN error of [`WRONG_PIN`] for [`PIN`]: 7153 − 1234.
const WRONG_PIN_DELTA: i64 = 5919;
/// A wrong PIN for alice (registered [`PIN`]).
const WRONG_PIN: &str = "7153";

/// Outside parties: the `milagro` key tool, `echo-server` and `echo-client`
/// as separate processes. A wrong PIN (7153 for 1234): the client process
/// exits non-zero with the credential-refused message and prints no echo;
/// the server process's observer (server-side only) reports the
/// classification "wrong PIN" with the counts, and nothing the server prints
/// carries the PIN error δ = 5919: whoever reads a log with δ and chose the
/// PIN′ of the attempt learns PIN = PIN′ − δ (issue 9 item 3).
#[test]
fn separate_processes_wrong_pin_refused_cs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    let server = Server::start(
        dir,
        &["--cs-server-secret", "server.secret", "--pin-digits", "4"],
    );
    let out = client(
        dir,
        &server,
        &[
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--pin",
            WRONG_PIN,
            "--permit",
            "alice.permit",
            "--message",
            "must not be echoed",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "wrong PIN accepted: {stdout}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "echo-client: Milagro credential refused (PIN, permit, lockout or clock)"
    );
    assert!(!stdout.contains("echo:"), "{stdout}");
    let observed = server.expect_line("server-side observer: wrong PIN");
    assert!(
        observed.ends_with("from 127.0.0.1: confirmed 1, cumulative 1"),
        "{observed}"
    );
    // The refusal line comes after the classification or before it: wait
    // for both, then look at everything the server printed.
    if !server
        .printed()
        .iter()
        .any(|l| l.starts_with("refused from 127.0.0.1"))
    {
        server.expect_line("refused from 127.0.0.1");
    }
    let printed = server.printed().join("\n");
    let d = WRONG_PIN_DELTA.to_string();
    let forms = [d.clone(), format!("+{d}"), format!("-{d}")];
    assert!(
        !printed.contains('δ') && !printed.to_lowercase().contains("delta"),
        "{printed}"
    );
    for word in printed.split(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c))) {
        assert!(
            !forms.contains(&word.to_owned()),
            "δ printed as {word:?}:\n{printed}"
        );
    }
}

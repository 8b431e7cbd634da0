//! The key tool and the example programs as a new user meets them: the real
//! binaries in a temporary directory, every message asserted as printed.
//!
//! * `https-client` asks for the PIN on a terminal (run inside a
//!   pseudo-terminal made by util-linux `script`), ends its output with a
//!   newline and says a refusal once;
//! * a missing permit names `--permit`, a missing PIN names `--pin-file`;
//! * the servers listen on `localhost:PORT` and an address in use is named;
//! * a D-TA joining by id with other parameters is refused at `dta init`;
//! * `--cert` / `--key` serve standard X.509 clients on the Milagro listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use milagro_test_support::{
    PROCESS_TIMEOUT, Running, run_bounded, run_with_input, shell_line, terminal_command,
};

mod common;
use common::{certificate, standard_client};

const ALICE: &str = "alice@example.com";
const PIN: &str = "123456";
const REFUSED: &str = "Milagro credential refused (PIN, permit, lockout or clock)";

fn bin(name: &str) -> &'static Path {
    Path::new(match name {
        "milagro" => env!("CARGO_BIN_EXE_milagro"),
        "echo-server" => env!("CARGO_BIN_EXE_echo-server"),
        "echo-client" => env!("CARGO_BIN_EXE_echo-client"),
        "https-server" => env!("CARGO_BIN_EXE_https-server"),
        "https-client" => env!("CARGO_BIN_EXE_https-client"),
        other => panic!("no binary {other}"),
    })
}

/// Runs binary `name` in `dir` with `args`, standard input closed.
fn run(dir: &Path, name: &str, args: &[&str]) -> Output {
    run_bounded(
        Command::new(bin(name)).current_dir(dir).args(args),
        PROCESS_TIMEOUT,
    )
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs binary `name`, which must succeed; returns its stdout.
fn ok(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = run(dir, name, args);
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs binary `name`, which must fail with `code`; returns its stderr.
fn fails(dir: &Path, name: &str, args: &[&str], code: i32) -> String {
    let out = run(dir, name, args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{name} {args:?}: {stderr}");
    stderr
}

fn deployment_id(report: &str) -> String {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("deployment: "))
        .expect("a deployment line")
        .to_owned()
}

/// A one-D-TA CS deployment with permits made by the key tool in `dir`:
/// `server.secret`, `alice.token` (PIN [`PIN`], given in `alice.pin`),
/// `alice.permit` (today).
fn cs_files(dir: &Path) {
    let m = "dta1.master";
    let init = [
        "dta",
        "init",
        "--suite",
        "cs",
        "--dtas",
        "1",
        "--permits",
        "required",
    ];
    ok(dir, "milagro", &[&init[..], &["--out", m]].concat());
    let issue = |what: &[&str], out: &str| {
        ok(
            dir,
            "milagro",
            &[&["dta", "issue", "--master", m], what, &["--out", out]].concat(),
        );
    };
    issue(&["server-secret"], "ss.1");
    issue(&["client-secret", "--identity", ALICE], "alice-cs.1");
    issue(
        &["time-permit", "--identity", ALICE, "--today"],
        "alice-tp.1",
    );
    for (share, key) in [
        ("ss.1", "server.secret"),
        ("alice-cs.1", "alice.secret"),
        ("alice-tp.1", "alice.permit"),
    ] {
        ok(dir, "milagro", &["combine", share, "--out", key]);
    }
    std::fs::write(dir.join("alice.pin"), format!("{PIN}\n")).unwrap();
    let report = ok(
        dir,
        "milagro",
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin-file",
            "alice.pin",
            "--out",
            "alice.token",
        ],
    );
    assert!(report.contains(ALICE), "{report}");
}

fn server(dir: &Path, name: &str, args: &[&str]) -> (Running, SocketAddr) {
    Running::listening(Command::new(bin(name)).current_dir(dir).args(args))
}

/// Runs binary `name` with `args` in a pseudo-terminal in `dir`, typing
/// `typed`; `None` when util-linux `script` is not installed.
fn run_on_terminal(name: &str, args: &[&str], dir: &Path, typed: &str) -> Option<Output> {
    let mut cmd = terminal_command(&shell_line(bin(name), args))?;
    Some(run_with_input(cmd.current_dir(dir), typed.as_bytes(), PROCESS_TIMEOUT).unwrap())
}

fn https_url(addr: SocketAddr) -> String {
    format!("https://service.example:{}/", addr.port())
}

#[test]
fn https_client_asks_for_the_pin_on_a_terminal_and_ends_with_a_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    let (_server, addr) = server(
        dir,
        "https-server",
        &[
            "--listen",
            "127.0.0.1:0",
            "--cs-server-secret",
            "server.secret",
        ],
    );
    let (url, connect) = (https_url(addr), addr.to_string());
    let base = [
        "--url",
        url.as_str(),
        "--connect",
        connect.as_str(),
        "--token",
        "alice.token",
        "--permit",
        "alice.permit",
    ];

    // A script: the PIN from a file; the body ends with a newline.
    let out = ok(
        dir,
        "https-client",
        &[&base[..], &["--pin-file", "alice.pin"]].concat(),
    );
    assert_eq!(out, "hello alice@example.com, CS\n");

    // No PIN and no terminal to ask on: refused at once, naming the flags.
    let stderr = fails(dir, "https-client", &base, 1);
    assert_eq!(
        stderr,
        "https-client: error: no PIN: standard input is not a terminal to ask on; pass --pin-file FILE (or --pin PIN)\n"
    );

    // A wrong PIN: the refusal said once, without a "TLS error" stutter.
    let stderr = fails(
        dir,
        "https-client",
        &[&base[..], &["--pin", "654321"]].concat(),
        1,
    );
    assert_eq!(stderr, format!("https-client: error: {REFUSED}\n"));

    // On a terminal: asked like echo-client ("PIN: "), no echo needed.
    let typed = format!("{PIN}\n");
    let Some(out) = run_on_terminal("https-client", &base, dir, &typed) else {
        eprintln!("util-linux `script` is not installed: the terminal prompt is not checked");
        return;
    };
    let screen = text(&out.stdout);
    assert!(out.status.success(), "{screen} {}", text(&out.stderr));
    assert!(screen.contains("PIN: "), "{screen:?}");
    // The terminal turns "\n" into "\r\n".
    assert!(
        screen.ends_with("PIN: \r\nhello alice@example.com, CS\r\n"),
        "{screen:?}"
    );
    // echo-client asks the same way.
    let Some(out) = run_on_terminal(
        "echo-client",
        &[
            "--connect",
            "127.0.0.1:9",
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--permit",
            "alice.permit",
            "--message",
            "hi",
        ],
        dir,
        &typed,
    ) else {
        return;
    };
    let screen = text(&out.stdout);
    assert!(screen.contains("PIN: "), "{screen:?}");
}

#[test]
fn a_missing_permit_names_the_permit_flag_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    let expected =
        "alice.token: this deployment requires a daily time permit; pass --permit FILE (today's)";
    // Nothing listens there: the check comes before any connection.
    let stderr = fails(
        dir,
        "echo-client",
        &[
            "--connect",
            "127.0.0.1:9",
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--pin",
            PIN,
            "--message",
            "hi",
        ],
        1,
    );
    assert_eq!(stderr, format!("echo-client: {expected}\n"));
    let stderr = fails(
        dir,
        "https-client",
        &[
            "--url",
            "https://service.example:9/",
            "--connect",
            "127.0.0.1:9",
            "--token",
            "alice.token",
            "--pin",
            PIN,
        ],
        1,
    );
    assert_eq!(stderr, format!("https-client: error: {expected}\n"));
}

#[test]
fn servers_listen_on_a_host_name_and_name_an_address_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    for name in ["echo-server", "https-server"] {
        let (_first, addr) = server(
            dir,
            name,
            &[
                "--listen",
                "localhost:0",
                "--cs-server-secret",
                "server.secret",
            ],
        );
        assert!(addr.ip().is_loopback(), "{addr}");
        let taken = addr.to_string();
        let stderr = fails(
            dir,
            name,
            &["--listen", &taken, "--cs-server-secret", "server.secret"],
            1,
        );
        assert!(
            stderr.starts_with(&format!("{name}: "))
                && stderr.contains(&format!("cannot listen on {taken}: ")),
            "{stderr}"
        );
        assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A client reaches a server by host name too.
    let (_server, addr) = server(
        dir,
        "echo-server",
        &[
            "--listen",
            "localhost:0",
            "--cs-server-secret",
            "server.secret",
        ],
    );
    let connect = format!("localhost:{}", addr.port());
    let out = ok(
        dir,
        "echo-client",
        &[
            "--connect",
            &connect,
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--permit",
            "alice.permit",
            "--pin-file",
            "alice.pin",
            "--message",
            "by name",
        ],
    );
    assert!(out.starts_with("echo: by name\n"), "{out}");
}

#[test]
fn a_dta_joining_with_other_parameters_is_refused_at_join() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cs = ["--suite", "cs", "--dtas", "3", "--permits", "required"];
    let id = deployment_id(&ok(
        dir,
        "milagro",
        &[&["dta", "init"], &cs[..], &["--out", "dta1.master"]].concat(),
    ));
    let join = |params: &[&str], out: &str| {
        run(
            dir,
            "milagro",
            &[
                &["dta", "init"],
                params,
                &["--deployment", &id, "--out", out],
            ]
            .concat(),
        )
    };
    for (params, shown) in [
        (
            &["--suite", "cs", "--dtas", "2", "--permits", "required"][..],
            "--suite cs --dtas 2 --permits required",
        ),
        (
            &["--suite", "cs", "--dtas", "3", "--permits", "off"],
            "--suite cs --dtas 3 --permits off",
        ),
        (
            &["--suite", "p2p", "--dtas", "3", "--epoch-seconds", "3600"],
            "--suite p2p --dtas 3 --epoch-seconds 3600",
        ),
    ] {
        let out = join(params, "dta2.master");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{params:?} joined: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "milagro: error: --deployment {id}: that deployment was not created with {shown}; \
                 use the exact join line its first D-TA printed (or --deployment-from FILE with a file of the deployment)\n"
            )
        );
        assert!(!dir.join("dta2.master").exists());
    }
    // The creator's own parameters join, by id or from a file.
    let out = join(&cs, "dta2.master");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(deployment_id(&text(&out.stdout)), id);
    ok(
        dir,
        "milagro",
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--deployment-from",
            "dta1.master",
            "--out",
            "dta3.master",
        ],
    );
    // The same check for P2P: another epoch length is refused.
    let p2p = ["--suite", "p2p", "--dtas", "2", "--epoch-seconds", "3600"];
    let p2p_id = deployment_id(&ok(
        dir,
        "milagro",
        &[&["dta", "init"], &p2p[..], &["--out", "p1.master"]].concat(),
    ));
    let stderr = fails(
        dir,
        "milagro",
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--dtas",
            "2",
            "--epoch-seconds",
            "600",
            "--deployment",
            &p2p_id,
            "--out",
            "p2.master",
        ],
        2,
    );
    assert!(stderr.contains("--epoch-seconds 600"), "{stderr}");
}

#[test]
fn servers_serve_standard_clients_with_cert_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(dir);
    let root = certificate(dir);
    let keys = [
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        "server.secret",
        "--cert",
        "cert.pem",
        "--key",
        "key.pem",
    ];

    // echo-server: a standard client is echoed, and a Milagro one still is.
    let (echo, addr) = server(dir, "echo-server", &keys);
    let mut tls = standard_client(addr, &root).unwrap();
    tls.write_all(b"plain hello\n").unwrap();
    let mut line = String::new();
    BufReader::new(&mut tls).read_line(&mut line).unwrap();
    assert_eq!(line, "plain hello\n");
    assert_eq!(
        echo.expect_line("standard"),
        "accepted a standard TLS client from 127.0.0.1"
    );
    let out = ok(
        dir,
        "echo-client",
        &[
            "--connect",
            &addr.to_string(),
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--permit",
            "alice.permit",
            "--pin-file",
            "alice.pin",
            "--message",
            "milagro hello",
        ],
    );
    assert!(out.starts_with("echo: milagro hello\n"), "{out}");
    echo.expect_line("accepted alice@example.com via TLS_MILAGRO_CS");

    // https-server: a standard client gets 401 (no Milagro identity), a
    // Milagro client its greeting, on one listener.
    let (_https, addr) = server(dir, "https-server", &keys);
    let mut tls = standard_client(addr, &root).unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: service.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    // A server that closes without close_notify ends the read with an error
    // after the response; what arrived is checked either way.
    let _ = tls.read_to_end(&mut response);
    let response = text(&response);
    assert!(
        response.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with(milagro_examples::https::UNAUTHENTICATED_BODY),
        "{response}"
    );
    let out = ok(
        dir,
        "https-client",
        &[
            "--url",
            &https_url(addr),
            "--connect",
            &addr.to_string(),
            "--token",
            "alice.token",
            "--permit",
            "alice.permit",
            "--pin-file",
            "alice.pin",
        ],
    );
    assert_eq!(out, "hello alice@example.com, CS\n");

    // A key file that is not a key: refused at start, naming the file.
    std::fs::write(dir.join("bad.pem"), "not a key\n").unwrap();
    let stderr = fails(
        dir,
        "echo-server",
        &[
            "--listen",
            "127.0.0.1:0",
            "--cs-server-secret",
            "server.secret",
            "--cert",
            "cert.pem",
            "--key",
            "bad.pem",
        ],
        1,
    );
    assert!(stderr.starts_with("echo-server: bad.pem: "), "{stderr}");
}

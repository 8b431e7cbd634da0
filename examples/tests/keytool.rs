//! The `milagro` key tool end to end, through the built binary, in a temp dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use milagro_examples::demo::{CsClient, CsRefusal, CsServer, InMemory, Transport};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsServerSecret, CsTimePermit, CsToken, P2pClientKey, P2pServerKey, day_of,
};
use milagro_tls::mpin::{Pin, PinDigits};
use milagro_tls::p2p::{P2pClient, P2pServer};

fn milagro(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_milagro"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run milagro")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = milagro(dir, args);
    assert!(
        out.status.success(),
        "milagro {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail with exit code 1 and every `needle` in its
/// stderr; returns the stderr.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let out = milagro(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "milagro {args:?} should fail with 1; stderr: {stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "milagro {args:?}: stderr {stderr:?} lacks {needle:?}"
        );
    }
    stderr
}

fn deployment_id(init_output: &str) -> String {
    let line = init_output
        .lines()
        .find(|l| l.trim_start().starts_with("deployment: "))
        .expect("deployment line");
    let id = line
        .trim_start()
        .trim_start_matches("deployment: ")
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
    id
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Three CS D-TAs (permits required) and three P2P D-TAs, the first of each
/// creating the deployment, the others joining by id or from a file.
fn init_dtas(dir: &Path) -> (String, String) {
    let first = ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "required",
            "--out",
            "cs1.master",
        ],
    );
    assert!(first.starts_with("created CS deployment "), "{first}");
    let cs = deployment_id(&first);
    let joined = ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "required",
            "--deployment",
            &cs,
            "--out",
            "cs2.master",
        ],
    );
    assert_eq!(deployment_id(&joined), cs);
    let joined = ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--deployment-from",
            "cs1.master",
            "--out",
            "cs3.master",
        ],
    );
    assert_eq!(deployment_id(&joined), cs);

    let first = ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--dtas",
            "3",
            "--epoch-seconds",
            "3600",
            "--out",
            "p2p1.master",
        ],
    );
    let p2p = deployment_id(&first);
    assert_ne!(p2p, cs);
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--dtas",
            "3",
            "--epoch-seconds",
            "3600",
            "--deployment",
            &p2p,
            "--out",
            "p2p2.master",
        ],
    );
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--deployment-from",
            "p2p2.master",
            "--out",
            "p2p3.master",
        ],
    );
    (cs, p2p)
}

fn issue_all(dir: &Path) {
    for i in 1..=3 {
        let cs = format!("cs{i}.master");
        let p2p = format!("p2p{i}.master");
        let ss = format!("ss{i}.share");
        let cs_share = format!("alice{i}.share");
        let tp = format!("permit{i}.share");
        let sk = format!("server{i}.share");
        let ck = format!("client{i}.share");
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                &cs,
                "server-secret",
                "--out",
                &ss,
            ],
        );
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                &cs,
                "client-secret",
                "--identity",
                "alice@example.com",
                "--out",
                &cs_share,
            ],
        );
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                &cs,
                "time-permit",
                "--identity",
                "alice@example.com",
                "--today",
                "--out",
                &tp,
            ],
        );
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                &p2p,
                "p2p-server",
                "--identity",
                "server.example",
                "--now",
                "--out",
                &sk,
            ],
        );
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                &p2p,
                "p2p-client",
                "--identity",
                "client.example",
                "--now",
                "--out",
                &ck,
            ],
        );
    }
}

fn combine_all(dir: &Path) {
    for (stem, out) in [
        ("ss", "server.secret"),
        ("alice", "alice.secret"),
        ("permit", "alice.permit"),
        ("server", "server.key"),
        ("client", "client.key"),
    ] {
        let files: Vec<String> = (1..=3).map(|i| format!("{stem}{i}.share")).collect();
        let mut args: Vec<&str> = vec!["combine"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["--out", out]);
        let report = ok(dir, &args);
        assert!(
            report.starts_with("combined 3 shares into a MILAGRO "),
            "{report}"
        );
    }
}

fn load<K: KeyFile>(dir: &Path, name: &str) -> K {
    K::from_pem(&fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn key_tool_end_to_end_and_keys_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (cs_id, p2p_id) = init_dtas(dir);
    issue_all(dir);
    combine_all(dir);
    let report = ok(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            "1234",
            "--pin-digits",
            "4",
            "--out",
            "alice.token",
        ],
    );
    assert!(report.contains("alice@example.com"), "{report}");

    // Every file the tool wrote holds a secret: mode 0600.
    #[cfg(unix)]
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // inspect: metadata, never the secret.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let shown = ok(dir, &["inspect", "alice.permit"]);
    assert!(shown.contains("kind: MILAGRO CS TIME PERMIT\n"), "{shown}");
    assert!(shown.contains(&format!("deployment: {cs_id}\n")), "{shown}");
    assert!(
        shown.contains("D-TAs: 3\n") && shown.contains("permits: required\n"),
        "{shown}"
    );
    assert!(shown.contains("identity: alice@example.com\n"), "{shown}");
    assert!(
        shown.contains(&format!("day: {} (", day_of(now))),
        "{shown}"
    );
    let pem = fs::read_to_string(dir.join("alice.permit")).unwrap();
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(line), "inspect printed key material");
    }
    let shown = ok(dir, &["inspect", "client2.share"]);
    assert!(
        shown.contains("kind: MILAGRO P2P CLIENT KEY SHARE\n"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("deployment: {p2p_id}\n")),
        "{shown}"
    );
    assert!(shown.contains("epoch length: 3600 s\n"), "{shown}");
    assert!(
        shown.contains(&format!(
            "epoch: {} (",
            milagro_tls::p2p_tls::client_epoch(now, 3_600)
        )),
        "{shown}"
    );
    assert!(shown.contains("  D-TA: "), "{shown}");
    let shown = ok(dir, &["inspect", "cs2.master"]);
    assert!(
        shown.contains("kind: MILAGRO DTA MASTER SHARE\n"),
        "{shown}"
    );

    // The files work: CS with the right PIN, then a wrong PIN classified.
    let server_secret: CsServerSecret = load(dir, "server.secret");
    let token: CsToken = load(dir, "alice.token");
    let permit: CsTimePermit = load(dir, "alice.permit");
    assert_eq!(token.identity().as_str(), "alice@example.com");
    assert_eq!(server_secret.deployment().id.to_string(), cs_id);
    let digits = PinDigits::new(4).unwrap();
    let server = CsServer::new(&server_secret, digits).unwrap();
    let client = CsClient {
        token: token.clone(),
        pin: Pin::parse("1234", digits).unwrap(),
        permit: Some(permit.clone()),
    };
    let run = InMemory.cs(&client, &server, now).unwrap();
    let server_side = run.server.expect("server accepts");
    let client_side = run.client.expect("client completes");
    assert_eq!(*server_side, *client_side);
    let wrong = CsClient {
        token,
        pin: Pin::parse("1200", digits).unwrap(),
        permit: Some(permit),
    };
    let run = InMemory.cs(&wrong, &server, now).unwrap();
    assert_eq!(run.server.err(), Some(CsRefusal::WrongPin));
    assert!(run.client.is_none());

    // P2P.
    let server_key: P2pServerKey = load(dir, "server.key");
    let client_key: P2pClientKey = load(dir, "client.key");
    assert_eq!(server_key.deployment().id.to_string(), p2p_id);
    let p2p_server = P2pServer::new(server_key, None).unwrap();
    let p2p_client = P2pClient::new(
        client_key,
        Identity::new("server.example").unwrap(),
        Some(p2p_server.deployment().id),
    )
    .unwrap();
    let run = InMemory.p2p(&p2p_client, &p2p_server, now).unwrap();
    assert_eq!(*run.client, *run.server);

    // --force overwrites and keeps 0600; without it the file is kept.
    let before = fs::read_to_string(dir.join("alice.token")).unwrap();
    fails(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            "1",
            "--pin-digits",
            "4",
            "--out",
            "alice.token",
        ],
        &["alice.token: already exists; pass --force to overwrite it"],
    );
    assert_eq!(fs::read_to_string(dir.join("alice.token")).unwrap(), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join("alice.token"), fs::Permissions::from_mode(0o644)).unwrap();
    }
    ok(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            "1",
            "--pin-digits",
            "4",
            "--out",
            "alice.token",
            "--force",
        ],
    );
    assert_ne!(fs::read_to_string(dir.join("alice.token")).unwrap(), before);
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("alice.token")), 0o600);
}

/// A CS deployment of 3 D-TAs with alice's client secret shares, a second CS
/// deployment's D-TA, and a P2P D-TA.
fn negative_fixture(dir: &Path) {
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "required",
            "--out",
            "cs1.master",
        ],
    );
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--deployment-from",
            "cs1.master",
            "--out",
            "cs2.master",
        ],
    );
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--deployment-from",
            "cs1.master",
            "--out",
            "cs3.master",
        ],
    );
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "required",
            "--out",
            "other.master",
        ],
    );
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--dtas",
            "1",
            "--epoch-seconds",
            "600",
            "--out",
            "p2p.master",
        ],
    );
    for (master, out) in [
        ("cs1.master", "a1.share"),
        ("cs2.master", "a2.share"),
        ("cs3.master", "a3.share"),
        ("other.master", "foreign.share"),
    ] {
        ok(
            dir,
            &[
                "dta",
                "issue",
                "--master",
                master,
                "client-secret",
                "--identity",
                "alice@example.com",
                "--out",
                out,
            ],
        );
    }
    ok(
        dir,
        &[
            "combine",
            "a1.share",
            "a2.share",
            "a3.share",
            "--out",
            "alice.secret",
        ],
    );
}

fn edit(dir: &Path, from: &str, to: &str, f: impl FnOnce(String) -> String) -> PathBuf {
    let text = fs::read_to_string(dir.join(from)).unwrap();
    let path = dir.join(to);
    fs::write(&path, f(text)).unwrap();
    path
}

/// Replaces the `index`-th base64 character of the body with another valid
/// base64 character.
fn flip_base64(text: String, index: usize) -> String {
    let mut remaining = index;
    let mut done = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let body_len = line.trim_end().len();
        if done || line.starts_with("-----") || remaining >= body_len {
            if !done && !line.starts_with("-----") {
                remaining -= body_len;
            }
            out.push_str(line);
            continue;
        }
        let mut chars: Vec<char> = line.chars().collect();
        let c = &mut chars[remaining];
        *c = if *c == 'A' { 'B' } else { 'A' };
        out.extend(chars);
        done = true;
    }
    assert!(done, "index {index} is past the body");
    out
}

#[test]
fn bad_files_are_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    negative_fixture(dir);

    // A flipped base64 character in the point (body byte ≈ 60 of 87).
    edit(dir, "alice.secret", "flipped.secret", |t| {
        flip_base64(t, 80)
    });
    fails(
        dir,
        &[
            "token",
            "--secret",
            "flipped.secret",
            "--pin",
            "1",
            "--out",
            "t1",
        ],
        &["flipped.secret: bad point in key file"],
    );
    // A flipped first character: the format version byte 0x01 becomes 0x05.
    edit(dir, "alice.secret", "version.secret", |t| flip_base64(t, 0));
    fails(
        dir,
        &["inspect", "version.secret"],
        &["version.secret: unsupported key file format version 5"],
    );
    // A character outside base64.
    edit(dir, "alice.secret", "garbled.secret", |t| {
        flip_base64(t, 10)
            .replacen('\n', "\n*", 2)
            .replacen("\n*", "\n", 1)
    });
    fails(
        dir,
        &["inspect", "garbled.secret"],
        &["garbled.secret: invalid PEM"],
    );
    // Truncated.
    edit(dir, "alice.secret", "short.secret", |t| {
        t[..t.len() / 2].to_owned()
    });
    fails(
        dir,
        &[
            "token",
            "--secret",
            "short.secret",
            "--pin",
            "1",
            "--out",
            "t2",
        ],
        &["short.secret: invalid PEM"],
    );
    // Missing.
    fails(
        dir,
        &[
            "combine",
            "a1.share",
            "nope.share",
            "a3.share",
            "--out",
            "t3",
        ],
        &["nope.share: cannot read: "],
    );
    // Not a key file at all.
    fs::write(dir.join("notes.txt"), "hello\n").unwrap();
    fails(
        dir,
        &["inspect", "notes.txt"],
        &["notes.txt: not a Milagro key file"],
    );
    fs::write(dir.join("binary.bin"), [0xff, 0xfe, 0x00]).unwrap();
    fails(
        dir,
        &["inspect", "binary.bin"],
        &["binary.bin: not a key file: not text"],
    );
    for t in ["t1", "t2", "t3"] {
        assert!(!dir.join(t).exists(), "{t} written despite the error");
    }
}

#[test]
fn wrong_kinds_and_bad_combinations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    negative_fixture(dir);
    ok(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            "42",
            "--out",
            "alice.token",
        ],
    );

    // Wrong kind to token and combine.
    fails(
        dir,
        &[
            "token",
            "--secret",
            "alice.token",
            "--pin",
            "1",
            "--out",
            "t1",
        ],
        &["alice.token: wrong key kind: expected MILAGRO CS CLIENT SECRET, found MILAGRO CS TOKEN"],
    );
    fails(
        dir,
        &["token", "--secret", "a1.share", "--pin", "1", "--out", "t1"],
        &[
            "a1.share: wrong key kind: expected MILAGRO CS CLIENT SECRET, found MILAGRO CS CLIENT SECRET SHARE",
        ],
    );
    fails(
        dir,
        &[
            "combine",
            "a1.share",
            "alice.secret",
            "a3.share",
            "--out",
            "t2",
        ],
        &[
            "alice.secret: wrong key kind: expected MILAGRO CS CLIENT SECRET SHARE (the kind of a1.share), found MILAGRO CS CLIENT SECRET",
        ],
    );
    fails(
        dir,
        &[
            "combine",
            "cs1.master",
            "cs2.master",
            "cs3.master",
            "--out",
            "t2",
        ],
        &[
            "cs1.master: wrong key kind: expected a D-TA's key share",
            "found MILAGRO DTA MASTER SHARE",
        ],
    );
    fails(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "a1.share",
            "server-secret",
            "--out",
            "t2",
        ],
        &[
            "a1.share: wrong key kind: expected MILAGRO DTA MASTER SHARE, found MILAGRO CS CLIENT SECRET SHARE",
        ],
    );

    // Shares of two deployments.
    fails(
        dir,
        &[
            "combine",
            "a1.share",
            "foreign.share",
            "a3.share",
            "--out",
            "t3",
        ],
        &["a1.share, foreign.share: cannot combine: the shares belong to different deployments"],
    );
    // 2 of 3.
    fails(
        dir,
        &["combine", "a1.share", "a3.share", "--out", "t3"],
        &["a1.share, a3.share: cannot combine: this deployment has 3 D-TAs; 2 shares given"],
    );
    // The same D-TA twice.
    fails(
        dir,
        &["combine", "a1.share", "a2.share", "a1.share", "--out", "t3"],
        &["a1.share, a1.share: cannot combine: two shares come from the same D-TA"],
    );
    // Different identities.
    ok(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "cs2.master",
            "client-secret",
            "--identity",
            "bob@example.com",
            "--out",
            "bob2.share",
        ],
    );
    fails(
        dir,
        &[
            "combine",
            "a1.share",
            "bob2.share",
            "a3.share",
            "--out",
            "t3",
        ],
        &["a1.share, bob2.share: cannot combine: the shares were issued to different identities"],
    );

    // The wrong suite's master for an issue command, both ways.
    fails(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "p2p.master",
            "client-secret",
            "--identity",
            "alice@example.com",
            "--out",
            "t4",
        ],
        &[
            "p2p.master: cannot issue a CS client secret share: this master share is for the P2P suite",
        ],
    );
    fails(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "cs1.master",
            "p2p-client",
            "--identity",
            "client.example",
            "--now",
            "--out",
            "t4",
        ],
        &["cs1.master: cannot issue a P2P client key share: this master share is for the CS suite"],
    );
    // Day 0 is never a permit day.
    fails(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "cs1.master",
            "time-permit",
            "--identity",
            "alice@example.com",
            "--day",
            "0",
            "--out",
            "t4",
        ],
        &["cs1.master: cannot issue a CS time permit share: day 0"],
    );
    // Issue 9 item 13: a permit is issued at most one day ahead.
    let today = day_of(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let permit_for = |day: &str, out: &str| -> Vec<String> {
        [
            "dta",
            "issue",
            "--master",
            "cs1.master",
            "time-permit",
            "--identity",
            "alice@example.com",
            "--day",
            day,
            "--out",
            out,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let tomorrow = permit_for(&(today + 1).to_string(), "tomorrow.share");
    ok(
        dir,
        &tomorrow.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(dir.join("tomorrow.share").exists());
    let after = permit_for(&(today + 2).to_string(), "t6");
    fails(
        dir,
        &after.iter().map(String::as_str).collect::<Vec<_>>(),
        &[
            "cs1.master: cannot issue a CS time permit share: a D-TA issues a time permit at most one day ahead (day <= today + 1)",
            "is 2 days after today",
        ],
    );
    fails(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "cs1.master",
            "time-permit",
            "--identity",
            "alice@example.com",
            "--date",
            "2030-01-01",
            "--out",
            "t6",
        ],
        &["at most one day ahead (day <= today + 1)"],
    );
    assert!(!dir.join("t6").exists());
    // Issue 9 item 12: PIN 0 is never enrolled (the token would be the
    // client secret itself), whatever its spelling.
    for zero in ["0", "0000"] {
        fails(
            dir,
            &[
                "token",
                "--secret",
                "alice.secret",
                "--pin",
                zero,
                "--pin-digits",
                "4",
                "--out",
                "t7",
            ],
            &["PIN: PIN 0 (all zeros) cannot be enrolled: the token would equal the client secret"],
        );
        assert!(!dir.join("t7").exists());
    }
    // Joining with parameters that disagree with the file.
    fails(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "2",
            "--deployment-from",
            "cs1.master",
            "--out",
            "t5",
        ],
        &["cs1.master: its deployment has 3 D-TAs, but --dtas 2 was given"],
    );
    fails(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "p2p",
            "--deployment-from",
            "cs1.master",
            "--out",
            "t5",
        ],
        &["cs1.master: its deployment is a CS deployment, but --suite p2p was given"],
    );
    // No --pin and no terminal.
    fails(
        dir,
        &["token", "--secret", "alice.secret", "--out", "t6"],
        &["no PIN: standard input is not a terminal to ask on; pass --pin-file FILE"],
    );
    fails(
        dir,
        &[
            "token",
            "--secret",
            "alice.secret",
            "--pin",
            "12a4",
            "--out",
            "t6",
        ],
        &["PIN: the PIN may contain only the digits 0-9"],
    );
    for t in ["t1", "t2", "t3", "t4", "t5", "t6"] {
        assert!(!dir.join(t).exists(), "{t} written despite the error");
    }
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for args in [
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--epoch-seconds",
            "600",
            "--out",
            "x",
        ][..],
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "off",
            "--deployment",
            "abcd",
            "--out",
            "x",
        ],
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "0",
            "--permits",
            "off",
            "--out",
            "x",
        ],
        &["combine", "--out", "x"],
    ] {
        let out = milagro(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!dir.join("x").exists());
    }
    let out = milagro(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "3",
            "--permits",
            "off",
            "--deployment",
            "abcd",
            "--out",
            "x",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--deployment: expected 32 hex digits"));
    ok(
        dir,
        &[
            "dta",
            "init",
            "--suite",
            "cs",
            "--dtas",
            "1",
            "--permits",
            "required",
            "--out",
            "m",
        ],
    );
    let out = milagro(
        dir,
        &[
            "dta",
            "issue",
            "--master",
            "m",
            "time-permit",
            "--identity",
            "a",
            "--date",
            "2025-02-29",
            "--out",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--date: expected a date YYYY-MM-DD"));
    assert!(!dir.join("x").exists());
}

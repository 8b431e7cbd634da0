//! D-TAs as network services, end to end: three `milagro-dta` processes
//! over HTTPS on loopback (a test CA made with rcgen), the `milagro` key
//! tool enrolling and renewing through them, and `echo-server` /
//! `echo-client` processes doing real Milagro handshakes with the keys.
//!
//! Day and epoch boundaries are crossed with the D-TAs' test clock offset
//! (`--test-clock-offset`): the D-TAs first run "yesterday" (or two epochs
//! back) while the echo processes use the real clock, then restart at a
//! later clock with the same databases. Every child is bounded by a timeout
//! and killed at the end of its test.
//!
//! The `milagro-dta` binary belongs to another package: it is built once
//! with `cargo build -p milagro-dta --bin milagro-dta` (same profile).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_dta::api::{CreateEnrolment, ErrorCode};
use milagro_dta::client::tls_config;
use milagro_dta::enrol::enrol_all;
use milagro_dta::{Client, Trust};
use milagro_test_support::{Running, run};
use serde_json::Value;

const DAY: i64 = 86_400;

/// The `milagro-dta` binary, built (or brought up to date) once per run:
/// it belongs to another package than this test.
fn dta_binary() -> PathBuf {
    milagro_test_support::fresh_binary("milagro-dta", "milagro-dta")
}

/// A long-running child and the address it printed as `listening on ADDR`.
fn start_listening(cmd: &mut Command) -> (Running, SocketAddr) {
    Running::listening(cmd)
}

fn milagro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_milagro"))
}

/// The files and settings every D-TA of a test shares.
struct Env {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    hashes: PathBuf,
    op_token: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        // A private CA and a server certificate for 127.0.0.1.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test D-TA CA");
        let issuer = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(p("ca.pem"), issuer.pem()).unwrap();
        std::fs::write(p("cert.pem"), cert.pem()).unwrap();
        std::fs::write(p("key.pem"), key.serialize_pem()).unwrap();
        // An operator token, made by the service's own tool.
        let token = run(Command::new(dta_binary()).args([
            "operator-token",
            "new",
            "--tokens",
            p("operators").to_str().unwrap(),
        ]))
        .unwrap();
        std::fs::write(p("op.token"), token.trim()).unwrap();
        Self {
            ca: p("ca.pem"),
            cert: p("cert.pem"),
            key: p("key.pem"),
            hashes: p("operators"),
            op_token: p("op.token"),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// Creates the master shares of an n-D-TA deployment with the key tool.
    fn masters(&self, prefix: &str, n: usize, params: &[&str]) -> Vec<PathBuf> {
        let first = self.path(&format!("{prefix}1.master"));
        let mut args = vec!["dta", "init", "--dtas"];
        let n_text = n.to_string();
        args.push(&n_text);
        args.extend_from_slice(params);
        let first_s = first.to_str().unwrap().to_owned();
        args.extend(["--out", &first_s]);
        run(milagro().args(&args)).unwrap();
        let mut out = vec![first.clone()];
        for i in 2..=n {
            let m = self.path(&format!("{prefix}{i}.master"));
            let suite = params[1];
            run(milagro().args([
                "dta",
                "init",
                "--suite",
                suite,
                "--deployment-from",
                first.to_str().unwrap(),
                "--out",
                m.to_str().unwrap(),
            ]))
            .unwrap();
            out.push(m);
        }
        out
    }

    fn start_dta(&self, master: &Path, db: &Path, offset: i64, extra: &[&str]) -> Dta {
        let offset_s = offset.to_string();
        let mut cmd = Command::new(dta_binary());
        cmd.args([
            "serve",
            "--master",
            master.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--cert",
            self.cert.to_str().unwrap(),
            "--key",
            self.key.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--operator-tokens",
            self.hashes.to_str().unwrap(),
            "--rate-per-sec",
            "1000",
            "--rate-burst",
            "2000",
            "--test-clock-offset",
            &offset_s,
        ]);
        cmd.args(extra);
        let (child, addr) = start_listening(&mut cmd);
        Dta {
            _child: child,
            url: format!("https://{addr}"),
        }
    }

    /// Starts one D-TA per master share, databases `<prefix><i>.db`.
    fn start_all(&self, prefix: &str, masters: &[PathBuf], offset: i64) -> Vec<Dta> {
        masters
            .iter()
            .enumerate()
            .map(|(i, m)| {
                self.start_dta(m, &self.path(&format!("{prefix}{}.db", i + 1)), offset, &[])
            })
            .collect()
    }

    fn admin(&self, dta: &Dta, args: &[&str]) -> Result<Value, String> {
        self.admin_with(dta, &self.op_token, args)
    }

    fn admin_with(&self, dta: &Dta, token: &Path, args: &[&str]) -> Result<Value, String> {
        let out = run(Command::new(dta_binary())
            .args([
                "admin",
                "--dta",
                &dta.url,
                "--ca",
                self.ca.to_str().unwrap(),
                "--token-file",
            ])
            .arg(token)
            .args(args))?;
        Ok(serde_json::from_str(out.trim()).expect("admin prints JSON"))
    }

    /// Creates an enrolment at every D-TA; returns the tickets.
    fn tickets(&self, dtas: &[Dta], identity: &str, extra: &[&str]) -> Vec<String> {
        dtas.iter()
            .map(|d| {
                let mut args = vec!["enrol", identity];
                args.extend_from_slice(extra);
                self.admin(d, &args).unwrap()["ticket"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// `milagro enroll` through `dtas` with `tickets`, plus `extra` options.
    fn enroll(
        &self,
        dtas: &[String],
        tickets: &[String],
        extra: &[String],
    ) -> Result<String, String> {
        let mut cmd = milagro();
        cmd.args(["enroll", "--ca", &self.s("ca.pem")]);
        for (u, t) in dtas.iter().zip(tickets) {
            cmd.args(["--dta", u.as_str(), "--ticket", t.as_str()]);
        }
        cmd.args(extra);
        run(&mut cmd)
    }

    fn renew(&self, creds: &str, out: &str, extra: &[&str]) -> Result<String, String> {
        run(milagro()
            .args([
                "renew",
                "--ca",
                &self.s("ca.pem"),
                "--credentials",
                &self.s(creds),
                "--out",
                &self.s(out),
            ])
            .args(extra))
    }

    /// Fetches every D-TA's server-secret share and combines them.
    fn server_secret(&self, dtas: &[Dta], out: &str) {
        let mut shares = Vec::new();
        for (i, d) in dtas.iter().enumerate() {
            let f = self.s(&format!("{out}.share{i}"));
            self.admin(d, &["server-secret", "--out", &f]).unwrap();
            shares.push(f);
        }
        run(milagro()
            .arg("combine")
            .args(&shares)
            .args(["--out", &self.s(out)]))
        .unwrap();
    }

    fn p2p_server_key(&self, dtas: &[Dta], identity: &str, epoch: u32, out: &str) {
        let mut shares = Vec::new();
        let e = epoch.to_string();
        for (i, d) in dtas.iter().enumerate() {
            let f = self.s(&format!("{out}.share{i}"));
            self.admin(d, &["p2p-server-key", identity, "--epoch", &e, "--out", &f])
                .unwrap();
            shares.push(f);
        }
        run(milagro()
            .arg("combine")
            .args(&shares)
            .args(["--out", &self.s(out)]))
        .unwrap();
    }

    fn echo_server(&self, args: &[String]) -> (Running, SocketAddr) {
        start_listening(
            Command::new(env!("CARGO_BIN_EXE_echo-server"))
                .args(["--listen", "127.0.0.1:0"])
                .args(args),
        )
    }

    fn echo(&self, addr: SocketAddr, server_name: &str, args: &[String]) -> Result<String, String> {
        run(Command::new(env!("CARGO_BIN_EXE_echo-client"))
            .args([
                "--connect",
                &addr.to_string(),
                "--server-name",
                server_name,
                "--message",
                "hello D-TAs",
            ])
            .args(args))
    }

    fn audit_verify(&self, db: &str) -> Result<String, String> {
        run(Command::new(dta_binary()).args(["audit", "verify", "--db", &self.s(db)]))
    }
}

struct Dta {
    _child: Running,
    url: String,
}

fn urls(dtas: &[Dta]) -> Vec<String> {
    dtas.iter().map(|d| d.url.clone()).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits (at most a few minutes, once a day) so that the test does not run
/// across midnight UTC, where "today" would change under it.
fn away_from_midnight() {
    let into_day = unix_now() % 86_400;
    if into_day > 86_400 - 300 {
        std::thread::sleep(Duration::from_secs(86_400 - into_day + 5));
    }
}

/// CS over three D-TA services: enrolment, the server secret over the
/// operator API, a handshake with a renewed permit, one D-TA down, a reused
/// ticket, an expired ticket, a wrong operator token, revocation at one
/// D-TA taking effect at the next day, a restart that keeps every
/// enrolment, and the audit chains (intact, then one entry edited).
#[test]
fn cs_enrol_renew_revoke_restart_and_audit() {
    away_from_midnight();
    let env = Env::new();
    let masters = env.masters("cs", 3, &["--suite", "cs", "--permits", "required"]);
    // Phase 1: the D-TAs' clock is one day behind the echo processes'.
    let dtas = env.start_all("cs", &masters, -DAY);
    let u = urls(&dtas);

    // A wrong operator token is refused (and audited).
    std::fs::write(env.path("bad.token"), "not-the-token").unwrap();
    let err = env
        .admin_with(
            &dtas[0],
            &env.path("bad.token"),
            &["enrol", "alice@example.com"],
        )
        .unwrap_err();
    assert!(err.contains("unauthorized"), "{err}");

    env.server_secret(&dtas, "server.secret");
    let (_server, addr) = env.echo_server(&strings(&[
        "--cs-server-secret",
        &env.s("server.secret"),
        "--pin-digits",
        "4",
    ]));

    let alice = env.tickets(&dtas, "alice@example.com", &[]);
    let cs_out = |who: &str| {
        strings(&[
            "--credentials",
            &env.s(&format!("{who}.creds")),
            "--token",
            &env.s(&format!("{who}.token")),
            "--permit",
            &env.s(&format!("{who}.permit")),
            "--pin",
            "4321",
            "--pin-digits",
            "4",
        ])
    };

    // One D-TA down: a closed port instead of the third D-TA. The error
    // names it, nothing is written, and no ticket is consumed.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    let err = env
        .enroll(
            &[u[0].clone(), u[1].clone(), closed.clone()],
            &alice,
            &cs_out("alice"),
        )
        .unwrap_err();
    assert!(
        err.contains(&closed) && err.contains("unreachable"),
        "{err}"
    );
    for f in ["alice.creds", "alice.token", "alice.permit"] {
        assert!(
            !env.path(f).exists(),
            "{f} written although a D-TA was down"
        );
    }

    // All three up: enrolment succeeds with the same tickets.
    let out = env.enroll(&u, &alice, &cs_out("alice")).unwrap();
    assert!(out.contains("enrolled alice@example.com"), "{out}");
    let yesterday = (unix_now() / 86_400) as u32 - 1;
    let inspect = run(milagro().args(["inspect", &env.s("alice.permit")])).unwrap();
    assert!(inspect.contains(&format!("day: {yesterday}")), "{inspect}");

    // The same tickets again: refused by the first D-TA, naming it.
    let err = env.enroll(&u, &alice, &cs_out("alice-again")).unwrap_err();
    assert!(err.contains(&u[0]) && err.contains("ticket_used"), "{err}");
    assert!(!env.path("alice-again.token").exists());

    // A ticket that expired (1 s lifetime) is refused.
    let erin = env.tickets(&dtas, "erin@example.com", &["--ttl", "1"]);
    std::thread::sleep(Duration::from_millis(2_100));
    let err = env.enroll(&u, &erin, &cs_out("erin")).unwrap_err();
    assert!(err.contains("ticket_expired"), "{err}");

    // Yesterday's permit (by the echo server's clock) does not get in;
    // tomorrow's (by the D-TAs' clock, at most one day ahead) does.
    let client_args = |who: &str, permit: &str| {
        strings(&[
            "--token",
            &env.s(&format!("{who}.token")),
            "--pin",
            "4321",
            "--permit",
            &env.s(permit),
        ])
    };
    assert!(
        env.echo(
            addr,
            "service.example",
            &client_args("alice", "alice.permit")
        )
        .is_err()
    );
    env.renew("alice.creds", "alice.today", &["--next"])
        .unwrap();
    let echoed = env
        .echo(
            addr,
            "service.example",
            &client_args("alice", "alice.today"),
        )
        .unwrap();
    assert!(echoed.contains("echo: hello D-TAs"), "{echoed}");
    // Two days ahead is refused (docs/protocol.md §5.5).
    let err = env
        .renew(
            "alice.creds",
            "alice.far",
            &["--period", &(yesterday + 2).to_string()],
        )
        .unwrap_err();
    assert!(err.contains("day_out_of_range"), "{err}");

    // Dave enrols, then is revoked at the second D-TA only.
    let dave = env.tickets(&dtas, "dave@example.com", &[]);
    env.enroll(&u, &dave, &cs_out("dave")).unwrap();
    env.admin(
        &dtas[1],
        &["revoke", "dave@example.com", "--reason", "left"],
    )
    .unwrap();
    let err = env
        .renew("dave.creds", "dave.today", &["--next"])
        .unwrap_err();
    assert!(err.contains(&u[1]) && err.contains("revoked"), "{err}");
    assert!(!env.path("dave.today").exists());

    // Phase 2: the D-TAs restart with the real clock (the day boundary
    // crossed), on the same databases. Their audit chains verify.
    let dbs: Vec<String> = (1..=3).map(|i| format!("cs{i}.db")).collect();
    drop(dtas);
    for db in &dbs {
        let ok = env.audit_verify(db).unwrap();
        assert!(ok.contains("audit chain intact"), "{ok}");
    }
    let dtas = env.start_all("cs", &masters, 0);
    let u2 = urls(&dtas);
    // The credentials file names the old URLs (new ports): point it at the new ones.
    for who in ["alice", "dave"] {
        let mut text = std::fs::read_to_string(env.path(&format!("{who}.creds"))).unwrap();
        for (old, new) in u.iter().zip(&u2) {
            text = text.replace(old.as_str(), new.as_str());
        }
        std::fs::write(env.path(&format!("{who}.creds")), text).unwrap();
    }
    let listed = env.admin(&dtas[0], &["list"]).unwrap();
    let state = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["identity"] == id)
            .map(|r| r["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("alice@example.com").as_deref(), Some("enrolled"));
    assert_eq!(state("dave@example.com").as_deref(), Some("enrolled"));
    assert_eq!(state("erin@example.com").as_deref(), Some("expired"));

    // Alice renews today's permit after the restart and gets in.
    env.renew("alice.creds", "alice.today2", &[]).unwrap();
    assert!(
        env.echo(
            addr,
            "service.example",
            &client_args("alice", "alice.today2")
        )
        .is_ok()
    );
    // Dave: still revoked at D-TA 2, so no permit for today; his last permit
    // is for the previous day and the handshake is refused.
    let err = env.renew("dave.creds", "dave.today", &[]).unwrap_err();
    assert!(err.contains(&u2[1]) && err.contains("revoked"), "{err}");
    let err = env
        .echo(addr, "service.example", &client_args("dave", "dave.permit"))
        .unwrap_err();
    assert!(!err.is_empty());

    // The audit log recorded the refusals.
    let audit = env.admin(&dtas[0], &["audit"]).unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "enrol" && e["outcome"] == "ticket_used")
    );
    assert!(entries.iter().any(|e| e["outcome"] == "unauthorized"));
    let audit2 = env.admin(&dtas[1], &["audit"]).unwrap();
    let revoked_refusals = audit2["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "renew" && e["outcome"] == "revoked")
        .count();
    assert_eq!(revoked_refusals, 2);
    drop(dtas);

    // Someone hides a refusal: the chain no longer verifies.
    {
        let conn = rusqlite::Connection::open(env.path("cs2.db")).unwrap();
        conn.execute_batch("DROP TRIGGER audit_no_update;").unwrap();
        let n = conn
            .execute(
                "UPDATE audit SET outcome = 'ok' WHERE seq = (SELECT MIN(seq) FROM audit WHERE outcome = 'revoked')",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let err = env.audit_verify("cs2.db").unwrap_err();
    assert!(
        err.contains("audit chain broken") && err.contains("altered"),
        "{err}"
    );
    assert!(env.audit_verify("cs1.db").is_ok());
}

/// An epoch length (about an hour) that puts now in the middle of its
/// epoch, so that "current" cannot change during the test.
fn mid_epoch_length() -> u32 {
    let now = unix_now();
    (3_600..4_000u32)
        .find(|l| {
            let into = now % u64::from(*l);
            into > u64::from(*l) / 4 && into < u64::from(*l) * 3 / 4
        })
        .expect("some length in 3600..4000 puts now mid-epoch")
}

/// P2P over three D-TA services: the server key issued over the operator
/// API, a client enrolled two epochs back that renews to the current epoch
/// and gets in, and a client revoked at one D-TA whose renewal fails naming
/// it and whose only key, from before the boundary, is refused.
#[test]
fn p2p_enrol_epoch_renewal_and_revocation() {
    let env = Env::new();
    let l = mid_epoch_length();
    let l_s = l.to_string();
    let masters = env.masters("p2p", 3, &["--suite", "p2p", "--epoch-seconds", &l_s]);
    let epoch = (unix_now() / u64::from(l)) as u32;
    let l = i64::from(l);

    // Phase 1: the D-TAs run two epochs back.
    let dtas = env.start_all("p2p", &masters, -2 * l);
    let u = urls(&dtas);
    let p2p_out = |who: &str| {
        strings(&[
            "--credentials",
            &env.s(&format!("{who}.creds")),
            "--key",
            &env.s(&format!("{who}.key")),
        ])
    };
    let bob = env.tickets(&dtas, "bob@example.com", &[]);
    env.enroll(&u, &bob, &p2p_out("bob")).unwrap();
    let carol = env.tickets(&dtas, "carol@example.com", &[]);
    env.enroll(&u, &carol, &p2p_out("carol")).unwrap();
    let inspect = run(milagro().args(["inspect", &env.s("carol.key")])).unwrap();
    assert!(
        inspect.contains(&format!("epoch: {}", epoch - 2)),
        "{inspect}"
    );
    env.admin(&dtas[1], &["revoke", "carol@example.com"])
        .unwrap();
    drop(dtas);

    // Phase 2: one epoch later at the D-TAs (restarted, same databases).
    let dtas = env.start_all("p2p", &masters, -l);
    let u2 = urls(&dtas);
    for who in ["bob", "carol"] {
        let mut text = std::fs::read_to_string(env.path(&format!("{who}.creds"))).unwrap();
        for (old, new) in u.iter().zip(&u2) {
            text = text.replace(old.as_str(), new.as_str());
        }
        std::fs::write(env.path(&format!("{who}.creds")), text).unwrap();
    }
    // The server's keys for the real current and previous epochs.
    env.p2p_server_key(&dtas, "echo.example", epoch, "server.key");
    env.p2p_server_key(&dtas, "echo.example", epoch - 1, "server.prev");
    // Two epochs ahead of the D-TAs' clock is refused.
    let err = env
        .admin(
            &dtas[0],
            &[
                "p2p-server-key",
                "echo.example",
                "--epoch",
                &(epoch + 1).to_string(),
                "--out",
                &env.s("x"),
            ],
        )
        .unwrap_err();
    assert!(err.contains("epoch_out_of_range"), "{err}");
    let (_server, addr) = env.echo_server(&strings(&[
        "--p2p-key",
        &env.s("server.key"),
        "--p2p-previous-key",
        &env.s("server.prev"),
    ]));

    // Bob renews the next epoch (the real current one) and gets in.
    let out = env.renew("bob.creds", "bob.next", &[]).unwrap();
    assert!(out.contains(&format!("epoch {epoch}")), "{out}");
    let echoed = env
        .echo(
            addr,
            "echo.example",
            &strings(&["--p2p-key", &env.s("bob.next")]),
        )
        .unwrap();
    assert!(echoed.contains("echo: hello D-TAs"), "{echoed}");

    // Carol: the revoking D-TA refuses, by name; her old key is refused.
    let err = env.renew("carol.creds", "carol.next", &[]).unwrap_err();
    assert!(err.contains(&u2[1]) && err.contains("revoked"), "{err}");
    assert!(!env.path("carol.next").exists());
    assert!(
        env.echo(
            addr,
            "echo.example",
            &strings(&["--p2p-key", &env.s("carol.key")])
        )
        .is_err()
    );
    // Bob's enrolment-time key (two epochs back) is refused too: expiry is
    // what makes revocation work.
    assert!(
        env.echo(
            addr,
            "echo.example",
            &strings(&["--p2p-key", &env.s("bob.key")])
        )
        .is_err()
    );
}

/// A compromised D-TA (its master share known to the attacker) plus
/// everything it issued cannot produce a client's secret or permit: the
/// attacker fills in the other two shares with D-TAs of its own (same
/// deployment, the key tool accepts them) and the result is refused by the
/// server, while the genuine credential gets in.
#[test]
fn compromised_dta_cannot_forge_secrets_or_permits() {
    away_from_midnight();
    let env = Env::new();
    let masters = env.masters("cs", 3, &["--suite", "cs", "--permits", "required"]);
    let dtas = env.start_all("cs", &masters, 0);
    let u = urls(&dtas);
    env.server_secret(&dtas, "server.secret");
    let (_server, addr) = env.echo_server(&strings(&[
        "--cs-server-secret",
        &env.s("server.secret"),
        "--pin-digits",
        "4",
    ]));
    let t = env.tickets(&dtas, "alice@example.com", &[]);
    env.enroll(
        &u,
        &t,
        &strings(&[
            "--credentials",
            &env.s("alice.creds"),
            "--token",
            &env.s("alice.token"),
            "--permit",
            &env.s("alice.permit"),
            "--pin",
            "1111",
            "--pin-digits",
            "4",
        ]),
    )
    .unwrap();
    let genuine = strings(&[
        "--token",
        &env.s("alice.token"),
        "--pin",
        "1111",
        "--permit",
        &env.s("alice.permit"),
    ]);
    assert!(env.echo(addr, "service.example", &genuine).is_ok());

    // The attacker: D-TA 1's master share, and two D-TAs it made itself.
    let fake: Vec<PathBuf> = (2..=3)
        .map(|i| {
            let m = env.path(&format!("fake{i}.master"));
            run(milagro().args([
                "dta",
                "init",
                "--suite",
                "cs",
                "--deployment-from",
                &env.s("cs1.master"),
                "--out",
                m.to_str().unwrap(),
            ]))
            .unwrap();
            m
        })
        .collect();
    let issuers = [masters[0].clone(), fake[0].clone(), fake[1].clone()];
    let today = (unix_now() / 86_400).to_string();
    let mut secret_shares = Vec::new();
    let mut permit_shares = Vec::new();
    for (i, m) in issuers.iter().enumerate() {
        let s = env.s(&format!("forged.secret{i}"));
        let p = env.s(&format!("forged.permit{i}"));
        run(milagro().args([
            "dta",
            "issue",
            "--master",
            m.to_str().unwrap(),
            "client-secret",
            "--identity",
            "alice@example.com",
            "--out",
            &s,
        ]))
        .unwrap();
        run(milagro().args([
            "dta",
            "issue",
            "--master",
            m.to_str().unwrap(),
            "time-permit",
            "--identity",
            "alice@example.com",
            "--day",
            &today,
            "--out",
            &p,
        ]))
        .unwrap();
        secret_shares.push(s);
        permit_shares.push(p);
    }
    // The key tool combines them (three distinct D-TA ids, one deployment)...
    run(milagro()
        .arg("combine")
        .args(&secret_shares)
        .args(["--out", &env.s("forged.secret")]))
    .unwrap();
    run(milagro()
        .arg("combine")
        .args(&permit_shares)
        .args(["--out", &env.s("forged.permit")]))
    .unwrap();
    run(milagro().args([
        "token",
        "--secret",
        &env.s("forged.secret"),
        "--pin",
        "1111",
        "--pin-digits",
        "4",
        "--out",
        &env.s("forged.token"),
    ]))
    .unwrap();
    assert_ne!(
        std::fs::read_to_string(env.path("forged.token")).unwrap(),
        std::fs::read_to_string(env.path("alice.token")).unwrap()
    );
    // ...but neither the forged secret nor the forged permit is accepted.
    // Each attempt goes to a fresh server process (same server secret), so
    // the refusal is the credential's, not a throttle or a lockout window
    // left by an earlier attempt.
    let fresh = || {
        env.echo_server(&strings(&[
            "--cs-server-secret",
            &env.s("server.secret"),
            "--pin-digits",
            "4",
        ]))
    };
    let forged_both = strings(&[
        "--token",
        &env.s("forged.token"),
        "--pin",
        "1111",
        "--permit",
        &env.s("forged.permit"),
    ]);
    let (_b, addr_b) = fresh();
    assert!(env.echo(addr_b, "service.example", &forged_both).is_err());
    let forged_permit = strings(&[
        "--token",
        &env.s("alice.token"),
        "--pin",
        "1111",
        "--permit",
        &env.s("forged.permit"),
    ]);
    let (_c, addr_c) = fresh();
    assert!(env.echo(addr_c, "service.example", &forged_permit).is_err());
    // The genuine credential gets in on a fresh server too.
    let (_d, addr_d) = fresh();
    let again = env.echo(addr_d, "service.example", &genuine);
    assert!(again.is_ok(), "{again:?}");
}

/// 100 enrolments at once through three D-TAs: all succeed, each ticket
/// is redeemed exactly once (a second use is refused), and every D-TA
/// records exactly 100 successful enrolments.
#[test]
fn hundred_parallel_enrolments() {
    let env = Env::new();
    let masters = env.masters("cs", 3, &["--suite", "cs", "--permits", "required"]);
    let dtas = env.start_all("cs", &masters, 0);
    let token = std::fs::read_to_string(&env.op_token).unwrap();
    let tls = tls_config(&Trust::CaFile(env.ca.clone())).unwrap();
    let clients: Vec<Client> = dtas
        .iter()
        .map(|d| Client::new(&d.url, tls.clone()).unwrap())
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut pairs = Vec::new();
        for k in 0..100 {
            let mut p = Vec::new();
            for c in &clients {
                let req = CreateEnrolment {
                    identity: format!("user{k}@example.com"),
                    role: None,
                    ttl_seconds: None,
                };
                p.push((
                    c.clone(),
                    c.create_enrolment(&token, &req).await.unwrap().ticket,
                ));
            }
            pairs.push(p);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for p in pairs.clone() {
            tasks.spawn(async move { enrol_all(&p).await.map(|e| e.identity.to_string()) });
        }
        let mut enrolled = Vec::new();
        while let Some(r) = tasks.join_next().await {
            enrolled.push(r.unwrap().expect("every parallel enrolment succeeds"));
        }
        enrolled.sort();
        enrolled.dedup();
        assert_eq!(enrolled.len(), 100);
        // Every ticket was used exactly once: using any again is refused.
        for p in pairs.iter().take(5) {
            for (c, t) in p {
                let err = c.enrol(t).await.unwrap_err();
                assert_eq!(err.code(), Some(ErrorCode::TicketUsed));
            }
        }
        for c in &clients {
            let list = c.list_enrolments(&token).await.unwrap();
            assert_eq!(list.len(), 100);
            assert!(list.iter().all(|r| r.state == "enrolled"));
            let audit = c.audit(&token, 0).await.unwrap();
            let ok = audit
                .entries
                .iter()
                .filter(|e| e.event == "enrol" && e.outcome == "ok")
                .count();
            assert_eq!(ok, 100);
        }
    });
}

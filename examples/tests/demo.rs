//! The `demo` binary runs every step over real loopback sockets and exits 0.

use std::process::Command;

use milagro_examples::demo::{EXPECTED_DELTA, run};

#[test]
fn demo_binary_succeeds() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "servers: CS on 127.0.0.1:",
        "[CS] TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256",
        "[P2P] TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256",
        "client alice@example.com",
        "server-side: authenticated client alice@example.com via TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256 from 127.0.0.1\n",
        "client-side: authenticated server milagro-cs; echo \"hello from alice over CS\" came back unchanged\n",
        "client client.example -> server server.example on 127.0.0.1:",
        "server-side: authenticated client client.example via TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256 from 127.0.0.1\n",
        "client-side: authenticated server server.example; echo \"hello from client.example over P2P\" came back unchanged\n",
        "  client: Milagro credential refused (PIN, permit, lockout or clock)",
        "server-side observer log (never sent to the client): wrong PIN",
        "from 127.0.0.1: δ = +9, confirmed 1, cumulative 1\n",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // Each "shared secret" line shows the same fingerprint for both sides.
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("shared secret: client "))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for l in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        // "shared secret: client XXXX = server YYYY (...)"
        assert_eq!(words[3], words[6], "{l}");
        assert_eq!(words[3].len(), 8, "{l}");
    }
    // Two handshake times, in milliseconds.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("  handshake time: ") && l.contains(" ms "))
            .count(),
        2,
        "{stdout}"
    );
    // The client's refusal line names no δ: only the server-side lines do.
    let refusal = stdout
        .lines()
        .find(|l| l.starts_with("  client: Milagro credential refused"))
        .unwrap();
    assert!(
        !refusal.contains('δ') && !refusal.contains("+9"),
        "{refusal}"
    );
}

#[test]
fn demo_report_in_process() {
    let mut out = Vec::new();
    let report = run(&mut out).expect("demo runs");
    assert_eq!(report.wrong_pin_delta, EXPECTED_DELTA);
    assert_eq!(report.cs_fingerprint.len(), 8);
    assert_ne!(report.cs_fingerprint, report.p2p_fingerprint);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!(
        "client {} = server {}",
        report.cs_fingerprint, report.cs_fingerprint
    )));
    assert!(text.contains(&format!(
        "client {} = server {}",
        report.p2p_fingerprint, report.p2p_fingerprint
    )));
}

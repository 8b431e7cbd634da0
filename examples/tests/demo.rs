//! The `demo` binary runs every step and exits 0.

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
        "[CS] TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256",
        "[P2P] TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256",
        "client alice@example.com",
        "client client.example -> server server.example",
        "server-side observer log (never sent to the client): wrong PIN",
        "δ = +9, confirmed 1, cumulative 1",
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

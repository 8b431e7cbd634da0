//! The `demo` binary runs every step over real loopback sockets and exits 0.

use std::process::Command;

use milagro_examples::demo::{WRONG_PIN_DELTA, run};

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
        "from 127.0.0.1: confirmed 1, cumulative 1 (how far the PIN was off is not kept)\n",
        "[CS, forged credential]",
        "  client: Milagro credential refused (PIN, permit, lockout or clock) (the same alert as for the wrong PIN)\n",
        "server-side observer log (never sent to the client): invalid credential for HID",
        "not a wrong PIN, not counted against alice@example.com\n",
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
    assert_no_delta(&stdout);
}

/// The attack of issue 9 item 3: a log that prints δ gives whoever reads it
/// (and chose the PIN′ of the attempt) the PIN = PIN′ − δ. Nothing the demo
/// prints — client or server side — may carry δ, in any spelling.
fn assert_no_delta(text: &str) {
    assert!(
        !text.contains('δ') && !text.to_lowercase().contains("delta"),
        "{text}"
    );
    let d = WRONG_PIN_DELTA.to_string();
    let forms = [d.clone(), format!("+{d}"), format!("-{d}")];
    // Whole words only: split on everything but digits, letters, '.', '+', '-'
    // (so hex fingerprints and "12.3 ms" are words of their own).
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c))) {
        assert!(
            !forms.contains(&word.to_owned()),
            "δ {word} printed in:\n{text}"
        );
    }
}

#[test]
fn demo_report_in_process() {
    let mut out = Vec::new();
    let report = run(&mut out).expect("demo runs");
    assert_eq!(report.wrong_pin_counts, (1, 1));
    assert!(report.forged_classified_invalid);
    assert_eq!(report.cs_fingerprint.len(), 8);
    assert_ne!(report.cs_fingerprint, report.p2p_fingerprint);
    let text = String::from_utf8(out).unwrap();
    assert_no_delta(&text);
    assert!(text.contains(&format!(
        "client {} = server {}",
        report.cs_fingerprint, report.cs_fingerprint
    )));
    assert!(text.contains(&format!(
        "client {} = server {}",
        report.p2p_fingerprint, report.p2p_fingerprint
    )));
}

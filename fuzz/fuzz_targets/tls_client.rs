//! Whole-connection fuzzing of the Milagro clients (`cs_tls::client` and
//! `p2p_tls::client`): after the client wrote its ClientHello, arbitrary
//! bytes arrive as the server's flight.
//!
//! Input: `sel`, then the rest. Bit 0 of `sel` picks the suite (0 CS, 1
//! P2P); `(sel >> 1) % 4` the mode:
//! * 0: the rest is the server's flight, raw;
//! * 1: the genuine server flight recorded once per process (its ServerHello
//!   echoing this connection's session id) followed by the rest;
//! * 2: that flight with sparse XOR edits: a 2-byte length `n`, `n` bytes
//!   of edits (`apply_edits`), then the rest appended;
//! * 3: only the genuine ServerHello record (session id echoed), then the
//!   rest.
//!
//! Invariants: no panic, and the client never completes the handshake. The
//! recorded flight answers another connection's key share, and this
//! connection's share uses fresh nonces (`OsEntropy`), so no input is the
//! genuine answer to it: completing would mean the client accepted a server
//! that does not hold the key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls_fuzz::{
    CS_SERVER_NAME, P2P_SERVER_ID, apply_edits, drain, echo_session_id, feed, first_record_len,
    split_len, tls,
};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fx = tls();
    let (client, name, flight) = if sel & 1 == 0 {
        (&fx.cs_client, CS_SERVER_NAME, &fx.cs_flight)
    } else {
        (&fx.p2p_client, P2P_SERVER_ID, &fx.p2p_flight)
    };
    // Fails only once the wall clock leaves the key's day / epoch.
    let Ok(mut conn) = client.connect(name) else {
        return;
    };
    let hello = drain(&mut conn);
    let genuine = echo_session_id(flight, &hello);
    let input = match (sel >> 1) % 4 {
        0 => rest.to_vec(),
        1 => [&genuine[..], rest].concat(),
        2 => {
            let (edits, tail) = split_len(rest);
            [apply_edits(&genuine, edits), tail.to_vec()].concat()
        }
        _ => [&genuine[..first_record_len(&genuine)], rest].concat(),
    };
    let fed = feed(&mut conn, &input, &mut Vec::new());
    assert!(
        conn.is_handshaking(),
        "client completed a handshake on fuzz input (fed: {fed:?})"
    );
    assert!(client.finish(&conn).is_err());
});

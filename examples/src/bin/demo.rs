//! `demo`: three in-process D-TAs per suite, keys issued in shares and
//! combined, a CS and a P2P TLS server on 127.0.0.1 (tokio, real sockets),
//! a handshake and an echo with each, and a wrong PIN refused and classified.
//! Exit code 0 only if every step went as expected. All logic is in
//! `milagro_examples::demo`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match milagro_examples::demo::run(&mut stdout) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `demo`: three in-process D-TAs per suite, keys issued in shares and
//! combined, both key agreements, and a wrong PIN refused and classified.
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

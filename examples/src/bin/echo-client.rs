//! `echo-client`: sends one line over Milagro TLS (CS or P2P) and checks the
//! echo; exit code 0 only when the echo is exactly the message. All logic is
//! in `milagro_examples::echo`.

use std::process::ExitCode;

use clap::Parser;
use milagro_examples::echo::{ClientCli, run_client};
use milagro_examples::keytool::Terminal;

fn main() -> ExitCode {
    let cli = ClientCli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo-client: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match runtime.block_on(run_client(&cli, &Terminal, &mut stdout)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

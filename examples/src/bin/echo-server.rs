//! `echo-server`: a Milagro TLS line echo server (CS or P2P) on a real TCP
//! socket. All logic is in `milagro_examples::echo`.

use std::process::ExitCode;

use clap::Parser;
use milagro_examples::echo::{ServerCli, run_server};

fn main() -> ExitCode {
    let cli = ServerCli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_server(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `https-client`: GET one URL over milagro-tls and print the body. Exits 0
//! on a 2xx answer, 1 otherwise (the status on standard error). All logic
//! is in `milagro_examples::https`.

use std::process::ExitCode;

use clap::Parser;
use milagro_examples::https::cli::{ClientArgs, run_client};
use milagro_examples::keytool::Terminal;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ClientArgs::parse();
    match run_client(&args, &Terminal).await {
        Ok((status, body)) => {
            // The body as sent, ending with a newline so a shell prompt
            // does not run on after it.
            if body.ends_with('\n') {
                print!("{body}");
            } else {
                println!("{body}");
            }
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                eprintln!("https-client: the server answered {status}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("https-client: error: {e}");
            ExitCode::FAILURE
        }
    }
}

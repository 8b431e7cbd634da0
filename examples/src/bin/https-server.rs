//! `https-server`: HTTP/1.1 over milagro-tls, greeting each authenticated
//! client with `hello <identity>, <suite>`. All logic is in
//! `milagro_examples::https`.

use std::process::ExitCode;

use clap::Parser;
use milagro_examples::https::cli::{ServerArgs, run_server};

#[tokio::main]
async fn main() -> ExitCode {
    let args = ServerArgs::parse();
    let mut stdout = std::io::stdout();
    match run_server(&args, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("https-server: error: {e}");
            ExitCode::FAILURE
        }
    }
}

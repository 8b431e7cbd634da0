//! `milagro`: the D-TA key tool. All logic is in `milagro_examples::keytool`.

use std::process::ExitCode;

use clap::Parser;
use milagro_examples::keytool::{Cli, Terminal, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match run(&cli, &mut stdout, &Terminal) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("milagro: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

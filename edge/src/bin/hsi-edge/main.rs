//! `hsi-edge`: process hyperspectral cubes on the edge (see `hsi-edge --help`).

mod cli;
mod cmd;
mod logging;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    logging::init(args.log_format, args.verbose);
    match cmd::run(args) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "hsi-edge failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

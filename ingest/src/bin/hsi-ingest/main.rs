//! `hsi-ingest`: the cloud ingest processes (`dispatch`, `work`, `stream`).

mod cli;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match run::run(args) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("hsi-ingest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `hsi`: the lakehouse command (see `hsi --help`).

mod cli;
mod cmd;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(args.log_format, args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(args)) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "hsi failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: cli::LogFormat, verbose: u8) {
    let default = match verbose {
        // The results go to stdout; logs only for what needs attention (-v for each commit).
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let format = match format {
        cli::LogFormat::Text => hsi_edge::logging::LogFormat::Text,
        cli::LogFormat::Json => hsi_edge::logging::LogFormat::Json,
    };
    hsi_edge::logging::init(format, default);
}

//! Subcommands.

mod backhaul;
mod demo;
mod inspect;
mod process;
mod run;
mod synth;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Process(a) => process::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Backhaul(a) => backhaul::run(a),
    }
}

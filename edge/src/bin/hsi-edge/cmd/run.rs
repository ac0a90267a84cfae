//! `hsi-edge run --config edge.toml`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use hsi_edge::runtime::{Daemon, EdgeConfig};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::RunArgs;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let cfg = EdgeConfig::load(&args.config)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, shutdown.clone())
            .with_context(|| format!("installing the handler of signal {sig}"))?;
    }
    let daemon = Daemon::open(cfg, shutdown)?;
    daemon.run(|addr| tracing::info!(%addr, "listening"))?;
    Ok(ExitCode::SUCCESS)
}

//! `hsi-edge backhaul --config edge.toml [--max-parts N]`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hsi_edge::runtime::EdgeConfig;
use hsi_edge::runtime::backhaul::Backhaul;
use hsi_edge::runtime::metrics::Metrics;
use hsi_edge::runtime::state::StateStore;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::BackhaulArgs;

pub fn run(args: BackhaulArgs) -> anyhow::Result<ExitCode> {
    let cfg = EdgeConfig::load(&args.config)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, shutdown.clone())?;
    }
    let state = Arc::new(StateStore::open(&cfg.state.dir)?);
    let b = Backhaul::new(
        &cfg.backhaul,
        &cfg.identity,
        &cfg.state.dir,
        state,
        Arc::new(Metrics::new()),
    )?;
    let r = b.pass(
        &cfg.landing.dir,
        cfg.landing.settle,
        args.max_parts,
        &shutdown,
    )?;
    println!(
        "{}",
        serde_json::json!({
            "cubes_done": r.cubes_done,
            "cubes_left": r.cubes_left,
            "parts": r.parts,
            "paused": r.paused,
        })
    );
    Ok(if r.cubes_left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

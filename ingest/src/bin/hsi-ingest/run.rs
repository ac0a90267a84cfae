//! Wiring: config, logging, metrics, signals, then the chosen process.

use std::process::ExitCode;

use anyhow::Context;
use hsi_ingest::aws::Clients;
use hsi_ingest::dispatch::{Dispatcher, runner};
use hsi_ingest::metrics::{self, Metrics};
use hsi_ingest::shutdown::{EXIT_INTERRUPTED, Shutdown};
use hsi_ingest::stream::StreamIngest;
use hsi_ingest::worker::Worker;
use hsi_ingest::{Error, IngestConfig};

use crate::cli::{Cli, Command};

pub fn run(args: Cli) -> anyhow::Result<ExitCode> {
    init_logging(&args.log_format);
    let cfg = IngestConfig::load(&args.config)?;
    let stop = Shutdown::install()?;
    let metrics = Metrics::new();
    if let Some(listen) = &cfg.metrics.listen {
        metrics::serve(listen, metrics.clone())?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        match args.command {
            Command::Dispatch { until_idle } => {
                let d = cfg.dispatch()?.clone();
                let clients = Clients::new(&cfg.aws).await;
                let runner = runner::from_config(&d.runner, clients.batch.clone())?;
                let mut dispatcher = Dispatcher::new(clients.s3, clients.sqs, d, runner, metrics);
                let stats = dispatcher.run(&stop, until_idle).await?;
                tracing::info!(?stats, "dispatcher stopped");
                Ok(ExitCode::SUCCESS)
            }
            Command::Work { manifest } => {
                let clients = Clients::new(&cfg.aws).await;
                let catalog = hsi_lakehouse::open_catalog(&cfg.lakehouse).await?;
                let worker = Worker {
                    s3: clients.s3,
                    catalog: catalog.as_ref(),
                    cfg: &cfg.worker,
                    metrics,
                    stop,
                };
                let report = worker.run(&manifest).await?;
                let failed = report
                    .cubes
                    .iter()
                    .filter(|(_, r)| matches!(r, hsi_ingest::worker::CubeResult::Failed { .. }))
                    .count();
                tracing::info!(manifest_id = %report.manifest_id, cubes = report.cubes.len(), failed, interrupted = report.interrupted, gold_plot_rows = ?report.gold_plot_rows, "manifest done");
                if report.interrupted {
                    return Ok(ExitCode::from(EXIT_INTERRUPTED));
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Stream => {
                let s = cfg.stream()?.clone();
                let catalog = hsi_lakehouse::open_catalog(&cfg.lakehouse).await?;
                hsi_lakehouse::table::init(catalog.as_ref()).await?;
                let stats = StreamIngest::new(catalog, s, metrics, stop).run().await?;
                tracing::info!(?stats, "stream consumer stopped");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
    .map_err(|e: Error| anyhow::Error::new(e))
}

fn init_logging(format: &str) {
    let format = if format == "json" {
        hsi_edge::logging::LogFormat::Json
    } else {
        hsi_edge::logging::LogFormat::Text
    };
    hsi_edge::logging::init(format, "info");
}

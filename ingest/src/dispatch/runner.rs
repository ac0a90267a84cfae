//! [`JobRunner`]: one job per manifest. Two implementations: [`BatchRunner`] (AWS Batch
//! `SubmitJob`) and [`LocalRunner`] (a local `hsi-ingest work` process, run to completion).

use std::path::PathBuf;

use async_trait::async_trait;

use super::config::RunnerConfig;
use super::manifest::Manifest;
use crate::error::{Error, Result, chain};
use crate::shutdown::EXIT_INTERRUPTED;

/// Submits the job that processes one manifest.
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Submit (or run) the job for `manifest`, stored at `uri`; returns a job id. An error
    /// means the job was not accepted: the caller keeps the SQS messages for redelivery.
    async fn submit(&self, manifest: &Manifest, uri: &str) -> Result<String>;
}

/// The worker command line for a manifest (after the program name), as [`LocalRunner`] runs it.
pub fn worker_args(uri: &str) -> Vec<String> {
    vec!["work".into(), "--manifest".into(), uri.into()]
}

/// The job parameter that carries the manifest URI. The job definition's command
/// (`terraform/modules/batch`) is `["hsi-ingest", "work", "--manifest", "Ref::manifest"]`.
pub const MANIFEST_PARAMETER: &str = "manifest";

/// AWS Batch: `SubmitJob` with the manifest as the job parameter [`MANIFEST_PARAMETER`].
///
/// Nothing else is overridden: the job definition owns the command and the retry strategy
/// (attempts and the `evaluateOnExit` rules: retry a reclaimed host and exit code 75, stop on
/// anything else). A `retryStrategy` in `SubmitJob` would replace those rules entirely.
#[derive(Debug, Clone)]
pub struct BatchRunner {
    client: aws_sdk_batch::Client,
    job_queue: String,
    job_definition: String,
}

impl BatchRunner {
    /// A runner submitting to `job_queue` with `job_definition`.
    pub fn new(client: aws_sdk_batch::Client, job_queue: String, job_definition: String) -> Self {
        BatchRunner {
            client,
            job_queue,
            job_definition,
        }
    }

    /// The job name for a manifest (Batch allows 128 letters, digits, `-`, `_`).
    pub fn job_name(manifest: &Manifest) -> String {
        format!("hsi-ingest-{}", &manifest.id[..manifest.id.len().min(32)])
    }
}

#[async_trait]
impl JobRunner for BatchRunner {
    async fn submit(&self, manifest: &Manifest, uri: &str) -> Result<String> {
        let out = self
            .client
            .submit_job()
            .job_name(Self::job_name(manifest))
            .job_queue(&self.job_queue)
            .job_definition(&self.job_definition)
            .parameters(MANIFEST_PARAMETER, uri)
            .send()
            .await
            .map_err(|e| Error::Submit {
                manifest_id: manifest.id.clone(),
                reason: chain(&e),
            })?;
        Ok(out.job_id().unwrap_or_default().to_owned())
    }
}

/// Runs `PROGRAM --config CONFIG work --manifest URI` locally and waits for it; a failed run
/// (including exit 75, "interrupted") is retried up to `attempts` times, like Batch would.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    program: PathBuf,
    config: PathBuf,
    attempts: u32,
}

impl LocalRunner {
    /// A runner for `program` with `config`.
    pub fn new(program: PathBuf, config: PathBuf, attempts: u32) -> Self {
        LocalRunner {
            program,
            config,
            attempts: attempts.max(1),
        }
    }
}

#[async_trait]
impl JobRunner for LocalRunner {
    async fn submit(&self, manifest: &Manifest, uri: &str) -> Result<String> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let mut cmd = std::process::Command::new(&self.program);
            cmd.arg("--config").arg(&self.config).args(worker_args(uri));
            let status = tokio::task::spawn_blocking(move || cmd.status())
                .await
                .map_err(|e| Error::Submit {
                    manifest_id: manifest.id.clone(),
                    reason: e.to_string(),
                })?
                .map_err(|e| Error::Submit {
                    manifest_id: manifest.id.clone(),
                    reason: format!("cannot run {}: {e}", self.program.display()),
                })?;
            if status.success() {
                return Ok(format!("local-{}-{attempt}", manifest.id));
            }
            last = match status.code() {
                Some(c) if c == i32::from(EXIT_INTERRUPTED) => "worker interrupted (75)".into(),
                Some(c) => format!("worker exited with {c}"),
                None => "worker killed by a signal".into(),
            };
            tracing::warn!(manifest_id = %manifest.id, attempt, reason = %last, "local job failed");
        }
        Err(Error::Submit {
            manifest_id: manifest.id.clone(),
            reason: format!("{last} after {} attempts", self.attempts),
        })
    }
}

/// Build the runner a config asks for.
pub fn from_config(cfg: &RunnerConfig, batch: aws_sdk_batch::Client) -> Result<Box<dyn JobRunner>> {
    Ok(match cfg {
        RunnerConfig::Local {
            program,
            config,
            attempts,
        } => {
            let program = match program {
                Some(p) => p.clone(),
                None => std::env::current_exe().map_err(Error::io("current executable"))?,
            };
            Box::new(LocalRunner::new(program, config.clone(), *attempts))
        }
        RunnerConfig::Batch {
            job_queue,
            job_definition,
        } => Box::new(BatchRunner::new(
            batch,
            job_queue.clone(),
            job_definition.clone(),
        )),
    })
}

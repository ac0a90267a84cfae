//! `[dispatch]`: the SQS dispatcher's settings.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The dispatcher (see [`super`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchConfig {
    /// The queue that receives the raw bucket's ObjectCreated notifications.
    pub queue_url: url::Url,
    /// Bucket the manifests are written to.
    pub manifest_bucket: String,
    /// Prefix before `manifests/{yyyy}/{mm}/{dd}/{id}.json` (empty, or ending in `/`).
    #[serde(default)]
    pub manifest_prefix: String,
    /// Only keys under this prefix and ending in one of `suffixes` are cubes.
    #[serde(default = "default_raw_prefix")]
    pub raw_prefix: String,
    /// File name suffixes of raw cubes.
    #[serde(default = "default_suffixes")]
    pub suffixes: Vec<String>,
    /// A bundle is flushed once it holds this many cubes and the queue is drained.
    #[serde(default = "default_min_refs")]
    pub min_refs: usize,
    /// A bundle is flushed as soon as it holds this many cubes.
    #[serde(default = "default_max_refs")]
    pub max_refs: usize,
    /// A bundle is flushed at the latest this long after its first cube arrived.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// SQS long-poll wait (at most 20 s).
    #[serde(default = "default_wait", with = "humantime_serde")]
    pub wait_time: Duration,
    /// Visibility timeout asked for on receive; must exceed `window` plus the time a submission
    /// takes, or messages come back while their bundle is still pending.
    #[serde(default = "default_visibility", with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// How many recent (bucket, key, sequencer|etag) triples are remembered for de-duplication.
    #[serde(default = "default_dedup")]
    pub dedup_capacity: usize,
    /// How jobs are run.
    pub runner: RunnerConfig,
}

/// The [`super::JobRunner`] implementation and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunnerConfig {
    /// Run `hsi-ingest --config CONFIG work --manifest URI` as a local process, to completion.
    Local {
        /// The `hsi-ingest` binary; absent = the running executable.
        #[serde(default)]
        program: Option<PathBuf>,
        /// The config file handed to the worker.
        config: PathBuf,
        /// Attempts per job (a worker exiting with 75, "interrupted", is run again).
        #[serde(default = "default_attempts")]
        attempts: u32,
    },
    /// AWS Batch `SubmitJob`.
    Batch {
        /// Job queue name or ARN.
        job_queue: String,
        /// Job definition name[:revision] or ARN. It owns the command and the retry strategy;
        /// the dispatcher only passes the manifest as the job parameter `manifest`.
        job_definition: String,
    },
}

fn default_raw_prefix() -> String {
    "raw_cubes/".into()
}
fn default_suffixes() -> Vec<String> {
    vec![".h5".into(), ".hdf5".into()]
}
fn default_min_refs() -> usize {
    50
}
fn default_max_refs() -> usize {
    200
}
fn default_window() -> Duration {
    Duration::from_secs(60)
}
fn default_wait() -> Duration {
    Duration::from_secs(20)
}
fn default_visibility() -> Duration {
    Duration::from_secs(900)
}
fn default_dedup() -> usize {
    100_000
}
fn default_attempts() -> u32 {
    3
}

impl DispatchConfig {
    /// Check the bounds; the error is a sentence naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_refs == 0 || self.min_refs > self.max_refs {
            return Err(format!(
                "dispatch: min_refs ({}) must be between 1 and max_refs ({})",
                self.min_refs, self.max_refs
            ));
        }
        if self.wait_time > Duration::from_secs(20) {
            return Err("dispatch: wait_time is at most 20s (SQS long-poll limit)".into());
        }
        if self.visibility_timeout <= self.window {
            return Err(format!(
                "dispatch: visibility_timeout ({:?}) must exceed window ({:?})",
                self.visibility_timeout, self.window
            ));
        }
        if self.visibility_timeout > Duration::from_secs(12 * 3600) {
            return Err("dispatch: visibility_timeout is at most 12h".into());
        }
        if self.manifest_bucket.is_empty() {
            return Err("dispatch: manifest_bucket is empty".into());
        }
        if !self.manifest_prefix.is_empty() && !self.manifest_prefix.ends_with('/') {
            return Err("dispatch: manifest_prefix must be empty or end in `/`".into());
        }
        if let RunnerConfig::Local { attempts, .. } = &self.runner
            && !(1..=10).contains(attempts)
        {
            return Err("dispatch.runner: attempts must be 1..=10".into());
        }
        Ok(())
    }

    /// The bundling limits.
    pub fn limits(&self) -> super::BundleLimits {
        super::BundleLimits {
            min_refs: self.min_refs,
            max_refs: self.max_refs,
            window: self.window,
            dedup_capacity: self.dedup_capacity,
        }
    }

    /// The key filter.
    pub fn filter(&self) -> super::KeyFilter {
        super::KeyFilter {
            prefix: self.raw_prefix.clone(),
            suffixes: self.suffixes.clone(),
        }
    }
}

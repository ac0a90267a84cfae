//! The long-running dispatcher: long-poll SQS, bundle, write the manifest, submit, and only
//! then delete the messages.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use chrono::Utc;

use super::bundle::{Bundle, Bundler};
use super::config::DispatchConfig;
use super::event::parse_message;
use super::manifest::Manifest;
use super::runner::JobRunner;
use crate::error::{Error, Result, chain};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// What a dispatcher run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Messages received.
    pub received: u64,
    /// Messages deleted.
    pub deleted: u64,
    /// Manifests submitted (ids, in order).
    pub manifests: Vec<String>,
    /// Bundles whose submission failed (their messages were left for redelivery).
    pub failed_bundles: u64,
    /// Messages that could not be parsed (left for redelivery and, eventually, the DLQ).
    pub unparsable: u64,
}

/// The SQS dispatcher.
pub struct Dispatcher {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    cfg: DispatchConfig,
    runner: Box<dyn JobRunner>,
    metrics: Metrics,
    bundler: Bundler,
    stats: DispatchStats,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher over `cfg.queue_url`.
    pub fn new(
        s3: aws_sdk_s3::Client,
        sqs: aws_sdk_sqs::Client,
        cfg: DispatchConfig,
        runner: Box<dyn JobRunner>,
        metrics: Metrics,
    ) -> Self {
        let bundler = Bundler::new(cfg.limits(), cfg.filter());
        Dispatcher {
            s3,
            sqs,
            cfg,
            runner,
            metrics,
            bundler,
            stats: DispatchStats::default(),
        }
    }

    /// Poll until `stop` is requested (then flush what is pending), or, with `until_idle`,
    /// until one long poll comes back empty with nothing pending.
    pub async fn run(&mut self, stop: &Shutdown, until_idle: bool) -> Result<DispatchStats> {
        let queue = self.cfg.queue_url.to_string();
        let mut backoff = Duration::from_millis(200);
        loop {
            if stop.requested() {
                self.flush_all().await;
                break;
            }
            let now = Instant::now();
            let wait = self
                .bundler
                .time_left(now)
                .map_or(self.cfg.wait_time, |left| left.min(self.cfg.wait_time));
            let received = self
                .sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
                .visibility_timeout(
                    i32::try_from(self.cfg.visibility_timeout.as_secs()).unwrap_or(900),
                )
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await;
            let messages = match received {
                Ok(out) => {
                    backoff = Duration::from_millis(200);
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    self.metrics.errors.inc();
                    tracing::warn!(queue = %queue, error = %chain(&e), "ReceiveMessage failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(20));
                    continue;
                }
            };
            let count = messages.len();
            let drained = count < 10;
            self.stats.received += messages.len() as u64;
            self.metrics.messages_received.inc_by(messages.len() as u64);
            for m in messages {
                let id = m.message_id.unwrap_or_default();
                let Some(receipt) = m.receipt_handle else {
                    continue;
                };
                match parse_message(&id, m.body.as_deref().unwrap_or_default()) {
                    Ok(parsed) => {
                        let added = self.bundler.add(receipt, parsed, Instant::now());
                        self.metrics
                            .events_ignored
                            .inc_by((added.ignored + added.duplicates) as u64);
                    }
                    Err(e) => {
                        // Left in the queue: redelivered, then moved to the DLQ.
                        self.stats.unparsable += 1;
                        self.metrics.errors.inc();
                        tracing::error!(message_id = %id, error = %e, "unparsable message left for the DLQ");
                    }
                }
            }
            let acks = self.bundler.ack_now();
            self.delete(&acks).await;
            while self.bundler.due(Instant::now(), drained) {
                let Some(bundle) = self.bundler.take() else {
                    break;
                };
                self.submit(bundle).await;
            }
            self.poll_depth(&queue).await;
            if until_idle && count == 0 && self.bundler.pending() == 0 {
                break;
            }
        }
        Ok(self.stats.clone())
    }

    async fn flush_all(&mut self) {
        while let Some(bundle) = self.bundler.take() {
            self.submit(bundle).await;
        }
    }

    /// Write the manifest, submit its job, then delete its messages. On failure the messages
    /// stay (redelivery, then the DLQ) and the bundle is forgotten.
    async fn submit(&mut self, bundle: Bundle) {
        match self.write_and_submit(&bundle).await {
            Ok((manifest_id, job_id)) => {
                tracing::info!(manifest_id = %manifest_id, job_id = %job_id, cubes = bundle.refs.len(), "manifest submitted");
                self.metrics.manifests.inc();
                self.stats.manifests.push(manifest_id);
                self.delete(&bundle.receipts).await;
            }
            Err(e) => {
                self.metrics.errors.inc();
                self.stats.failed_bundles += 1;
                tracing::error!(error = %e, cubes = bundle.refs.len(), "submission failed; messages left for redelivery");
                self.bundler.forget(&bundle);
            }
        }
    }

    async fn write_and_submit(&self, bundle: &Bundle) -> Result<(String, String)> {
        let manifest = Manifest::build(&bundle.refs, Utc::now().date_naive())?;
        let uri = write_manifest(
            &self.s3,
            &self.cfg.manifest_bucket,
            &self.cfg.manifest_prefix,
            &manifest,
        )
        .await?;
        let job = self.runner.submit(&manifest, &uri).await?;
        Ok((manifest.id, job))
    }

    /// Delete messages, 10 per DeleteMessageBatch call. Failures are logged: the message is
    /// redelivered and its cubes de-duplicated downstream (manifest id, bronze.cubes).
    async fn delete(&mut self, receipts: &[String]) {
        let queue = self.cfg.queue_url.to_string();
        for chunk in receipts.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .ok()
                })
                .collect();
            match self
                .sqs
                .delete_message_batch()
                .queue_url(&queue)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    let ok = out.successful.len() as u64;
                    self.stats.deleted += ok;
                    self.metrics.messages_deleted.inc_by(ok);
                    for f in out.failed {
                        self.metrics.errors.inc();
                        tracing::warn!(id = %f.id, code = %f.code, "DeleteMessageBatch entry failed");
                    }
                }
                Err(e) => {
                    self.metrics.errors.inc();
                    tracing::warn!(error = %chain(&e), "DeleteMessageBatch failed");
                }
            }
        }
    }

    async fn poll_depth(&self, queue: &str) {
        if let Ok(out) = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            && let Some(n) = out
                .attributes
                .as_ref()
                .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
                .and_then(|v| v.parse::<i64>().ok())
        {
            self.metrics.queue_depth.set(n);
        }
    }
}

/// Write `manifest` to `s3://bucket/{prefix}manifests/...`; returns its URI. The same
/// manifest always has the same key and bytes, so a rewrite is harmless.
pub async fn write_manifest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    manifest: &Manifest,
) -> Result<String> {
    let key = manifest.key(prefix);
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(manifest.to_json().into_bytes().into())
        .send()
        .await
        .map_err(|e| Error::S3 {
            op: "PutObject",
            bucket: bucket.to_owned(),
            key: key.clone(),
            retryable: crate::aws::sdk_retryable(&e),
            reason: chain(&e),
        })?;
    Ok(format!("s3://{bucket}/{key}"))
}

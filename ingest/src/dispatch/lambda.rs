//! The dispatcher as an AWS Lambda handler for SQS event batches.
//!
//! Lambda's SQS event source already long-polls and batches (batch size up to 10,000 and a
//! batching window up to 5 min, set in terraform), so one invocation is one bundle: parse,
//! de-duplicate, split into manifests of at most `max_refs`, write and submit each one. The
//! messages of a manifest whose submission failed are reported in `batchItemFailures`
//! (ReportBatchItemFailures): Lambda deletes only the others, so the failed ones come back
//! and, after `maxReceiveCount`, go to the DLQ. Unparsable messages are reported the same way.

use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;

use super::bundle::{Bundle, BundleLimits, Bundler};
use super::event::{KeyFilter, parse_message};
use super::manifest::Manifest;
use super::runner::JobRunner;
use super::sqs::write_manifest;
use crate::error::Result;

/// Settings of the Lambda handler.
#[derive(Debug, Clone)]
pub struct LambdaDispatch {
    /// Bundling limits (the window is irrelevant here).
    pub limits: BundleLimits,
    /// Which keys are cubes.
    pub filter: KeyFilter,
    /// Manifest bucket.
    pub manifest_bucket: String,
    /// Manifest key prefix.
    pub manifest_prefix: String,
}

/// Handle one SQS event batch; returns the messages to be retried.
pub async fn handle(
    cfg: &LambdaDispatch,
    s3: &aws_sdk_s3::Client,
    runner: &dyn JobRunner,
    event: SqsEvent,
) -> Result<SqsBatchResponse> {
    let mut bundler = Bundler::new(cfg.limits, cfg.filter.clone());
    let mut failures = Vec::new();
    let now = Instant::now();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        match parse_message(&id, record.body.as_deref().unwrap_or_default()) {
            // The "receipt" tracked here is the message id, which is what Lambda reports.
            Ok(parsed) => {
                bundler.add(id, parsed, now);
            }
            Err(e) => {
                tracing::error!(error = %e, "unparsable message");
                failures.push(id);
            }
        }
    }
    bundler.ack_now();
    let mut bundles: Vec<Bundle> = Vec::new();
    while let Some(b) = bundler.take() {
        bundles.push(b);
    }
    // A message feeds the last bundle that holds its refs; if any bundle fails, every message
    // attached to it or to a later bundle is retried (conservative: duplicates are harmless).
    let mut failed_from: Option<usize> = None;
    for (i, bundle) in bundles.iter().enumerate() {
        let outcome = async {
            let manifest = Manifest::build(&bundle.refs, Utc::now().date_naive())?;
            let uri =
                write_manifest(s3, &cfg.manifest_bucket, &cfg.manifest_prefix, &manifest).await?;
            runner.submit(&manifest, &uri).await
        }
        .await;
        match outcome {
            Ok(job) => {
                tracing::info!(job_id = %job, cubes = bundle.refs.len(), "manifest submitted")
            }
            Err(e) => {
                tracing::error!(error = %e, "submission failed");
                failed_from.get_or_insert(i);
            }
        }
    }
    if let Some(first) = failed_from {
        for b in &bundles[first..] {
            failures.extend(b.receipts.iter().cloned());
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    Ok(response)
}

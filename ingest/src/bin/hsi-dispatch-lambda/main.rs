//! `hsi-dispatch-lambda`: the dispatcher as an AWS Lambda function (SQS event source with
//! ReportBatchItemFailures). Settings come from the environment (terraform sets them):
//! `HSI_MANIFEST_BUCKET`, `HSI_MANIFEST_PREFIX` (optional), `HSI_RAW_PREFIX` (default
//! `raw_cubes/`), `HSI_MAX_REFS` (default 200), `HSI_BATCH_JOB_QUEUE`,
//! `HSI_BATCH_JOB_DEFINITION` (which owns the worker's command and retry rules).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use hsi_ingest::aws::Clients;
use hsi_ingest::config::AwsConfig;
use hsi_ingest::dispatch::lambda::{LambdaDispatch, handle};
use hsi_ingest::dispatch::{BatchRunner, BundleLimits, KeyFilter};
use lambda_runtime::{Error as LambdaError, LambdaEvent, service_fn};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    hsi_edge::logging::init(hsi_edge::logging::LogFormat::Json, "info");
    let max_refs: usize = env_or("HSI_MAX_REFS", "200")
        .parse()
        .context("HSI_MAX_REFS")?;
    let cfg = LambdaDispatch {
        limits: BundleLimits {
            min_refs: 1,
            max_refs,
            window: Duration::ZERO,
            dedup_capacity: 100_000,
        },
        filter: KeyFilter {
            prefix: env_or("HSI_RAW_PREFIX", "raw_cubes/"),
            suffixes: vec![".h5".into(), ".hdf5".into()],
        },
        manifest_bucket: env("HSI_MANIFEST_BUCKET")?,
        manifest_prefix: env_or("HSI_MANIFEST_PREFIX", ""),
    };
    let clients = Clients::new(&AwsConfig::default()).await;
    let runner = BatchRunner::new(
        clients.batch.clone(),
        env("HSI_BATCH_JOB_QUEUE")?,
        env("HSI_BATCH_JOB_DEFINITION")?,
    );
    let (cfg, s3, runner) = (Arc::new(cfg), clients.s3.clone(), Arc::new(runner));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (cfg, s3, runner) = (Arc::clone(&cfg), s3.clone(), Arc::clone(&runner));
        async move {
            let response: SqsBatchResponse =
                handle(&cfg, &s3, runner.as_ref(), event.payload).await?;
            Ok::<_, LambdaError>(response)
        }
    }))
    .await
}

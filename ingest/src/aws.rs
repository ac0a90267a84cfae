//! AWS SDK clients from [`AwsConfig`]: one shared SDK config, path-style S3 and a custom
//! endpoint when one is given (moto in tests), static credentials when given.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::{Credentials, RequestChecksumCalculation};

use crate::config::AwsConfig;

/// The three clients the ingest processes use.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// AWS Batch.
    pub batch: aws_sdk_batch::Client,
}

impl Clients {
    /// Build the clients.
    pub async fn new(cfg: &AwsConfig) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &cfg.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "hsi-ingest-config",
            ));
        }
        let shared = loader.load().await;
        let s3_conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.endpoint_url.is_some())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            sqs: aws_sdk_sqs::Client::new(&shared),
            batch: aws_sdk_batch::Client::new(&shared),
        }
    }
}

/// Whether an SDK error is worth retrying (throttling, timeouts, dispatch failures, 5xx).
pub fn sdk_retryable<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool {
    use aws_sdk_s3::error::SdkError;
    matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    )
}

//! Publishing a Bronze Zarr store to S3.
//!
//! The lakehouse writes a cube's calibrated Zarr v3 store to the worker's local `zarr_root`
//! (compressed line-block chunks, bounded memory); with `[worker] bronze_uri = "s3://bucket/prefix/"`
//! this publisher then uploads every file of the store to
//! `s3://bucket/prefix/{cube_id}.zarr/{relative path}` — before the Silver and Bronze commits, so
//! `bronze.cubes.zarr_uri` never names a store that is not there — and removes the local copy.
//! A re-run uploads the same keys again (idempotent overwrite).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use hsi_lakehouse::pipeline::ZarrPublisher;

use crate::aws::sdk_retryable;
use crate::error::chain;

/// Uploads Bronze stores under one S3 prefix.
#[derive(Debug, Clone)]
pub struct S3ZarrPublisher {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3ZarrPublisher {
    /// A publisher for `s3://bucket/prefix/`; `None` when `uri` is not an `s3://` URI.
    pub fn new(s3: aws_sdk_s3::Client, uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(S3ZarrPublisher {
            s3,
            bucket: bucket.to_owned(),
            prefix,
        })
    }
}

/// Every regular file under `dir`, recursively, sorted.
fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[async_trait]
impl ZarrPublisher for S3ZarrPublisher {
    async fn publish(&self, cube_id: &str, local: &Path) -> hsi_lakehouse::Result<String> {
        let base = format!("{}{cube_id}.zarr", self.prefix);
        let uri = format!("s3://{}/{base}", self.bucket);
        let io = |e: std::io::Error| hsi_lakehouse::Error::Io {
            path: local.to_path_buf(),
            source: e,
        };
        for file in files(local).map_err(io)? {
            let rel = file.strip_prefix(local).unwrap_or(&file);
            let rel = rel.to_string_lossy().replace('\\', "/");
            let key = format!("{base}/{rel}");
            let body =
                ByteStream::from_path(&file)
                    .await
                    .map_err(|e| hsi_lakehouse::Error::Publish {
                        uri: format!("s3://{}/{key}", self.bucket),
                        reason: format!("reading {}: {e}", file.display()),
                        retryable: false,
                    })?;
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(body)
                .send()
                .await
                .map_err(|e| hsi_lakehouse::Error::Publish {
                    uri: format!("s3://{}/{key}", self.bucket),
                    retryable: sdk_retryable(&e),
                    reason: chain(&e),
                })?;
        }
        // The S3 copy is the store now; the local one only costs scratch space.
        if let Err(e) = std::fs::remove_dir_all(local) {
            tracing::warn!(path = %local.display(), error = %e, "could not remove the local Bronze store");
        }
        Ok(uri)
    }
}

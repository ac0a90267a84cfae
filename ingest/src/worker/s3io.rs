//! The worker's S3 calls: manifests, streamed downloads, tags, quarantine records.

use std::path::Path;

use aws_sdk_s3::types::{Tag, Tagging};
use tokio::io::AsyncWriteExt;

use crate::aws::sdk_retryable;
use crate::error::{Error, Result, chain};

/// The tag the lifecycle rules key on.
pub const STATUS_TAG: &str = "processing_status";
/// Value after a successful commit.
pub const STATUS_COMPLETE: &str = "complete";
/// Value after a failure (the cube stays in S3 Standard).
pub const STATUS_FAILED: &str = "failed";

fn s3_err<E: std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    op: &'static str,
    bucket: &str,
    key: &str,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E, R>) -> Error {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    move |e| Error::S3 {
        op,
        retryable: sdk_retryable(&e),
        reason: chain(&e),
        bucket,
        key,
    }
}

/// Split `s3://bucket/key`.
pub fn parse_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// Read a text object (a manifest).
pub async fn get_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_err("GetObject", bucket, key))?;
    let bytes = out.body.collect().await.map_err(|e| Error::S3 {
        op: "GetObject",
        bucket: bucket.into(),
        key: key.into(),
        reason: e.to_string(),
        retryable: true,
    })?;
    String::from_utf8(bytes.into_bytes().to_vec()).map_err(|_| Error::Manifest {
        uri: format!("s3://{bucket}/{key}"),
        reason: "not UTF-8".into(),
    })
}

/// Stream an object to `dest` chunk by chunk (bounded memory); returns the ETag (unquoted)
/// and the byte count.
pub async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    dest: &Path,
) -> Result<(String, u64)> {
    let mut out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_err("GetObject", bucket, key))?;
    let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(Error::io(dest))?;
    let mut n = 0u64;
    while let Some(chunk) = out.body.try_next().await.map_err(|e| Error::S3 {
        op: "GetObject",
        bucket: bucket.into(),
        key: key.into(),
        reason: format!("body: {e}"),
        retryable: true,
    })? {
        file.write_all(&chunk).await.map_err(Error::io(dest))?;
        n += chunk.len() as u64;
    }
    file.flush().await.map_err(Error::io(dest))?;
    Ok((etag, n))
}

/// Set `name=value` on an object, keeping its other tags (GetObjectTagging + PutObjectTagging).
pub async fn merge_tag(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let current = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_err("GetObjectTagging", bucket, key))?;
    let mut tags: Vec<Tag> = current
        .tag_set
        .into_iter()
        .filter(|t| t.key != name)
        .collect();
    tags.push(
        Tag::builder()
            .key(name)
            .value(value)
            .build()
            .map_err(|e| Error::S3 {
                op: "PutObjectTagging",
                bucket: bucket.into(),
                key: key.into(),
                reason: e.to_string(),
                retryable: false,
            })?,
    );
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| Error::S3 {
            op: "PutObjectTagging",
            bucket: bucket.into(),
            key: key.into(),
            reason: e.to_string(),
            retryable: false,
        })?;
    s3.put_object_tagging()
        .bucket(bucket)
        .key(key)
        .tagging(tagging)
        .send()
        .await
        .map_err(s3_err("PutObjectTagging", bucket, key))?;
    Ok(())
}

/// The tags of an object, as (key, value) pairs.
pub async fn tags(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<(String, String)>> {
    let out = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_err("GetObjectTagging", bucket, key))?;
    Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
}

/// Write a small JSON object.
pub async fn put_json(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    json: String,
) -> Result<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(json.into_bytes().into())
        .send()
        .await
        .map_err(s3_err("PutObject", bucket, key))?;
    Ok(())
}

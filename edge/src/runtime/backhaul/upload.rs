//! A resumable multipart upload of one file, with per-part SHA-256 checksums.
//!
//! The resume record `STATE/backhaul/{key}.json` is written (atomically) after
//! `CreateMultipartUpload` and after every part: bucket, key, upload id, file size and mtime,
//! part size, the file's SHA-256, and each finished part's number, ETag and checksum. On restart
//! the record is checked against the file (same size and mtime) and against S3 (`ListParts`);
//! only parts S3 still holds with the same ETag count as done. A record whose upload S3 no
//! longer knows is either already complete (the object exists with our `sha256` metadata) or
//! started over. Every part carries `x-amz-checksum-sha256`, S3 verifies it, and the final
//! object's composite checksum (SHA-256 of the part digests, `-N`) is checked after completion.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::error::{Error, Result};
use crate::runtime::fsutil::{remove_file, write_atomic};
use crate::runtime::metrics::Metrics;

/// The resume record of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeRecord {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
    /// File size.
    pub size: u64,
    /// File mtime (ns since the epoch): a changed file starts over.
    pub mtime_ns: i128,
    /// Part size.
    pub part_size: u64,
    /// Hex SHA-256 of the whole file (also the object's `sha256` metadata).
    pub sha256: String,
    /// Finished parts, by number.
    pub parts: Vec<DonePart>,
}

/// A finished part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DonePart {
    /// 1-based part number.
    pub number: i32,
    /// ETag S3 returned.
    pub etag: String,
    /// Base64 SHA-256 of the part.
    pub sha256: String,
}

/// Result of [`upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// The object is complete; hex SHA-256 of the file.
    Done {
        /// Hex SHA-256.
        sha256: String,
        /// Parts uploaded in this call.
        parts_uploaded: u32,
    },
    /// Stopped after the part budget; the resume record holds the progress.
    Paused {
        /// Parts uploaded in this call.
        parts_uploaded: u32,
    },
}

/// What [`upload`] works on.
pub struct UploadJob<'a> {
    /// The S3 client.
    pub client: &'a Client,
    /// Bucket.
    pub bucket: &'a str,
    /// Key.
    pub key: &'a str,
    /// The local file.
    pub path: &'a Path,
    /// Part size.
    pub part_size: u64,
    /// The resume record's path.
    pub resume: PathBuf,
    /// Metrics to update per part.
    pub metrics: &'a Metrics,
}

impl UploadJob<'_> {
    fn s3_err<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let retryable = match &e {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(s) => {
                matches!(
                    s.err().code(),
                    Some("SlowDown" | "InternalError" | "RequestTimeout" | "ServiceUnavailable")
                )
            }
            _ => false,
        };
        let mut reason = DisplayErrorContext(&e).to_string();
        if reason.len() > 600 {
            let cut = (0..=600)
                .rev()
                .find(|&i| reason.is_char_boundary(i))
                .unwrap_or(0);
            reason.truncate(cut);
            reason.push_str("...");
        }
        Error::S3 {
            bucket: self.bucket.to_owned(),
            key: self.key.to_owned(),
            operation,
            reason,
            retryable,
        }
    }
}

/// Upload (or resume uploading) `job.path`; at most `max_parts` parts in this call.
pub async fn upload(job: &UploadJob<'_>, max_parts: Option<u32>) -> Result<Upload> {
    let meta = std::fs::metadata(job.path).map_err(|e| Error::io(job.path, e))?;
    let size = meta.len();
    let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    let mut record = match load_record(&job.resume)? {
        Some(r)
            if r.bucket == job.bucket
                && r.key == job.key
                && r.size == size
                && r.mtime_ns == mtime_ns
                && r.part_size == job.part_size =>
        {
            match reconcile(job, r).await? {
                Reconciled::Resume(r) => r,
                Reconciled::AlreadyComplete(sha256) => {
                    remove_file(&job.resume)?;
                    return Ok(Upload::Done {
                        sha256,
                        parts_uploaded: 0,
                    });
                }
                Reconciled::StartOver => start(job, size, mtime_ns).await?,
            }
        }
        _ => start(job, size, mtime_ns).await?,
    };
    let total_parts = size.div_ceil(job.part_size).max(1);
    let mut file = File::open(job.path).map_err(|e| Error::io(job.path, e))?;
    let mut uploaded = 0u32;
    for number in 1..=total_parts as i32 {
        if record.parts.iter().any(|p| p.number == number) {
            continue;
        }
        if max_parts.is_some_and(|m| uploaded >= m) {
            return Ok(Upload::Paused {
                parts_uploaded: uploaded,
            });
        }
        let offset = (number as u64 - 1) * job.part_size;
        let len = job.part_size.min(size - offset.min(size));
        let mut buf = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| Error::io(job.path, e))?;
        let sha256 = B64.encode(Sha256::digest(&buf));
        let out = job
            .client
            .upload_part()
            .bucket(job.bucket)
            .key(job.key)
            .upload_id(&record.upload_id)
            .part_number(number)
            .content_length(len as i64)
            .checksum_sha256(&sha256)
            .body(ByteStream::from(buf))
            .send()
            .await
            .map_err(|e| job.s3_err("UploadPart", e))?;
        let etag = out.e_tag().unwrap_or_default().to_owned();
        record.parts.push(DonePart {
            number,
            etag,
            sha256,
        });
        record.parts.sort_by_key(|p| p.number);
        save_record(&job.resume, &record)?;
        uploaded += 1;
        job.metrics.backhaul_parts.inc();
        job.metrics.backhaul_bytes.inc_by(len);
        tracing::debug!(
            key = job.key,
            part = number,
            of = total_parts,
            "part uploaded"
        );
    }
    complete(job, &record).await?;
    remove_file(&job.resume)?;
    Ok(Upload::Done {
        sha256: record.sha256,
        parts_uploaded: uploaded,
    })
}

enum Reconciled {
    Resume(ResumeRecord),
    AlreadyComplete(String),
    StartOver,
}

/// Check a resume record against S3.
async fn reconcile(job: &UploadJob<'_>, mut record: ResumeRecord) -> Result<Reconciled> {
    let mut held: Vec<(i32, String)> = Vec::new();
    let mut marker: Option<String> = None;
    let listed = loop {
        let page = job
            .client
            .list_parts()
            .bucket(job.bucket)
            .key(job.key)
            .upload_id(&record.upload_id)
            .max_parts(1000)
            .set_part_number_marker(marker.clone())
            .send()
            .await;
        match page {
            Ok(out) => {
                held.extend(out.parts().iter().map(|p| {
                    (
                        p.part_number().unwrap_or(0),
                        p.e_tag().unwrap_or("").to_owned(),
                    )
                }));
                match out.next_part_number_marker() {
                    Some(m) if out.is_truncated() == Some(true) => marker = Some(m.to_owned()),
                    _ => break Ok(()),
                }
            }
            Err(e) => break Err(e),
        }
    };
    match listed {
        Ok(()) => {
            let before = record.parts.len();
            record
                .parts
                .retain(|p| held.iter().any(|(n, e)| *n == p.number && *e == p.etag));
            tracing::info!(
                key = job.key,
                upload_id = %record.upload_id,
                parts_done = record.parts.len(),
                parts_dropped = before - record.parts.len(),
                "resuming multipart upload"
            );
            Ok(Reconciled::Resume(record))
        }
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchUpload") => {
            // Completed before the crash (the record outlived it), or aborted.
            let head = job
                .client
                .head_object()
                .bucket(job.bucket)
                .key(job.key)
                .send()
                .await;
            let same = head.ok().is_some_and(|h| {
                h.content_length() == Some(record.size as i64)
                    && h.metadata().and_then(|m| m.get("sha256")) == Some(&record.sha256)
            });
            Ok(if same {
                Reconciled::AlreadyComplete(record.sha256)
            } else {
                Reconciled::StartOver
            })
        }
        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 200 => {
            // A 200 the SDK cannot parse: some S3 implementations (moto) name the root
            // element `ListPartsResponse`. The record's parts were each acknowledged with an
            // ETag, so trust it; a part S3 lost makes CompleteMultipartUpload fail with
            // InvalidPart, and the upload then starts over.
            tracing::warn!(
                key = job.key,
                "unparsable ListParts answer; trusting the resume record"
            );
            Ok(Reconciled::Resume(record))
        }
        Err(e) => Err(job.s3_err("ListParts", e)),
    }
}

async fn start(job: &UploadJob<'_>, size: u64, mtime_ns: i128) -> Result<ResumeRecord> {
    let sha256 = hash_file(job.path)?;
    let out = job
        .client
        .create_multipart_upload()
        .bucket(job.bucket)
        .key(job.key)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .metadata("sha256", &sha256)
        .send()
        .await
        .map_err(|e| job.s3_err("CreateMultipartUpload", e))?;
    let upload_id = out.upload_id().unwrap_or_default().to_owned();
    let record = ResumeRecord {
        bucket: job.bucket.to_owned(),
        key: job.key.to_owned(),
        upload_id,
        size,
        mtime_ns,
        part_size: job.part_size,
        sha256,
        parts: Vec::new(),
    };
    save_record(&job.resume, &record)?;
    Ok(record)
}

/// The key already holds an object: the same content (our own upload, completed before a
/// lost reply or a crash) is success; other content is a different capture with the same id,
/// reported and never overwritten. The multipart upload is aborted either way.
async fn already_there(job: &UploadJob<'_>, record: &ResumeRecord) -> Result<()> {
    let _ = job
        .client
        .abort_multipart_upload()
        .bucket(job.bucket)
        .key(job.key)
        .upload_id(&record.upload_id)
        .send()
        .await;
    let _ = remove_file(&job.resume);
    let head = job
        .client
        .head_object()
        .bucket(job.bucket)
        .key(job.key)
        .send()
        .await
        .map_err(|e| job.s3_err("HeadObject", e))?;
    let theirs = head
        .metadata()
        .and_then(|m| m.get("sha256"))
        .cloned()
        .unwrap_or_default();
    if theirs == record.sha256 && head.content_length() == Some(record.size as i64) {
        tracing::info!(key = job.key, "object already uploaded with this content");
        return Ok(());
    }
    Err(Error::S3 {
        bucket: job.bucket.to_owned(),
        key: job.key.to_owned(),
        operation: "CompleteMultipartUpload",
        reason: format!(
            "the key already holds a different object (sha256 {}, this file {}): another \
             capture with the same cube id; not overwritten (rename one of them)",
            if theirs.is_empty() {
                "unknown"
            } else {
                theirs.as_str()
            },
            record.sha256
        ),
        retryable: false,
    })
}

async fn complete(job: &UploadJob<'_>, record: &ResumeRecord) -> Result<()> {
    let parts = record
        .parts
        .iter()
        .map(|p| {
            CompletedPart::builder()
                .part_number(p.number)
                .e_tag(&p.etag)
                .checksum_sha256(&p.sha256)
                .build()
        })
        .collect();
    // Conditional: never replace an object that is already there. A raw object key names
    // one capture (`raw_cubes/…/{cube_id}.h5`); a different capture that reuses the cube id
    // must not overwrite it.
    let completed = job
        .client
        .complete_multipart_upload()
        .bucket(job.bucket)
        .key(job.key)
        .upload_id(&record.upload_id)
        .if_none_match("*")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    let completed = match completed {
        Ok(out) => out,
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|s| s.code())
                .map(str::to_owned);
            let status = e.raw_response().map(|r| r.status().as_u16());
            if code.as_deref() == Some("PreconditionFailed") || status == Some(412) {
                return already_there(job, record).await;
            }
            let gone = matches!(
                code.as_deref(),
                Some("InvalidPart" | "NoSuchUpload" | "InvalidPartOrder")
            );
            if gone {
                // The recorded parts are not all there: start over on the next pass.
                let _ = remove_file(&job.resume);
            }
            return Err(job.s3_err("CompleteMultipartUpload", e));
        }
    };
    // The completion answer carries the object's composite checksum: no HeadObject (which
    // would need s3:GetObject, a read the edge role does not have). Every part was uploaded
    // with its own SHA-256, checked by S3, so a matching composite proves the whole object.
    if let Some(got) = completed.checksum_sha256() {
        let want = composite_sha256(&record.parts)?;
        // Some servers report the composite without the `-N` suffix.
        if got != want && Some(got) != want.split('-').next() {
            return Err(Error::S3 {
                bucket: job.bucket.to_owned(),
                key: job.key.to_owned(),
                operation: "CompleteMultipartUpload",
                reason: format!("composite SHA-256: expected {want}, the object has {got}"),
                retryable: false,
            });
        }
    }
    Ok(())
}

/// S3's composite checksum of a multipart object: base64(SHA-256(part digests)) + `-N`.
pub fn composite_sha256(parts: &[DonePart]) -> Result<String> {
    let mut h = Sha256::new();
    for p in parts {
        let raw = B64
            .decode(&p.sha256)
            .map_err(|e| Error::corrupt("resume record", e.to_string()))?;
        h.update(raw);
    }
    Ok(format!("{}-{}", B64.encode(h.finalize()), parts.len()))
}

/// Hex SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn load_record(path: &Path) -> Result<Option<ResumeRecord>> {
    match std::fs::read(path) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn save_record(path: &Path, r: &ResumeRecord) -> Result<()> {
    let json = serde_json::to_vec_pretty(r).map_err(|e| Error::corrupt(path, e.to_string()))?;
    write_atomic(path, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_checksum_is_the_hash_of_part_digests() {
        let a = Sha256::digest(b"part one");
        let b = Sha256::digest(b"part two");
        let parts = [
            DonePart {
                number: 1,
                etag: "e1".into(),
                sha256: B64.encode(a),
            },
            DonePart {
                number: 2,
                etag: "e2".into(),
                sha256: B64.encode(b),
            },
        ];
        let mut h = Sha256::new();
        h.update(a);
        h.update(b);
        let want = format!("{}-2", B64.encode(h.finalize()));
        assert_eq!(composite_sha256(&parts).expect("composite"), want);
    }
}

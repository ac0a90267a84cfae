//! Backhaul: raw cubes to S3 when the node is on the facility network, then local retention.
//!
//! Object keys follow DESIGN §7: `raw_cubes/{region}/{farm_id}/{yyyy}/{mm}/{dd}/{cube_id}.h5`
//! (date of the acquisition, UTC). An ENVI cube is uploaded as its two files under the same
//! prefix, `{cube_id}.hdr` and `{cube_id}.{binary extension}`. Uploads are multipart and
//! resumable ([`upload`]); a cube is marked `backhauled` in the state store only after every
//! file's upload completed and was verified. Backhaul sets no `processing_status` tag: the
//! cloud worker tags the object after its own commit.

pub mod retention;
pub mod trigger;
pub mod upload;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use chrono::Datelike;

use super::config::{BackhaulConfig, IdentityConfig};
use super::error::{Error, Result};
use super::fsutil::{create_dir, file_key};
use super::landing::{self, LandingCube};
use super::metrics::Metrics;
use super::state::{Backhauled, Failed, StateStore, fingerprint};
use crate::cube::CubeHeader;
use upload::{Upload, UploadJob};

/// The object key of a raw cube file (DESIGN §7); `ext` without the dot.
pub fn object_key(h: &CubeHeader, ext: &str) -> Result<String> {
    for (name, v) in [
        ("region", &h.region),
        ("farm_id", &h.farm_id),
        ("cube_id", &h.cube_id),
    ] {
        if v.is_empty() || v.contains('/') || v == "." || v == ".." {
            return Err(Error::config(
                format!("cube `{}`", h.cube_id),
                format!("{name} `{v}` cannot be an S3 key segment"),
            ));
        }
    }
    let t = h.acquisition_time;
    Ok(format!(
        "raw_cubes/{}/{}/{:04}/{:02}/{:02}/{}.{ext}",
        h.region,
        h.farm_id,
        t.year(),
        t.month(),
        t.day(),
        h.cube_id
    ))
}

/// What one backhaul pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Cubes completed in this pass.
    pub cubes_done: u32,
    /// Cubes still to do (not attempted, failed, or paused).
    pub cubes_left: u32,
    /// Parts uploaded.
    pub parts: u32,
    /// The part budget ran out before everything was uploaded.
    pub paused: bool,
}

/// The S3 side: a client and a small Tokio runtime for it.
pub struct Backhaul {
    cfg: BackhaulConfig,
    identity: IdentityConfig,
    rt: tokio::runtime::Runtime,
    client: Client,
    state: Arc<StateStore>,
    resume_dir: std::path::PathBuf,
    metrics: Arc<Metrics>,
}

impl Backhaul {
    /// A client for `cfg` (credentials from the default AWS chain: environment, profile,
    /// IRSA, instance metadata). Resume records live in `state_dir/backhaul/`.
    pub fn new(
        cfg: &BackhaulConfig,
        identity: &IdentityConfig,
        state_dir: &Path,
        state: Arc<StateStore>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        if cfg.bucket.is_empty() {
            return Err(Error::config("backhaul.bucket", "no bucket configured"));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(cfg.region.clone()));
        if let Some(ep) = &cfg.endpoint {
            loader = loader.endpoint_url(ep.as_str().trim_end_matches('/'));
        }
        let sdk = rt.block_on(loader.load());
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(cfg.force_path_style)
            // We send our own per-part SHA-256; no streaming trailers (not every S3 speaks them).
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        let resume_dir = state_dir.join("backhaul");
        create_dir(&resume_dir)?;
        Ok(Backhaul {
            cfg: cfg.clone(),
            identity: identity.clone(),
            rt,
            client: Client::from_conf(s3),
            state,
            resume_dir,
            metrics,
        })
    }

    /// Upload every complete landing cube not yet backhauled, oldest first; at most
    /// `max_parts` parts in this pass (a test and bandwidth hook; `None` = no limit).
    pub fn pass(
        &self,
        landing_dir: &Path,
        settle: std::time::Duration,
        max_parts: Option<u32>,
        shutdown: &AtomicBool,
    ) -> Result<PassReport> {
        let mut report = PassReport::default();
        let mut todo: Vec<LandingCube> = Vec::new();
        for c in landing::scan(landing_dir, settle)? {
            let fp = fingerprint(&c.files)?;
            // Only this capture's record counts: a reused name is a new capture to upload.
            match self.state.current(&c.source, &fp)? {
                Some(r) if r.backhauled.is_some() || r.backhaul_failed.is_some() => {}
                _ => todo.push(c),
            }
        }
        self.metrics.backhaul_pending.set(todo.len() as i64);
        report.cubes_left = todo.len() as u32;
        for cube in &todo {
            if shutdown.load(Ordering::Relaxed) {
                break;
            }
            let budget = max_parts.map(|m| m.saturating_sub(report.parts));
            if budget == Some(0) {
                report.paused = true;
                break;
            }
            match self.cube(cube, budget) {
                Ok((parts, true)) => {
                    report.parts += parts;
                    report.cubes_done += 1;
                    report.cubes_left -= 1;
                    self.metrics.backhaul_cubes.inc();
                    self.metrics.backhaul_pending.dec();
                }
                Ok((parts, false)) => {
                    report.parts += parts;
                    report.paused = true;
                    break;
                }
                Err(e) if e.retryable() => {
                    self.metrics.backhaul_errors.inc();
                    tracing::warn!(source = %cube.source, error = %e, "backhaul failed; retried next pass");
                }
                Err(e) => {
                    // Never succeeds by retrying (its key holds another capture): recorded,
                    // reported, not retried; retention keeps the files (not backhauled).
                    self.metrics.backhaul_errors.inc();
                    tracing::error!(source = %cube.source, error = %e, "backhaul cannot succeed; recorded and not retried");
                    let now = chrono::Utc::now();
                    let reason = e.to_string();
                    let fp = fingerprint(&cube.files).ok();
                    self.state.update(&cube.source, |r| {
                        r.backhaul_failed = Some(Failed { at: now, reason });
                        r.fingerprint = r.fingerprint.take().or(fp);
                    })?;
                }
            }
        }
        Ok(report)
    }

    /// Upload one cube's files. Returns (parts uploaded, complete).
    fn cube(&self, cube: &LandingCube, budget: Option<u32>) -> Result<(u32, bool)> {
        // One uploader per cube, across processes (daemon and `hsi-edge backhaul`).
        let key_base = file_key(&cube.source);
        let lock_path = self.resume_dir.join(format!("{key_base}.lock"));
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            tracing::info!(source = %cube.source, "another process is uploading this cube");
            return Ok((0, false));
        }
        // The same identity processing used (the device's `[identity]` fills what the files
        // lack), so the raw object's key matches the streamed rows.
        let mut header = crate::read::open(&cube.open_path)?.info().header.clone();
        self.identity.fill(&mut header);
        let mut keys = Vec::new();
        let mut sums = Vec::new();
        let mut parts = 0u32;
        for (i, file) in cube.files.iter().enumerate() {
            let ext = match (cube.is_envi(), i) {
                (false, _) => "h5".to_owned(),
                (true, 0) => "hdr".to_owned(),
                (true, _) => file
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_else(|| "img".into()),
            };
            let key = object_key(&header, &ext)?;
            let job = UploadJob {
                client: &self.client,
                bucket: &self.cfg.bucket,
                key: &key,
                path: file,
                part_size: self.cfg.part_size_bytes,
                resume: self.resume_dir.join(format!("{key_base}.{i}.json")),
                metrics: &self.metrics,
            };
            let left = budget.map(|b| b.saturating_sub(parts));
            match self.rt.block_on(upload::upload(&job, left))? {
                Upload::Done {
                    sha256,
                    parts_uploaded,
                } => {
                    parts += parts_uploaded;
                    keys.push(key);
                    sums.push(sha256);
                }
                Upload::Paused { parts_uploaded } => return Ok((parts + parts_uploaded, false)),
            }
        }
        let now = chrono::Utc::now();
        let bucket = self.cfg.bucket.clone();
        let fp = fingerprint(&cube.files)?;
        self.state.update(&cube.source, |r| {
            r.fingerprint.get_or_insert(fp);
            r.cube_id.get_or_insert(header.cube_id.clone());
            r.files = cube
                .files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            r.backhauled = Some(Backhauled {
                at: now,
                bucket,
                keys: keys.clone(),
                sha256: sums.clone(),
            });
        })?;
        tracing::info!(cube_id = %header.cube_id, keys = ?keys, "cube backhauled");
        drop(lock);
        let _ = std::fs::remove_file(&lock_path);
        Ok((parts, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_follow_the_design_layout() {
        let h = CubeHeader {
            cube_id: "c-0007".into(),
            sensor_id: "s".into(),
            farm_id: "farm-3".into(),
            field_id: "f".into(),
            region: "us-midwest".into(),
            acquisition_time: chrono::Utc
                .with_ymd_and_hms(2026, 6, 9, 23, 59, 0)
                .single()
                .expect("time"),
            crs: None,
            geotransform: None,
            calibration_id: None,
        };
        assert_eq!(
            object_key(&h, "h5").expect("key"),
            "raw_cubes/us-midwest/farm-3/2026/06/09/c-0007.h5"
        );
        let bad = CubeHeader {
            farm_id: "a/b".into(),
            ..h
        };
        assert!(object_key(&bad, "h5").is_err());
    }
}

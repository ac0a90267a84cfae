//! Who, where and when an ENVI cube was captured: ENVI headers carry no farm or field, and
//! often no time, so the identity is assembled from, in order of precedence:
//!
//! 1. a **sidecar** `NAME.hsi.json` beside the header (`NAME.hdr` → `NAME.hsi.json`), with any
//!    of `cube_id`, `farm_id`, `field_id`, `region`, `sensor_id`, `acquisition_time` (RFC 3339);
//!    unknown keys are an error naming the file;
//! 2. **header keys**: `acquisition time` (ENVI's standard key, ISO 8601), `sensor type`, and
//!    `hsi cube id`, `hsi farm id`, `hsi field id`, `hsi region`, `hsi sensor id`; or the same
//!    `key = value` pairs (`farm_id = …`) inside `description`;
//! 3. the **file name** conventions of the instruments: AVIRIS-NG `angYYYYMMDDtHHMMSS…` and
//!    classic AVIRIS `fYYMMDDt…` give the acquisition time (UTC) and the sensor;
//! 4. whatever remains is left as `unknown` (and the epoch for the time) here; the edge daemon
//!    fills the farm, field, region and sensor from its `[identity]` config, and the pipeline
//!    refuses a cube whose identity is still incomplete ([`crate::cube::CubeHeader::missing_identity`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;

use super::header::EnviHeader;
use crate::cube::CubeHeader;
use crate::error::{Error, Result};

/// The sidecar's fields (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    cube_id: Option<String>,
    farm_id: Option<String>,
    field_id: Option<String>,
    region: Option<String>,
    sensor_id: Option<String>,
    acquisition_time: Option<DateTime<Utc>>,
}

/// The sidecar path of a header: `NAME.hdr` → `NAME.hsi.json`.
pub fn sidecar_path(header_path: &Path) -> PathBuf {
    header_path.with_extension("hsi.json")
}

/// Fill `cube` (ids from the file stem, epoch time) from the sources of the module docs.
pub(crate) fn apply(
    cube: &mut CubeHeader,
    header: &EnviHeader,
    header_path: &Path,
    binary: &Path,
) -> Result<()> {
    // 3. File name conventions (lowest precedence: applied first, overwritten below).
    for p in [binary, header_path] {
        if let Some((time, sensor)) = p
            .file_name()
            .and_then(|n| from_file_name(&n.to_string_lossy()))
        {
            cube.acquisition_time = time;
            cube.sensor_id = sensor.into();
            break;
        }
    }
    // 2. Header keys, then `key = value` pairs in the description.
    let desc = header.description.as_deref().map(pairs).unwrap_or_default();
    let key = |names: &[&str]| -> Option<String> {
        names
            .iter()
            .find_map(|n| header.extra.get(*n).cloned())
            .or_else(|| {
                names.iter().find_map(|n| {
                    let n = n.trim_start_matches("hsi ").replace(' ', "_");
                    desc.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
                })
            })
            .map(|v| v.trim().to_owned())
            .filter(|v| !CubeHeader::is_unknown(v))
    };
    if let Some(t) = key(&["acquisition time", "hsi acquisition time"]) {
        cube.acquisition_time = parse_time(&t).ok_or_else(|| {
            Error::invalid(
                header_path,
                "acquisition time",
                format!("`{t}` is not an ISO 8601 / RFC 3339 time"),
            )
        })?;
    }
    if let Some(v) = key(&["hsi cube id"]) {
        cube.cube_id = v;
    }
    if let Some(v) = key(&["hsi farm id"]) {
        cube.farm_id = v;
    }
    if let Some(v) = key(&["hsi field id"]) {
        cube.field_id = v;
    }
    if let Some(v) = key(&["hsi region"]) {
        cube.region = v;
    }
    if let Some(v) = key(&["hsi sensor id", "sensor type"]) {
        cube.sensor_id = v;
    }
    // 1. The sidecar wins.
    let side = sidecar_path(header_path);
    match std::fs::read(&side) {
        Ok(bytes) => {
            let s: Sidecar = serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(&side, "sidecar", e.to_string()))?;
            let set = |dst: &mut String, v: Option<String>| {
                if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                    *dst = v;
                }
            };
            set(&mut cube.cube_id, s.cube_id);
            set(&mut cube.farm_id, s.farm_id);
            set(&mut cube.field_id, s.field_id);
            set(&mut cube.region, s.region);
            set(&mut cube.sensor_id, s.sensor_id);
            if let Some(t) = s.acquisition_time {
                cube.acquisition_time = t;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&side, e)),
    }
    Ok(())
}

/// `key = value` (or `key: value`) pairs separated by newlines, `;` or `,`.
fn pairs(text: &str) -> Vec<(String, String)> {
    text.split(['\n', ';', ','])
        .filter_map(|p| {
            let (k, v) = p.split_once('=').or_else(|| p.split_once(':'))?;
            Some((
                k.trim().to_lowercase().replace(' ', "_"),
                v.trim().to_owned(),
            ))
        })
        .collect()
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()
                .map(|n| n.and_utc())
        })
}

/// AVIRIS-NG `angYYYYMMDDtHHMMSS…` and classic AVIRIS `fYYMMDDt…` names.
fn from_file_name(name: &str) -> Option<(DateTime<Utc>, &'static str)> {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("ang") {
        let stamp = rest.get(..15)?; // YYYYMMDDtHHMMSS
        let date = NaiveDate::parse_from_str(stamp.get(..8)?, "%Y%m%d").ok()?;
        if stamp.as_bytes().get(8) != Some(&b't') {
            return None;
        }
        let time = NaiveTime::parse_from_str(stamp.get(9..15)?, "%H%M%S").ok()?;
        return Some((date.and_time(time).and_utc(), "aviris-ng"));
    }
    if let Some(rest) = lower.strip_prefix('f') {
        let yymmdd = rest.get(..6)?;
        if rest.as_bytes().get(6) != Some(&b't') {
            return None;
        }
        let date = NaiveDate::parse_from_str(&format!("20{yymmdd}"), "%Y%m%d")
            .ok()
            .filter(|d| d.format("%y%m%d").to_string() == yymmdd)?;
        return Some((date.and_time(NaiveTime::MIN).and_utc(), "aviris-classic"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrument_file_names_give_the_acquisition_time() {
        let (t, s) = from_file_name("ang20150422t163638_corr_v1e_img_987_654.img").unwrap();
        assert_eq!(t.to_rfc3339(), "2015-04-22T16:36:38+00:00");
        assert_eq!(s, "aviris-ng");
        let (t, s) = from_file_name("f080702t01p00r08rdn_c_sc01_ort_img_123_456.img").unwrap();
        assert_eq!(t.to_rfc3339(), "2008-07-02T00:00:00+00:00");
        assert_eq!(s, "aviris-classic");
        assert!(from_file_name("corn-kernel-hyperspectral.raw").is_none());
        assert!(from_file_name("field.img").is_none());
    }

    #[test]
    fn description_pairs_and_times_parse() {
        let p = pairs("Farm ID = farm-7; field_id: f-2\nregion = us-west");
        assert!(p.contains(&("farm_id".into(), "farm-7".into())));
        assert!(p.contains(&("field_id".into(), "f-2".into())));
        assert!(p.contains(&("region".into(), "us-west".into())));
        assert_eq!(
            parse_time("2024-06-14T10:30:00Z").unwrap().to_rfc3339(),
            "2024-06-14T10:30:00+00:00"
        );
        assert!(parse_time("2024-06-14 10:30:00").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}

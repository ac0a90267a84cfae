//! ENVI identity and scaling: where an ENVI cube's farm, field, sensor and time come from
//! (header keys, `description` pairs, a `NAME.hsi.json` sidecar, AVIRIS file names), and the
//! standard `reflectance scale factor` turning int16 archives into 0–1 reflectance.

use std::path::{Path, PathBuf};

use hsi_edge::cube::{CubeReader, DataKind};
use hsi_edge::read::envi::EnviReader;

/// A 2×3×2 int16 BIP cube whose every value is `value`, with `extra` header lines.
fn int16_cube(dir: &Path, name: &str, extra: &str, value: i16) -> PathBuf {
    let hdr = dir.join(format!("{name}.hdr"));
    std::fs::write(
        &hdr,
        format!(
            "ENVI\nsamples = 3\nlines = 2\nbands = 2\ndata type = 2\ninterleave = bip\n\
             byte order = 0\nwavelength = {{670, 800}}\n{extra}"
        ),
    )
    .unwrap();
    let bytes: Vec<u8> = std::iter::repeat_n(value.to_le_bytes(), 12)
        .flatten()
        .collect();
    std::fs::write(dir.join(format!("{name}.img")), bytes).unwrap();
    hdr
}

#[test]
fn reflectance_scale_factor_makes_int16_archives_reflectance() {
    let dir = tempfile::tempdir().unwrap();
    let plain = int16_cube(dir.path(), "plain", "", 5000);
    let mut r = EnviReader::open(&plain).unwrap();
    assert_eq!(r.info().kind, DataKind::RawDn, "no factor: raw DN");
    assert_eq!(r.read_block(0, 1).unwrap().data[[0, 0, 0]], 5000.0);

    let scaled = int16_cube(
        dir.path(),
        "scaled",
        "reflectance scale factor = 10000\ndata ignore value = -9999\n",
        5000,
    );
    let mut r = EnviReader::open(&scaled).unwrap();
    assert_eq!(r.info().kind, DataKind::Reflectance);
    let b = r.read_block(0, 2).unwrap();
    assert!(
        b.data.iter().all(|&v| (v - 0.5).abs() < 1e-7),
        "{:?}",
        b.data
    );
    // The fill value is compared with scaled values, so it is scaled the same way.
    let fill = r.info().ignore_value.unwrap();
    assert!((fill - (-0.9999)).abs() < 1e-6, "{fill}");

    let bad = int16_cube(dir.path(), "bad", "reflectance scale factor = 0\n", 1);
    let e = EnviReader::open(&bad).unwrap_err().to_string();
    assert!(
        e.contains("reflectance scale factor") && e.contains("bad.hdr"),
        "{e}"
    );
}

#[test]
fn identity_comes_from_header_keys_description_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing at all: the epoch and `unknown`, which the pipeline refuses.
    let bare = int16_cube(dir.path(), "bare", "", 1);
    let h = EnviReader::open(&bare).unwrap().info().header.clone();
    assert_eq!(
        h.missing_identity(),
        [
            "farm_id",
            "field_id",
            "region",
            "sensor_id",
            "acquisition_time"
        ]
    );

    // Header keys and description pairs.
    let keyed = int16_cube(
        dir.path(),
        "keyed",
        "acquisition time = 2024-06-14T10:30:00Z\nsensor type = Headwall Nano\n\
         description = {farm_id = farm-7; field_id = f-2; region = us-west}\n",
        1,
    );
    let h = EnviReader::open(&keyed).unwrap().info().header.clone();
    assert_eq!(h.acquisition_time.to_rfc3339(), "2024-06-14T10:30:00+00:00");
    assert_eq!(
        (
            h.farm_id.as_str(),
            h.field_id.as_str(),
            h.region.as_str(),
            h.sensor_id.as_str()
        ),
        ("farm-7", "f-2", "us-west", "Headwall Nano")
    );
    assert!(
        h.missing_identity().is_empty(),
        "{:?}",
        h.missing_identity()
    );

    // The sidecar wins over the header.
    std::fs::write(
        dir.path().join("keyed.hsi.json"),
        r#"{"farm_id": "farm-9", "cube_id": "cap-0001", "acquisition_time": "2024-07-01T08:00:00Z"}"#,
    )
    .unwrap();
    let h = EnviReader::open(&keyed).unwrap().info().header.clone();
    assert_eq!(
        (h.farm_id.as_str(), h.cube_id.as_str()),
        ("farm-9", "cap-0001")
    );
    assert_eq!(h.acquisition_time.to_rfc3339(), "2024-07-01T08:00:00+00:00");
    assert_eq!(h.field_id, "f-2", "what the sidecar does not say stays");

    // A sidecar with an unknown key is an error naming it.
    std::fs::write(dir.path().join("keyed.hsi.json"), r#"{"farm": "x"}"#).unwrap();
    let e = EnviReader::open(&keyed).unwrap_err().to_string();
    assert!(e.contains("keyed.hsi.json") && e.contains("farm"), "{e}");
}

#[test]
fn real_aviris_files_get_their_acquisition_time_from_the_name() {
    let hdr = hsi_edge::testdata::shared_file("envi/ang20150422t163638_corr_v1e_img_987_654.hdr")
        .expect("shared test data (../shared/data)");
    let h = EnviReader::open(&hdr).unwrap().info().header.clone();
    assert_eq!(h.acquisition_time.to_rfc3339(), "2015-04-22T16:36:38+00:00");
    assert_eq!(h.sensor_id, "aviris-ng");
}

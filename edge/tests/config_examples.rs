//! The example configuration shipped in docs/ parses and equals the defaults it documents.

use hsi_edge::calib::CalibrationConfig;

#[test]
fn documented_calibration_example_is_the_default() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/calibration.example.toml");
    let cfg = CalibrationConfig::from_toml_file(&path).expect("example parses");
    assert_eq!(cfg, CalibrationConfig::default());
}

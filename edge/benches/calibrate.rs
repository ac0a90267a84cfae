//! Placeholder: the calibration benchmark is filled in with the calibration module.
fn main() {}

//! `hsi-edge` (in progress).
fn main() {}

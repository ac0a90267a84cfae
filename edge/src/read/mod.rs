//! Cube readers.
//!
//! [`open`] picks the reader by file name: `.h5`/`.hdf5`/`.he5` → [`hdf5::Hdf5Reader`] (the
//! DESIGN §4 layout), `.hdr` or a binary with a sibling `.hdr` → [`envi::EnviReader`]. Every
//! reader returns [`LineBlock`](crate::cube::LineBlock)s in BIP order and never loads a whole
//! cube.

pub mod envi;
pub mod hdf5;

use std::path::Path;

use crate::cube::CubeReader;
use crate::error::{Error, Result};

/// Open a cube file with the reader its name implies.
pub fn open(path: &Path) -> Result<Box<dyn CubeReader>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "h5" | "hdf5" | "he5" | "hdf" => Ok(Box::new(hdf5::Hdf5Reader::open(path)?)),
        "hdr" => Ok(Box::new(envi::EnviReader::open(path)?)),
        _ if envi::header_path_for(path).is_some() => Ok(Box::new(envi::EnviReader::open(path)?)),
        _ => Err(Error::invalid(
            path,
            "file name",
            "unknown cube format: expected .h5/.hdf5 (HDF5) or an ENVI .hdr with its binary",
        )),
    }
}

/// Whether a path looks like a cube this crate can read (used by directory scans).
pub fn is_cube_file(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(ext.as_str(), "h5" | "hdf5" | "he5" | "hdr")
}

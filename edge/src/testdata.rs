//! Locating the real test data in `../shared/data` (see its `PROVENANCE.md`).
//!
//! The data is not copied into the repository. It is found, in order, at `$HSI_SHARED_DATA`,
//! then at `shared/data` in the current directory or any parent, then at `../shared/data`
//! beside any parent. A missing fixture fails with a message that says how to get it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Environment variable that points at the shared data directory.
pub const ENV_VAR: &str = "HSI_SHARED_DATA";

/// The shared data directory (the one holding `envi/` and `spectra/`).
pub fn shared_data_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var(ENV_VAR) {
        let p = PathBuf::from(dir);
        if p.join("spectra").is_dir() {
            return Ok(p);
        }
    }
    let mut starts = vec![];
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in starts {
        for dir in start.ancestors() {
            for cand in [dir.join("shared/data"), dir.join("../shared/data")] {
                if cand.join("spectra").is_dir() {
                    return Ok(cand);
                }
            }
        }
    }
    Err(Error::missing(
        "shared/data",
        ENV_VAR,
        "the real test data was not found: check out the project's `shared/` folder beside the \
         repository (../shared/data) or set HSI_SHARED_DATA=/path/to/shared/data",
    ))
}

/// A file inside the shared data directory, with a helpful error when it is absent.
pub fn shared_file(relative: impl AsRef<Path>) -> Result<PathBuf> {
    let p = shared_data_dir()?.join(relative.as_ref());
    if p.exists() {
        Ok(p)
    } else {
        Err(Error::missing(
            &p,
            "fixture",
            "this fixture is listed in shared/data/PROVENANCE.md; restore it from there",
        ))
    }
}

/// The USGS spectral library CSV used by the synthetic generator.
pub fn usgs_spectra() -> Result<PathBuf> {
    shared_file("spectra/usgs_av95_vegetation_soil.csv")
}

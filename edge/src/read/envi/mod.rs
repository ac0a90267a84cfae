//! ENVI reader. CONTRACT STUB: to be implemented.
use std::path::{Path, PathBuf};

use crate::cube::{CubeInfo, CubeReader, LineBlock};
use crate::error::{Error, Result};

/// The `.hdr` beside a binary, if there is one.
pub fn header_path_for(path: &Path) -> Option<PathBuf> {
    let p = path.with_extension("hdr");
    p.exists().then_some(p)
}

/// ENVI reader.
#[derive(Debug)]
pub struct EnviReader { info: CubeInfo }

impl EnviReader {
    /// Open.
    pub fn open(path: &Path) -> Result<Self> {
        Err(Error::invalid(path, "envi", "not yet"))
    }
}

impl CubeReader for EnviReader {
    fn info(&self) -> &CubeInfo { &self.info }
    fn read_block(&mut self, _first: usize, _count: usize) -> Result<LineBlock> {
        Err(Error::invalid(&self.info.path, "envi", "not yet"))
    }
}

//! HDF5 reader. CONTRACT STUB: to be implemented.
use std::path::Path;

use crate::cube::{CubeInfo, CubeReader, LineBlock};
use crate::error::{Error, Result};

/// HDF5 reader.
#[derive(Debug)]
pub struct Hdf5Reader {
    info: CubeInfo,
}

impl Hdf5Reader {
    /// Open.
    pub fn open(path: &Path) -> Result<Self> {
        Err(Error::invalid(path, "hdf5", "not yet"))
    }
}

impl CubeReader for Hdf5Reader {
    fn info(&self) -> &CubeInfo {
        &self.info
    }
    fn read_block(&mut self, _first: usize, _count: usize) -> Result<LineBlock> {
        Err(Error::invalid(&self.info.path, "hdf5", "not yet"))
    }
}

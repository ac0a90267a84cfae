//! The Bronze cube as a Zarr v3 array, written block by block.
//!
//! # Layout
//!
//! `{store_root}/{cube_id}.zarr/` is a Zarr v3 store whose root node is the array:
//!
//! - shape `[lines, samples, bands]`, data type `float32`, fill value `NaN` (no-data pixels);
//! - regular chunks of `[block_lines, samples, bands]`, where `block_lines` is the line count of
//!   the first block the caller hands in — so one calibrated line block is one chunk, and a
//!   reader fetching a line range touches only the chunks it needs;
//! - codecs `bytes` (little endian) → `zstd` (level 3);
//! - `dimension_names = ["line", "sample", "band"]`;
//! - attributes `cube_id`, `calibration_version`, `wavelength_nm` (the band grid) and
//!   `units = "reflectance"`.
//!
//! Readable with zarr-python 3 (`zarr.open_array(path)`), xarray and zarrs.
//!
//! # Invariants
//!
//! Blocks must arrive in line order without gaps or overlaps, each `[n, samples, bands]`, and
//! together cover all lines; anything else is rejected. Memory use is one block plus zarrs'
//! encode buffers: a 4 GB cube never sits in memory. A store left by a crashed earlier attempt
//! is removed before writing, so a retry starts clean.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array3;
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{Array, ArrayBuilder, ZARR_NAN_F32, data_type};
use zarrs::filesystem::FilesystemStore;

use crate::error::{Error, Result};

/// zstd level for Bronze chunks.
const ZSTD_LEVEL: i32 = 3;

/// What [`write_zarr`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ZarrInfo {
    /// The store directory, `{store_root}/{cube_id}.zarr`.
    pub path: PathBuf,
    /// `file://` URI of the store (what goes into `bronze.cubes.zarr_uri`).
    pub uri: String,
    /// `[lines, samples, bands]`.
    pub shape: [u64; 3],
    /// `[block_lines, samples, bands]`.
    pub chunk_shape: [u64; 3],
    /// Number of chunks written.
    pub chunks: u64,
    /// Compressed bytes on disk (chunks + metadata).
    pub bytes_on_disk: u64,
}

/// Write a calibrated cube as a Zarr v3 array (see the module docs).
///
/// `blocks` yields `(first_line, data)` with `data` shaped `[n_lines, samples, bands]`.
pub fn write_zarr(
    store_root: &Path,
    cube_id: &str,
    calibration_version: &str,
    shape: [usize; 3],
    grid_nm: &[f32],
    blocks: impl IntoIterator<Item = Result<(usize, Array3<f32>)>>,
) -> Result<ZarrInfo> {
    validate_cube_id(cube_id)?;
    let [lines, samples, bands] = shape;
    if lines == 0 || samples == 0 || bands == 0 {
        return Err(Error::InvalidInput {
            reason: format!("cube {cube_id}: empty shape {shape:?}"),
        });
    }
    if grid_nm.len() != bands {
        return Err(Error::InvalidInput {
            reason: format!(
                "cube {cube_id}: {bands} bands but {} wavelengths",
                grid_nm.len()
            ),
        });
    }
    let path = store_root.join(format!("{cube_id}.zarr"));
    let label = path.display().to_string();
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    std::fs::create_dir_all(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let store = Arc::new(FilesystemStore::new(&path).map_err(Error::zarr(&label))?);

    let mut blocks = blocks.into_iter();
    let mut array = None;
    let mut next_line = 0usize;
    let mut block_lines = 0usize;
    for block in blocks.by_ref() {
        let (first_line, data) = block?;
        let (n, s, b) = data.dim();
        if first_line != next_line || n == 0 || s != samples || b != bands || first_line + n > lines
        {
            return Err(Error::InvalidInput {
                reason: format!(
                    "cube {cube_id}: block at line {first_line} shaped [{n}, {s}, {b}] does not \
                     continue line {next_line} of [{lines}, {samples}, {bands}]"
                ),
            });
        }
        let array = match &mut array {
            Some(a) => a,
            None => {
                block_lines = n;
                let mut builder = ArrayBuilder::new(
                    vec![lines as u64, samples as u64, bands as u64],
                    vec![n as u64, samples as u64, bands as u64],
                    data_type::float32(),
                    ZARR_NAN_F32,
                );
                builder
                    .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, false))])
                    .dimension_names(Some(["line", "sample", "band"]))
                    .attributes(attributes(cube_id, calibration_version, grid_nm));
                let a = builder
                    .build(store.clone(), "/")
                    .map_err(Error::zarr(&label))?;
                a.store_metadata().map_err(Error::zarr(&label))?;
                array.insert(a)
            }
        };
        let rows = first_line as u64..(first_line + n) as u64;
        let subset = [rows, 0..samples as u64, 0..bands as u64];
        array
            .store_array_subset(&subset, data)
            .map_err(Error::zarr(&label))?;
        next_line = first_line + n;
    }
    if next_line != lines {
        return Err(Error::InvalidInput {
            reason: format!("cube {cube_id}: blocks ended at line {next_line} of {lines}"),
        });
    }
    let chunks_total = lines.div_ceil(block_lines) as u64;
    Ok(ZarrInfo {
        uri: format!("file://{}", absolute(&path)?.display()),
        bytes_on_disk: dir_size(&path)?,
        path,
        shape: [lines as u64, samples as u64, bands as u64],
        chunk_shape: [block_lines as u64, samples as u64, bands as u64],
        chunks: chunks_total,
    })
}

/// Read a store written by [`write_zarr`] back, one chunk of lines at a time (bounded memory):
/// `(first_line, [lines, samples, bands])` blocks in order, bit-identical to what was written.
pub fn read_zarr_blocks(
    info: &ZarrInfo,
) -> Result<impl Iterator<Item = Result<(usize, Array3<f32>)>> + use<>> {
    let label = info.path.display().to_string();
    let store = Arc::new(FilesystemStore::new(&info.path).map_err(Error::zarr(&label))?);
    let array = Array::open(store, "/").map_err(Error::zarr(&label))?;
    let [lines, samples, bands] = info.shape;
    let step = info.chunk_shape[0].max(1);
    Ok((0..lines).step_by(step as usize).map(move |first| {
        let n = step.min(lines - first);
        let subset = [first..first + n, 0..samples, 0..bands];
        let block: ndarray::ArrayD<f32> = array
            .retrieve_array_subset(&subset)
            .map_err(Error::zarr(&label))?;
        let block = block
            .into_dimensionality::<ndarray::Ix3>()
            .map_err(Error::zarr(&label))?;
        Ok((first as usize, block))
    }))
}

fn attributes(
    cube_id: &str,
    calibration_version: &str,
    grid_nm: &[f32],
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("cube_id".into(), cube_id.into());
    m.insert("calibration_version".into(), calibration_version.into());
    m.insert(
        "wavelength_nm".into(),
        serde_json::Value::Array(
            grid_nm
                .iter()
                .map(|&w| serde_json::Value::from(f64::from(w)))
                .collect(),
        ),
    );
    m.insert("units".into(), "reflectance".into());
    m
}

/// A cube id becomes a directory name: no separators, no `..`, nothing empty.
fn validate_cube_id(cube_id: &str) -> Result<()> {
    let ok = !cube_id.is_empty()
        && cube_id != "."
        && cube_id != ".."
        && !cube_id.contains(['/', '\\', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            reason: format!("cube id {cube_id:?} is not a valid file name"),
        })
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn dir_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    let entries = std::fs::read_dir(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let meta = entry.metadata().map_err(|source| Error::Io {
            path: entry.path(),
            source,
        })?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

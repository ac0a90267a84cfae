//! Streaming one synthetic cube to HDF5, block by block.
//!
//! A block of `lines_per_block` lines is filled in parallel (one slice of lines per core) and
//! written as one hyperslab while the next block is computed, so memory stays at a few blocks
//! (plus HDF5's chunk cache) whatever the cube size. Each line draws its noise from its own generator seeded by
//! `(seed, cube, line)`, so the bytes do not depend on the block size or the thread count.
//! Per pixel the work is a table lookup of one of the few precomputed spectra (soil, or the
//! crop mixture of the pixel's plot) and, per band, one multiply-add plus the noise draw.

use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayViewMut3, Axis};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::config::SynthConfig;
use super::layout::{Layout, PixelClass};
use super::seed_for;
use super::sensor::SensorModel;
use crate::cube::{Bands, CubeHeader, Radiometry, Shape};
use crate::error::Result;
use crate::read::hdf5::{Hdf5CubeWriter, WriterOptions};

/// What one cube is made of.
pub(crate) struct CubeScene<'a> {
    pub cfg: &'a SynthConfig,
    /// Acquisition index (0 = first date).
    pub k: usize,
    pub layout: &'a Layout,
    pub sensor: &'a SensorModel,
    /// Soil reflectance (alleys and inter-row).
    pub soil: Vec<f32>,
    /// Crop reflectance per plot at this date.
    pub crop: Vec<Vec<f32>>,
}

impl CubeScene<'_> {
    fn reflectance(&self, line: usize, sample: usize) -> &[f32] {
        match self.layout.class_at(line, sample) {
            PixelClass::Crop(p) => self.crop.get(p).map_or(self.soil.as_slice(), Vec::as_slice),
            PixelClass::InterRow(_) | PixelClass::Alley => &self.soil,
        }
    }
}

/// Generate cube `scene.k` into `path`.
///
/// One thread computes the next block (itself split over the cores) while this one writes the
/// previous block, so generation overlaps disk I/O; at most three blocks exist at a time.
pub(crate) fn write_cube(
    path: &Path,
    header: &CubeHeader,
    shape: Shape,
    bands: &Bands,
    scene: &CubeScene<'_>,
) -> Result<PathBuf> {
    let cfg = scene.cfg;
    let options = WriterOptions {
        chunk_lines: cfg.lines_per_block,
        deflate: cfg.deflate,
        ..WriterOptions::default()
    };
    let radiometry = Radiometry::FlatField(scene.sensor.frames().clone());
    let mut writer =
        Hdf5CubeWriter::create(path, header, shape, bands, Some(&radiometry), &options)?;
    let block_lines = writer.chunk_lines();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Array3<u16>)>(1);
        scope.spawn(move || {
            let mut first = 0;
            while first < shape.lines {
                let n = block_lines.min(shape.lines - first);
                let mut block = Array3::<u16>::zeros((n, shape.samples, shape.bands));
                fill_block(scene, first, block.view_mut());
                if tx.send((first, block)).is_err() {
                    return; // the writer failed and hung up
                }
                first += n;
            }
        });
        for (first, block) in rx {
            writer.write_block(first, &block)?;
        }
        Ok(())
    })?;
    writer.finish()
}

/// Fill the lines `first..first + block.len_of(Axis(0))`, one slice of lines per core.
fn fill_block(scene: &CubeScene<'_>, first: usize, mut block: ArrayViewMut3<'_, u16>) {
    let cfg = scene.cfg;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let per_thread = block.len_of(Axis(0)).div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, mut part) in block.axis_chunks_iter_mut(Axis(0), per_thread).enumerate() {
            scope.spawn(move || {
                for (i, line_dn) in part.outer_iter_mut().enumerate() {
                    let line = first + t * per_thread + i;
                    let mut rng = cfg.noise.then(|| {
                        SmallRng::seed_from_u64(seed_for(
                            cfg.seed,
                            &[0x0c0be, scene.k as u64, line as u64],
                        ))
                    });
                    scene.sensor.expose_line(
                        line_dn,
                        |sample| scene.reflectance(line, sample),
                        rng.as_mut(),
                    );
                }
            });
        }
    });
}
